// Package access answers, for one compiled bundle at an instant, who can do
// what: the (principal, action, resource) triples of the bundle's own
// entities that the bundle allows, each with the policies or grants that
// allow it. It is the effective-access engine behind `cedargate access`,
// `diff` and `review`.
//
// Triples are found through the decision engine's scope index, never by
// trying every principal × action × resource. Cedar's semantics hold
// exactly: forbid overrides permit, default deny, attributes and ancestry
// from the bundle. A policy whose conditions read the request context
// (source IP, MFA, request time) cannot be decided offline: the triples it
// may allow, or may forbid, are conditional, reported with the condition's
// text and position, never silently allowed or dropped.
package access

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
)

// Kind is how a triple is allowed.
type Kind string

// The kinds of access.
const (
	// Allow: the bundle allows the triple whatever the request context.
	Allow Kind = "allow"
	// Conditional: the bundle allows the triple for some request contexts
	// and not others (a permit or a forbid that reads context applies).
	Conditional Kind = "conditional"
)

// PolicyRef names a policy or grant and where it is written.
type PolicyRef struct {
	// ID is the bundle policy id (e.g. "policies/ops.cedar#2" or
	// "entitlement:alice-reads#0").
	ID string `json:"id"`
	// Source is "path:line:column" of the policy, or of the identity
	// object that generated it.
	Source string `json:"source"`
}

// Condition is a condition a conditional triple depends on.
type Condition struct {
	// Policy is the id of the policy the condition belongs to.
	Policy string `json:"policy"`
	// Source is where the condition is written, "path:line:column".
	Source string `json:"source"`
	// Text is the condition in Cedar, e.g. `when { context.mfa }`.
	Text string `json:"text"`
}

// Entry is one triple the bundle allows, or may allow.
type Entry struct {
	Principal types.EntityUID
	Action    types.EntityUID
	Resource  types.EntityUID
	Access    Kind
	// Policies are the permits that allow the triple (for a conditional
	// triple, those that may), sorted by id.
	Policies []PolicyRef
	// Conditions are, for a conditional triple, the conditions of the
	// permits and forbids it depends on; empty for Allow.
	Conditions []Condition
}

// Query selects triples: a zero UID matches any.
type Query struct {
	Principal, Action, Resource types.EntityUID
	// At is the instant time-bound grants are judged at.
	At time.Time
}

// Table is the answer to a Query: the entries, sorted by principal,
// action, resource.
type Table struct {
	Bundle  bundle.Ref `json:"bundle"`
	At      time.Time  `json:"at"`
	Entries []Entry    `json:"entries"`
}

// Analyzer answers queries about one bundle. Build it once per bundle
// (it indexes the bundle); it is safe for concurrent use.
type Analyzer struct {
	snap    *engine.Snapshot
	actions []action
	// judged and ids are by policy index.
	judged []judged
	ids    []cedar.PolicyID
	// children lists, by entity, the bundle entities that name it as a
	// parent; byType the bundle entities of each type and all every one,
	// sorted.
	children map[types.EntityUID][]types.EntityUID
	byType   map[types.EntityType][]types.EntityUID
	all      []types.EntityUID
	// policies are the bundle's, by index, for Diff.
	policies []bundle.Policy
	// deep caches readsOtherEntities.
	deepOnce sync.Once
	deep     bool
}

// New indexes b for queries. It fails when the bundle does not load (as
// the PDP would refuse it) or its schema does not parse.
func New(b *bundle.Bundle) (*Analyzer, error) {
	snap, err := engine.New(b)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", b.Ref(), err)
	}
	return NewFromSnapshot(snap, b)
}

// NewFromSnapshot indexes snap, a snapshot the PDP loaded from b.
func NewFromSnapshot(snap *engine.Snapshot, b *bundle.Bundle) (*Analyzer, error) {
	acts, err := actionsOf(b.Schema, snap)
	if err != nil {
		return nil, err
	}
	a := &Analyzer{snap: snap, actions: acts, policies: b.Policies,
		children: map[types.EntityUID][]types.EntityUID{}, byType: map[types.EntityType][]types.EntityUID{}}
	n := int32(snap.PolicyCount())
	a.judged = make([]judged, n)
	a.ids = make([]cedar.PolicyID, n)
	for i := range n {
		p := snap.Policy(i)
		a.judged[i] = judge(p)
		a.ids[i] = cedar.PolicyID(p.ID)
	}
	for e := range snap.Entities() {
		a.all = append(a.all, e.UID)
		a.byType[e.UID.Type] = append(a.byType[e.UID.Type], e.UID)
		for p := range e.Parents.All() {
			a.children[p] = append(a.children[p], e.UID)
		}
	}
	slices.SortFunc(a.all, compareUID)
	for _, l := range a.byType {
		slices.SortFunc(l, compareUID)
	}
	return a, nil
}

// Ref returns the analyzed bundle's revision, digest and environment.
func (a *Analyzer) Ref() bundle.Ref { return a.snap.Ref() }

// HasEntity reports whether uid is one of the bundle's entities.
func (a *Analyzer) HasEntity(uid types.EntityUID) bool { return a.snap.HasEntity(uid) }

// Entities returns the bundle's entities, sorted.
func (a *Analyzer) Entities() []types.EntityUID { return a.all }

// Actions returns the bundle's actions (the schema's), sorted.
func (a *Analyzer) Actions() []types.EntityUID {
	out := make([]types.EntityUID, len(a.actions))
	for i := range a.actions {
		out[i] = a.actions[i].uid
	}
	return out
}

// Query returns the triples q selects, at q.At (now when zero): every
// (principal, action, resource) of the bundle's entities and the schema's
// actions, with the principal and resource of types the action applies
// to, that the bundle allows or may allow.
//
// It never tries every triple: the candidate triples are those some
// permit's scope covers, found from the side the query fixes through the
// engine's scope index; each is then decided with Cedar's semantics.
func (a *Analyzer) Query(q Query) (*Table, error) {
	at := q.At
	if at.IsZero() {
		at = time.Now()
	}
	t := &Table{Bundle: a.snap.Ref(), At: at, Entries: []Entry{}}
	var seeds []int32
	switch {
	case !q.Principal.IsZero():
		seeds = a.snap.Matching(engine.PrincipalDim, q.Principal, nil)
	case !q.Resource.IsZero():
		seeds = a.snap.Matching(engine.ResourceDim, q.Resource, nil)
	case !q.Action.IsZero():
		seeds = a.snap.Matching(engine.ActionDim, q.Action, nil)
	default:
		seeds = make([]int32, len(a.ids))
		for i := range seeds {
			seeds[i] = int32(i)
		}
	}
	w := a.newWalk(q, at)
	byPrincipal := map[types.EntityUID][]int32{}
	for _, i := range seeds {
		if a.snap.Policy(i).Forbid || !a.snap.ActiveAt(i, at) {
			continue
		}
		for _, p := range w.side(i, engine.PrincipalDim, q.Principal) {
			byPrincipal[p] = append(byPrincipal[p], i)
		}
	}
	principals := make([]types.EntityUID, 0, len(byPrincipal))
	for p := range byPrincipal {
		principals = append(principals, p)
	}
	slices.SortFunc(principals, compareUID)
	for _, p := range principals {
		t.Entries = w.principal(p, byPrincipal[p], t.Entries)
	}
	return t, nil
}

// walk is the state of one query.
type walk struct {
	a  *Analyzer
	q  Query
	at time.Time
	// desc caches descendants-or-self by entity.
	desc map[types.EntityUID][]types.EntityUID
	buf  []int32
	st   statics
}

func (a *Analyzer) newWalk(q Query, at time.Time) *walk {
	return &walk{a: a, q: q, at: at, desc: map[types.EntityUID][]types.EntityUID{},
		st: statics{judged: a.judged, ids: a.ids}}
}

// triple is an action and a resource of one principal.
type pair struct{ action, resource types.EntityUID }

// principal appends to out the entries of principal p, whose candidate
// permits are seeds, sorted by action and resource.
func (w *walk) principal(p types.EntityUID, seeds []int32, out []Entry) []Entry {
	pairs := map[pair]struct{}{}
	for _, i := range seeds {
		for _, act := range w.actionsOf(i) {
			if !w.q.Action.IsZero() && act.uid != w.q.Action {
				continue
			}
			for _, r := range w.side(i, engine.ResourceDim, w.q.Resource) {
				if act.appliesTo(p.Type, r.Type) {
					pairs[pair{act.uid, r}] = struct{}{}
				}
			}
		}
	}
	list := make([]pair, 0, len(pairs))
	for pr := range pairs {
		list = append(list, pr)
	}
	slices.SortFunc(list, func(x, y pair) int {
		if c := compareUID(x.action, y.action); c != 0 {
			return c
		}
		return compareUID(x.resource, y.resource)
	})
	for _, pr := range list {
		if e, ok := w.decide(p, pr.action, pr.resource); ok {
			out = append(out, e)
		}
	}
	return out
}

// actionsOf returns the actions policy i's action scope covers.
func (w *walk) actionsOf(i int32) []*action {
	var out []*action
	for k := range w.a.actions {
		if w.a.snap.ScopeMatches(i, engine.ActionDim, w.a.actions[k].uid) {
			out = append(out, &w.a.actions[k])
		}
	}
	return out
}

// side returns the bundle entities policy i's scope in dimension d (the
// principal or the resource) covers; only fixed when the query fixes it.
func (w *walk) side(i int32, d engine.Dim, fixed types.EntityUID) []types.EntityUID {
	if !fixed.IsZero() {
		if w.a.snap.HasEntity(fixed) && w.a.snap.ScopeMatches(i, d, fixed) {
			return []types.EntityUID{fixed}
		}
		return nil
	}
	p := w.a.snap.Policy(i).AST
	var s expast.IsScopeNode = p.Principal
	if d == engine.ResourceDim {
		s = p.Resource
	}
	switch s := s.(type) {
	case expast.ScopeTypeEq:
		if w.a.snap.HasEntity(s.Entity) {
			return []types.EntityUID{s.Entity}
		}
		return nil
	case expast.ScopeTypeIn:
		return w.descendants(s.Entity)
	case expast.ScopeTypeInSet:
		var out []types.EntityUID
		for _, e := range s.Entities {
			out = append(out, w.descendants(e)...)
		}
		return out
	case expast.ScopeTypeIs:
		return w.a.byType[s.Type]
	case expast.ScopeTypeIsIn:
		var out []types.EntityUID
		for _, e := range w.descendants(s.Entity) {
			if e.Type == s.Type {
				out = append(out, e)
			}
		}
		return out
	}
	return w.a.all
}

// descendants returns the bundle entities in uid (itself included, when
// it is a bundle entity): those that have it as an ancestor.
func (w *walk) descendants(uid types.EntityUID) []types.EntityUID {
	if d, ok := w.desc[uid]; ok {
		return d
	}
	var out []types.EntityUID
	seen := map[types.EntityUID]bool{uid: true}
	if w.a.snap.HasEntity(uid) {
		out = append(out, uid)
	}
	stack := []types.EntityUID{uid}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range w.a.children[cur] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				stack = append(stack, c)
			}
		}
	}
	w.desc[uid] = out
	return out
}

// decide judges one triple: the policies Decide would consider, with
// their atoms that do not read the context evaluated against the bundle.
// Each policy then applies, does not, or may (its context-reading clauses
// decide). The triple is allowed when a permit applies and no forbid
// may; conditional when a permit applies or may and no forbid applies;
// otherwise denied. Context-reading clauses are taken as independent of
// one another, so conditional never hides an allow or a deny.
func (w *walk) decide(p, act, r types.EntityUID) (Entry, bool) {
	snap := w.a.snap
	w.buf = snap.Applicable(p, act, r, w.at, w.buf[:0])
	w.st.policies = w.st.policies[:0]
	for _, i := range w.buf {
		if w.a.judged[i].static != nil {
			w.st.policies = append(w.st.policies, i)
		}
	}
	var holds map[cedar.PolicyID]bool
	if len(w.st.policies) > 0 {
		_, diag := cedar.Authorize(&w.st, getter{snap}, cedar.Request{Principal: p, Action: act, Resource: r, Context: types.Record{}})
		holds = make(map[cedar.PolicyID]bool, len(diag.Reasons))
		for _, reason := range diag.Reasons {
			holds[reason.PolicyID] = true
		}
	}
	var permits, maybePermits, maybeForbids []int32
	for _, i := range w.buf {
		j := &w.a.judged[i]
		if j.static != nil && !holds[w.a.ids[i]] {
			continue
		}
		info := snap.Policy(i)
		switch {
		case info.Forbid && len(j.dynamic) == 0:
			return Entry{}, false
		case info.Forbid:
			maybeForbids = append(maybeForbids, i)
		case len(j.dynamic) == 0:
			permits = append(permits, i)
		default:
			maybePermits = append(maybePermits, i)
		}
	}
	e := Entry{Principal: p, Action: act, Resource: r, Access: Allow}
	switch {
	case len(permits) > 0 && len(maybeForbids) == 0:
		e.Policies = w.refs(permits)
		return e, true
	case len(permits) > 0:
		e.Access, e.Policies, e.Conditions = Conditional, w.refs(permits), w.conditions(maybeForbids)
		return e, true
	case len(maybePermits) > 0:
		e.Access, e.Policies = Conditional, w.refs(maybePermits)
		e.Conditions = w.conditions(append(maybePermits, maybeForbids...))
		return e, true
	}
	return Entry{}, false
}

func (w *walk) refs(policies []int32) []PolicyRef {
	out := make([]PolicyRef, len(policies))
	for k, i := range policies {
		info := w.a.snap.Policy(i)
		out[k] = PolicyRef{ID: info.ID, Source: info.Source}
	}
	return out
}

func (w *walk) conditions(policies []int32) []Condition {
	slices.Sort(policies)
	var out []Condition
	for _, i := range policies {
		out = append(out, w.a.judged[i].dynamic...)
	}
	return out
}
