package pdp_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/internal/promtest"
	"github.com/cedargate/cedargate/pdp/client"
	"github.com/cedargate/cedargate/pdp/engine"
)

// The series of the decision-quality counters, as a scrape names them.
const (
	decisionErrors   = "cedargate_decision_errors_total"
	unknownPrincipal = `cedargate_unknown_entities_total{role="principal"}`
	unknownResource  = `cedargate_unknown_entities_total{role="resource"}`
	allowed          = `cedargate_decisions_total{decision="allow"}`
	denied           = `cedargate_decisions_total{decision="deny"}`
)

// countedFiles is a repository in which the team may read documents and a
// forbid overflows on a large context.n: an evaluation error that Cedar
// skips, so the read is still allowed.
var countedFiles = map[string]string{
	"schema.cedarschema": `namespace Docs {
  entity User in [Team];
  entity Team;
  entity Doc;
  action read appliesTo { principal: User, resource: Doc, context: { n: Long } };
}
`,
	"entities/docs.json": `[
  {"uid": {"type": "Docs::User", "id": "alice"}, "attrs": {}, "parents": [{"type": "Docs::Team", "id": "eng"}]},
  {"uid": {"type": "Docs::Team", "id": "eng"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Docs::Doc", "id": "plan"}, "attrs": {}, "parents": []}
]
`,
	"policies/docs.cedar": `@id("team-reads")
permit (principal in Docs::Team::"eng", action == Docs::Action::"read", resource is Docs::Doc);

@id("overflows")
forbid (principal, action, resource) when { context.n + 1 < 0 };
`,
}

// TestDecisionQualityMetrics sends a real server, over gRPC and through
// Server.Decide (the ext_authz path), a plain allow, a decision in which a
// policy errors, and decisions naming an unknown principal and an unknown
// resource, and checks after each step that the counters a scrape of
// /metrics shows moved by exactly what that step should.
func TestDecisionQualityMetrics(t *testing.T) {
	st := buildFiles(t, t.TempDir(), "counted", countedFiles, nil)
	if _, err := st.Activate(t.Context(), "counted", store.ActionBuild, t0); err != nil {
		t.Fatal(err)
	}
	h := start(t, st, nil)

	req := func(principal, resource string, n int64) client.Request {
		return client.Request{Principal: uid("Docs::User", principal), Action: uid("Docs::Action", "read"),
			Resource: uid("Docs::Doc", resource), Context: types.NewRecord(types.RecordMap{"n": types.Long(n)})}
	}
	authorize := func(t *testing.T, r client.Request) client.Decision {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		d, err := h.client.Authorize(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	// Every series exists, at zero, before the first decision, so that
	// increase() in an alert sees the first one.
	want := promtest.Samples{decisionErrors: 0, unknownPrincipal: 0, unknownResource: 0, allowed: 0, denied: 0}
	steps := []struct {
		name string
		do   func(t *testing.T)
		// moved is how much each counter grows in this step; the others
		// stay.
		moved promtest.Samples
	}{
		{"plain allow moves neither", func(t *testing.T) {
			if d := authorize(t, req("alice", "plan", 1)); !d.Allow || len(d.Errors) != 0 {
				t.Fatalf("decision %+v, want an allow without errors", d.Decision)
			}
		}, promtest.Samples{allowed: 1}},
		{"policy error", func(t *testing.T) {
			d := authorize(t, req("alice", "plan", math.MaxInt64))
			if !d.Allow || len(d.Errors) != 1 || d.Errors[0].PolicyID != "overflows" {
				t.Fatalf("decision %+v, want an allow with the overflow's error", d.Decision)
			}
		}, promtest.Samples{allowed: 1, decisionErrors: 1}},
		{"unknown principal", func(t *testing.T) {
			if d := authorize(t, req("alcie", "plan", 1)); d.Allow {
				t.Fatal("an unknown principal was allowed")
			}
		}, promtest.Samples{denied: 1, unknownPrincipal: 1}},
		{"unknown resource", func(t *testing.T) {
			// The team may read any Doc, even one the bundle lacks.
			if d := authorize(t, req("alice", "ghost", 1)); !d.Allow {
				t.Fatal("the team's read of a document the bundle lacks was denied")
			}
		}, promtest.Samples{allowed: 1, unknownResource: 1}},
		{"principal and resource supplied by the request are known", func(t *testing.T) {
			r := req("carol", "draft", 1)
			r.Entities = []types.Entity{
				{UID: uid("Docs::User", "carol"), Parents: types.NewEntityUIDSet(uid("Docs::Team", "eng"))},
				{UID: uid("Docs::Doc", "draft")},
			}
			if d := authorize(t, r); !d.Allow {
				t.Fatal("carol, a request entity in the team, was denied")
			}
		}, promtest.Samples{allowed: 1}},
		{"batch counts each decision", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			ds, err := h.client.BatchAuthorize(ctx, []client.Request{
				req("mallory", "nowhere", 1), req("alice", "plan", math.MaxInt64), req("alice", "plan", 1),
			})
			if err != nil || len(ds) != 3 {
				t.Fatalf("BatchAuthorize = %d decisions, %v", len(ds), err)
			}
		}, promtest.Samples{allowed: 2, denied: 1, decisionErrors: 1, unknownPrincipal: 1, unknownResource: 1}},
		{"in-process front ends count through Decide", func(t *testing.T) {
			r := req("stranger", "plan", 1)
			res, err := h.srv.Decide(t.Context(), func(*engine.Snapshot, time.Time) (*engine.Request, error) {
				return &engine.Request{Principal: r.Principal, Action: r.Action, Resource: r.Resource, Context: r.Context}, nil
			})
			if err != nil || res.Allow {
				t.Fatalf("Decide = %+v, %v; want a deny", res.Decision, err)
			}
		}, promtest.Samples{denied: 1, unknownPrincipal: 1}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do(t)
			for k, v := range s.moved {
				want[k] += v
			}
			got := promtest.Scrape(t, h.srv.MetricsAddr().String())
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (exported: %v), want %v", k, g, ok, v)
				}
			}
		})
	}
}
