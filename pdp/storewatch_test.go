package pdp_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
)

// TestRolloutIntoARecreatedStoreIsServed deletes the store directory under
// a serving PDP (real gRPC, real fsnotify, the default 30 s poll and
// debounce) and creates it again with another revision rolled out: the
// PDP must serve it within 2 s, which only a watch re-established on the
// new directory can do, and must log both events.
func TestRolloutIntoARecreatedStoreIsServed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	h := start(t, st, func(o *pdp.Options) {
		o.Poll = 0     // the default, 30 s: far longer than the 2 s allowed
		o.Debounce = 0 // the default
	})
	if d, err := h.client.Authorize(context.Background(), readPlan()); err != nil || d.Bundle.Revision != "allow" {
		t.Fatalf("before: %+v %v", d, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the removal in the server log", func() bool {
		return strings.Contains(h.logs.String(), "was removed or moved away")
	})
	next := buildInto(t, dir, "deny", nil)
	if _, err := next.Activate(t.Context(), "deny", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	// The bound: served within 2 s of the rollout. A deadline on
	// the condition, not a sleep.
	deadline := time.Now().Add(2 * time.Second)
	for {
		d, err := h.client.Authorize(context.Background(), readPlan())
		if err == nil && d.Bundle.Revision == "deny" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 s after the rollout into the re-created store, the PDP serves %+v (%v), not deny\nlog:\n%s", d, err, h.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The reload a notification triggers may serve the new revision
	// before the watcher has logged that it watches the new directory.
	eventually(t, "the re-established watch in the server log", func() bool {
		return strings.Contains(h.logs.String(), "watch re-established")
	})
}

// TestRemovedStoreTripsMaxStalenessWithoutPolling removes the store
// directory under a PDP that does not poll (Poll negative) and has
// MaxStaleness: the watch's notification makes it read the store at once
// and record the failure, so it turns NOT_SERVING once the store has been
// gone longer than MaxStaleness, with no poll ever reading it.
func TestRemovedStoreTripsMaxStalenessWithoutPolling(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	h := start(t, st, func(o *pdp.Options) {
		o.Poll = -1
		o.MaxStaleness = 100 * time.Millisecond
	})
	health := func() healthpb.HealthCheckResponse_ServingStatus {
		r, err := healthpb.NewHealthClient(h.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	eventually(t, "SERVING", func() bool { return health() == healthpb.HealthCheckResponse_SERVING })
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	eventually(t, "NOT_SERVING once the store has been gone longer than MaxStaleness", func() bool {
		return health() == healthpb.HealthCheckResponse_NOT_SERVING
	})
	if src := h.mustStatus(t).GetSourceStatus(); !src.GetStale() || src.GetErrorCount() == 0 {
		t.Fatalf("source status: %v", src)
	}
}
