package engine

import (
	"crypto/sha256"
	"slices"

	"github.com/cedargate/cedargate/bundle"
)

// A hot reload builds the new snapshot while the old one serves, so
// building a copy of what did not change doubles the memory of a
// replica: for a million identities, half a gigabyte. A bundle rolled
// out again under another revision, or rolled back to, or whose
// policies changed but not its entities, is common; the snapshot
// serving is shared with it (shareFiles says what must be the same),
// and its entity store is shared whenever its entities are the same
// (readEntities).

// shareFiles are the files of a bundle a snapshot is built from, apart
// from the entities: a bundle whose entities are the serving snapshot's
// store and whose shareFiles have the same SHA-256 (or are missing from
// both) compiles to the same snapshot.
var shareFiles = []string{bundle.PoliciesFile, bundle.GrantsFile}

// share returns the serving snapshot that b's entities were read beside,
// as b's snapshot, when b compiles to the same: its entities are that
// snapshot's store and its policies and grants are the same bytes. It
// returns nil otherwise.
func share(b *bundle.Bundle, release Release) *Snapshot {
	e, ok := streamed(b)
	if !ok || !e.shared || e.err != nil || e.serving == nil || e.serving.sums == nil || b.Sums == nil {
		return nil
	}
	prev := e.serving
	for _, name := range shareFiles {
		was, wasOK := prev.sums[name]
		is, isOK := b.Sums[name]
		if was.sum != is || wasOK != isOK {
			return nil
		}
	}
	s := prev.with(b, prev.ents, prev.spiffe)
	e.st, e.serving = nil, nil
	if release&ReleaseGrants != 0 {
		b.Grants = nil
	}
	return s
}

// reshape returns b's snapshot when its entities differ from those of
// the serving snapshot they were read beside only in attributes, tags
// and the parents of leaves (Entities.shaped, and Entities.Holds held
// the grants only if reparentable) and its policies and grants are the
// serving snapshot's (Bundle.Held):
// everything but the store, the SPIFFE ids, which attributes give, and
// the moved leaves' lists is the serving snapshot's. A million
// identities' snapshot, a few of whose attributes or groups changed,
// then costs a second store and a copy of the lists by entity rather
// than a second snapshot. It returns nil, nil otherwise.
func reshape(b *bundle.Bundle) (*Snapshot, error) {
	e, ok := streamed(b)
	if !ok || !e.shaped || e.err != nil || e.serving == nil || !b.Held[bundle.PoliciesFile] || !b.Held[bundle.GrantsFile] {
		return nil, nil
	}
	spiffe := e.serving.spiffe
	if spiffeChanged(e.serving.ents, e.st) {
		var err error
		if spiffe, err = spiffeOf(e.st); err != nil {
			return nil, err
		}
	}
	s := e.serving.with(b, e.st, spiffe)
	if len(e.moved) > 0 {
		s.reparent(e.moved, e.serving.ents)
	}
	e.st, e.serving, e.moved = nil, nil, nil
	return s, nil
}

// reparentable reports whether the serving snapshot prev's lists by
// entity hold for st, a store with prev's shape, but for those of the
// entities moved (whose parents differ in st): whether each of them is
// a leaf, so that no other entity's ancestors change; no entity becomes
// or stops being a parent, so that the entities that keep lists of the
// grants they reach stay those; each moved entity keeps the parents its
// grants make it a member of; and the lists reparent leaves behind stay
// a small part of their pools (see Snapshot.slack). Where it does not,
// the snapshot is built whole.
func reparentable(prev *Snapshot, st *store, moved []int32) bool {
	isParent := make([]bool, st.len())
	for p := range st.parentEdges() {
		isParent[p] = true
	}
	for i, p := range isParent {
		if p != (prev.flags[i]&flagParent != 0) {
			return false
		}
	}
	g := &prev.grants
	slack := prev.slack
	for _, j := range moved {
		if prev.flags[j]&flagParent != 0 {
			return false
		}
		for _, r := range g.own(j) {
			if !st.hasParent(j, g.rows[r].parent) {
				return false
			}
		}
		slack += prev.listed(j, prev.ents)
	}
	return slack <= (len(prev.tancPool)+len(prev.candPool))/4
}

// listed is how many entries of the pools only leaf i's lists hold, i
// having the parents st gives it: its candidates, and its targeted
// ancestors unless they are a parent's.
func (s *Snapshot) listed(i int32, st *store) int {
	n := 0
	for d := range dims {
		n += int(s.cands[i][d].n)
	}
	t := s.tanc[i]
	for _, p := range st.parentsOf(i) {
		if s.tanc[p] == t {
			return n
		}
	}
	return n + int(t.n)
}

// reparent gives the moved entities of s, leaves whose parents changed
// (see reparentable), their flags, targeted ancestors and candidates, as
// computeViews and gatherAll give a leaf, in copies of s's lists by
// entity: s shares the rest with the snapshot it was made from. The
// moved entities' lists are appended to copies of the pools, and their
// old ones left where they are, counted in slack; serving is the store
// whose parents they were computed from.
func (s *Snapshot) reparent(moved []int32, serving *store) {
	s.flags, s.tanc, s.cands = slices.Clone(s.flags), slices.Clone(s.tanc), slices.Clone(s.cands)
	for _, j := range moved {
		s.slack += s.listed(j, serving)
	}
	// Clipped, so that the first append copies: the pools are shared.
	s.tancPool, s.candPool = slices.Clip(s.tancPool), slices.Clip(s.candPool)
	var sc viewScratch
	for _, j := range moved {
		// viewFrom sets flagRows again if j holds grants.
		s.flags[j] &^= flagRows
		s.viewFrom(j, &sc)
		v := s.staticView(j)
		for d := range dims {
			start := len(s.candPool)
			s.candPool = s.gather(d, &v, s.candPool)
			s.cands[j][d] = span{off: uint32(start), n: uint32(len(s.candPool) - start)}
		}
	}
	// Appending grew the pools by a quarter or more, held for as long
	// as s serves: they are cut to size.
	s.tancPool, s.candPool = slices.Clone(s.tancPool), slices.Clone(s.candPool)
}

// spiffeChanged reports whether some entity of st, a store with prev's
// shape, may have another SPIFFE id than it has in prev: whether one
// whose attributes are not the same JSON has a spiffe_id in either.
func spiffeChanged(prev, st *store) bool {
	for i, x := range st.attrs {
		was := prev.attrs[i]
		if st.recSums[x] == prev.recSums[was] && st.recSums[x] != ([sha256.Size]byte{}) {
			continue
		}
		_, before := prev.records[was].Get("spiffe_id")
		_, after := st.records[x].Get("spiffe_id")
		if before || after {
			return true
		}
	}
	return false
}

// with returns a snapshot of b that shares everything of s but ents, its
// entity store, and spiffe.
func (s *Snapshot) with(b *bundle.Bundle, ents *store, spiffe map[string]int32) *Snapshot {
	return &Snapshot{
		ref: b.Ref(), manifest: b.Manifest, sums: sumsOf(b),
		policies: s.policies, filters: s.filters, sets: s.sets, byID: s.byID,
		targets: s.targets, typeIDs: s.typeIDs, actionBit: s.actionBit, index: s.index,
		windowed: s.windowed, policiesWindowed: s.policiesWindowed, templateOf: s.templateOf, spiffe: spiffe,
		ents: ents, self: s.self, flags: s.flags, tanc: s.tanc, tancPool: s.tancPool,
		cands: s.cands, candPool: s.candPool, typeTarget: s.typeTarget, grants: s.grants, slack: s.slack,
	}
}

// SharesEntities reports whether s and o hold one entity store, as a
// snapshot does with the one it was reloaded beside when the entities
// did not change.
func (s *Snapshot) SharesEntities(o *Snapshot) bool { return s.ents == o.ents }
