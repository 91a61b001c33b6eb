package engine

import (
	"slices"

	"github.com/cedar-policy/cedar-go/types"
)

// computeViews gives every node its view's targeted ancestors: the target
// ids of the node and of its ancestors (the transitive closure of its
// parents), which is all that scope matching needs. They are computed
// once per node, from its parents' (each parent's own id among them), so
// that the cost grows with the graph and not with the sum of the
// closures. A node with a single parent and no target id of its own shares
// its parent's list, which keeps the memory of large identity graphs close
// to that of the graph itself.
//
// Parents that are not entities count when a scope names them (Cedar's
// `in` is true for a parent named but not defined) and contribute no
// ancestors of their own. The entities keep their parents as written:
// cedar-go only walks the graph for an `in` in a condition, since
// selection matches scopes.
func (s *Snapshot) computeViews() {
	const (
		unvisited = iota
		visiting
		done
	)
	cyclic := false
	var visit func(n *node) []int32
	visit = func(n *node) []int32 {
		switch n.mark {
		case done:
			return n.view.tanc
		case visiting:
			cyclic = true
			return nil
		}
		n.mark = visiting
		var list []int32
		if n.view.self >= 0 {
			list = append(list, n.view.self)
		}
		single := n.entity.Parents.Len() == 1 && n.view.self < 0
		for p := range n.entity.Parents.All() {
			if pn, ok := s.nodes[p]; ok {
				pt := visit(pn)
				if single {
					n.view.tanc, n.mark = pt, done
					return pt
				}
				list = append(list, pt...)
			} else if id, ok := s.targets[p]; ok {
				list = append(list, id)
			}
		}
		slices.Sort(list)
		list = slices.Clip(slices.Compact(list))
		if len(list) == 0 {
			list = nil
		}
		n.view.tanc, n.mark = list, done
		return list
	}
	for _, n := range s.nodes {
		visit(n)
	}
	if cyclic {
		// A cycle leaves the memoised lists of its members incomplete;
		// recompute every list by search, which cycles cannot fool.
		parentsOf := func(u types.EntityUID) (types.EntityUIDSet, bool) {
			if n, ok := s.nodes[u]; ok {
				return n.entity.Parents, true
			}
			return types.EntityUIDSet{}, false
		}
		for uid, n := range s.nodes {
			n.view, _ = s.viewOf(uid, searchAncestors(uid, parentsOf), nil)
		}
	}
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
	list := make([]types.EntityUID, 0, len(seen))
	for u := range seen {
		list = append(list, u)
	}
	return types.NewEntityUIDSet(list...)
}

// sortUnique sorts s and removes duplicates in place.
func sortUnique(s []int32) []int32 {
	slices.Sort(s)
	return slices.Compact(s)
}
