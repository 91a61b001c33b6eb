package engine

import (
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

// This file is what effective-access analysis (package bundle/access)
// reads of a snapshot: the policies decisions name, the bundle's
// entities, and the scope index, so that the question "who can do what"
// is answered by the same selection code that decides requests.
//
// The policies decisions name are not the bundle's templates but the
// policies the grants stand for: a grant of a profile is, to analysis,
// one policy per template of the profile, with the grant's id, source
// and window and its subject in the principal scope (`principal ==` a
// user or account, `principal in` a group or team), as a bundle with a
// policy per grant would hold it. So access, diff, review and explain
// name grants, and an analysis of a million grants costs what the grants
// do, off the request path.

// PolicyInfo describes one policy of an analysis.
type PolicyInfo struct {
	// Index is the policy's position in the analysis.
	Index int32
	// ID and Source are the policy id decisions name and its
	// path:line:column.
	ID, Source string
	// Forbid is the policy's effect; Plain is true when it has no when or
	// unless clause.
	Forbid, Plain bool
	// AST is the policy: its scope and conditions (annotations are
	// left out); callers must not change it.
	AST *expast.Policy
	// Policy is the index of the bundle policy it is, or the template it
	// comes from; Grant is the index of its bundle grant, -1 for a
	// bundle policy.
	Policy, Grant int32
}

// Analysis is the view of a snapshot that analyses read (see above).
type Analysis struct {
	s *Snapshot
	// pols are the policies, sorted by id: a bundle policy, and the grant
	// it stands for (-1 for a bundle policy itself).
	pols []logical
	ids  []string
	// plain is the analysis index of each bundle policy that is not a
	// template (-1 for a template); byParent lists, by the entity a
	// grant makes its principal a member of, its grants (rows).
	plain    []int32
	byParent map[int32][]int32
	// of maps a template and a grant to the analysis index.
	of map[logical]int32
}

// logical is a policy of an analysis.
type logical struct{ policy, grant int32 }

// Analysis returns the snapshot's analysis view, built on first use
// (deciding needs none of it).
func (s *Snapshot) Analysis() *Analysis {
	s.analysis.once.Do(func() { s.analysis.a = newAnalysis(s) })
	return s.analysis.a
}

func newAnalysis(s *Snapshot) *Analysis {
	g := &s.grants
	a := &Analysis{s: s, plain: make([]int32, len(s.policies)), byParent: map[int32][]int32{}, of: map[logical]int32{}}
	for r := range g.rows {
		p := g.rows[r].parent
		a.byParent[p] = append(a.byParent[p], int32(r))
	}
	for i := range s.policies {
		p := &s.policies[i]
		if !p.template {
			a.pols = append(a.pols, logical{int32(i), -1})
			a.ids = append(a.ids, string(p.id))
			continue
		}
		for _, r := range a.byParent[p.parent] {
			a.pols = append(a.pols, logical{int32(i), r})
			a.ids = append(a.ids, g.id(r)+p.suffix)
		}
	}
	order := make([]int32, len(a.pols))
	for k := range order {
		order[k] = int32(k)
	}
	slices.SortFunc(order, func(x, y int32) int { return strings.Compare(a.ids[x], a.ids[y]) })
	pols, ids := make([]logical, len(order)), make([]string, len(order))
	for k, o := range order {
		pols[k], ids[k] = a.pols[o], a.ids[o]
	}
	a.pols, a.ids = pols, ids
	for i := range a.plain {
		a.plain[i] = -1
	}
	for k, l := range a.pols {
		if l.grant < 0 {
			a.plain[l.policy] = int32(k)
		} else {
			a.of[l] = int32(k)
		}
	}
	return a
}

// PolicyCount returns the number of policies.
func (a *Analysis) PolicyCount() int { return len(a.pols) }

// Policy returns the policy at index i (0 <= i < PolicyCount). The
// snapshot keeps no AST of its policies (deciding needs none, and keeping
// them costs decisions at 10k policies): Policy rebuilds it from the
// evaluator and the interned scope, so callers that ask often keep the
// result.
func (a *Analysis) Policy(i int32) PolicyInfo {
	s := a.s
	l := a.pols[i]
	p := &s.policies[l.policy]
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
	var ast expast.Policy
	if p.eval != nil {
		ast = *(*expast.Policy)(p.eval.AST())
		ast.Annotations = nil
	} else if p.forbid {
		ast.Effect = expast.EffectForbid
	}
	f := &s.filters[l.policy]
	// A scope kind only ever comes from a node of its dimension.
	ast.Principal = s.scopeNode(&f.scopes[principalDim]).(expast.IsPrincipalScopeNode)
	ast.Action = s.scopeNode(&f.scopes[actionDim]).(expast.IsActionScopeNode)
	ast.Resource = s.scopeNode(&f.scopes[resourceDim]).(expast.IsResourceScopeNode)
	info := PolicyInfo{Index: i, ID: a.ids[i], Source: p.source, Forbid: p.forbid, Plain: p.plain, AST: &ast, Policy: l.policy, Grant: l.grant}
	if l.grant >= 0 {
		r := &s.grants.rows[l.grant]
		info.Source = s.grants.source(l.grant)
		if member := s.ents.uid(r.member); r.members {
			ast.Principal = expast.ScopeTypeIn{Entity: member}
		} else {
			ast.Principal = expast.ScopeTypeEq{Entity: member}
		}
	}
	return info
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

// ActiveAt reports whether policy i's validity window, and its grant's,
// contains at.
func (a *Analysis) ActiveAt(i int32, at time.Time) bool {
	l := a.pols[i]
	now := unixNanos(at)
	return a.s.filters[l.policy].active(now) && (l.grant < 0 || a.s.grants.rows[l.grant].active(now))
}

// Entity returns bundle entity uid as written, with every parent the
// bundle gives it, grants' included whatever their windows.
func (s *Snapshot) Entity(uid types.EntityUID) (types.Entity, bool) {
	i, ok := s.ents.lookup(uid)
	if !ok {
		return types.Entity{}, false
	}
	return s.ents.entity(i, nil), true
}

// Entities yields every bundle entity as Entity returns it, in no
// particular order.
func (s *Snapshot) Entities() iter.Seq[types.Entity] {
	return func(yield func(types.Entity) bool) {
		for i := range int32(s.ents.len()) {
			if s.ents.defined[i] && !yield(s.ents.entity(i, nil)) {
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

// view describes uid to analysis: as a bundle entity with every grant it
// holds, whatever the instant (callers judge windows with ActiveAt), or
// as uid alone. rows are the grants it holds.
func (a *Analysis) view(uid types.EntityUID) (v view, rows []int32) {
	s := a.s
	i, ok := s.ents.lookup(uid)
	if !ok {
		v = s.baseView(uid)
		if v.self >= 0 {
			v.tanc = []int32{v.self}
		}
		return v, nil
	}
	v = s.staticView(i)
	rows = s.rowsOf(i, 0, true, nil)
	if len(rows) == 0 {
		return v, nil
	}
	tanc := slices.Clone(v.tanc)
	for _, r := range rows {
		tanc = append(tanc, s.staticView(s.grants.rows[r].parent).tanc...)
	}
	v.tanc = sortUnique(tanc)
	return v, sortUnique(rows)
}

// Matching appends to dst the policies whose scope in dimension d the
// bundle entity uid (or, for one the bundle does not define, uid alone
// with no ancestors) satisfies, whatever their other scopes, sorted.
// The grants an entity holds count whatever their windows.
func (a *Analysis) Matching(d Dim, uid types.EntityUID, dst []int32) []int32 {
	s := a.s
	v, rows := a.view(uid)
	start := len(dst)
	idx := &s.index[d]
	var byType []entry
	if v.typ >= 0 {
		byType = idx.byType[v.typ]
	}
	add := func(p int32) {
		if !s.policies[p].template {
			dst = append(dst, a.plain[p])
			return
		}
		if d == principalDim {
			// Those of its grants: the grant's subject is uid or one of
			// its ancestors.
			return
		}
		for _, r := range a.byParent[s.policies[p].parent] {
			dst = append(dst, a.of[logical{p, r}])
		}
	}
	for _, list := range [3][]entry{s.gather(d, &v, nil), byType, idx.all} {
		for _, e := range list {
			add(e.p())
		}
	}
	if d == principalDim {
		for _, r := range rows {
			if gr := &s.grants.rows[r]; !gr.members && s.ents.uid(gr.member) != uid {
				continue // `principal ==` another entity
			}
			for _, t := range a.templatesOf(s.grants.rows[r].parent) {
				dst = append(dst, a.of[logical{t, r}])
			}
		}
	}
	return append(dst[:start], sortUnique(dst[start:])...)
}

// templatesOf returns the templates whose principal scope names parent.
func (a *Analysis) templatesOf(parent int32) []int32 {
	t := a.s.self[parent]
	if t < 0 {
		return nil
	}
	var out []int32
	for _, e := range a.s.index[principalDim].byTarget[t] {
		if p := e.p(); a.s.policies[p].template && a.s.policies[p].parent == parent {
			out = append(out, p)
		}
	}
	return out
}

// ScopeMatches reports whether the bundle entity uid satisfies policy
// i's scope in dimension d.
func (a *Analysis) ScopeMatches(i int32, d Dim, uid types.EntityUID) bool {
	s := a.s
	l := a.pols[i]
	v, rows := a.view(uid)
	if l.grant >= 0 && d == principalDim {
		r := &s.grants.rows[l.grant]
		if mi, ok := s.ents.lookup(uid); ok && mi == r.member {
			return true
		}
		_, held := slices.BinarySearch(rows, l.grant)
		return r.members && held
	}
	return s.filters[l.policy].scopes[d].matches(&v, s.sets)
}
