package engine

import (
	"slices"

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
// resource), compiled against the snapshot's interned ids: every entity a
// scope names is a target with a small integer id, and every entity type
// an `is` names has a type id. Testing a scope then takes no string
// comparison and no map lookup, which matters because selection tests
// many scopes per decision and each test is a likely cache miss.
type scope struct {
	kind scopeKind
	// id is the target of ==, in and is-in.
	id int32
	// typ is the type id of is and is-in.
	typ int32
	// set is the targets of in [...]: Snapshot.sets[off:off+n].
	off, n int32
}

// filter is what selection tests about a policy, packed into one cache
// line: its validity window and its three scopes.
type filter struct {
	// notBefore and notAfter are the validity window in Unix nanoseconds.
	notBefore, notAfter int64
	scopes              [dims]scope
}

// active reports whether the policy applies at instant now (Unix ns).
func (f *filter) active(now int64) bool {
	return f.notBefore <= now && now < f.notAfter
}

// view is a request entity as scopes see it: its own target id, its type
// id, and the target ids of itself and its ancestors (the transitive
// closure of its parents), sorted. Ancestors no scope names are left out:
// no scope can test them.
type view struct {
	self, typ int32
	tanc      []int32
}

// matches reports whether the entity v describes satisfies the scope.
// This is Cedar's scope semantics: `in` is reflexive and transitive, which
// tanc already is.
func (s *scope) matches(v *view, sets []int32) bool {
	switch s.kind {
	case scopeAll:
		return true
	case scopeEq:
		return v.self == s.id
	case scopeIn:
		return contains(v.tanc, s.id)
	case scopeInSet:
		for _, t := range sets[s.off : s.off+s.n] {
			if contains(v.tanc, t) {
				return true
			}
		}
		return false
	case scopeIs:
		return v.typ == s.typ
	case scopeIsIn:
		return v.typ == s.typ && contains(v.tanc, s.id)
	}
	return false
}

// contains reports whether the sorted list holds x. Lists are short (an
// entity's targeted ancestors): a linear scan beats a binary search there.
func contains(list []int32, x int32) bool {
	if len(list) > 16 {
		_, ok := slices.BinarySearch(list, x)
		return ok
	}
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

// dim names the three scope dimensions.
type dim uint8

const (
	principalDim dim = iota
	actionDim
	resourceDim
	dims
)

// entry is a policy in a candidate list, with the action bits of its
// action scope (see actionBits), so that selection can drop the policies
// of other actions without touching the policy itself. The policy index
// is in the high half, so entries sort by policy as plain integers.
type entry uint64

func newEntry(p int32, bits uint32) entry { return entry(uint64(p)<<32 | uint64(bits)) }

// p returns the policy index.
func (e entry) p() int32 { return int32(e >> 32) }

// bits returns the action bits.
func (e entry) bits() uint32 { return uint32(e) }

// allActions is the action bit every request carries: policies whose
// action scope is unconstrained, or names an action that has no bit of its
// own, carry it and always pass the action prefilter.
const allActions uint32 = 1 << 31

// dimIndex files the policies of one dimension by what their scope names.
// Policies whose scope names entities are found through those entities
// (precomputed per bundle entity, see node.cands); the others are kept in
// all (unconstrained) and byType (`is T`, by type id).
type dimIndex struct {
	all    []entry
	byType [][]entry
	// byTarget lists, by target id, the policies whose ==, in, in [...] or
	// is-in scope names that target.
	byTarget [][]entry
}

func (d *dimIndex) add(e entry, s *scope, sets []int32) {
	switch s.kind {
	case scopeAll:
		d.all = append(d.all, e)
	case scopeIs:
		d.byType[s.typ] = append(d.byType[s.typ], e)
	case scopeInSet:
		for _, t := range sets[s.off : s.off+s.n] {
			if l := d.byTarget[t]; len(l) == 0 || l[len(l)-1] != e {
				d.byTarget[t] = append(l, e)
			}
		}
	default:
		d.byTarget[s.id] = append(d.byTarget[s.id], e)
	}
}

// interner gives ids to the entities and types the policies' scopes name,
// and bits to the actions they name.
type interner struct {
	targets map[types.EntityUID]int32
	types   map[types.EntityType]int32
	sets    []int32
}

func (in *interner) target(u types.EntityUID) int32 {
	id, ok := in.targets[u]
	if !ok {
		id = int32(len(in.targets))
		in.targets[u] = id
	}
	return id
}

func (in *interner) typ(t types.EntityType) int32 {
	id, ok := in.types[t]
	if !ok {
		id = int32(len(in.types))
		in.types[t] = id
	}
	return id
}

// scope compiles a scope node of a policy's AST.
func (in *interner) scope(n expast.IsScopeNode) scope {
	switch s := n.(type) {
	case expast.ScopeTypeEq:
		return scope{kind: scopeEq, id: in.target(s.Entity)}
	case expast.ScopeTypeIn:
		return scope{kind: scopeIn, id: in.target(s.Entity)}
	case expast.ScopeTypeInSet:
		sc := scope{kind: scopeInSet, off: int32(len(in.sets)), n: int32(len(s.Entities))}
		for _, e := range s.Entities {
			in.sets = append(in.sets, in.target(e))
		}
		return sc
	case expast.ScopeTypeIs:
		return scope{kind: scopeIs, typ: in.typ(s.Type)}
	case expast.ScopeTypeIsIn:
		return scope{kind: scopeIsIn, typ: in.typ(s.Type), id: in.target(s.Entity)}
	}
	return scope{kind: scopeAll}
}

// actionBits gives each target that action scopes name one of 31 bits, in
// order of first use; targets beyond those get none. A policy's entry
// carries the bits of the actions its scope names (allActions when it
// names all, or one without a bit), a request the bits of its action and
// the action's ancestors plus allActions: a policy whose bits do not meet
// the request's cannot match, so the prefilter is exact where it drops
// and conservative where it keeps.
func actionBits(filters []filter, sets []int32, ntargets int) []uint32 {
	bits := make([]uint32, ntargets)
	next := 0
	give := func(t int32) {
		if bits[t] == 0 && next < 31 {
			bits[t] = 1 << next
			next++
		}
	}
	for i := range filters {
		s := &filters[i].scopes[actionDim]
		switch s.kind {
		case scopeEq, scopeIn, scopeIsIn:
			give(s.id)
		case scopeInSet:
			for _, t := range sets[s.off : s.off+s.n] {
				give(t)
			}
		}
	}
	return bits
}

// entryBits returns the action bits of a policy's action scope s.
func entryBits(s *scope, setTargets []int32, bits []uint32) uint32 {
	var ts []int32
	switch s.kind {
	case scopeEq, scopeIn, scopeIsIn:
		ts = []int32{s.id}
	case scopeInSet:
		ts = setTargets[s.off : s.off+s.n]
	default:
		return allActions
	}
	var b uint32
	for _, t := range ts {
		if bits[t] == 0 {
			return allActions
		}
		b |= bits[t]
	}
	return b
}

// requestBits returns the action bits of a request whose action is v.
func requestBits(v *view, bits []uint32) uint32 {
	b := allActions
	for _, t := range v.tanc {
		b |= bits[t]
	}
	return b
}
