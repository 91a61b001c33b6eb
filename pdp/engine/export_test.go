package engine

// Reparented reports whether s was made beside serving by moving some of
// serving's leaves (see reparent): it shares serving's target ids by
// entity, which no move changes, but has an entity store and targeted
// ancestors of its own.
func Reparented(s, serving *Snapshot) bool {
	return !s.SharesEntities(serving) && len(s.self) > 0 && &s.self[0] == &serving.self[0] && &s.tanc[0] != &serving.tanc[0]
}
