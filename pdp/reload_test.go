package pdp_test

import (
	"context"
	"crypto/ed25519"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// countingSource is the real directory store, counting how often the
// reloader reads the active pointer and loads each revision.
type countingSource struct {
	*store.Store
	mu     sync.Mutex
	active int
	loads  map[string]int
}

func (c *countingSource) Active() (store.Pointer, error) {
	c.mu.Lock()
	c.active++
	c.mu.Unlock()
	return c.Store.Active()
}

func (c *countingSource) Load(p store.Pointer, keys []ed25519.PublicKey) (*bundle.Bundle, error) {
	return c.LoadStreaming(p, keys, nil)
}

// LoadStreaming is what the reloader calls of a store (streamingSource).
func (c *countingSource) LoadStreaming(p store.Pointer, keys []ed25519.PublicKey, ents bundle.EntityReader) (*bundle.Bundle, error) {
	c.mu.Lock()
	c.loads[p.Revision]++
	c.mu.Unlock()
	return c.Store.LoadStreaming(p, keys, ents)
}

// counts returns the pointer reads and the loads of rev so far.
func (c *countingSource) counts(rev string) (active, loads int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active, c.loads[rev]
}

// waitReads waits until the reloader has read the pointer n times in all.
func (c *countingSource) waitReads(t *testing.T, n int) {
	t.Helper()
	eventually(t, strconv.Itoa(n)+" reads of the pointer", func() bool {
		now, _ := c.counts("")
		return now >= n
	})
}

func (h *harness) mustStatus(t *testing.T) *pb.GetStatusResponse {
	t.Helper()
	st, err := h.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// pointTo writes the active pointer as a sync tool would, naming rev with
// the digest of archive, without the store's own checks.
func pointTo(t *testing.T, dir, rev string, archive []byte) {
	t.Helper()
	writeActive(t, dir, rev, digestOf(t, archive))
}

// TestRefusedBundleIsReadOnceUntilItChanges rolls out a damaged bundle
// and counts the reloader's reads of it: many polls, or a change
// notification for the same pointer, do not read it again (nor count
// another failed activation); once the bundle's file is replaced, the
// next poll or notification reads it and serves it.
func TestRefusedBundleIsReadOnceUntilItChanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		poll time.Duration
		// nudge makes the reloader look at the source again.
		nudge func(t *testing.T, dir string, src *countingSource, good []byte)
	}{
		{"poll", 20 * time.Millisecond, func(t *testing.T, _ string, src *countingSource, _ []byte) {
			reads, _ := src.counts("")
			src.waitReads(t, reads+10)
		}},
		{"notification", -1, func(t *testing.T, dir string, src *countingSource, good []byte) {
			reads, _ := src.counts("")
			pointTo(t, dir, "deny", good)
			src.waitReads(t, reads+1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			st := buildInto(t, dir, "allow", nil)
			buildInto(t, dir, "deny", nil)
			if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
				t.Fatal(err)
			}
			src := &countingSource{Store: st, loads: map[string]int{}}
			// A short retry delay: what stops the re-reads must be knowing
			// that the bundle did not change, not a timer.
			h := start(t, st, func(o *pdp.Options) { o.Source = src; o.Poll = tc.poll; o.RetryFailedAfter = 10 * time.Millisecond })
			failures := func() string { return metric(t, h, `cedargate_bundle_activations_total{result="failure"}`) }

			path := st.BundlePath("deny")
			good, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, good[:len(good)-40], 0o644); err != nil {
				t.Fatal(err)
			}
			pointTo(t, dir, "deny", good)
			eventually(t, "the damaged bundle to be refused", func() bool { return failures() == "1" })

			tc.nudge(t, dir, src, good)
			if _, loads := src.counts("deny"); loads != 1 {
				t.Fatalf("the refused bundle was read %d times, want once", loads)
			}
			if got := failures(); got != "1" {
				t.Fatalf("failed activations = %s, want 1", got)
			}
			if n := strings.Count(h.logs.String(), "bundle activation failed"); n != 1 {
				t.Fatalf("the refusal was logged %d times, want once", n)
			}
			if d, err := h.client.Authorize(context.Background(), readPlan()); err != nil || d.Bundle.Revision != "allow" {
				t.Fatalf("while refusing: %+v %v, want allow still serving", d, err)
			}

			// The file is replaced by a good one (a new inode, by rename):
			// the source changed, so the bundle is read again.
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, good, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
			tc.nudge(t, dir, src, good)
			eventually(t, "the repaired bundle to be served", func() bool {
				d, err := h.client.Authorize(context.Background(), readPlan())
				return err == nil && d.Bundle.Revision == "deny"
			})
			if _, loads := src.counts("deny"); loads != 2 {
				t.Fatalf("the bundle was read %d times, want twice (refused, then repaired)", loads)
			}
		})
	}
}

// TestSourceStalenessIsVisible replaces a served store's directory with a
// file, so that the store cannot be read, under two PDPs, one with
// MaxStaleness: both keep their bundle and report the source's errors in
// GetStatus and the metrics; the one without keeps answering; the one with
// MaxStaleness turns NOT_SERVING after it and answers UNAVAILABLE, and
// serves again once the store is back.
func TestSourceStalenessIsVisible(t *testing.T) {
	const maxStale = 300 * time.Millisecond
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	lenient := start(t, st, func(o *pdp.Options) { o.Poll = 20 * time.Millisecond })
	strict := start(t, st, func(o *pdp.Options) { o.Poll = 20 * time.Millisecond; o.MaxStaleness = maxStale })
	ctx := context.Background()
	health := func(h *harness, svc string) healthpb.HealthCheckResponse_ServingStatus {
		r, err := healthpb.NewHealthClient(h.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	readyz := func(h *harness) (int, string) {
		resp, err := http.Get("http://" + h.srv.MetricsAddr().String() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, h := range []*harness{lenient, strict} {
		eventually(t, "a successful check in the metrics", func() bool {
			v, err := strconv.ParseFloat(metric(t, h, "cedargate_bundle_last_check_timestamp_seconds"), 64)
			return err == nil && v > 0
		})
		src := h.mustStatus(t).GetSourceStatus()
		if src.GetLastSuccessTime() == nil || src.GetErrorCount() != 0 || src.GetLastError() != "" || src.GetStale() {
			t.Fatalf("source status of a readable store: %v", src)
		}
	}
	if got := strict.mustStatus(t).GetSourceStatus().GetMaxStaleness().AsDuration(); got != maxStale {
		t.Fatalf("max_staleness = %v, want %v", got, maxStale)
	}

	// The store becomes unreadable: its directory moves away and a file
	// takes its place (as root, chmod would not stop the reads).
	away := dir + ".away"
	if err := os.Rename(dir, away); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a store"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the strict PDP to report NOT_SERVING", func() bool {
		return health(strict, "") == healthpb.HealthCheckResponse_NOT_SERVING &&
			health(strict, "cedargate.v1.AuthorizationService") == healthpb.HealthCheckResponse_NOT_SERVING
	})
	if code, body := readyz(strict); code != http.StatusServiceUnavailable || !strings.Contains(body, "longer than --max-staleness 300ms") {
		t.Fatalf("/readyz of the stale PDP = %d %q", code, body)
	}
	status := strict.mustStatus(t)
	src := status.GetSourceStatus()
	if !src.GetStale() || src.GetErrorCount() == 0 || !strings.Contains(src.GetLastError(), "not a directory") {
		t.Fatalf("source status of the stale PDP: %v", src)
	}
	if age := src.GetLastErrorTime().AsTime().Sub(src.GetLastSuccessTime().AsTime()); age <= 0 {
		t.Fatalf("last error %v is not after the last success %v", src.GetLastErrorTime().AsTime(), src.GetLastSuccessTime().AsTime())
	}
	if !status.GetServing() || status.GetBundle().GetRevision() != "allow" || status.GetSourceStatus().GetTarget().GetRevision() != "allow" {
		t.Fatalf("the stale PDP no longer reports its bundle: %v", status)
	}
	if _, err := strict.client.Authorize(ctx, readPlan()); grpcstatus.Code(err) != codes.Unavailable {
		t.Fatalf("a decision of the stale PDP: %v, want UNAVAILABLE", err)
	}
	if got := metric(t, strict, "cedargate_bundle_source_errors_total"); got == "0" || got == "" {
		t.Fatalf("cedargate_bundle_source_errors_total = %q", got)
	}
	if !strings.Contains(strict.logs.String(), "cannot read the bundle source; keeping the last good bundle") {
		t.Fatal("the source error is not in the log")
	}

	// Without MaxStaleness the replica keeps serving, and says why it may
	// be stale.
	if health(lenient, "") != healthpb.HealthCheckResponse_SERVING {
		t.Fatal("the PDP without --max-staleness stopped serving")
	}
	if src := lenient.mustStatus(t).GetSourceStatus(); src.GetStale() || src.GetErrorCount() == 0 || src.GetLastErrorTime() == nil {
		t.Fatalf("source status without max staleness: %v", src)
	}
	if d, err := lenient.client.Authorize(ctx, readPlan()); err != nil || !d.Allow {
		t.Fatalf("decision from the last good bundle: %+v %v", d, err)
	}

	// The store comes back: the next poll reads it, and the strict PDP
	// serves again.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(away, dir); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the strict PDP to report SERVING again", func() bool {
		return health(strict, "") == healthpb.HealthCheckResponse_SERVING
	})
	if code, _ := readyz(strict); code != http.StatusOK {
		t.Fatalf("/readyz after the store came back = %d", code)
	}
	if d, err := strict.client.Authorize(ctx, readPlan()); err != nil || !d.Allow {
		t.Fatalf("a decision after the store came back: %+v, %v", d, err)
	}
	if src := strict.mustStatus(t).GetSourceStatus(); src.GetStale() || src.GetLastError() != "" || src.GetLastErrorTime() != nil || src.GetErrorCount() == 0 {
		t.Fatalf("source status after recovery: %v", src)
	}
	for _, msg := range []string{`"health: NOT_SERVING","condition":"source"`, "health: SERVING", "bundle source readable again"} {
		if !strings.Contains(strict.logs.String(), msg) {
			t.Errorf("log lacks %q", msg)
		}
	}
}
