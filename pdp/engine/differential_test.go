package engine_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
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

// The differential test checks the engine against cedar-go itself on
// random inputs: the engine's decision (scope index, precomputed
// ancestors, request-entity layering, validity windows, the policies it
// decides without cedar-go) must equal plain cedar.Authorize over every
// active policy and the raw entities, with request entities combined with
// the bundle's as the request's EntityMode says (computed here
// independently: replaced, left out, or merged). The corpus tests check
// Cedar's semantics; this checks the engine's shortcuts where the corpus
// has no request entities and no time.

var (
	entTypes = []types.EntityType{"User", "Group", "Doc"}
	now0     = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
)

// gen makes random bundles and requests: small entity graphs (with
// cycles, undefined parents and action groups), policies with every scope
// form, conditions that may error, validity windows, and request entities
// that add to or override bundle entities, ancestors included.
type gen struct {
	r *rand.Rand
	// entities and maxParents size the graphs.
	entities, maxParents int
	uids                 []types.EntityUID
	actions              []types.EntityUID
}

func (g *gen) uid() types.EntityUID { return g.uids[g.r.IntN(len(g.uids))] }
func (g *gen) act() types.EntityUID { return g.actions[g.r.IntN(len(g.actions))] }
func (g *gen) anyUID() types.EntityUID {
	if g.r.IntN(4) == 0 {
		return g.act()
	}
	return g.uid()
}

func newGen(seed uint64, big bool) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed*7+1)), entities: 6, maxParents: 3}
	if big {
		g.entities, g.maxParents = 14, 4
	}
	n := 2 + g.r.IntN(g.entities)
	for i := 0; i < n; i++ {
		g.uids = append(g.uids, types.NewEntityUID(entTypes[g.r.IntN(len(entTypes))], types.String(fmt.Sprintf("e%d", i))))
	}
	na := 1 + g.r.IntN(4)
	for i := 0; i < na; i++ {
		g.actions = append(g.actions, types.NewEntityUID("Action", types.String(fmt.Sprintf("a%d", i))))
	}
	return g
}

func (g *gen) parents(self types.EntityUID, pool []types.EntityUID) types.EntityUIDSet {
	var ps []types.EntityUID
	k := g.r.IntN(g.maxParents)
	if g.r.IntN(5) == 0 {
		k = 0
	}
	for i := 0; i < k; i++ {
		p := pool[g.r.IntN(len(pool))]
		ps = append(ps, p)
	}
	return types.NewEntityUIDSet(ps...)
}

func (g *gen) entity(uid types.EntityUID, pool []types.EntityUID) types.Entity {
	attrs := types.RecordMap{}
	if g.r.IntN(2) == 0 {
		attrs["flag"] = types.Boolean(g.r.IntN(2) == 0)
	}
	if g.r.IntN(3) == 0 {
		attrs["ref"] = g.anyUID()
	}
	return types.Entity{UID: uid, Parents: g.parents(uid, pool), Attributes: types.NewRecord(attrs), Tags: types.NewRecord(nil)}
}

func (g *gen) scopeP(v string, allowSet bool) string {
	switch g.r.IntN(7) {
	case 0, 1:
		return v
	case 2:
		return v + " == " + g.anyUID().String()
	case 3:
		return v + " in " + g.anyUID().String()
	case 4:
		if allowSet {
			var list []string
			for i := 0; i < 1+g.r.IntN(3); i++ {
				list = append(list, g.anyUID().String())
			}
			return v + " in [" + strings.Join(list, ", ") + "]"
		}
		return v + " is " + string(entTypes[g.r.IntN(len(entTypes))])
	case 5:
		if allowSet {
			return v + " == " + g.act().String()
		}
		return v + " is " + string(entTypes[g.r.IntN(len(entTypes))])
	default:
		if allowSet {
			return v + " in " + g.act().String()
		}
		return v + " is " + string(entTypes[g.r.IntN(len(entTypes))]) + " in " + g.anyUID().String()
	}
}

func (g *gen) cond() string {
	switch g.r.IntN(9) {
	case 0:
		return " when { principal in " + g.anyUID().String() + " }"
	case 1:
		return " when { resource in principal }"
	case 2:
		return " when { principal.flag }" // may error
	case 3:
		return " unless { resource has flag && resource.flag }"
	case 4:
		return " when { principal.ref in resource }" // may error
	case 5:
		return " when { action in " + g.act().String() + " }"
	case 6:
		return " when { context.x == 1 }" // may error
	}
	return ""
}

type tcase struct {
	b        *bundle.Bundle
	bundleEM types.EntityMap
	reqEnts  []types.Entity
	mode     engine.EntityMode
	req      cedar.Request
	at       time.Time
}

func (g *gen) build() tcase {
	pool := append(append([]types.EntityUID{}, g.uids...), types.NewEntityUID("Group", "ghost"))
	em := types.EntityMap{}
	for _, u := range g.uids {
		if g.r.IntN(4) != 0 {
			em[u] = g.entity(u, pool)
		}
	}
	for _, a := range g.actions {
		if g.r.IntN(4) != 0 {
			em[a] = types.Entity{UID: a, Parents: g.parents(a, g.actions), Attributes: types.NewRecord(nil), Tags: types.NewRecord(nil)}
		}
	}
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: 1, Revision: "r", Environment: "e"}, Entities: compile.EntitiesJSON(em)}
	np := 1 + g.r.IntN(8)
	for i := 0; i < np; i++ {
		eff := "permit"
		if g.r.IntN(3) == 0 {
			eff = "forbid"
		}
		text := fmt.Sprintf("%s (%s, %s, %s)%s;", eff, g.scopeP("principal", false), g.scopeP("action", true), g.scopeP("resource", false), g.cond())
		p := bundle.Policy{ID: fmt.Sprintf("p%02d", i), Source: "x", Cedar: text}
		switch g.r.IntN(6) {
		case 0:
			t := now0.Add(time.Duration(g.r.IntN(3)-1) * time.Hour)
			p.NotAfter = &t
		case 1:
			t := now0.Add(time.Duration(g.r.IntN(3)-1) * time.Hour)
			p.NotBefore = &t
		case 2:
			t := now0.Add(-time.Hour)
			t2 := now0.Add(time.Duration(g.r.IntN(3)-1) * time.Hour)
			p.NotBefore, p.NotAfter = &t, &t2
		}
		b.Policies = append(b.Policies, p)
	}
	// request entities
	var reqEnts []types.Entity
	seen := map[types.EntityUID]bool{}
	nr := 0
	if g.r.IntN(2) == 0 {
		nr = g.r.IntN(4)
	}
	for i := 0; i < nr; i++ {
		var u types.EntityUID
		switch g.r.IntN(4) {
		case 0:
			u = types.NewEntityUID("Group", "ghost")
		case 1:
			u = types.NewEntityUID(entTypes[g.r.IntN(3)], types.String(fmt.Sprintf("r%d", i)))
		case 2:
			u = g.act()
		default:
			u = g.uid()
		}
		if seen[u] {
			continue
		}
		seen[u] = true
		rpool := append(append([]types.EntityUID{}, pool...), types.NewEntityUID("User", "r0"), types.NewEntityUID("Group", "r1"), types.NewEntityUID("Doc", "r2"))
		reqEnts = append(reqEnts, g.entity(u, rpool))
	}
	pr := g.uid()
	if g.r.IntN(5) == 0 {
		pr = types.NewEntityUID(entTypes[g.r.IntN(3)], types.String(fmt.Sprintf("r%d", g.r.IntN(3))))
	}
	rs := g.uid()
	if g.r.IntN(5) == 0 {
		rs = types.NewEntityUID(entTypes[g.r.IntN(3)], types.String(fmt.Sprintf("r%d", g.r.IntN(3))))
	}
	ctx := types.RecordMap{}
	if g.r.IntN(2) == 0 {
		ctx["x"] = types.Long(g.r.IntN(2))
	}
	at := now0.Add(time.Duration(g.r.IntN(5)-2) * 30 * time.Minute)
	if g.r.IntN(4) == 0 {
		at = now0.Add(time.Duration(g.r.IntN(3)-1) * time.Hour)
	}
	return tcase{b: b, bundleEM: em, reqEnts: reqEnts, at: at,
		req: cedar.Request{Principal: pr, Action: g.act(), Resource: rs, Context: types.NewRecord(ctx)}}
}

func reference(tc tcase) (bool, []string, []string) {
	em := layered(tc.bundleEM, tc.bundleEM, tc.reqEnts, tc.mode)
	d, diag := cedar.Authorize(activeSet(tc.b.Policies, tc.at), em, tc.req)
	var reasons, errs []string
	for _, r := range diag.Reasons {
		reasons = append(reasons, string(r.PolicyID))
	}
	for _, e := range diag.Errors {
		errs = append(errs, string(e.PolicyID))
	}
	slices.Sort(reasons)
	slices.Sort(errs)
	return d == cedar.Allow, reasons, errs
}

// layered is the bundle's entities, base, with the request's entities
// combined as mode says; bundle holds the entities as the bundle writes
// them, which tell which uids a request entity shadows.
func layered(bundle, base types.EntityMap, reqEnts []types.Entity, mode engine.EntityMode) types.EntityMap {
	em := maps.Clone(base)
	// The uids a request entity shadows: bundle entities and the parents
	// they name.
	defined := map[types.EntityUID]bool{}
	for uid, e := range bundle {
		defined[uid] = true
		for p := range e.Parents.All() {
			defined[p] = true
		}
	}
	for _, e := range reqEnts {
		switch {
		case !defined[e.UID] || mode == engine.Replace:
			em[e.UID] = e
		case mode == engine.MergeAttributes:
			b := base[e.UID]
			attrs, tags := types.RecordMap{}, types.RecordMap{}
			maps.Insert(attrs, b.Attributes.All())
			maps.Insert(attrs, e.Attributes.All())
			maps.Insert(tags, b.Tags.All())
			maps.Insert(tags, e.Tags.All())
			em[e.UID] = types.Entity{UID: e.UID, Parents: b.Parents, Attributes: types.NewRecord(attrs), Tags: types.NewRecord(tags)}
		}
		// RefuseShadowing: the bundle's entity stands.
	}
	return em
}

// activeSet is the policies in force at instant at.
func activeSet(policies []bundle.Policy, at time.Time) *cedar.PolicySet {
	ps := cedar.NewPolicySet()
	for _, p := range policies {
		if !p.ActiveAt(at) {
			continue
		}
		list, err := cedar.NewPolicyListFromBytes("x", []byte(p.Cedar))
		if err != nil {
			panic(err)
		}
		ps.Add(cedar.PolicyID(p.ID), list[0])
	}
	return ps
}

// describe renders a case's policies and request entities for a failure.
func describe(b *bundle.Bundle, reqEnts []types.Entity) (policies, entities string) {
	var pol []string
	for _, p := range b.Policies {
		pol = append(pol, fmt.Sprintf("%s not_before=%v not_after=%v %s", p.ID, p.NotBefore, p.NotAfter, p.Cedar))
	}
	var re []string
	for _, e := range reqEnts {
		j, _ := e.MarshalJSON()
		re = append(re, string(j))
	}
	return strings.Join(pol, "\n"), strings.Join(re, "\n")
}

// differ decides four requests on one random bundle with the engine and
// with cedar-go and reports the first disagreement. The requests take the
// request-entity modes in turn.
func differ(t *testing.T, seed uint64, big bool) {
	g := newGen(seed, big)
	tc := g.build()
	snap, err := engine.New(tc.b)
	if err != nil {
		t.Fatalf("seed %d: New: %v", seed, err)
	}
	for k := range 4 {
		if k > 0 {
			next := g.build()
			tc.reqEnts, tc.req, tc.at = next.reqEnts, next.req, next.at
		}
		tc.mode = engine.EntityMode((seed + uint64(k)) % 3)
		got := snap.Decide(&engine.Request{Principal: tc.req.Principal, Action: tc.req.Action, Resource: tc.req.Resource,
			Context: tc.req.Context, Entities: tc.reqEnts, EntityMode: tc.mode, Time: tc.at})
		allow, reasons, errs := reference(tc)
		var gr, ge []string
		for _, r := range got.Reasons {
			gr = append(gr, r.ID)
		}
		for _, e := range got.Errors {
			ge = append(ge, e.PolicyID)
		}
		slices.Sort(gr)
		slices.Sort(ge)
		if got.Allow != allow || !slices.Equal(gr, reasons) || !slices.Equal(ge, errs) {
			pol, re := describe(tc.b, tc.reqEnts)
			t.Fatalf("seed %d big=%v request %d (%s): engine allow=%v reasons=%v errors=%v; cedar allow=%v reasons=%v errors=%v\nrequest %v %v %v at %v\npolicies:\n%s\nbundle entities:\n%s\nrequest entities:\n%s",
				seed, big, k, tc.mode, got.Allow, gr, ge, allow, reasons, errs, tc.req.Principal, tc.req.Action, tc.req.Resource, tc.at,
				pol, tc.b.Entities, re)
		}
	}
}

// TestDifferential runs a fixed set of seeds, so every run checks the same
// 80,000 decisions; FuzzDifferential explores further.
func TestDifferential(t *testing.T) {
	for seed := range uint64(10000) {
		differ(t, seed, seed%2 == 1)
	}
}

// FuzzDifferential searches for disagreements with cedar-go:
//
//	go test -run '^$' -fuzz FuzzDifferential -fuzztime 5m ./pdp/engine/
func FuzzDifferential(f *testing.F) {
	for _, s := range []uint64{1, 42, 1 << 40} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, seed uint64, big bool) { differ(t, seed, big) })
}
