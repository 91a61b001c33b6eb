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
	// AST is the policy: its scope and conditions (annotations are
	// left out); callers must not change it.
	AST *expast.Policy
}

// Policy returns the policy at index i (0 <= i < PolicyCount). The
// snapshot keeps no AST of its policies (deciding needs none, and keeping
// them costs decisions at 10k policies): Policy rebuilds it from the
// evaluator and the interned scope, so callers that ask often keep the
// result.
func (s *Snapshot) Policy(i int32) PolicyInfo {
	p := &s.policies[i]
	s.names.once.Do(func() {
		s.names.targets = make([]types.EntityUID, len(s.targets))
		for uid, id := range s.targets {
			s.names.targets[id] = uid
		}
		s.names.types = make([]types.EntityType, len(s.typeIDs))
		for t, id := range s.typeIDs {
			s.names.types[id] = t
		}
	})
	a := *(*expast.Policy)(p.eval.AST())
	a.Annotations = nil
	f := &s.filters[i]
	// A scope kind only ever comes from a node of its dimension.
	a.Principal = s.scopeNode(&f.scopes[principalDim]).(expast.IsPrincipalScopeNode)
	a.Action = s.scopeNode(&f.scopes[actionDim]).(expast.IsActionScopeNode)
	a.Resource = s.scopeNode(&f.scopes[resourceDim]).(expast.IsResourceScopeNode)
	return PolicyInfo{Index: i, ID: string(p.id), Source: p.source, Forbid: p.forbid, Plain: p.plain, AST: &a}
}

// scopeNode turns a compiled scope back into its AST node.
func (s *Snapshot) scopeNode(sc *scope) any {
	t := s.names.targets
	switch sc.kind {
	case scopeEq:
		return expast.ScopeTypeEq{Entity: t[sc.id]}
	case scopeIn:
		return expast.ScopeTypeIn{Entity: t[sc.id]}
	case scopeInSet:
		set := make([]types.EntityUID, sc.n)
		for k, id := range s.sets[sc.off : sc.off+sc.n] {
			set[k] = t[id]
		}
		return expast.ScopeTypeInSet{Entities: set}
	case scopeIs:
		return expast.ScopeTypeIs{Type: s.names.types[sc.typ]}
	case scopeIsIn:
		return expast.ScopeTypeIsIn{Type: s.names.types[sc.typ], Entity: t[sc.id]}
	}
	return expast.ScopeTypeAll{}
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
