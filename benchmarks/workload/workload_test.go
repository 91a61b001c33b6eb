package workload_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cedargate/cedargate/benchmarks/workload"
	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/authzen"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

var now = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// small is a repository small enough for the race detector, with every
// feature of the large ones.
func small(rbac bool) workload.Spec {
	return workload.Spec{Name: "small", Seed: 7, Now: now, Users: 200, ServiceAccounts: 100, Teams: 4, Groups: 24, Depth: 4,
		Profiles: 30, Entitlements: 60, Exceptions: 3, Resources: 200, RBAC: rbac}
}

func generate(t *testing.T, s workload.Spec) *workload.Repo {
	t.Helper()
	r, err := workload.Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// snapshot builds r the way `cedargate build --env prod` does, with its
// guardrails and decision tests, and loads the bundle.
func snapshot(t *testing.T, r *workload.Repo) *engine.Snapshot {
	t.Helper()
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	out, err := build.Build(t.Context(), dir, build.Options{Env: workload.Env, Now: r.Spec.Now, Revision: "test"})
	if err != nil {
		t.Fatalf("the generated repository does not build: %v", err)
	}
	if out.Tests.Passed == 0 {
		t.Error("no decision test ran")
	}
	snap, err := engine.New(out.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func decide(t *testing.T, snap *engine.Snapshot, req *pb.AuthorizeRequest, at time.Time) engine.Decision {
	t.Helper()
	er, err := wire.DecodeRequest(req, wire.Limits{})
	if err != nil {
		t.Fatalf("generated request does not decode: %v", err)
	}
	er.Time = at
	return snap.Decide(er)
}

func TestDeterministic(t *testing.T) {
	a, b := generate(t, small(false)), generate(t, small(false))
	fa, fb := a.Files(), b.Files()
	if len(fa) != len(fb) {
		t.Fatalf("%d files, then %d", len(fa), len(fb))
	}
	for p, data := range fa {
		if !bytes.Equal(data, fb[p]) {
			t.Errorf("%s differs between two generations", p)
		}
	}
	for _, mix := range workload.Mixes() {
		ra, err := a.Requests(mix, 50)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := b.Requests(mix, 50)
		for i := range ra {
			ja, _ := json.Marshal(ra[i])
			jb, _ := json.Marshal(rb[i])
			if !bytes.Equal(ja, jb) {
				t.Fatalf("%s request %d differs between two generations", mix, i)
			}
		}
	}
}

// TestMixes checks that each mix is what its name says, decided by the
// engine against the built repository.
func TestMixes(t *testing.T) {
	r := generate(t, small(false))
	snap := snapshot(t, r)
	for _, tc := range []struct {
		mix                workload.Mix
		minAllow, maxAllow float64
	}{
		{workload.Allow, 0.85, 1},
		{workload.Deny, 0, 0.25}, // a small repository grants densely
		{workload.Deep, 0.85, 1},
		{workload.Entities, 0.3, 0.9},
		{workload.Context, 0.85, 1},
	} {
		t.Run(string(tc.mix), func(t *testing.T) {
			reqs, err := r.Requests(tc.mix, 400)
			if err != nil {
				t.Fatal(err)
			}
			allowed := 0
			for _, req := range reqs {
				d := decide(t, snap, req, now.Add(time.Hour))
				if len(d.Errors) > 0 {
					t.Fatalf("evaluation errors for %v: %v", req, d.Errors)
				}
				if d.Allow {
					allowed++
				}
			}
			if f := float64(allowed) / float64(len(reqs)); f < tc.minAllow || f > tc.maxAllow {
				t.Errorf("%.0f%% allowed, want %.0f%% to %.0f%%", 100*f, 100*tc.minAllow, 100*tc.maxAllow)
			}
		})
	}
}

// TestOPAExportAgrees decides the RBAC mixes with the Rego policy's logic
// over the exported data, and requires cedargate's decision every time:
// the peer comparison must compare the same question.
func TestOPAExportAgrees(t *testing.T) {
	r := generate(t, small(true))
	snap := snapshot(t, r)
	raw, err := r.OPAData()
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Ancestors map[string][]string `json:"ancestors"`
		Grants    map[string][]struct {
			Actions  []string `json:"actions"`
			Resource string   `json:"resource"`
			Type     string   `json:"type"`
		} `json:"grants"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	// rego is OPAPolicy, written in Go.
	rego := func(in workload.OPAInput) bool {
		subjects := append([]string{in.Principal}, data.Ancestors[in.Principal]...)
		scope := append([]string{in.Resource}, data.Ancestors[in.Resource]...)
		for _, s := range subjects {
			for _, g := range data.Grants[s] {
				if slices.Contains(g.Actions, in.Action) && (slices.Contains(scope, g.Resource) || g.Type == in.ResourceType) {
					return true
				}
			}
		}
		return false
	}
	allowed := 0
	for _, mix := range []workload.Mix{workload.Allow, workload.Deny} {
		reqs, err := r.Requests(mix, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, req := range reqs {
			want := decide(t, snap, req, time.Now()).Allow
			if got := rego(workload.ToOPAInput(req)); got != want {
				t.Fatalf("%s: Rego logic decides allow=%v, cedargate allow=%v", req, got, want)
			}
			if want {
				allowed++
			}
		}
	}
	if allowed < 500 {
		t.Errorf("only %d of 1000 requests allowed: the comparison would exercise too few grants", allowed)
	}
}

func TestRBACRefusesABACMixes(t *testing.T) {
	r := generate(t, small(true))
	if _, err := r.Requests(workload.Entities, 1); err == nil {
		t.Error("an RBAC repository drew request-entity requests, which its policies cannot decide")
	}
	if _, err := generate(t, small(false)).OPAData(); err == nil {
		t.Error("an ABAC repository exported OPA data that leaves its ABAC policies out")
	}
}

// TestAuthZENBodiesDecideAlike checks that the AuthZEN evaluations the
// load test sends are the workload's requests: a PDP serving the RBAC
// bundle answers each as the engine decides its gRPC request, and an
// evaluations body as its evaluations one by one.
func TestAuthZENBodiesDecideAlike(t *testing.T) {
	r := generate(t, small(true))
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	out, err := build.Build(t.Context(), dir, build.Options{Env: workload.Env, Now: r.Spec.Now, Revision: "test"})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := engine.New(out.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Create(t.Context(), filepath.Join(t.TempDir(), "store"), workload.Env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), out.Archive); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Activate(t.Context(), "test", store.ActionRollout, now); err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	srv, err := pdp.New(pdp.Options{Source: st, Listen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0", Poll: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: func() time.Time { return now },
		HTTP: func(s *pdp.Server) (http.Handler, error) {
			var err error
			h, err = authzen.New(s, authzen.Options{})
			return h, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(t.Context())
	ask := func(path string, body []byte) map[string]any {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var v map[string]any
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &v) != nil {
			t.Fatalf("%s %s: %d %s", path, body, w.Code, w.Body.Bytes())
		}
		return v
	}
	reqs, err := r.Requests(workload.Allow, 100)
	if err != nil {
		t.Fatal(err)
	}
	deny, err := r.Requests(workload.Deny, 100)
	if err != nil {
		t.Fatal(err)
	}
	reqs = append(reqs, deny...)
	singles, err := workload.AuthZENBodies(reqs, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []bool
	allowed := 0
	for i, req := range reqs {
		w := decide(t, snap, req, now).Allow
		want = append(want, w)
		if got := ask("/access/v1/evaluation", singles[i])["decision"]; got != w {
			t.Fatalf("%s: AuthZEN %v, engine allow=%v", singles[i], got, w)
		}
		if w {
			allowed++
		}
	}
	if allowed < 50 || allowed > 150 {
		t.Errorf("%d of 200 allowed: the comparison shows little", allowed)
	}
	batches, err := workload.AuthZENBodies(reqs, 50)
	if err != nil || len(batches) != 4 {
		t.Fatalf("%d batches, %v", len(batches), err)
	}
	for i, b := range batches {
		evs := ask("/access/v1/evaluations", b)["evaluations"].([]any)
		for j, ev := range evs {
			if got := ev.(map[string]any)["decision"]; got != want[i*50+j] {
				t.Fatalf("batch %d, evaluation %d: %v, want %v", i, j, got, want[i*50+j])
			}
		}
	}
}
