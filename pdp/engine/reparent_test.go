package engine_test

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/pdp/engine"
)

// The reload differential test moves entities of random bundles with
// grants to other parents, as a change of groups does, and rolls the
// bundle out beside the snapshot serving the original, as a hot reload
// does (Decode streaming into engine.Entities). Where only leaves moved,
// the reloaded snapshot shares the serving one's lists and recomputes
// the moved leaves' own (reparent); otherwise it is built whole. Either
// way it must refuse what the same bundle loaded alone refuses and
// decide every request as that one does: decision, reasons (grants
// named) and errors.

// loadBeside encodes b and decodes it streaming beside serving (nil
// for none), as the PDP activates a bundle, and compiles it.
func loadBeside(t *testing.T, b *bundle.Bundle, serving *engine.Snapshot) (*engine.Snapshot, error) {
	t.Helper()
	archive, err := bundle.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	d, err := bundle.Decode(bytes.NewReader(archive), bundle.DecodeOptions{Entities: engine.NewEntities(serving)})
	if err != nil {
		t.Fatal(err)
	}
	return engine.NewReleasing(d, engine.ReleaseEntities|engine.ReleaseGrants)
}

// moveEntities returns em with a few of its entities given other
// parents: mostly leaves, to entities that are already parents, keeping
// the parents their grants need; sometimes any entity, to any parent.
func (g *gen) moveEntities(em types.EntityMap, grants []bundle.Grant) (types.EntityMap, []types.EntityUID) {
	out := maps.Clone(em)
	isParent := map[types.EntityUID]bool{}
	for _, e := range em {
		for p := range e.Parents.All() {
			isParent[p] = true
		}
	}
	var leaves, all, parents []types.EntityUID
	for uid := range em {
		if uid.Type == "Action" {
			continue
		}
		all = append(all, uid)
		if !isParent[uid] {
			leaves = append(leaves, uid)
		}
	}
	for p := range isParent {
		if p.Type != "Action" {
			parents = append(parents, p)
		}
	}
	for _, s := range [][]types.EntityUID{leaves, all, parents} {
		slices.SortFunc(s, func(a, b types.EntityUID) int { return strings.Compare(a.String(), b.String()) })
	}
	from, to := leaves, parents
	if g.r.IntN(4) == 0 || len(leaves) == 0 || len(parents) == 0 {
		from, to = all, all
	}
	if len(from) == 0 || len(to) == 0 {
		return out, nil
	}
	var moved []types.EntityUID
	for range 1 + g.r.IntN(3) {
		m := from[g.r.IntN(len(from))]
		var ps []types.EntityUID
		for _, gr := range grants {
			if gr.Principal.Type == string(m.Type) && gr.Principal.ID == string(m.ID) && g.r.IntN(4) != 0 {
				ps = append(ps, types.NewEntityUID(types.EntityType(gr.Parent.Type), types.String(gr.Parent.ID)))
			}
		}
		for range g.r.IntN(3) {
			ps = append(ps, to[g.r.IntN(len(to))])
		}
		e := out[m]
		e.Parents = types.NewEntityUIDSet(ps...)
		out[m] = e
		moved = append(moved, m)
	}
	return out, moved
}

// TestReloadMovingEntitiesDecidesAsAlone is the reload differential
// test: each seed reloads twice, the second time beside the snapshot the
// first reload made, so that reloads beside a reparented snapshot are
// tested too.
func TestReloadMovingEntitiesDecidesAsAlone(t *testing.T) {
	const seeds = 300
	var reparented [2]int
	for seed := range uint64(seeds) {
		g := newGen(seed+3<<32, seed%2 == 1)
		gc := g.buildGrants()
		gc.b.Manifest.Name = "t"
		serving, err := loadBeside(t, gc.b, nil)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		cur, em := gc.b, gc.bundleEM
		for round := range 2 {
			var moved []types.EntityUID
			em, moved = g.moveEntities(em, gc.grants)
			next := *cur
			next.Manifest.Revision = fmt.Sprintf("r%d", round+2)
			next.Entities = compile.EntitiesJSON(em)
			got, gerr := loadBeside(t, &next, serving)
			alone, aerr := loadBeside(t, &next, nil)
			if fmt.Sprint(gerr) != fmt.Sprint(aerr) {
				t.Fatalf("seed %d reload %d (moved %v): beside the serving snapshot: %v; alone: %v", seed, round, moved, gerr, aerr)
			}
			if aerr != nil {
				break
			}
			if engine.Reparented(got, serving) {
				reparented[round]++
			}
			decideAlike(t, fmt.Sprintf("seed %d reload %d (moved %v)", seed, round, moved), g, got, alone, cur, &next)
			serving, cur = got, &next
		}
	}
	// The random moves take both ways: a test whose moves all fell back
	// to a whole build would not test reparent.
	for round, n := range reparented {
		if n < seeds/10 {
			t.Fatalf("reload %d: %d of %d reloads moved only leaves beside the serving snapshot", round, n, seeds)
		}
	}
	t.Logf("reparented: %d and %d of %d reloads", reparented[0], reparented[1], seeds)
}

// decideAlike fails unless got and alone, snapshots of next (reloaded
// from prev, and loaded alone), decide every request of g's entities
// alike, at three instants, and shadow the same request entities.
func decideAlike(t *testing.T, what string, g *gen, got, alone *engine.Snapshot, prev, next *bundle.Bundle) {
	t.Helper()
	uids := append(slices.Clone(g.uids), types.NewEntityUID("Group", "ghost"), types.NewEntityUID("Profile", "p0"))
	for _, p := range uids {
		ents := []types.Entity{{UID: p}}
		if a, b := fmt.Sprint(got.Shadowing(ents, engine.RefuseShadowing)), fmt.Sprint(alone.Shadowing(ents, engine.RefuseShadowing)); a != b {
			t.Fatalf("%s: a request entity %v shadows %s beside the serving snapshot, %s alone", what, p, a, b)
		}
		for _, a := range g.actions {
			for _, r := range uids {
				for _, at := range []int{-1, 0, 1} {
					req := &engine.Request{Principal: p, Action: a, Resource: r, Context: types.NewRecord(types.RecordMap{"x": types.Long(1)}),
						Time: now0.Add(time.Duration(at) * 30 * time.Minute)}
					want, have := alone.Decide(req), got.Decide(req)
					if want.Allow != have.Allow || !slices.Equal(reasonIDs(want), reasonIDs(have)) || fmt.Sprint(want.Errors) != fmt.Sprint(have.Errors) {
						pol, _ := describe(next, nil)
						t.Fatalf("%s: %v %v %v at %+dh: reloaded allow=%v reasons=%v errors=%v; alone allow=%v reasons=%v errors=%v\npolicies:\n%s\nbefore:\n%s\nafter:\n%s",
							what, p, a, r, at, have.Allow, reasonIDs(have), have.Errors, want.Allow, reasonIDs(want), want.Errors,
							pol, prev.Entities, next.Entities)
					}
				}
			}
		}
	}
}

// TestReloadKeepsGrantEdges moves a user off the profile a grant makes
// it a member of, while another member keeps the profile a parent: the
// bundle is refused beside the serving snapshot as it is alone, and the
// serving snapshot decides as before.
func TestReloadKeepsGrantEdges(t *testing.T) {
	entities := func(aliceParents string) []byte {
		return []byte(`[
{"uid":{"type":"AccessProfile","id":"reader"},"parents":[],"attrs":{}},
{"uid":{"type":"Group","id":"eng"},"parents":[],"attrs":{}},
{"uid":{"type":"User","id":"alice"},"parents":[` + aliceParents + `],"attrs":{}},
{"uid":{"type":"User","id":"bob"},"parents":[{"type":"AccessProfile","id":"reader"},{"type":"Group","id":"eng"}],"attrs":{}},
{"uid":{"type":"User","id":"carol"},"parents":[{"type":"Group","id":"eng"}],"attrs":{}}
]`)
	}
	grant := func(user string) bundle.Grant {
		return bundle.Grant{ID: "entitlement:User/" + user + ":reader", Source: "g.yaml:1:1",
			Principal: bundle.UID{Type: "User", ID: user}, Parent: bundle.UID{Type: "AccessProfile", ID: "reader"}}
	}
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion, Name: "t", Revision: "a", Environment: "e"},
		Entities: entities(`{"type":"AccessProfile","id":"reader"}`),
		Policies: []bundle.Policy{{ID: "profile:reader#0", Source: "p.yaml:1:1", Template: true,
			Cedar: `permit (principal in AccessProfile::"reader", action == Action::"read", resource);`}},
		Grants: []bundle.Grant{grant("alice"), grant("bob")},
	}
	serving, err := loadBeside(t, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	read := func(s *engine.Snapshot, user string) []string {
		return reasonIDs(s.Decide(&engine.Request{Principal: types.NewEntityUID("User", types.String(user)),
			Action: types.NewEntityUID("Action", "read"), Resource: types.NewEntityUID("Doc", "d"), Time: now0}))
	}
	// Alice moved from the profile to the group: her grant has no edge.
	next := *b
	next.Manifest.Revision = "b"
	next.Entities = entities(`{"type":"Group","id":"eng"}`)
	_, aerr := loadBeside(t, &next, nil)
	_, gerr := loadBeside(t, &next, serving)
	if aerr == nil || !strings.Contains(aerr.Error(), `grant "entitlement:User/alice:reader"`) {
		t.Fatalf("alone: %v", aerr)
	}
	if fmt.Sprint(gerr) != fmt.Sprint(aerr) {
		t.Fatalf("beside the serving snapshot: %v; alone: %v", gerr, aerr)
	}
	// Alice also in the group: reparented, and still named by her grant.
	next.Entities = entities(`{"type":"AccessProfile","id":"reader"},{"type":"Group","id":"eng"}`)
	got, err := loadBeside(t, &next, serving)
	if err != nil {
		t.Fatal(err)
	}
	if !engine.Reparented(got, serving) {
		t.Error("alice joining a group was not reparented")
	}
	if ids := read(got, "alice"); !slices.Equal(ids, []string{"entitlement:User/alice:reader#0"}) {
		t.Errorf("alice reads through %v", ids)
	}
	if ids := read(serving, "carol"); len(ids) != 0 {
		t.Errorf("carol reads through %v", ids)
	}
}
