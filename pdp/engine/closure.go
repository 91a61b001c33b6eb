package engine

import (
	"slices"

	"github.com/cedar-policy/cedar-go/types"
)

// computeViews gives every entity its view's targeted ancestors: the
// target ids of the entity and of its ancestors (the transitive closure of
// its parents), which is all that scope matching needs; and every entity
// that is a parent the grants it holds, itself or through its ancestors
// (grantTable.reach). Both follow the edges that are not grants: what a
// grant adds depends on the decision instant, and is added per decision
// (see state.held). They are computed once per entity, from its parents'
// (each parent's own id among them), so that the cost grows with the
// graph and not with the sum of the closures. An entity with a single
// parent and nothing of its own shares its parent's list, which keeps
// the memory of large identity graphs close to that of the graph itself.
//
// Parents that are not entities count when a scope names them (Cedar's
// `in` is true for a parent named but not defined) and contribute no
// ancestors of their own. cedar-go only walks the graph for an `in` in a
// condition, since selection matches scopes.
func (s *Snapshot) computeViews() error {
	const (
		unvisited = iota
		visiting
		done
	)
	e := s.ents
	g := &s.grants
	n := e.len()
	s.tanc = make([]span, n)
	g.reach = make([]span, n)
	marks := make([]uint8, n)
	cyclic := false
	var sc viewScratch
	var visit func(i int32)
	visit = func(i int32) {
		switch marks[i] {
		case done:
			return
		case visiting:
			cyclic = true
			return
		}
		marks[i] = visiting
		for _, p := range e.parentsOf(i) {
			if !g.isGrantEdge(i, p) {
				visit(p)
			}
		}
		s.viewFrom(i, &sc)
		marks[i] = done
	}
	for i := range int32(n) {
		visit(i)
	}
	if cyclic {
		// A cycle leaves the memoised lists of its members incomplete;
		// recompute every list by search, which cycles cannot fool.
		for i := range int32(n) {
			list, rows := []int32{}, append([]int32(nil), g.own(i)...)
			if s.self[i] >= 0 {
				list = append(list, s.self[i])
			}
			for _, a := range s.staticAncestors(i) {
				if s.self[a] >= 0 {
					list = append(list, s.self[a])
				}
				rows = append(rows, g.own(a)...)
			}
			s.tanc[i] = s.intern(list)
			g.reach[i] = span{}
			if len(rows) > 0 {
				s.flags[i] |= flagRows
				if s.flags[i]&flagParent != 0 {
					g.reach[i] = g.internRows(rows)
				}
			}
		}
	}
	return nil
}

// viewScratch is space viewFrom builds lists in.
type viewScratch struct{ list, rows []int32 }

// viewFrom gives entity i its targeted ancestors, its rows if it is a
// parent, and flagRows if it holds grants, from those of its parents
// along the edges that are not grants, which must have theirs. Parents
// first, so the lists are built in scratch space that no other call
// uses until they are interned. Only a parent keeps its rows (reach);
// another entity needs to know only whether it holds any, and a user
// whose groups hold hundreds of grants is spared copying them.
func (s *Snapshot) viewFrom(i int32, sc *viewScratch) {
	e, g := s.ents, &s.grants
	own := g.own(i)
	parent := s.flags[i]&flagParent != 0
	static, last := 0, int32(-1)
	for _, p := range e.parentsOf(i) {
		if !g.isGrantEdge(i, p) {
			static++
			last = p
		}
	}
	if static == 1 && s.self[i] < 0 && len(own) == 0 {
		s.tanc[i] = s.tanc[last]
		if parent {
			g.reach[i] = g.reach[last]
		}
		if g.reach[last].n > 0 || s.flags[last]&flagRows != 0 {
			s.flags[i] |= flagRows
		}
		return
	}
	list, rows, holds := sc.list[:0], sc.rows[:0], len(own) > 0
	if s.self[i] >= 0 {
		list = append(list, s.self[i])
	}
	if parent {
		rows = append(rows, own...)
	}
	for _, p := range e.parentsOf(i) {
		if g.isGrantEdge(i, p) {
			continue
		}
		t := s.tanc[p]
		list = append(list, s.tancPool[t.off:t.off+t.n]...)
		if g.reach[p].n > 0 {
			holds = true
			if parent {
				rows = append(rows, g.reachOf(p)...)
			}
		}
	}
	s.tanc[i] = s.intern(list)
	if holds {
		s.flags[i] |= flagRows
		if parent {
			g.reach[i] = g.internRows(rows)
		}
	}
	sc.list, sc.rows = list[:0], rows[:0]
}

// intern adds a list of targets, sorted and each once, to the pool.
func (s *Snapshot) intern(list []int32) span { return addSorted(&s.tancPool, list) }

// internRows adds a list of rows, sorted and each once, to the pool.
func (g *grantTable) internRows(rows []int32) span { return addSorted(&g.reachPool, rows) }

// addSorted appends list to pool, sorted and each element once, and
// returns where.
func addSorted(pool *[]int32, list []int32) span {
	list = sortUnique(list)
	sp := span{off: uint32(len(*pool)), n: uint32(len(list))}
	*pool = append(*pool, list...)
	return sp
}

// staticAncestors returns entity i's ancestors along the edges that are
// not grants, by breadth-first search.
func (s *Snapshot) staticAncestors(i int32) []int32 {
	seen := map[int32]bool{i: true}
	var out []int32
	queue := []int32{i}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, p := range s.ents.parentsOf(x) {
			if s.grants.isGrantEdge(x, p) || seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, p)
			queue = append(queue, p)
		}
	}
	return out
}

// searchAncestors collects the ancestors of uid by breadth-first search
// over parentsOf, which returns an entity's parents and whether it exists.
func searchAncestors(uid types.EntityUID, parentsOf func(types.EntityUID) (types.EntityUIDSet, bool)) types.EntityUIDSet {
	seen := map[types.EntityUID]struct{}{}
	var queue []types.EntityUID
	if ps, ok := parentsOf(uid); ok {
		for p := range ps.All() {
			queue = append(queue, p)
		}
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if _, ok := seen[u]; ok {
			continue
		}
		seen[u] = struct{}{}
		if ps, ok := parentsOf(u); ok {
			for p := range ps.All() {
				queue = append(queue, p)
			}
		}
	}
	uids := make([]types.EntityUID, 0, len(seen))
	for u := range seen {
		uids = append(uids, u)
	}
	return types.NewEntityUIDSet(uids...)
}

// sortUnique sorts s and removes duplicates in place.
func sortUnique(s []int32) []int32 {
	slices.Sort(s)
	return slices.Compact(s)
}
