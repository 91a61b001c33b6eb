package engine_test

import (
	"testing"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
)

// shadowBundle has a contractor, an admins group the contractor is not in,
// and a parent (Team::"ghost") that entities name but the bundle does not
// define. Admins may do anything; a forbid keeps contractors off secret
// documents, and a permit lets the engineering team read documents of its
// own level or below.
func shadowBundle(t *testing.T) *engine.Snapshot {
	t.Helper()
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: 1, Revision: "r", Environment: "e"}, Entities: []byte(`[
{"uid": {"type": "User", "id": "carol"}, "parents": [{"type": "Group", "id": "contractors"}, {"type": "Team", "id": "ghost"}], "attrs": {"level": 1, "contractor": true}},
{"uid": {"type": "Group", "id": "contractors"}, "parents": [], "attrs": {}},
{"uid": {"type": "Group", "id": "admins"}, "parents": [], "attrs": {}},
{"uid": {"type": "Doc", "id": "plan"}, "parents": [], "attrs": {"level": 1, "secret": false}}
]`), Policies: []bundle.Policy{
		{ID: "admins", Source: "x", Cedar: `permit (principal in Group::"admins", action, resource);`},
		{ID: "levels", Source: "x", Cedar: `permit (principal in Group::"contractors", action, resource is Doc) when { principal.level >= resource.level };`},
		{ID: "no-secrets", Source: "x", Cedar: `forbid (principal, action, resource) when { principal.contractor && resource.secret };`},
	}}
	s, err := engine.New(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ent(typ, id string, attrs types.RecordMap, parents ...types.EntityUID) types.Entity {
	return types.Entity{UID: types.NewEntityUID(types.EntityType(typ), types.String(id)), Attributes: types.NewRecord(attrs),
		Parents: types.NewEntityUIDSet(parents...)}
}

var (
	carol       = types.NewEntityUID("User", "carol")
	admins      = types.NewEntityUID("Group", "admins")
	contractors = types.NewEntityUID("Group", "contractors")
	ghost       = types.NewEntityUID("Team", "ghost")
	plan        = types.NewEntityUID("Doc", "plan")
)

func TestShadowing(t *testing.T) {
	s := shadowBundle(t)
	doc := ent("Doc", "new", types.RecordMap{"level": types.Long(1)}, plan)
	tests := []struct {
		name string
		ents []types.Entity
		mode engine.EntityMode
		want *engine.Shadow // nil: nothing refused
	}{
		{"request-only entity with a bundle parent", []types.Entity{doc}, engine.RefuseShadowing, nil},
		{"bundle entity refused", []types.Entity{doc, ent("User", "carol", nil, admins)}, engine.RefuseShadowing,
			&engine.Shadow{Index: 1, UID: carol}},
		{"bundle entity refused without parents", []types.Entity{ent("Doc", "plan", nil)}, engine.RefuseShadowing,
			&engine.Shadow{Index: 0, UID: plan}},
		{"parent the bundle only names refused", []types.Entity{ent("Team", "ghost", nil)}, engine.RefuseShadowing,
			&engine.Shadow{Index: 0, UID: ghost, Undefined: true}},
		{"merge without parents", []types.Entity{ent("User", "carol", types.RecordMap{"level": types.Long(9)})}, engine.MergeAttributes, nil},
		{"merge repeating the bundle's parents", []types.Entity{ent("User", "carol", nil, contractors, ghost)}, engine.MergeAttributes, nil},
		{"merge adding a parent", []types.Entity{doc, ent("User", "carol", nil, contractors, types.NewEntityUID("Group", "zeta"), admins)}, engine.MergeAttributes,
			&engine.Shadow{Index: 1, UID: carol, Parent: admins}},
		{"merge giving a named-only parent a parent", []types.Entity{ent("Team", "ghost", nil, admins)}, engine.MergeAttributes,
			&engine.Shadow{Index: 0, UID: ghost, Parent: admins, Undefined: true}},
		{"replace refuses nothing", []types.Entity{ent("User", "carol", nil, admins)}, engine.Replace, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := s.Shadowing(tt.ents, tt.mode)
			switch {
			case tt.want == nil && ok:
				t.Fatalf("refused %+v, want nothing refused", got)
			case tt.want != nil && (!ok || got != *tt.want):
				t.Fatalf("Shadowing = %+v, %v; want %+v", got, ok, *tt.want)
			}
		})
	}
}

// TestDecideByEntityMode is the escalation issue 9 found: a contractor
// sent with the admins group as parent. Decide ignores the entity in
// RefuseShadowing mode (front ends refuse the request before), keeps the
// bundle's parents and takes the attributes in MergeAttributes mode, and
// uses it as written in Replace mode.
func TestDecideByEntityMode(t *testing.T) {
	s := shadowBundle(t)
	escalate := ent("User", "carol", types.RecordMap{"level": types.Long(1), "contractor": types.False}, admins)
	secret := ent("Doc", "secret", types.RecordMap{"level": types.Long(5), "secret": types.True})
	raise := ent("User", "carol", types.RecordMap{"level": types.Long(5)})
	tests := []struct {
		name     string
		resource types.EntityUID
		ents     []types.Entity
		mode     engine.EntityMode
		want     string // the determining policy; "" for a default deny
		allow    bool
	}{
		{"bundle alone", plan, nil, engine.RefuseShadowing, "levels", true},
		{"refuse: escalation ignored", secret.UID, []types.Entity{escalate, secret}, engine.RefuseShadowing, "no-secrets", false},
		{"merge: parents kept, attributes taken", secret.UID, []types.Entity{escalate, secret}, engine.MergeAttributes, "", false},
		{"merge: a merged attribute decides", secret.UID, []types.Entity{raise, secret}, engine.MergeAttributes, "no-secrets", false},
		{"merge: bundle attributes kept beside merged ones", types.NewEntityUID("Doc", "high"),
			[]types.Entity{raise, ent("Doc", "high", types.RecordMap{"level": types.Long(5), "secret": types.False})}, engine.MergeAttributes, "levels", true},
		{"replace: escalation succeeds", secret.UID, []types.Entity{escalate, secret}, engine.Replace, "admins", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Decide(&engine.Request{Principal: carol, Action: types.NewEntityUID("Action", "read"), Resource: tt.resource,
				Entities: tt.ents, EntityMode: tt.mode})
			var got string
			if len(d.Reasons) > 0 {
				got = d.Reasons[0].ID
			}
			if d.Allow != tt.allow || got != tt.want || len(d.Reasons) > 1 || len(d.Errors) > 0 {
				t.Fatalf("decision %+v, want allow=%v by %q", d, tt.allow, tt.want)
			}
		})
	}
}

func TestLayered(t *testing.T) {
	s := shadowBundle(t)
	raise := ent("User", "carol", types.RecordMap{"level": types.Long(5)}, admins)
	got := s.Layered(raise, engine.MergeAttributes)
	want := ent("User", "carol", types.RecordMap{"level": types.Long(5), "contractor": types.True}, contractors, ghost)
	if !got.Equal(want) {
		t.Errorf("merged: %v, want %v", got, want)
	}
	for _, mode := range []engine.EntityMode{engine.RefuseShadowing, engine.Replace} {
		if got := s.Layered(raise, mode); !got.Equal(raise) {
			t.Errorf("%s: %v, want the request's entity", mode, got)
		}
	}
	if got := s.Layered(ent("Doc", "new", nil, plan), engine.MergeAttributes); !got.Equal(ent("Doc", "new", nil, plan)) {
		t.Errorf("an entity the bundle does not define came back as %v", got)
	}
}

func TestEntityModeText(t *testing.T) {
	for _, m := range []engine.EntityMode{engine.RefuseShadowing, engine.MergeAttributes, engine.Replace} {
		text, err := m.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back engine.EntityMode
		if err := back.UnmarshalText(text); err != nil || back != m || m.String() != string(text) {
			t.Errorf("%s: round trip gave %v, %v", text, back, err)
		}
	}
	var m engine.EntityMode
	if err := m.UnmarshalText([]byte("merge")); err == nil {
		t.Error(`"merge" accepted as a mode`)
	}
	if _, err := engine.EntityMode(7).MarshalText(); err == nil {
		t.Error("mode 7 marshalled")
	}
}
