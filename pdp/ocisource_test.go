package pdp_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/cedargate/cedargate/bundle/oci"
	"github.com/cedargate/cedargate/internal/ocitest"
	"github.com/cedargate/cedargate/pdp"
)

// registryFixture is a registry holding the revisions "allow" and "deny"
// signed with key, and "unsigned", pushed to acme/policy.
type registryFixture struct {
	reg  *ocitest.Registry
	repo *oci.Repository
	key  ed25519.PrivateKey
}

func newRegistryFixture(t *testing.T) registryFixture {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := registryFixture{reg: ocitest.Start(t, ocitest.Options{}), key: key}
	ref, _ := oci.ParseRepository("oci://" + f.reg.Host + "/acme/policy")
	if f.repo, err = oci.Open(ref, oci.Options{PlainHTTP: true}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		rev, policy string
		key         ed25519.PrivateKey
	}{{"allow", "allow", key}, {"deny", "deny", key}, {"unsigned", "deny", nil}} {
		dir := filepath.Join(t.TempDir(), "store")
		st := buildFiles(t, dir, b.rev, map[string]string{
			"schema.cedarschema": schema, "entities/docs.json": entities, "policies/docs.cedar": revisions[b.policy],
		}, b.key)
		archive, err := os.ReadFile(st.BundlePath(b.rev))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.repo.Push(t.Context(), archive); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f registryFixture) rollout(t *testing.T, rev string) {
	t.Helper()
	if _, err := f.repo.Rollout(t.Context(), "prod", rev, oci.MoveOptions{SignKey: f.key, Now: t0}); err != nil {
		t.Fatal(err)
	}
}

// source follows channel prod into cache, polling every 20ms.
func (f registryFixture) source(t *testing.T, cache string) *oci.Source {
	t.Helper()
	ch, _ := oci.ParseChannel("oci://" + f.reg.Host + "/acme/policy:prod")
	src, err := oci.NewSource(ch, oci.SourceOptions{Options: oci.Options{PlainHTTP: true}, Cache: cache,
		VerifyKeys: []ed25519.PublicKey{f.key.Public().(ed25519.PublicKey)}, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func (h *harness) healthStatus(t *testing.T) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	r, err := healthpb.NewHealthClient(h.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status
}

// TestRegistryReplicaRestartsFromCacheAndFailsClosedWhenStale follows a
// channel with --max-staleness, then restarts the replica on its cache
// while the registry is down: it serves the cached bundle at once and
// reports the source error; once the registry has been unreachable longer
// than the limit it reports NOT_SERVING and answers UNAVAILABLE; when the
// registry returns it serves again. GetStatus and the metrics report the
// revision the channel names beside the one served.
func TestRegistryReplicaRestartsFromCacheAndFailsClosedWhenStale(t *testing.T) {
	const maxStale = 300 * time.Millisecond
	f := newRegistryFixture(t)
	f.rollout(t, "allow")
	cache := filepath.Join(t.TempDir(), "cache")
	strict := func(o *pdp.Options) {
		o.MaxStaleness = maxStale
		o.VerifyKeys = []ed25519.PublicKey{f.key.Public().(ed25519.PublicKey)}
	}
	first := start(t, f.source(t, cache), strict)
	eventually(t, "the replica serving allow", func() bool {
		st := first.mustStatus(t)
		return st.GetBundle().GetRevision() == "allow" && st.GetSourceStatus().GetTarget().GetRevision() == "allow" &&
			st.GetSourceStatus().GetLastSuccessTime() != nil
	})
	if got := metric(t, first, `cedargate_bundle_source_target_info{digest="`+first.mustStatus(t).GetBundle().GetDigest()+`",revision="allow"}`); got != "1" {
		t.Fatalf("cedargate_bundle_source_target_info = %q", got)
	}
	first.stop(t)

	f.reg.Stop()
	restarted := start(t, f.source(t, cache), strict)
	if !restarted.srv.Serving() {
		t.Fatal("a replica restarted on its cache does not serve at once")
	}
	if d, err := restarted.client.Authorize(context.Background(), readPlan()); err != nil || !d.Allow || d.Bundle.Revision != "allow" {
		t.Fatalf("first decision of the restarted replica: %+v, %v", d, err)
	}
	eventually(t, "the registry's error in the status", func() bool {
		src := restarted.mustStatus(t).GetSourceStatus()
		return strings.Contains(src.GetLastError(), "connection refused") && src.GetErrorCount() > 0
	})
	eventually(t, "NOT_SERVING after --max-staleness", func() bool {
		return restarted.healthStatus(t) == healthpb.HealthCheckResponse_NOT_SERVING
	})
	st := restarted.mustStatus(t)
	if !st.GetSourceStatus().GetStale() || st.GetBundle().GetRevision() != "allow" {
		t.Fatalf("status while stale: %v", st)
	}
	_, err := restarted.client.Authorize(context.Background(), readPlan())
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "--max-staleness") {
		t.Fatalf("a decision while stale: %v, want UNAVAILABLE", err)
	}
	resp, err := http.Get("http://" + restarted.srv.MetricsAddr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while stale = %d", resp.StatusCode)
	}

	f.reg.Restart(t)
	eventually(t, "SERVING once the registry is back", func() bool {
		return restarted.healthStatus(t) == healthpb.HealthCheckResponse_SERVING
	})
	if d, err := restarted.client.Authorize(context.Background(), readPlan()); err != nil || !d.Allow {
		t.Fatalf("a decision after the registry came back: %+v, %v", d, err)
	}
}

// TestRegistryChannelNamingARefusedBundle rolls out an unsigned bundle:
// the channel reads fine, but what it names is refused. The replica keeps
// serving its last good bundle, reports the channel's revision beside the
// one it serves, and, since it cannot serve what the channel names, with
// --max-staleness turns NOT_SERVING after the limit; a rollback to a good
// revision makes it SERVING again.
func TestRegistryChannelNamingARefusedBundle(t *testing.T) {
	const maxStale = 300 * time.Millisecond
	f := newRegistryFixture(t)
	f.rollout(t, "allow")
	h := start(t, f.source(t, filepath.Join(t.TempDir(), "cache")), func(o *pdp.Options) {
		o.MaxStaleness = maxStale
		o.VerifyKeys = []ed25519.PublicKey{f.key.Public().(ed25519.PublicKey)}
	})
	eventually(t, "serving allow", func() bool { return h.srv.Serving() && h.healthStatus(t) == healthpb.HealthCheckResponse_SERVING })
	if _, err := f.repo.Rollout(t.Context(), "prod", "unsigned", oci.MoveOptions{SignKey: f.key, Now: t0}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the refusal in the status", func() bool {
		src := h.mustStatus(t).GetSourceStatus()
		return src.GetTarget().GetRevision() == "unsigned" && strings.Contains(src.GetLastError(), "the bundle is not signed")
	})
	if st := h.mustStatus(t); st.GetBundle().GetRevision() != "allow" {
		t.Fatalf("serving %v after the refusal", st.GetBundle())
	}
	eventually(t, "NOT_SERVING: what the channel names cannot be served", func() bool {
		return h.healthStatus(t) == healthpb.HealthCheckResponse_NOT_SERVING
	})
	f.rollout(t, "deny")
	eventually(t, "serving deny, SERVING again", func() bool {
		st := h.mustStatus(t)
		return st.GetBundle().GetRevision() == "deny" && h.healthStatus(t) == healthpb.HealthCheckResponse_SERVING
	})
	if d, err := h.client.Authorize(context.Background(), readPlan()); err != nil || d.Allow || d.Bundle.Revision != "deny" {
		t.Fatalf("decision after the rollout of deny: %+v, %v", d, err)
	}
}
