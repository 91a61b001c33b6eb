package engine

// Reparented reports whether s was made beside serving by moving some of
// serving's leaves (see reparent): it shares serving's lists by entity
// that no move changes, but not its entity store nor its targeted
// ancestors.
func Reparented(s, serving *Snapshot) bool {
	return !s.SharesEntities(serving) && len(s.self) > 0 && &s.self[0] == &serving.self[0] && &s.tanc[0] != &serving.tanc[0]
}
