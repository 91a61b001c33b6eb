package pdp_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/client"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestAuthorizeEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	act, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, st, nil)
	ctx := context.Background()

	d, err := h.client.Authorize(ctx, readPlan())
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow || len(d.Reasons) != 1 || d.Reasons[0].ID != "team-reads" || d.Reasons[0].Source != "policies/docs.cedar:1:1" {
		t.Fatalf("decision = %+v, want allow by team-reads at policies/docs.cedar:1:1", d)
	}
	if d.Bundle.Revision != "allow" || d.Bundle.Digest != act.Digest || d.Bundle.Environment != "default" || len(d.ID) != 32 {
		t.Fatalf("decision metadata = %+v, want revision allow, digest %s", d, act.Digest)
	}

	secret := readPlan()
	secret.Resource = uid("Docs::Doc", "secret")
	if d, err := h.client.Authorize(ctx, secret); err != nil || d.Allow || len(d.Reasons) != 0 {
		t.Fatalf("classified doc: %+v, %v; want default deny", d, err)
	}

	// A request-scoped entity the bundle does not know is decided on, for
	// this request only. (Request entities that shadow the bundle's:
	// entities_test.go.)
	draft := readPlan()
	draft.Resource = uid("Docs::Doc", "draft")
	draft.Entities = []types.Entity{{UID: draft.Resource, Attributes: types.NewRecord(types.RecordMap{"classified": types.False})}}
	if d, err := h.client.Authorize(ctx, draft); err != nil || !d.Allow {
		t.Fatalf("request-scoped entity: %+v, %v; want allow", d, err)
	}
	draft.Entities = nil
	if d, err := h.client.Authorize(ctx, draft); err != nil || d.Allow || len(d.Errors) != 1 {
		t.Fatalf("the request-scoped entity leaked into the next request: %+v, %v", d, err)
	}

	// An evaluation error is part of the decision, not a failed call.
	bad := readPlan()
	bad.Resource = draft.Resource
	bad.Entities = []types.Entity{{UID: draft.Resource, Attributes: types.NewRecord(types.RecordMap{"classified": types.String("no")})}}
	d, err = h.client.Authorize(ctx, bad)
	if err != nil || d.Allow || len(d.Errors) != 1 || d.Errors[0].PolicyID != "team-reads" {
		t.Fatalf("erroring policy: %+v, %v; want deny with an error from team-reads", d, err)
	}

	// BatchAuthorize decides every request against one snapshot, in order.
	ds, err := h.client.BatchAuthorize(ctx, []client.Request{readPlan(), secret, readPlan()})
	if err != nil {
		t.Fatal(err)
	}
	if got := []bool{ds[0].Allow, ds[1].Allow, ds[2].Allow}; !slices.Equal(got, []bool{true, false, true}) {
		t.Fatalf("batch decisions = %v", got)
	}
	if ds[0].ID == ds[2].ID || ds[1].Bundle.Revision != "allow" {
		t.Fatalf("batch metadata: %+v", ds)
	}
}

func TestMalformedRequestsAreInvalidArgument(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	h := start(t, st, func(o *pdp.Options) { o.Limits.MaxBatch = 2 })
	raw := pb.NewAuthorizationServiceClient(h.conn)
	ok := func() *pb.AuthorizeRequest {
		return &pb.AuthorizeRequest{
			Principal: &pb.EntityRef{Type: "Docs::User", Id: "alice"},
			Action:    &pb.EntityRef{Type: "Docs::Action", Id: "read"},
			Resource:  &pb.EntityRef{Type: "Docs::Doc", Id: "plan"},
		}
	}
	tests := []struct {
		name string
		req  func() *pb.AuthorizeRequest
		want string
	}{
		{"no principal", func() *pb.AuthorizeRequest { r := ok(); r.Principal = nil; return r }, "principal: required"},
		{"bad type", func() *pb.AuthorizeRequest { r := ok(); r.Resource.Type = "Docs::"; return r }, "resource.type"},
		{"empty value", func() *pb.AuthorizeRequest { r := ok(); r.Context = map[string]*pb.Value{"mfa": {}}; return r }, `context["mfa"]`},
		{"bad ip", func() *pb.AuthorizeRequest {
			r := ok()
			r.Context = map[string]*pb.Value{"src": {Kind: &pb.Value_Extension{Extension: &pb.Extension{Fn: "ip", Arg: "10.0.0.300"}}}}
			return r
		}, `context["src"].extension.arg`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := raw.Authorize(context.Background(), tt.req())
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tt.want) {
				t.Fatalf("err = %v, want INVALID_ARGUMENT naming %s", err, tt.want)
			}
		})
	}
	_, err := raw.BatchAuthorize(context.Background(), &pb.BatchAuthorizeRequest{Requests: []*pb.AuthorizeRequest{ok(), ok(), ok()}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("oversized batch: %v", err)
	}
	// A deadline that has already passed gets no decision.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := raw.Authorize(ctx, ok()); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("expired deadline: %v", err)
	}
}

// TestNoBundleMeansUnavailableUntilOneArrives starts a PDP on an empty store:
// it must answer UNAVAILABLE and report NOT_SERVING, then serve as soon as
// a bundle is rolled out, with no restart.
func TestNoBundleMeansUnavailableUntilOneArrives(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	h := start(t, st, nil)
	health := healthpb.NewHealthClient(h.conn)
	ctx := context.Background()
	if _, err := h.client.Authorize(ctx, readPlan()); status.Code(err) != codes.Unavailable {
		t.Fatalf("without a bundle: %v, want UNAVAILABLE", err)
	}
	for _, svc := range []string{"", "cedargate.v1.AuthorizationService"} {
		r, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("health %q without a bundle: %v %v", svc, r, err)
		}
	}
	ready := func() int {
		resp, err := http.Get("http://" + h.srv.MetricsAddr().String() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz without a bundle = %d", code)
	}
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the bundle to be served", func() bool {
		r, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil && r.Status == healthpb.HealthCheckResponse_SERVING
	})
	if d, err := h.client.Authorize(ctx, readPlan()); err != nil || !d.Allow {
		t.Fatalf("after rollout: %+v %v", d, err)
	}
	if code := ready(); code != http.StatusOK {
		t.Fatalf("/readyz with a bundle = %d", code)
	}
}

// metric returns the value of one sample line of the /metrics page.
func metric(t testing.TB, h *harness, series string) string {
	t.Helper()
	resp, err := http.Get("http://" + h.srv.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestRefusedBundlesKeepTheLastGoodOne rolls out a corrupt bundle and, with
// a verify key, an unsigned one: each is refused, the previous bundle keeps
// serving, and the failure shows in GetStatus, the logs and the metrics.
func TestRefusedBundlesKeepTheLastGoodOne(t *testing.T) {
	privPEM, pubPEM, _ := bundle.GenerateKey()
	priv, _ := bundle.ParsePrivateKey(privPEM)
	pub, _ := bundle.ParsePublicKey(pubPEM)

	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", priv)
	buildInto(t, dir, "deny", nil) // unsigned
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	h := start(t, st, func(o *pdp.Options) { o.VerifyKeys = []ed25519.PublicKey{pub} })
	ctx := context.Background()
	if d, err := h.client.Authorize(ctx, readPlan()); err != nil || !d.Allow {
		t.Fatalf("signed bundle: %+v %v", d, err)
	}

	failures := func() string { return metric(t, h, `cedargate_bundle_activations_total{result="failure"}`) }
	if got := failures(); got != "0" {
		t.Fatalf("failures before = %q", got)
	}

	// Unsigned: refused because a key is required.
	if _, err := st.Activate(t.Context(), "deny", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the unsigned bundle to be refused", func() bool { return failures() == "1" })
	assertServing(t, h, "allow", "signature verification failed")

	// Corrupt: the stored file of a valid, signed revision is truncated
	// behind the store's back, then rolled out.
	corruptDir := filepath.Join(t.TempDir(), "corrupt-store")
	cst := buildInto(t, corruptDir, "allow", priv)
	if _, err := cst.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	buildInto(t, corruptDir, "deny", priv)
	h2 := start(t, cst, func(o *pdp.Options) { o.VerifyKeys = []ed25519.PublicKey{pub} })
	path := filepath.Join(corruptDir, store.BundlesDir, "deny.tar.gz")
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, data[:len(data)-40], 0o644); err != nil {
		t.Fatal(err)
	}
	// The store refuses to activate a damaged bundle itself, so write the
	// pointer as a buggy or hostile tool would.
	digest := digestOf(t, data)
	writeActive(t, corruptDir, "deny", digest)
	eventually(t, "the corrupt bundle to be refused", func() bool {
		return metric(t, h2, `cedargate_bundle_activations_total{result="failure"}`) == "1"
	})
	assertServing(t, h2, "allow", "loading bundle deny")
	eventually(t, "the failure in the server log", func() bool {
		return strings.Contains(h2.logs.String(), "bundle activation failed; keeping the last good bundle")
	})
}

// writeActive makes rev active in the store at dir by writing its state
// file directly, as a sync tool, or a buggy or hostile one, would.
func writeActive(t *testing.T, dir, rev, digest string) {
	t.Helper()
	state, _ := json.Marshal(map[string]any{"format": 1, "active": store.Pointer{Revision: rev, Digest: digest}, "history": []store.Activation{}})
	if err := os.WriteFile(filepath.Join(dir, store.StateFile), state, 0o644); err != nil {
		t.Fatal(err)
	}
}

func digestOf(t *testing.T, archive []byte) string {
	t.Helper()
	b, err := bundle.Decode(strings.NewReader(string(archive)), bundle.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b.Digest
}

// assertServing checks what GetStatus and a decision say after a refused
// activation.
func assertServing(t *testing.T, h *harness, rev, failure string) {
	t.Helper()
	st, err := h.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.GetServing() || st.GetBundle().GetRevision() != rev {
		t.Fatalf("status serves %q, want %q", st.GetBundle().GetRevision(), rev)
	}
	f := st.GetLastFailedActivation()
	if f == nil || f.GetResult() != pb.ActivationResult_ACTIVATION_RESULT_FAILURE || !strings.Contains(f.GetError(), failure) {
		t.Fatalf("last failed activation = %v, want an error containing %q", f, failure)
	}
	if len(st.GetRecentActivations()) < 2 || st.GetRecentActivations()[0].GetResult() != pb.ActivationResult_ACTIVATION_RESULT_FAILURE {
		t.Fatalf("recent activations = %v", st.GetRecentActivations())
	}
	if d, err := h.client.Authorize(context.Background(), readPlan()); err != nil || d.Bundle.Revision != rev {
		t.Fatalf("after a refused bundle: %+v %v, want %s still serving", d, err, rev)
	}
	if got := metric(t, h, fmt.Sprintf(`cedargate_bundle_info{digest="%s",environment="default",revision="%s"}`, st.GetBundle().GetDigest(), rev)); got != "1" {
		t.Fatalf("cedargate_bundle_info for %s = %q", rev, got)
	}
}

// TestHotReloadUnderLoad keeps clients calling Authorize while bundles are
// rolled out and back repeatedly. No call may fail, every answer must come
// from a revision that was active, and after each pointer change the
// answers must switch to the new revision's within a bounded time.
func TestHotReloadUnderLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	buildInto(t, dir, "deny", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	h := start(t, st, func(o *pdp.Options) { o.DecisionLog = decisionLog(logDir) })
	want := map[string]bool{"allow": true, "deny": false}

	var calls, failures, wrong atomic.Int64
	var latest atomic.Value // revision answering most recently
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, err := h.client.Authorize(context.Background(), readPlan())
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					t.Errorf("call failed during reload: %v", err)
					continue
				}
				allow, known := want[d.Bundle.Revision]
				if !known || allow != d.Allow {
					wrong.Add(1)
					t.Errorf("answer %v from revision %q, which answers %v", d.Allow, d.Bundle.Revision, allow)
				}
				latest.Store(d.Bundle.Revision)
			}
		}()
	}
	const rounds = 20
	var switchTimes []time.Duration
	for i := range rounds {
		var err error
		target := "deny"
		if i%2 == 0 {
			_, err = st.Activate(t.Context(), "deny", store.ActionRollout, t0)
		} else {
			_, err = st.Rollback(t.Context(), t0)
			target = "allow"
		}
		if err != nil {
			t.Fatal(err)
		}
		changed := time.Now()
		n := calls.Load()
		eventually(t, "answers from "+target, func() bool { return latest.Load() == target && calls.Load() > n+4 })
		switchTimes = append(switchTimes, time.Since(changed))
	}
	close(stop)
	wg.Wait()
	slices.Sort(switchTimes)
	t.Logf("%d calls, %d failed, %d wrong; time from pointer change to new answers: median %v, max %v",
		calls.Load(), failures.Load(), wrong.Load(), switchTimes[len(switchTimes)/2], switchTimes[len(switchTimes)-1])
	if failures.Load() != 0 || wrong.Load() != 0 {
		t.Fatalf("%d failed and %d wrong calls", failures.Load(), wrong.Load())
	}

	// Every decision of the decision log names the revision that made it,
	// and its answer is that revision's.
	h.stop(t)
	f, err := os.Open(filepath.Join(logDir, "decisions.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct {
			Decision string `json:"decision"`
			Bundle   struct{ Revision string }
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if (e.Decision == "allow") != want[e.Bundle.Revision] {
			t.Fatalf("decision log line %d: %s by revision %q", lines+1, e.Decision, e.Bundle.Revision)
		}
		lines++
	}
	if int64(lines) != calls.Load() {
		t.Fatalf("decision log holds %d lines, %d calls were answered", lines, calls.Load())
	}
}

// TestGrantExpiresWhileServing serves a bundle whose only grant expires a
// moment from now and watches the same request turn from allow to deny
// with no rebuild and no reload.
func TestGrantExpiresWhileServing(t *testing.T) {
	soon := time.Now().Add(1500 * time.Millisecond).UTC().Truncate(time.Millisecond)
	b := &bundle.Bundle{
		Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion, Revision: "expiring", Environment: "prod"},
		Entities: []byte("[]"),
		Policies: []bundle.Policy{{ID: "entitlement:User/alice:reader#0", Source: "identities/a.yaml:1:1", Origin: "Entitlement", NotAfter: &soon,
			Cedar: `permit (principal == Docs::User::"alice", action == Docs::Action::"read", resource);`}},
	}
	archive, err := bundle.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Create(t.Context(), filepath.Join(t.TempDir(), "store"), "prod")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), archive); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Activate(t.Context(), "expiring", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	h := start(t, st, nil)
	d, err := h.client.Authorize(context.Background(), readPlan())
	if err != nil {
		t.Fatal(err)
	}
	if time.Now().Before(soon) && !d.Allow {
		t.Fatalf("before expiry: %+v", d)
	}
	eventually(t, "the grant to expire", func() bool {
		d, err := h.client.Authorize(context.Background(), readPlan())
		return err == nil && !d.Allow
	})
	if time.Now().Before(soon) {
		t.Fatal("denied before the grant's expiry")
	}
	st2, _ := h.client.Status(context.Background())
	if n := len(st2.GetRecentActivations()); n != 1 {
		t.Fatalf("%d activations: the change must come from the clock, not a reload", n)
	}
}

func TestGracefulShutdownFlushesTheDecisionLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	h := start(t, st, func(o *pdp.Options) { o.DecisionLog = decisionLog(logDir) })
	var ids []string
	for range 500 {
		d, err := h.client.Authorize(context.Background(), readPlan())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	h.stop(t)
	data, err := os.ReadFile(filepath.Join(logDir, "decisions.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !strings.Contains(string(data), `"decision_id":"`+id+`"`) {
			t.Fatalf("decision %s is not in the log after shutdown", id)
		}
	}
}

// TestServeWaitsForAStoreToBeCreated starts a PDP on an empty directory, as
// on a freshly provisioned volume, and checks it serves once a build
// creates the store there and activates a bundle.
func TestServeWaitsForAStoreToBeCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "volume")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	empty, err := store.OpenForServing(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, empty, nil)
	if _, err := h.client.Authorize(context.Background(), readPlan()); status.Code(err) != codes.Unavailable {
		t.Fatalf("on an empty volume: %v, want UNAVAILABLE", err)
	}
	st := buildInto(t, dir, "allow", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first bundle on the new store", func() bool {
		d, err := h.client.Authorize(context.Background(), readPlan())
		return err == nil && d.Allow
	})
}

// TestFailedActivationIsRetriedOnTheNextChange points the store at a
// bundle file that is not there yet (as a sync tool may, writing the
// pointer before the bundle), then adds the file and writes the same
// pointer again: the PDP must retry the revision it failed on and serve it.
func TestFailedActivationIsRetriedOnTheNextChange(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	buildInto(t, dir, "deny", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	h := start(t, st, nil)
	path := filepath.Join(dir, store.BundlesDir, "deny.tar.gz")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".later"); err != nil {
		t.Fatal(err)
	}
	writeActive(t, dir, "deny", digestOf(t, data))
	eventually(t, "the missing bundle to fail", func() bool {
		return metric(t, h, `cedargate_bundle_activations_total{result="failure"}`) == "1"
	})
	if d, err := h.client.Authorize(context.Background(), readPlan()); err != nil || d.Bundle.Revision != "allow" {
		t.Fatalf("after the failure: %+v %v, want allow still serving", d, err)
	}
	if err := os.Rename(path+".later", path); err != nil {
		t.Fatal(err)
	}
	writeActive(t, dir, "deny", digestOf(t, data))
	eventually(t, "the retried bundle to be served", func() bool {
		d, err := h.client.Authorize(context.Background(), readPlan())
		return err == nil && d.Bundle.Revision == "deny" && !d.Allow
	})
}

// TestValidateRequests checks that, with request validation on, requests
// the schema rejects are refused with INVALID_ARGUMENT instead of decided,
// and that valid ones are decided as before.
func TestValidateRequests(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	wrongType := readPlan()
	wrongType.Principal = uid("Docs::Doc", "plan")
	wrongContext := readPlan()
	wrongContext.Context = types.NewRecord(types.RecordMap{"mfa": types.String("yes")})
	stringIP := readPlan()
	stringIP.Context = types.NewRecord(types.RecordMap{"source_ip": types.String("10.1.1.1")})
	badEntity := readPlan()
	badEntity.Resource = uid("Docs::Doc", "draft")
	badEntity.Entities = []types.Entity{{UID: badEntity.Resource, Attributes: types.NewRecord(types.RecordMap{"classified": types.String("no")})}}

	plain := start(t, st, nil)
	if d, err := plain.client.Authorize(context.Background(), wrongType); err != nil || d.Allow {
		t.Fatalf("without validation a wrong request is decided (deny): %+v %v", d, err)
	}
	h := start(t, st, func(o *pdp.Options) { o.ValidateRequests = true })
	for name, tc := range map[string]struct {
		req  client.Request
		want string
	}{
		"principal type": {wrongType, "principal type `Docs::Doc` is not valid"},
		"context":        {wrongContext, `context.mfa: expected bool, got string "yes"`},
		"string for ip":  {stringIP, `context.source_ip: expected ipaddr, got string "10.1.1.1"`},
		"entity":         {badEntity, `entities[0]: Docs::Doc::"draft" does not match the schema`},
	} {
		_, err := h.client.Authorize(context.Background(), tc.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.want) {
			t.Errorf("%s: %v, want INVALID_ARGUMENT containing %q", name, err, tc.want)
		}
	}
	if d, err := h.client.Authorize(context.Background(), readPlan()); err != nil || !d.Allow {
		t.Fatalf("a valid request: %+v %v", d, err)
	}
	if _, err := h.client.BatchAuthorize(context.Background(), []client.Request{readPlan(), wrongType}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(status.Convert(err).Message(), "requests[1]") {
		t.Fatalf("batch with an invalid request: %v", err)
	}
}

// TestPollRetriesAFailedBundle is the retry without change notifications,
// as on a network file system: the pointer names a bundle that is missing,
// the file appears later, and the periodic poll activates it once the
// retry delay has passed.
func TestPollRetriesAFailedBundle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	buildInto(t, dir, "deny", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, store.BundlesDir, "deny.tar.gz")
	data, _ := os.ReadFile(path)
	if err := os.Rename(path, path+".later"); err != nil {
		t.Fatal(err)
	}
	h := start(t, st, func(o *pdp.Options) {
		o.Poll = 20 * time.Millisecond
		o.RetryFailedAfter = 200 * time.Millisecond
	})
	writeActive(t, dir, "deny", digestOf(t, data))
	eventually(t, "the missing bundle to fail", func() bool {
		return metric(t, h, `cedargate_bundle_activations_total{result="failure"}`) != "0"
	})
	// The file appears with no change to the pointer, so no notification:
	// only the poll can notice.
	if err := os.Rename(path+".later", path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the poll to retry and serve the bundle", func() bool {
		d, err := h.client.Authorize(context.Background(), readPlan())
		return err == nil && d.Bundle.Revision == "deny"
	})
}

// TestStreamWorkers serves concurrent calls with gRPC stream workers
// (Options.StreamWorkers): many workers, which the server starts with
// it, and a single one, which leaves most concurrent calls to
// goroutines of their own, answer every call as a server without
// workers does.
func TestStreamWorkers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	started := func(workers int) (*harness, int) {
		before := runtime.NumGoroutine()
		h := start(t, st, func(o *pdp.Options) { o.StreamWorkers = workers })
		return h, runtime.NumGoroutine() - before
	}
	_, none := started(-1)
	for _, workers := range []int{-1, 1, 200} {
		h, added := started(workers)
		// The server's other goroutines vary by a few between starts
		// (a reload or a connection may still be settling); 200 workers
		// stand out whatever they do.
		if workers == 200 && added-none < workers-10 {
			t.Errorf("a server with %d stream workers started %d goroutines, one without %d", workers, added, none)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for range 64 {
			wg.Go(func() {
				d, err := h.client.Authorize(t.Context(), readPlan())
				if err == nil && (!d.Allow || len(d.Reasons) != 1 || d.Reasons[0].ID != "team-reads") {
					err = fmt.Errorf("decision %+v, want allow by team-reads", d)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("%d workers: %v", workers, err)
			}
		}
	}
}
