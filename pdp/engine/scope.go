package engine

import (
	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

type scopeKind uint8

const (
	scopeAll scopeKind = iota
	scopeEq
	scopeIn
	scopeInSet
	scopeIs
	scopeIsIn
)

// scope is one of a policy's three scope constraints (principal, action,
// resource) in a form cheap to test.
type scope struct {
	kind scopeKind
	uid  types.EntityUID
	typ  types.EntityType
	set  []types.EntityUID
}

func scopeOf(n expast.IsScopeNode) scope {
	switch s := n.(type) {
	case expast.ScopeTypeEq:
		return scope{kind: scopeEq, uid: s.Entity}
	case expast.ScopeTypeIn:
		return scope{kind: scopeIn, uid: s.Entity}
	case expast.ScopeTypeInSet:
		return scope{kind: scopeInSet, set: s.Entities}
	case expast.ScopeTypeIs:
		return scope{kind: scopeIs, typ: s.Type}
	case expast.ScopeTypeIsIn:
		return scope{kind: scopeIsIn, typ: s.Type, uid: s.Entity}
	}
	return scope{kind: scopeAll}
}

// matches reports whether an entity uid, whose ancestors are anc, satisfies
// the scope. This is Cedar's scope semantics: `in` is reflexive and
// transitive, and anc is the transitive closure of uid's parents.
func (s *scope) matches(uid types.EntityUID, anc types.EntityUIDSet) bool {
	switch s.kind {
	case scopeAll:
		return true
	case scopeEq:
		return uid == s.uid
	case scopeIn:
		return uid == s.uid || anc.Contains(s.uid)
	case scopeInSet:
		for _, e := range s.set {
			if uid == e || anc.Contains(e) {
				return true
			}
		}
		return false
	case scopeIs:
		return uid.Type == s.typ
	case scopeIsIn:
		return uid.Type == s.typ && (uid == s.uid || anc.Contains(s.uid))
	}
	return false
}

// targets lists the entities the scope names, under which the index files
// the policy: a request entity can match the scope only if it is one of
// them or descends from one.
func (s *scope) targets() []types.EntityUID {
	switch s.kind {
	case scopeEq, scopeIn, scopeIsIn:
		return []types.EntityUID{s.uid}
	case scopeInSet:
		return s.set
	}
	return nil
}

// dim names the three scope dimensions.
type dim uint8

const (
	principalDim dim = iota
	actionDim
	resourceDim
	dims
)

// dimIndex files the policies of one dimension by what their scope names.
// Policies whose scope names entities are found through those entities
// (precomputed per bundle entity, see node.cands); the others are kept in
// all (unconstrained) and byType (`is T`).
type dimIndex struct {
	all    []int32
	byType map[types.EntityType][]int32
	// byTarget maps an entity named by an ==, in or is-in scope to the
	// policies naming it, for request entities that are not in the bundle.
	byTarget map[types.EntityUID][]int32
}

func newDimIndex() dimIndex {
	return dimIndex{byType: map[types.EntityType][]int32{}, byTarget: map[types.EntityUID][]int32{}}
}

func (d *dimIndex) add(i int32, s *scope) {
	switch s.kind {
	case scopeAll:
		d.all = append(d.all, i)
	case scopeIs:
		d.byType[s.typ] = append(d.byType[s.typ], i)
	default:
		for _, t := range s.targets() {
			if l := d.byTarget[t]; len(l) == 0 || l[len(l)-1] != i {
				d.byTarget[t] = append(l, i)
			}
		}
	}
}
