package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
)

func TestDuplicateSPIFFEIDsAreRefused(t *testing.T) {
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: 1, Revision: "r", Environment: "e"}, Entities: []byte(`[
{"uid": {"type": "ServiceAccount", "id": "a"}, "parents": [], "attrs": {"spiffe_id": "spiffe://x/a"}},
{"uid": {"type": "Group", "id": "admins"}, "parents": [], "attrs": {"spiffe_id": "spiffe://x/a"}}
]`)}
	if _, err := engine.New(b); err == nil || !strings.Contains(err.Error(), `both have spiffe_id "spiffe://x/a"`) {
		t.Fatalf("New = %v, want a refusal naming the shared SPIFFE id", err)
	}
}

// TestWindowsFarFromNow checks window bounds outside the range of int64
// nanoseconds: one in the year 1000 is in the past, one in 3000 in the
// future, as they are, rather than wrapped around.
func TestWindowsFarFromNow(t *testing.T) {
	past := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	future := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: 1, Revision: "r", Environment: "e"}, Entities: []byte("[]"),
		Policies: []bundle.Policy{
			{ID: "expired-long-ago", Source: "x", NotAfter: &past, Cedar: `permit (principal == User::"a", action, resource);`},
			{ID: "starts-far-ahead", Source: "x", NotBefore: &future, Cedar: `permit (principal == User::"b", action, resource);`},
			{ID: "open-until-far-ahead", Source: "x", NotAfter: &future, Cedar: `permit (principal == User::"c", action, resource);`},
		}}
	snap, err := engine.New(b)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for user, want := range map[string]bool{"a": false, "b": false, "c": true} {
		d := snap.Decide(&engine.Request{Principal: types.NewEntityUID("User", types.String(user)), Action: types.NewEntityUID("Action", "x"),
			Resource: types.NewEntityUID("R", "x"), Time: now})
		if d.Allow != want {
			t.Errorf("user %s: allow = %v, want %v", user, d.Allow, want)
		}
	}
}

// TestUnknownEntities checks that a decision says when its principal or
// resource is neither a bundle entity nor a request entity, whichever way
// the engine finds (or does not find) it, and that a pooled decision state
// does not carry the answer over to the next decision.
func TestUnknownEntities(t *testing.T) {
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: 1, Revision: "r", Environment: "e"}, Entities: []byte(`[
{"uid": {"type": "User", "id": "alice"}, "parents": [{"type": "Team", "id": "eng"}], "attrs": {}},
{"uid": {"type": "Doc", "id": "plan"}, "parents": [], "attrs": {}}
]`), Policies: []bundle.Policy{{ID: "eng-reads", Source: "x", Cedar: `permit (principal in Team::"eng", action, resource);`}}}
	snap, err := engine.New(b)
	if err != nil {
		t.Fatal(err)
	}
	user := func(id string) types.EntityUID { return types.NewEntityUID("User", types.String(id)) }
	doc := func(id string) types.EntityUID { return types.NewEntityUID("Doc", types.String(id)) }
	// many are request entities enough to be looked up through a map.
	var many []types.Entity
	for i := range 10 {
		many = append(many, types.Entity{UID: doc("extra" + strings.Repeat("x", i))})
	}
	tests := []struct {
		name                 string
		principal, resource  types.EntityUID
		entities             []types.Entity
		wantAllow            bool
		wantUnknownPrincipal bool
		wantUnknownResource  bool
	}{
		{"both in the bundle", user("alice"), doc("plan"), nil, true, false, false},
		{"unknown principal", user("alcie"), doc("plan"), nil, false, true, false},
		{"unknown resource", user("alice"), doc("plna"), nil, true, false, true},
		{"both unknown", user("bob"), doc("nope"), nil, false, true, true},
		{"both known again", user("alice"), doc("plan"), nil, true, false, false},
		{"principal and resource supplied by the request", user("carol"), doc("draft"),
			[]types.Entity{{UID: doc("draft")}, {UID: user("carol"), Parents: types.NewEntityUIDSet(types.NewEntityUID("Team", "eng"))}}, true, false, false},
		{"resource among many request entities", user("alice"), doc("extraxxx"), many, true, false, false},
		{"unknown resource beside many request entities", user("alice"), doc("missing"), many, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := snap.Decide(&engine.Request{Principal: tt.principal, Action: types.NewEntityUID("Action", "read"),
				Resource: tt.resource, Entities: tt.entities, EntityMode: engine.MergeAttributes})
			if d.Allow != tt.wantAllow || d.UnknownPrincipal != tt.wantUnknownPrincipal || d.UnknownResource != tt.wantUnknownResource {
				t.Errorf("Decide = allow %v, unknown principal %v, unknown resource %v; want %v, %v, %v",
					d.Allow, d.UnknownPrincipal, d.UnknownResource, tt.wantAllow, tt.wantUnknownPrincipal, tt.wantUnknownResource)
			}
		})
	}
}
