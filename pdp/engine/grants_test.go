package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/pdp/engine"
)

// The grants differential test checks grants as data against cedar-go:
// random bundles whose entities hold grants (memberships in Profile
// entities with validity windows) and whose template policies name the
// profiles, decided by the engine and by plain cedar.Authorize over the
// entities as they are at the decision instant (an edge only grants make
// is gone once none of them holds), request entities layered as the
// mode says. The engine must give cedar-go's decision and errors, and
// name, for each template cedar-go reports, the grants through which the
// principal is a member of the template's profile (found here by a
// search of the graph cedar-go saw), or the template itself where an
// edge no grant makes leads there.

// grantCase is a random bundle with grants and a request.
type grantCase struct {
	tcase
	grants []bundle.Grant
	// templates maps a template's id to its profile.
	templates map[string]types.EntityUID
}

func (g *gen) buildGrants() grantCase {
	tc := g.build()
	gc := grantCase{tcase: tc, templates: map[string]types.EntityUID{}}
	em := tc.bundleEM
	profiles := []types.EntityUID{types.NewEntityUID("Profile", "p0"), types.NewEntityUID("Profile", "p1"), types.NewEntityUID("Profile", "p2")}
	for _, p := range profiles {
		if g.r.IntN(4) != 0 {
			em[p] = types.Entity{UID: p, Attributes: types.NewRecord(nil), Tags: types.NewRecord(nil)}
		}
	}
	var members []types.EntityUID
	for uid := range em {
		if uid.Type != "Profile" && uid.Type != "Action" {
			members = append(members, uid)
		}
	}
	slices.SortFunc(members, func(a, b types.EntityUID) int { return strings.Compare(a.String(), b.String()) })
	window := func() (nb, na *time.Time) {
		t := now0.Add(time.Duration(g.r.IntN(3)-1) * time.Hour)
		switch g.r.IntN(5) {
		case 0:
			return nil, &t
		case 1:
			return &t, nil
		case 2:
			t0 := now0.Add(-time.Hour)
			return &t0, &t
		}
		return nil, nil
	}
	if len(members) > 0 {
		for k := range g.r.IntN(6) {
			m, p := members[g.r.IntN(len(members))], profiles[g.r.IntN(len(profiles))]
			gr := bundle.Grant{ID: fmt.Sprintf("g%02d", k), Source: fmt.Sprintf("grants.yaml:%d:1", k+1), Origin: "Entitlement",
				Principal: bundle.UID{Type: string(m.Type), ID: string(m.ID)}, Parent: bundle.UID{Type: string(p.Type), ID: string(p.ID)},
				Members: m.Type == "Group"}
			gr.NotBefore, gr.NotAfter = window()
			gc.grants = append(gc.grants, gr)
			e := em[m]
			e.Parents = types.NewEntityUIDSet(append(slices.Collect(e.Parents.All()), p)...)
			em[m] = e
		}
	}
	// A request entity may assert a membership no grant makes.
	for i := range tc.reqEnts {
		if g.r.IntN(4) == 0 {
			e := &gc.reqEnts[i]
			e.Parents = types.NewEntityUIDSet(append(slices.Collect(e.Parents.All()), profiles[g.r.IntN(len(profiles))])...)
		}
	}
	for k := range 1 + g.r.IntN(4) {
		p := profiles[g.r.IntN(len(profiles))]
		eff := "permit"
		if g.r.IntN(4) == 0 {
			eff = "forbid"
		}
		cond := g.cond()
		if g.r.IntN(5) == 0 {
			cond = " when { principal in " + profiles[g.r.IntN(len(profiles))].String() + " }"
		}
		id := fmt.Sprintf("t%d#%d", k%2, k)
		gc.templates[id] = p
		gc.b.Policies = append(gc.b.Policies, bundle.Policy{ID: id, Source: "t", Template: true,
			Cedar: fmt.Sprintf("%s (principal in %s, %s, %s)%s;", eff, p, g.scopeP("action", true), g.scopeP("resource", false), cond)})
	}
	// Policies that are not templates may name the profiles too, with
	// scopes holding a grant does not satisfy by itself.
	for k := range g.r.IntN(3) {
		p := profiles[g.r.IntN(len(profiles))]
		scope := []string{
			"principal is " + string(entTypes[g.r.IntN(len(entTypes))]) + " in " + p.String(),
			"principal == " + p.String(),
			"principal in " + p.String(),
		}[g.r.IntN(3)]
		gc.b.Policies = append(gc.b.Policies, bundle.Policy{ID: fmt.Sprintf("q%d", k), Source: "q",
			Cedar: fmt.Sprintf("permit (%s, %s, %s)%s;", scope, g.scopeP("action", true), g.scopeP("resource", false), g.cond())})
	}
	slices.SortFunc(gc.b.Policies, func(a, b bundle.Policy) int { return strings.Compare(a.ID, b.ID) })
	gc.b.Manifest.FormatVersion = bundle.FormatVersion
	gc.b.Entities = compile.EntitiesJSON(em)
	gc.b.Grants = gc.grants
	return gc
}

// grantReference decides gc's request with cedar-go.
func grantReference(gc grantCase) (bool, []string, []string) {
	// The bundle's entities at the instant: an edge that only grants make
	// is gone when none of them holds.
	em := types.EntityMap{}
	for uid, e := range gc.bundleEM {
		var keep []types.EntityUID
		for p := range e.Parents.All() {
			if rows := rowsOf(gc, uid, p); len(rows) == 0 || slices.ContainsFunc(rows, func(g bundle.Grant) bool { return g.ActiveAt(gc.at) }) {
				keep = append(keep, p)
			}
		}
		e.Parents = types.NewEntityUIDSet(keep...)
		em[uid] = e
	}
	em = layered(gc.bundleEM, em, gc.reqEnts, gc.mode)
	d, diag := cedar.Authorize(activeSet(gc.b.Policies, gc.at), em, gc.req)
	var reasons, errs []string
	for _, r := range diag.Reasons {
		reasons = append(reasons, expand(gc, em, string(r.PolicyID))...)
	}
	for _, e := range diag.Errors {
		errs = append(errs, expand(gc, em, string(e.PolicyID))...)
	}
	slices.Sort(reasons)
	slices.Sort(errs)
	return d == cedar.Allow, slices.Compact(reasons), errs
}

// rowsOf returns the grants that make member a member of parent.
func rowsOf(gc grantCase, member, parent types.EntityUID) []bundle.Grant {
	var out []bundle.Grant
	for _, g := range gc.grants {
		if g.Principal == (bundle.UID{Type: string(member.Type), ID: string(member.ID)}) && g.Parent == (bundle.UID{Type: string(parent.Type), ID: string(parent.ID)}) {
			out = append(out, g)
		}
	}
	return out
}

// expand names the reasons policy id gives: itself, or for a template
// the grants (held at the instant) of the edges into its profile that
// the principal reaches in em, and itself for an edge no grant makes.
func expand(gc grantCase, em types.EntityMap, id string) []string {
	profile, ok := gc.templates[id]
	if !ok {
		return []string{id}
	}
	suffix := id[strings.LastIndexByte(id, '#'):]
	var out []string
	plain := gc.req.Principal == profile
	seen := map[types.EntityUID]bool{gc.req.Principal: true}
	queue := []types.EntityUID{gc.req.Principal}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for p := range em[x].Parents.All() {
			if p == profile {
				found := false
				for _, g := range rowsOf(gc, x, p) {
					if g.ActiveAt(gc.at) {
						out = append(out, g.ID+suffix)
						found = true
					}
				}
				plain = plain || !found
			}
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	if plain || len(out) == 0 {
		out = append(out, id)
	}
	return out
}

// TestGrantsDifferential decides 16,000 random requests on bundles with
// grants, by the engine and by cedar-go.
func TestGrantsDifferential(t *testing.T) {
	for seed := range uint64(4000) {
		g := newGen(seed+1<<32, seed%2 == 1)
		gc := g.buildGrants()
		var snap *engine.Snapshot
		var err error
		if seed%2 == 0 {
			snap, err = engine.New(gc.b)
		} else {
			// NewReleasing drops what it has read, deciding the same.
			b := *gc.b
			snap, err = engine.NewReleasing(&b, engine.ReleaseEntities|engine.ReleaseGrants)
			if err == nil && (b.Entities != nil || b.Grants != nil) {
				t.Fatalf("seed %d: NewReleasing kept %d bytes of entities and %d grants", seed, len(b.Entities), len(b.Grants))
			}
		}
		if err != nil {
			t.Fatalf("seed %d: New: %v", seed, err)
		}
		for k := range 4 {
			if k > 0 {
				next := g.build()
				gc.reqEnts, gc.req, gc.at = next.reqEnts, next.req, next.at
			}
			gc.mode = engine.EntityMode((seed + uint64(k)) % 3)
			got := snap.Decide(&engine.Request{Principal: gc.req.Principal, Action: gc.req.Action, Resource: gc.req.Resource,
				Context: gc.req.Context, Entities: gc.reqEnts, EntityMode: gc.mode, Time: gc.at})
			allow, reasons, errs := grantReference(gc)
			var gr, ge []string
			for _, r := range got.Reasons {
				gr = append(gr, r.ID)
			}
			for _, e := range got.Errors {
				ge = append(ge, e.PolicyID)
			}
			if got.Allow != allow || !slices.Equal(gr, reasons) || !slices.Equal(ge, errs) {
				var grants []string
				for _, g := range gc.grants {
					grants = append(grants, fmt.Sprintf("%s %v -> %v not_before=%v not_after=%v", g.ID, g.Principal, g.Parent, g.NotBefore, g.NotAfter))
				}
				pol, re := describe(gc.b, gc.reqEnts)
				t.Fatalf("seed %d request %d (%s): engine allow=%v reasons=%v errors=%v; cedar allow=%v reasons=%v errors=%v\nrequest %v %v %v at %v\npolicies:\n%s\ngrants:\n%s\nbundle entities:\n%s\nrequest entities:\n%s",
					seed, k, gc.mode, got.Allow, gr, ge, allow, reasons, errs, gc.req.Principal, gc.req.Action, gc.req.Resource, gc.at,
					pol, strings.Join(grants, "\n"), gc.b.Entities, re)
			}
			if !slices.IsSorted(gr) || !slices.IsSorted(ge) {
				t.Fatalf("seed %d: reasons %v or errors %v are not sorted", seed, gr, ge)
			}
		}
	}
}

// grantBundle is a small bundle with grants as the compiler writes them:
// alice holds the reader profile directly until an instant, and through
// the eng group with no end; bob only directly, until the instant; the
// service account expires at it.
func grantBundle(t *testing.T) (*engine.Snapshot, time.Time) {
	t.Helper()
	at := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion, Revision: "r", Environment: "e"},
		Entities: []byte(`[
{"uid":{"type":"AccessProfile","id":"reader"},"parents":[],"attrs":{}},
{"uid":{"type":"Doc","id":"plan"},"parents":[],"attrs":{}},
{"uid":{"type":"Expired","id":"ServiceAccount"},"parents":[],"attrs":{}},
{"uid":{"type":"Group","id":"eng"},"parents":[{"type":"AccessProfile","id":"reader"}],"attrs":{}},
{"uid":{"type":"ServiceAccount","id":"ci"},"parents":[{"type":"AccessProfile","id":"reader"},{"type":"Expired","id":"ServiceAccount"}],"attrs":{}},
{"uid":{"type":"User","id":"alice"},"parents":[{"type":"AccessProfile","id":"reader"},{"type":"Group","id":"eng"}],"attrs":{}},
{"uid":{"type":"User","id":"bob"},"parents":[{"type":"AccessProfile","id":"reader"}],"attrs":{}}
]`),
		Policies: []bundle.Policy{
			{ID: "expired:ServiceAccount", Source: "cedargate.yaml:1:1", Template: true, Cedar: `forbid (principal in Expired::"ServiceAccount", action, resource);`},
			{ID: "profile:reader#0", Source: "p.yaml:1:1", Template: true, Cedar: `permit (principal in AccessProfile::"reader", action == Action::"read", resource);`},
			{ID: "readers-in-conditions", Source: "x.cedar:1:1", Cedar: `permit (principal, action == Action::"list", resource) when { principal in AccessProfile::"reader" };`},
		},
		Grants: []bundle.Grant{
			{ID: "entitlement:Group/eng:reader", Source: "g.yaml:1:1", Principal: bundle.UID{Type: "Group", ID: "eng"}, Parent: bundle.UID{Type: "AccessProfile", ID: "reader"}, Members: true},
			{ID: "entitlement:ServiceAccount/ci:reader", Source: "g.yaml:20:1", Principal: bundle.UID{Type: "ServiceAccount", ID: "ci"}, Parent: bundle.UID{Type: "AccessProfile", ID: "reader"}},
			{ID: "entitlement:User/alice:reader", Source: "g.yaml:7:1", Principal: bundle.UID{Type: "User", ID: "alice"}, Parent: bundle.UID{Type: "AccessProfile", ID: "reader"}, NotAfter: &at},
			{ID: "entitlement:User/bob:reader", Source: "g.yaml:14:1", Principal: bundle.UID{Type: "User", ID: "bob"}, Parent: bundle.UID{Type: "AccessProfile", ID: "reader"}, NotAfter: &at},
			{ID: "expired:ServiceAccount/ci", Source: "sa.yaml:4:10", Principal: bundle.UID{Type: "ServiceAccount", ID: "ci"}, Parent: bundle.UID{Type: "Expired", ID: "ServiceAccount"}, NotBefore: &at},
		},
	}
	snap, err := engine.New(b)
	if err != nil {
		t.Fatal(err)
	}
	return snap, at
}

// TestGrantsStopAtTheirInstant decides with grants just before and at
// their instant: each decision names the grants that hold then, at their
// lines, and a grant that ends stops granting with no rebuild, whether
// the policy's scope or its condition tests the membership.
func TestGrantsStopAtTheirInstant(t *testing.T) {
	snap, at := grantBundle(t)
	before := at.Add(-time.Nanosecond)
	type want struct {
		allow   bool
		reasons []string
	}
	for _, tt := range []struct {
		principal, action string
		at                time.Time
		want              want
	}{
		{"alice", "read", before, want{true, []string{"entitlement:Group/eng:reader#0 g.yaml:1:1", "entitlement:User/alice:reader#0 g.yaml:7:1"}}},
		{"alice", "read", at, want{true, []string{"entitlement:Group/eng:reader#0 g.yaml:1:1"}}},
		{"bob", "read", before, want{true, []string{"entitlement:User/bob:reader#0 g.yaml:14:1"}}},
		{"bob", "read", at, want{false, nil}},
		{"bob", "list", before, want{true, []string{"readers-in-conditions x.cedar:1:1"}}},
		{"bob", "list", at, want{false, nil}},
		{"ci", "read", before, want{true, []string{"entitlement:ServiceAccount/ci:reader#0 g.yaml:20:1"}}},
		{"ci", "read", at, want{false, []string{"expired:ServiceAccount/ci sa.yaml:4:10"}}},
	} {
		typ := "User"
		if tt.principal == "ci" {
			typ = "ServiceAccount"
		}
		d := snap.Decide(&engine.Request{Principal: types.NewEntityUID(types.EntityType(typ), types.String(tt.principal)),
			Action: types.NewEntityUID("Action", types.String(tt.action)), Resource: types.NewEntityUID("Doc", "plan"), Time: tt.at})
		var got []string
		for _, r := range d.Reasons {
			got = append(got, r.ID+" "+r.Source)
		}
		if d.Allow != tt.want.allow || !slices.Equal(got, tt.want.reasons) || len(d.Errors) > 0 {
			t.Errorf("%s %s at %v: allow=%v reasons=%v errors=%v, want %v %v", tt.principal, tt.action, tt.at, d.Allow, got, d.Errors, tt.want.allow, tt.want.reasons)
		}
	}
	if n := snap.PolicyCount(); n != 3 {
		t.Errorf("PolicyCount = %d, want 3 (grants are not policies)", n)
	}
}

// TestAnalysisNamesGrants checks the analysis view: a policy per grant
// and template, named and placed as the grant, with its subject in the
// scope and the grant's window.
func TestAnalysisNamesGrants(t *testing.T) {
	snap, at := grantBundle(t)
	an := snap.Analysis()
	var got []string
	for i := range int32(an.PolicyCount()) {
		p := an.Policy(i)
		got = append(got, fmt.Sprintf("%s %s %v %v", p.ID, p.Source, p.AST.Principal, an.ActiveAt(i, at)))
	}
	want := []string{
		`entitlement:Group/eng:reader#0 g.yaml:1:1 {Group::"eng"} true`,
		`entitlement:ServiceAccount/ci:reader#0 g.yaml:20:1 {ServiceAccount::"ci"} true`,
		`entitlement:User/alice:reader#0 g.yaml:7:1 {User::"alice"} false`,
		`entitlement:User/bob:reader#0 g.yaml:14:1 {User::"bob"} false`,
		`expired:ServiceAccount/ci sa.yaml:4:10 {ServiceAccount::"ci"} true`,
		`readers-in-conditions x.cedar:1:1 {} true`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("analysis policies:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	alice := types.NewEntityUID("User", "alice")
	var matched []string
	for _, i := range an.Matching(engine.PrincipalDim, alice, nil) {
		matched = append(matched, an.Policy(i).ID)
	}
	if w := []string{"entitlement:Group/eng:reader#0", "entitlement:User/alice:reader#0", "readers-in-conditions"}; !slices.Equal(matched, w) {
		t.Errorf("Matching(alice) = %v, want %v", matched, w)
	}
	if !an.ScopeMatches(0, engine.PrincipalDim, alice) || an.ScopeMatches(3, engine.PrincipalDim, alice) {
		t.Error("alice is in eng's grant and not in bob's")
	}
}

// TestNewRefusesBadGrants: a grant must make a bundle entity a member of
// one of its parents, grants do not nest, and a template names its
// parent with `principal in`.
func TestNewRefusesBadGrants(t *testing.T) {
	ents := `[
{"uid":{"type":"P","id":"p"},"parents":[{"type":"Q","id":"q"}],"attrs":{}},
{"uid":{"type":"Q","id":"q"},"parents":[],"attrs":{}},
{"uid":{"type":"User","id":"a"},"parents":[{"type":"P","id":"p"}],"attrs":{}}
]`
	grant := func(id, principal, parent string) bundle.Grant {
		return bundle.Grant{ID: id, Source: "s", Principal: bundle.UID{Type: strings.Split(principal, "/")[0], ID: strings.Split(principal, "/")[1]},
			Parent: bundle.UID{Type: strings.Split(parent, "/")[0], ID: strings.Split(parent, "/")[1]}}
	}
	for _, tt := range []struct {
		name     string
		grants   []bundle.Grant
		policies []bundle.Policy
		want     string
	}{
		{"no such principal", []bundle.Grant{grant("g", "User/z", "P/p")}, nil, `grant "g": its principal User::"z" is not an entity of the bundle`},
		{"not a parent", []bundle.Grant{grant("g", "User/a", "Q/q")}, nil, `grant "g": User::"a" does not have Q::"q" as a parent`},
		{"nested", []bundle.Grant{grant("g1", "P/p", "Q/q"), grant("g2", "User/a", "P/p")}, nil, `grant "g2": P::"p", which it makes a parent of User::"a", holds grants itself`},
		{"template scope", nil, []bundle.Policy{{ID: "t#0", Source: "s", Template: true, Cedar: `permit (principal == P::"p", action, resource);`}}, "template policy \"t#0\": its principal scope must be `principal in` an entity"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion}, Entities: []byte(ents), Grants: tt.grants, Policies: tt.policies}
			if _, err := engine.New(b); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want %q", err, tt.want)
			}
		})
	}
}
