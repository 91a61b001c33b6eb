package engine

import "github.com/cedargate/cedargate/bundle"

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
		if was != is || wasOK != isOK {
			return nil
		}
	}
	s := &Snapshot{
		ref: b.Ref(), manifest: b.Manifest, sums: b.Sums,
		policies: prev.policies, filters: prev.filters, sets: prev.sets, byID: prev.byID,
		targets: prev.targets, typeIDs: prev.typeIDs, actionBit: prev.actionBit, index: prev.index,
		windowed: prev.windowed, spiffe: prev.spiffe,
		ents: prev.ents, self: prev.self, flags: prev.flags, tanc: prev.tanc, tancPool: prev.tancPool,
		cands: prev.cands, candPool: prev.candPool, typeTarget: prev.typeTarget, grants: prev.grants,
	}
	e.st, e.serving = nil, nil
	if release&ReleaseGrants != 0 {
		b.Grants = nil
	}
	return s
}

// SharesEntities reports whether s and o hold one entity store, as a
// snapshot does with the one it was reloaded beside when the entities
// did not change.
func (s *Snapshot) SharesEntities(o *Snapshot) bool { return s.ents == o.ents }
