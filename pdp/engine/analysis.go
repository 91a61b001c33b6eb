package engine

import (
	"iter"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

// This file is what effective-access analysis (package bundle/access)
// reads of a snapshot: the policies as written, the bundle's entities,
// and the scope index, so that the question "who can do what" is
// answered by the same selection code that decides requests.

// PolicyInfo describes one policy of a snapshot.
type PolicyInfo struct {
	// Index is the policy's position in the snapshot, what Applicable
	// returns.
	Index int32
	// ID and Source are the bundle's policy id and its path:line:column.
	ID, Source string
	// Forbid is the policy's effect; Plain is true when it has no when or
	// unless clause.
	Forbid, Plain bool
	// AST is the policy as written, scope and conditions; callers must
	// not change it.
	AST *expast.Policy
}

// Policy returns the policy at index i (0 <= i < PolicyCount).
func (s *Snapshot) Policy(i int32) PolicyInfo {
	p := &s.policies[i]
	return PolicyInfo{Index: i, ID: string(p.id), Source: p.source, Forbid: p.forbid, Plain: p.plain, AST: p.ast}
}

// ActiveAt reports whether policy i's validity window contains at.
func (s *Snapshot) ActiveAt(i int32, at time.Time) bool {
	return s.filters[i].active(unixNanos(at))
}

// Entity returns bundle entity uid as written.
func (s *Snapshot) Entity(uid types.EntityUID) (types.Entity, bool) {
	n, ok := s.nodes[uid]
	if !ok {
		return types.Entity{}, false
	}
	return n.entity, true
}

// Entities yields every bundle entity, in no particular order.
func (s *Snapshot) Entities() iter.Seq[types.Entity] {
	return func(yield func(types.Entity) bool) {
		for _, n := range s.nodes {
			if !yield(n.entity) {
				return
			}
		}
	}
}

// Dim names a scope dimension for analysis.
type Dim = dim

// The scope dimensions.
const (
	PrincipalDim = principalDim
	ActionDim    = actionDim
	ResourceDim  = resourceDim
)

// Matching appends to dst the policies whose scope in dimension d the
// bundle entity uid (or, for one the bundle does not define, uid alone
// with no ancestors) satisfies, whatever their other scopes, sorted.
func (s *Snapshot) Matching(d Dim, uid types.EntityUID, dst []int32) []int32 {
	st := s.acquire()
	defer st.release()
	sd := st.side(d, uid)
	start := len(dst)
	for _, list := range [3][]entry{sd.cands, sd.byType, sd.all} {
		for _, e := range list {
			dst = append(dst, e.p())
		}
	}
	return append(dst[:start], sortUnique(dst[start:])...)
}

// ScopeMatches reports whether the bundle entity uid satisfies policy
// i's scope in dimension d.
func (s *Snapshot) ScopeMatches(i int32, d Dim, uid types.EntityUID) bool {
	v := s.baseView(uid)
	if n, ok := s.nodes[uid]; ok {
		v = n.view
	} else if v.self >= 0 {
		v.tanc = []int32{v.self}
	}
	return s.filters[i].scopes[d].matches(&v, s.sets)
}

// Applicable appends to dst the policies Decide would evaluate for the
// request (principal, action, resource) at instant at, with no request
// entities: those whose scope the three satisfy and whose window holds,
// sorted. Their conditions are not evaluated.
func (s *Snapshot) Applicable(principal, action, resource types.EntityUID, at time.Time, dst []int32) []int32 {
	st := s.acquire()
	defer st.release()
	st.selectCandidates(&Request{Principal: principal, Action: action, Resource: resource, Time: at})
	return append(dst, st.idx...)
}
