package engine

import (
	"slices"

	"github.com/cedar-policy/cedar-go/types"
)

// computeClosures replaces every node's Parents with its ancestors, the
// transitive closure of its parents. Parents that are not entities are
// kept (Cedar's `in` is true for a parent named but not defined) and
// contribute no ancestors of their own.
//
// Closures are shared where possible: every child of a group with the
// group as its only parent gets the same set, which keeps the memory of
// large identity graphs close to that of the graph itself.
func computeClosures(nodes map[types.EntityUID]*node) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[types.EntityUID]uint8, len(nodes))
	closure := make(map[types.EntityUID]types.EntityUIDSet, len(nodes))
	// withSelf[p] is {p} ∪ ancestors(p), shared by p's single-parent
	// children.
	withSelf := map[types.EntityUID]types.EntityUIDSet{}
	cyclic := false

	var visit func(uid types.EntityUID) types.EntityUIDSet
	visit = func(uid types.EntityUID) types.EntityUIDSet {
		n, ok := nodes[uid]
		if !ok {
			return types.EntityUIDSet{}
		}
		switch state[uid] {
		case done:
			return closure[uid]
		case visiting:
			cyclic = true
			return types.EntityUIDSet{}
		}
		state[uid] = visiting
		var result types.EntityUIDSet
		switch n.parents.Len() {
		case 0:
		case 1:
			var p types.EntityUID
			for p = range n.parents.All() {
			}
			if ws, ok := withSelf[p]; ok {
				result = ws
				break
			}
			anc := visit(p)
			list := append(slices.Collect(anc.All()), p)
			result = types.NewEntityUIDSet(list...)
			if _, isNode := nodes[p]; isNode && state[p] == done {
				withSelf[p] = result
			}
		default:
			var list []types.EntityUID
			for p := range n.parents.All() {
				list = append(list, p)
				list = append(list, slices.Collect(visit(p).All())...)
			}
			result = types.NewEntityUIDSet(list...)
		}
		state[uid] = done
		closure[uid] = result
		return result
	}
	for uid := range nodes {
		visit(uid)
	}
	if cyclic {
		// A cycle leaves the memoised closures of its members incomplete;
		// recompute every closure by search, which cycles cannot fool.
		for uid := range nodes {
			closure[uid] = searchAncestors(uid, func(u types.EntityUID) (types.EntityUIDSet, bool) {
				n, ok := nodes[u]
				if !ok {
					return types.EntityUIDSet{}, false
				}
				return n.parents, true
			})
		}
	}
	for uid, n := range nodes {
		n.entity.Parents = closure[uid]
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
