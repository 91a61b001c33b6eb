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
	"encoding/binary"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
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
	// clause is the condition's index among its policy's when and unless
	// clauses (see LocateConditions).
	clause int
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
	snap *engine.Snapshot
	// an is the snapshot's analysis view: the policies decisions name,
	// one per grant and template rather than the bundle's templates.
	an      *engine.Analysis
	actions []action
	// info, judged and refs are by policy index.
	info   []engine.PolicyInfo
	judged []judged
	ids    []cedar.PolicyID
	refs   []PolicyRef
	// all holds the bundle's entities, sorted; queries work on their
	// positions there (an entity's index), so that the order of indexes
	// is the order of entries.
	all   []types.EntityUID
	index map[types.EntityUID]int32
	// typeOf is the type id of each entity; types are numbered as they
	// appear in typeNames.
	typeOf    []int32
	typeNames map[types.EntityType]int32
	// children lists, by entity (a phantom parent too), the entities
	// that name it as a parent; byType the entities of each type id.
	children map[types.EntityUID][]int32
	byType   [][]int32
	every    []int32
	// principalTypes marks the type ids some action applies to as
	// principal.
	principalTypes []bool
	// policies and grants are the bundle's, for Diff.
	policies []bundle.Policy
	grants   []bundle.Grant
	// desc caches descendants by entity; descMu guards it.
	descMu sync.Mutex
	desc   map[types.EntityUID][]int32
	// covers pools the cover and forbid lists of walks (see
	// ensureCover), which keep their capacity between queries.
	covers sync.Pool
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
	an := snap.Analysis()
	acts, err := actionsOf(b.Schema, an)
	if err != nil {
		return nil, err
	}
	a := &Analyzer{snap: snap, an: an, actions: acts, policies: b.Policies, grants: b.Grants, typeNames: map[types.EntityType]int32{},
		children: map[types.EntityUID][]int32{}, desc: map[types.EntityUID][]int32{}}
	n := int32(an.PolicyCount())
	a.info = make([]engine.PolicyInfo, n)
	a.judged = make([]judged, n)
	a.ids = make([]cedar.PolicyID, n)
	a.refs = make([]PolicyRef, n)
	for i := range n {
		p := an.Policy(i)
		a.info[i] = p
		a.judged[i] = judge(p)
		a.ids[i] = cedar.PolicyID(p.ID)
		a.refs[i] = PolicyRef{ID: p.ID, Source: p.Source}
	}
	for e := range snap.Entities() {
		a.all = append(a.all, e.UID)
	}
	slices.SortFunc(a.all, compareUID)
	a.index = make(map[types.EntityUID]int32, len(a.all))
	a.typeOf = make([]int32, len(a.all))
	a.every = make([]int32, len(a.all))
	for i, uid := range a.all {
		a.index[uid] = int32(i)
		a.every[i] = int32(i)
		t, ok := a.typeNames[uid.Type]
		if !ok {
			t = int32(len(a.typeNames))
			a.typeNames[uid.Type] = t
			a.byType = append(a.byType, nil)
		}
		a.typeOf[i] = t
		a.byType[t] = append(a.byType[t], int32(i))
		e, _ := snap.Entity(uid)
		for p := range e.Parents.All() {
			a.children[p] = append(a.children[p], int32(i))
		}
	}
	a.principalTypes = make([]bool, len(a.typeNames))
	for k := range a.actions {
		act := &a.actions[k]
		act.index(a.typeNames)
		for t := range a.principalTypes {
			if act.any || act.principal[t] {
				a.principalTypes[t] = true
			}
		}
	}
	return a, nil
}

// Ref returns the analyzed bundle's revision, digest and environment.
func (a *Analyzer) Ref() bundle.Ref { return a.snap.Ref() }

// HasEntity reports whether uid is one of the bundle's entities.
func (a *Analyzer) HasEntity(uid types.EntityUID) bool { return a.snap.HasEntity(uid) }

// Entities returns the bundle's entities, sorted; callers must not change
// the slice.
func (a *Analyzer) Entities() []types.EntityUID { return a.all }

// Actions returns the bundle's actions (the schema's), sorted.
func (a *Analyzer) Actions() []types.EntityUID {
	out := make([]types.EntityUID, len(a.actions))
	for i := range a.actions {
		out[i] = a.actions[i].uid
	}
	return out
}

// Query returns the triples q selects, at q.At (now when zero), in a
// Table: see Each.
func (a *Analyzer) Query(q Query) (*Table, error) {
	at := q.At
	if at.IsZero() {
		at = time.Now()
		q.At = at
	}
	t := &Table{Bundle: a.snap.Ref(), At: at, Entries: []Entry{}}
	for e := range a.Each(q) {
		t.Entries = append(t.Entries, e)
	}
	return t, nil
}

// Each yields the triples q selects, at q.At (now when zero), sorted by
// principal, action, resource: every (principal, action, resource) of
// the bundle's entities and the schema's actions, with the principal and
// resource of types the action applies to, that the bundle allows or may
// allow. Entries that share policies share their Policies slice; callers
// must not change it. Whole tables are large (tens of millions of
// triples for ten thousand identities): Each holds one principal's at a
// time.
//
// It never tries every triple. For each principal, the permits and
// forbids whose principal scope it satisfies come from the engine's scope
// index; their action scopes are tested against the schema's actions and
// their resource scopes give the entities they cover (through a reverse
// index of parents). A triple no permit covers is never looked at; one
// that only unconditional policies cover is decided by their effects;
// the others have the conditions of their policies judged (see decide).
func (a *Analyzer) Each(q Query) iter.Seq[Entry] {
	if q.At.IsZero() {
		q.At = time.Now()
	}
	return func(yield func(Entry) bool) {
		w := a.newWalk(q, q.At)
		defer w.release()
		if q.Principal.IsZero() && w.resource >= 0 {
			for _, e := range w.resourceEntries(w.resource) {
				if !yield(e) {
					return
				}
			}
			return
		}
		ps := w.principals()
		workers := min(runtime.GOMAXPROCS(0), len(ps)/principalsPerChunk)
		if workers <= 1 {
			for _, p := range ps {
				if !w.principal(p, yield) {
					return
				}
			}
			return
		}
		a.parallel(q, ps, workers, yield)
	}
}

// principalsPerChunk is how many principals a worker of a large query
// answers at a time.
const principalsPerChunk = 32

// parallel yields the entries of principals ps, answered by workers
// walks, a chunk of principals at a time, in order. At most two chunks
// per worker are answered ahead of the one being yielded, which bounds
// memory whatever the table's size.
func (a *Analyzer) parallel(q Query, ps []int32, workers int, yield func(Entry) bool) {
	nchunks := (len(ps) + principalsPerChunk - 1) / principalsPerChunk
	results := make([]chan []Entry, nchunks)
	for i := range results {
		results[i] = make(chan []Entry, 1)
	}
	ahead := make(chan struct{}, 2*workers)
	// free holds chunk buffers the consumer is done with, for reuse.
	free := make(chan []Entry, 2*workers+1)
	done := make(chan struct{})
	var next atomic.Int64
	var wg sync.WaitGroup
	defer func() {
		close(done)
		wg.Wait()
	}()
	for range workers {
		wg.Go(func() {
			w := a.newWalk(q, q.At)
			defer w.release()
			for {
				select {
				case ahead <- struct{}{}:
				case <-done:
					return
				}
				c := int(next.Add(1)) - 1
				if c >= nchunks {
					return
				}
				var out []Entry
				select {
				case out = <-free:
				default:
				}
				for _, p := range ps[c*principalsPerChunk : min(len(ps), (c+1)*principalsPerChunk)] {
					w.principal(p, func(e Entry) bool {
						out = append(out, e)
						return true
					})
				}
				results[c] <- out
			}
		})
	}
	for c := range nchunks {
		chunk := <-results[c]
		for _, e := range chunk {
			if !yield(e) {
				return
			}
		}
		clear(chunk)
		select {
		case free <- chunk[:0]:
		default:
		}
		<-ahead
	}
}

// region is a part of the triples: those with a principal, an action
// and a resource in the lists, a nil list standing for any.
type region struct {
	principals, actions, resources []types.EntityUID
}

// eachIn yields the entries of region rg at instant at, sorted as Each.
func (a *Analyzer) eachIn(rg region, at time.Time) iter.Seq[Entry] {
	return func(yield func(Entry) bool) {
		w := a.newWalk(Query{At: at}, at)
		defer w.release()
		if rg.principals != nil {
			w.pset = []int32{}
			for _, u := range rg.principals {
				if i, ok := a.index[u]; ok {
					w.pset = append(w.pset, i)
				}
			}
			slices.Sort(w.pset)
			w.pset = slices.Compact(w.pset)
		}
		if rg.actions != nil {
			w.actOK = make([]bool, len(a.actions))
			for k := range a.actions {
				w.actOK[k] = slices.Contains(rg.actions, a.actions[k].uid)
			}
		}
		if rg.resources != nil {
			w.resOK = make([]bool, len(a.all))
			for _, u := range rg.resources {
				if i, ok := a.index[u]; ok {
					w.resOK[i] = true
				}
			}
		}
		for _, p := range w.principals() {
			if !w.principal(p, yield) {
				return
			}
		}
	}
}

// walk is the state of one query.
type walk struct {
	a  *Analyzer
	q  Query
	at time.Time
	// resource is the index of q.Resource, -1 for any, -2 when it is not
	// a bundle entity.
	resource int32
	// A region (see eachIn) narrows further: only principals pset (nil:
	// any), actions marked in actOK and resources in resOK (nil: any).
	pset         []int32
	actOK, resOK []bool
	// sides and acts cache the entities a policy's principal or resource
	// scope covers and the actions its action scope does.
	sides [2]map[int32][]int32
	acts  map[int32][]int32
	// cover and forbid list, by resource, the permits and forbids that
	// cover it for the principal and action at hand; touched are the
	// resources with a permit.
	cover, forbid [][]int32
	touched       []int32
	// shared and sharedConds intern policy and condition lists; key is
	// their scratch key.
	shared      map[string][]PolicyRef
	sharedConds map[string][]Condition
	key         []byte
	// byResource and byPrincipal keep what static atoms evaluated to (see
	// holds); byPrincipal is for principal cachedFor.
	byResource, byPrincipal map[uint64]bool
	cachedFor               int32
	// permits, maybePermits, maybeForbids and both are decide's scratch.
	permits, maybePermits, maybeForbids, both []int32
	buf                                       []int32
	one                                       one
}

func (a *Analyzer) newWalk(q Query, at time.Time) *walk {
	w := &walk{a: a, q: q, at: at, resource: -1, acts: map[int32][]int32{},
		sides:  [2]map[int32][]int32{{}, {}},
		shared: map[string][]PolicyRef{}, sharedConds: map[string][]Condition{},
		byResource: map[uint64]bool{}, byPrincipal: map[uint64]bool{}, cachedFor: -1,
	}
	if !q.Resource.IsZero() {
		w.resource = -2
		if i, ok := a.index[q.Resource]; ok {
			w.resource = i
		}
	}
	return w
}

// principals returns the entities to answer for, as indexes, sorted.
func (w *walk) principals() []int32 {
	a := w.a
	if w.pset != nil {
		return w.pset
	}
	if w.resOK != nil {
		// Those some permit that covers one of the resources covers.
		seen := map[int32]bool{}
		for r, ok := range w.resOK {
			if !ok {
				continue
			}
			for _, i := range a.an.Matching(engine.ResourceDim, a.all[r], w.buf[:0]) {
				if !a.info[i].Forbid && a.an.ActiveAt(i, w.at) {
					for _, p := range w.side(i, engine.PrincipalDim) {
						seen[p] = true
					}
				}
			}
		}
		return w.sortedPrincipals(seen)
	}
	if !w.q.Principal.IsZero() {
		if i, ok := a.index[w.q.Principal]; ok {
			return []int32{i}
		}
		return nil
	}
	if w.q.Resource.IsZero() && w.q.Action.IsZero() {
		var out []int32
		for i, t := range a.typeOf {
			if a.principalTypes[t] {
				out = append(out, int32(i))
			}
		}
		return out
	}
	// Those some permit that matches the fixed side covers.
	d, uid := engine.ResourceDim, w.q.Resource
	if uid.IsZero() {
		d, uid = engine.ActionDim, w.q.Action
	}
	seen := map[int32]bool{}
	for _, i := range a.an.Matching(d, uid, nil) {
		if a.info[i].Forbid || !a.an.ActiveAt(i, w.at) {
			continue
		}
		for _, p := range w.side(i, engine.PrincipalDim) {
			seen[p] = true
		}
	}
	return w.sortedPrincipals(seen)
}

// sortedPrincipals returns the entities of seen that can be principals,
// sorted.
func (w *walk) sortedPrincipals(seen map[int32]bool) []int32 {
	out := make([]int32, 0, len(seen))
	for p := range seen {
		if w.a.principalTypes[w.a.typeOf[p]] {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// principal yields the entries of principal p, sorted by action and
// resource; it returns false when yield does.
func (w *walk) principal(p int32, yield func(Entry) bool) bool {
	a := w.a
	permits, forbids := w.candidates(engine.PrincipalDim, p)
	if len(permits) == 0 {
		return true
	}
	w.ensureCover()
	pt := a.typeOf[p]
	for k := range a.actions {
		act := &a.actions[k]
		if (!w.q.Action.IsZero() && act.uid != w.q.Action) || !(act.any || act.principal[pt]) || (w.actOK != nil && !w.actOK[k]) {
			continue
		}
		if !w.spread(k, permits, forbids, engine.ResourceDim, act.resourceMarks(), w.resOK) {
			continue
		}
		slices.Sort(w.touched)
		ok := true
		for _, r := range w.touched {
			if ok {
				if e, allowed := w.decide(p, act.uid, r, w.cover[r], w.forbid[r]); allowed {
					ok = yield(e)
				}
			}
			w.cover[r], w.forbid[r] = w.cover[r][:0], w.forbid[r][:0]
		}
		if !ok {
			return false
		}
	}
	return true
}

// resourceEntries returns the entries of resource r, sorted by principal
// and action: the principal walk turned around, from the permits and
// forbids whose resource scope r satisfies to the principals they cover.
func (w *walk) resourceEntries(r int32) []Entry {
	a := w.a
	permits, forbids := w.candidates(engine.ResourceDim, r)
	w.ensureCover()
	// The entries come action by action; order sorts them by principal
	// and action without moving them.
	type place struct{ p, k, i int32 }
	var found []Entry
	var order []place
	rt := a.typeOf[r]
	for k := range a.actions {
		act := &a.actions[k]
		if (!w.q.Action.IsZero() && act.uid != w.q.Action) || !(act.any || act.resource[rt]) {
			continue
		}
		w.spread(k, permits, forbids, engine.PrincipalDim, act.principalMarks(), nil)
		for _, p := range w.touched {
			if e, allowed := w.decide(p, act.uid, r, w.cover[p], w.forbid[p]); allowed {
				order = append(order, place{p, int32(k), int32(len(found))})
				found = append(found, e)
			}
			w.cover[p], w.forbid[p] = w.cover[p][:0], w.forbid[p][:0]
		}
	}
	slices.SortFunc(order, func(x, y place) int {
		if x.p != y.p {
			return int(x.p - y.p)
		}
		return int(x.k - y.k)
	})
	entries := make([]Entry, len(order))
	for i, o := range order {
		entries[i] = found[o.i]
	}
	return entries
}

// coverLists are a walk's cover and forbid lists, by entity.
type coverLists struct{ cover, forbid [][]int32 }

// ensureCover gives w cover and forbid lists, from the analyzer's pool
// when it has some: allocating them per query, and a small slice per
// entity covered, costs more than answering a small query.
func (w *walk) ensureCover() {
	if w.cover != nil {
		return
	}
	if c, ok := w.a.covers.Get().(*coverLists); ok {
		w.cover, w.forbid = c.cover, c.forbid
		return
	}
	w.cover, w.forbid = make([][]int32, len(w.a.all)), make([][]int32, len(w.a.all))
}

// release returns w's cover and forbid lists to the pool; they are empty
// between triples.
func (w *walk) release() {
	if w.cover != nil {
		w.a.covers.Put(&coverLists{w.cover, w.forbid})
		w.cover, w.forbid = nil, nil
	}
}

// candidates returns the permits and forbids, in force at the walk's
// instant, whose scope in dimension d entity x satisfies.
func (w *walk) candidates(d engine.Dim, x int32) (permits, forbids []int32) {
	for _, i := range w.a.an.Matching(d, w.a.all[x], w.buf[:0]) {
		switch {
		case !w.a.an.ActiveAt(i, w.at):
		case w.a.info[i].Forbid:
			forbids = append(forbids, i)
		default:
			permits = append(permits, i)
		}
	}
	return permits, forbids
}

// spread lists in w.touched the entities of dimension d (the side the
// walk does not fix) that the permits covering action k reach, with
// those permits in their cover lists and the forbids covering k that
// reach them in their forbid lists. An entity counts only if its type
// is marked in types (nil: any type) and, when only is not nil, it is
// marked there. It reports whether any entity was reached.
func (w *walk) spread(k int, permits, forbids []int32, d engine.Dim, types, only []bool) bool {
	w.touched = w.touched[:0]
	for _, c := range permits {
		if !slices.Contains(w.actionsOf(c), int32(k)) {
			continue
		}
		for _, x := range w.side(c, d) {
			if (types != nil && !types[w.a.typeOf[x]]) || (only != nil && !only[x]) {
				continue
			}
			if len(w.cover[x]) == 0 {
				w.touched = append(w.touched, x)
			}
			w.cover[x] = append(w.cover[x], c)
		}
	}
	if len(w.touched) == 0 {
		return false
	}
	for _, f := range forbids {
		if slices.Contains(w.actionsOf(f), int32(k)) {
			w.markForbid(f, w.side(f, d))
		}
	}
	return true
}

// markForbid adds forbid f to the forbid list of each touched entity
// (one a permit covers) that f's scope covers, covered (sorted): by
// walking covered when it is the shorter, otherwise by searching it for
// each touched entity (a forbid on every principal need not visit them
// all to find the few a permit reached).
func (w *walk) markForbid(f int32, covered []int32) {
	if len(covered) <= 4*len(w.touched) {
		for _, x := range covered {
			if len(w.cover[x]) > 0 {
				w.forbid[x] = append(w.forbid[x], f)
			}
		}
		return
	}
	for _, x := range w.touched {
		if _, ok := slices.BinarySearch(covered, x); ok {
			w.forbid[x] = append(w.forbid[x], f)
		}
	}
}

// actionsOf returns the actions (indexes into Analyzer.actions) policy i's
// action scope covers, sorted.
func (w *walk) actionsOf(i int32) []int32 {
	if l, ok := w.acts[i]; ok {
		return l
	}
	var out []int32
	for k := range w.a.actions {
		if w.a.an.ScopeMatches(i, engine.ActionDim, w.a.actions[k].uid) {
			out = append(out, int32(k))
		}
	}
	w.acts[i] = out
	return out
}

// side returns the entities (indexes, sorted) policy i's scope in
// dimension d, the principal or the resource, covers; when the query
// fixes the resource, only it can be.
func (w *walk) side(i int32, d engine.Dim) []int32 {
	if d == engine.ResourceDim && w.resource != -1 {
		if w.resource >= 0 && w.a.an.ScopeMatches(i, d, w.q.Resource) {
			return []int32{w.resource}
		}
		return nil
	}
	cache := w.sides[0]
	if d == engine.ResourceDim {
		cache = w.sides[1]
	}
	if l, ok := cache[i]; ok {
		return l
	}
	l := w.a.covered(i, d)
	cache[i] = l
	return l
}

// covered returns the entities (indexes, sorted) policy i's scope in
// dimension d covers.
func (a *Analyzer) covered(i int32, d engine.Dim) []int32 {
	p := a.info[i].AST
	var s expast.IsScopeNode = p.Principal
	if d == engine.ResourceDim {
		s = p.Resource
	}
	switch s := s.(type) {
	case expast.ScopeTypeEq:
		if j, ok := a.index[s.Entity]; ok {
			return []int32{j}
		}
		return nil
	case expast.ScopeTypeIn:
		return a.descendants(s.Entity)
	case expast.ScopeTypeInSet:
		var out []int32
		for _, e := range s.Entities {
			out = append(out, a.descendants(e)...)
		}
		slices.Sort(out)
		return slices.Compact(out)
	case expast.ScopeTypeIs:
		if t, ok := a.typeNames[s.Type]; ok {
			return a.byType[t]
		}
		return nil
	case expast.ScopeTypeIsIn:
		t, ok := a.typeNames[s.Type]
		if !ok {
			return nil
		}
		var out []int32
		for _, e := range a.descendants(s.Entity) {
			if a.typeOf[e] == t {
				out = append(out, e)
			}
		}
		return out
	}
	return a.every
}

// descendants returns the bundle entities in uid (itself included, when
// it is a bundle entity), as indexes, sorted: those that have it as an
// ancestor. Results are cached; callers must not change them.
func (a *Analyzer) descendants(uid types.EntityUID) []int32 {
	a.descMu.Lock()
	d, ok := a.desc[uid]
	a.descMu.Unlock()
	if ok {
		return d
	}
	var out []int32
	seen := map[int32]bool{}
	if i, ok := a.index[uid]; ok {
		out = append(out, i)
		seen[i] = true
	}
	stack := []types.EntityUID{uid}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range a.children[cur] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				stack = append(stack, a.all[c])
			}
		}
	}
	slices.Sort(out)
	a.descMu.Lock()
	a.desc[uid] = out
	a.descMu.Unlock()
	return out
}

// decide judges triple (p, act, r), which the permits cover cover and
// the forbids forbid. When none has conditions, their effects
// decide. Otherwise the atoms of their conditions that read no context
// are evaluated against the bundle's entities, and each policy applies,
// does not, or may (its context-reading clauses decide). The triple is
// allowed when a permit applies and no forbid may; conditional when a
// permit applies or may and no forbid applies; otherwise denied.
// Context-reading clauses are taken as independent of one another, so
// conditional never hides an allow or a deny.
func (w *walk) decide(p int32, act types.EntityUID, r int32, cover, forbid []int32) (Entry, bool) {
	a := w.a
	e := Entry{Principal: a.all[p], Action: act, Resource: a.all[r], Access: Allow}
	plain := true
	for _, lists := range [2][]int32{cover, forbid} {
		for _, i := range lists {
			plain = plain && len(a.judged[i].static) == 0 && len(a.judged[i].dynamic) == 0
		}
	}
	if plain {
		if len(forbid) > 0 {
			return Entry{}, false
		}
		e.Policies = w.refsOf(cover)
		return e, true
	}
	permits, maybePermits, maybeForbids := w.permits[:0], w.maybePermits[:0], w.maybeForbids[:0]
	defer func() { w.permits, w.maybePermits, w.maybeForbids = permits, maybePermits, maybeForbids }()
	for _, lists := range [2][]int32{forbid, cover} {
		for _, i := range lists {
			j := &a.judged[i]
			if len(j.static) > 0 && !w.holds(i, p, act, r) {
				continue
			}
			switch isForbid := a.info[i].Forbid; {
			case isForbid && len(j.dynamic) == 0:
				return Entry{}, false
			case isForbid:
				maybeForbids = append(maybeForbids, i)
			case len(j.dynamic) == 0:
				permits = append(permits, i)
			default:
				maybePermits = append(maybePermits, i)
			}
		}
	}
	switch {
	case len(permits) > 0 && len(maybeForbids) == 0:
		e.Policies = w.refsOf(permits)
		return e, true
	case len(permits) > 0:
		e.Access, e.Policies, e.Conditions = Conditional, w.refsOf(permits), w.conditions(maybeForbids)
		return e, true
	case len(maybePermits) > 0:
		e.Access, e.Policies = Conditional, w.refsOf(maybePermits)
		w.both = append(append(w.both[:0], maybePermits...), maybeForbids...)
		e.Conditions = w.conditions(w.both)
		return e, true
	}
	return Entry{}, false
}

// refsOf returns the references of policies (sorted indexes), one slice
// per distinct list in a walk: a whole table has millions of entries and
// few distinct lists.
func (w *walk) refsOf(policies []int32) []PolicyRef {
	w.key = w.key[:0]
	for _, i := range policies {
		w.key = binary.LittleEndian.AppendUint32(w.key, uint32(i))
	}
	if l, ok := w.shared[string(w.key)]; ok {
		return l
	}
	l := make([]PolicyRef, len(policies))
	for k, i := range policies {
		l[k] = w.a.refs[i]
	}
	w.shared[string(w.key)] = l
	return l
}

// conditions returns the context-reading clauses of policies, one slice
// per distinct list in a walk (as refsOf).
func (w *walk) conditions(policies []int32) []Condition {
	slices.Sort(policies)
	w.key = w.key[:0]
	for _, i := range policies {
		w.key = binary.LittleEndian.AppendUint32(w.key, uint32(i))
	}
	if l, ok := w.sharedConds[string(w.key)]; ok {
		return l
	}
	var out []Condition
	for _, i := range policies {
		out = append(out, w.a.judged[i].dynamic...)
	}
	w.sharedConds[string(w.key)] = out
	return out
}

// holds reports whether the static atoms of policy i hold for the triple
// (p, act, r). An atom's value depends only on what it reads, so it is
// kept, unless it reads the action: per atom and resource when it reads
// no principal, otherwise while the walk stays on p (per atom and
// principal when the query fixes the resource).
func (w *walk) holds(i, p int32, act types.EntityUID, r int32) bool {
	for k, at := range w.a.judged[i].static {
		var key uint64
		var cache map[uint64]bool
		base := uint64(i)<<40 | uint64(k)<<32
		switch {
		case at.reads&readsAction != 0:
		case w.resource >= 0:
			// One resource for the whole walk: kept per principal.
			key, cache = base|0xffffffff, w.byResource
			if at.reads&readsPrincipal != 0 {
				key = base | uint64(uint32(p))
			}
		case at.reads&readsPrincipal != 0:
			if w.cachedFor != p {
				clear(w.byPrincipal)
				w.cachedFor = p
			}
			key, cache = base|uint64(uint32(r)), w.byPrincipal
			if at.reads&readsResource == 0 {
				key = base | 0xffffffff
			}
		default:
			key, cache = base|uint64(uint32(r)), w.byResource
		}
		v, ok := cache[key]
		if !ok || cache == nil {
			w.one.policy = at.policy
			_, diag := cedar.Authorize(&w.one, getter{w.a.snap}, cedar.Request{Principal: w.a.all[p], Action: act, Resource: w.a.all[r], Context: types.Record{}})
			v = len(diag.Reasons) > 0
			if cache != nil {
				cache[key] = v
			}
		}
		if !v {
			return false
		}
	}
	return true
}
