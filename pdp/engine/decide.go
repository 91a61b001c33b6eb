package engine

import (
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
)

// Request is one authorization request.
type Request struct {
	Principal, Action, Resource types.EntityUID
	Context                     types.Record
	// Entities are request-scoped: for this request only, they add to the
	// bundle's entities. Their uids must be distinct (the wire layer
	// checks).
	Entities []types.Entity
	// EntityMode says what an entity of Entities whose uid the bundle
	// defines does; the zero value, RefuseShadowing, ignores it (front
	// ends refuse such a request first, see Snapshot.Shadowing).
	EntityMode EntityMode
	// Time is the decision instant for time-bound policies; zero means now.
	Time time.Time
}

// Decision is the answer to a Request.
type Decision struct {
	Allow bool
	// Reasons are the determining policies: the forbids that matched when
	// the decision is a deny by forbid, the permits that matched when it is
	// an allow, none for a default deny. Sorted by policy id.
	Reasons []Reason
	// Errors are the policies that failed to evaluate, sorted by policy id;
	// Cedar skips them, so they never make a decision allow.
	Errors []EvalError
	// UnknownPrincipal and UnknownResource are set when the request's
	// principal or resource is neither a bundle entity nor one of the
	// request's entities: Cedar decides as for an entity with no
	// attributes and no parents, which usually means a typo or an
	// identity missing from the bundle. Found by the lookup that selects
	// candidates, at no extra cost. The PDP counts them in its metrics;
	// the wire response does not carry them, so a Decision decoded from
	// one (pdp/client) leaves them false.
	UnknownPrincipal, UnknownResource bool
}

// Reason is a determining policy.
type Reason struct {
	ID     string
	Source string
}

// EvalError is a policy that failed to evaluate for the request.
type EvalError struct {
	// PolicyID is the id of the policy that failed.
	PolicyID string
	// Message is the evaluation error.
	Message string
}

// side is what a decision needs about its principal, action or resource.
type side struct {
	view view
	// cands are the targeted-scope policies the entity satisfies; byType
	// and all complete the candidates of the dimension.
	cands, byType, all []entry
	// held are, for a principal that holds grants, the lists of
	// candidates they bring, whether or not they hold at the decision
	// instant, and nheld how many; once the resource is known, only the
	// parts its scope can match (see heldFor). holds is set when the
	// principal holds grants at all; merged once view has the targets of
	// those that hold at the instant (see mergeHeld).
	held          [][]heldEntry
	nheld         int
	holds, merged bool
}

func (s *side) size() int { return len(s.cands) + len(s.byType) + len(s.all) + s.nheld }

// state is the scratch space of one decision, pooled so that a decision
// allocates little beyond what cedar-go itself needs.
type state struct {
	snap  *Snapshot
	idx   []int32
	extra []entry
	tanc  []int32
	// cond are the candidates cedar-go evaluates (those with conditions);
	// match collects the policies that matched.
	cond, match []int32
	// seen and stack serve the ancestor search of request entities.
	seen  []bool
	stack []int32
	// ents holds the request entities as layered, when layering changed
	// them (see layer).
	ents []types.Entity
	// unknown has bit d set when the request's entity of dimension d is
	// neither a bundle nor a request entity.
	unknown uint8
	// now is the decision instant in Unix nanoseconds.
	now int64
	// heldKnown is set when the grants the principal holds are those of
	// its held candidates (sides[principalDim].held): false when its
	// ancestry comes from request entities, which Decide then searches
	// (see templateReasons). held are the grants it holds at now, listed
	// once needed (heldRows); hits the held candidates selection took,
	// with their grants, when it scanned the principal's (principalBest).
	// principal is the request's principal's index in the bundle, or
	// -1 when it is not a bundle entity whose view the bundle gives.
	principal     int32
	heldKnown     bool
	heldDone      bool
	held          []int32
	hits          []hit
	principalBest bool
	// held are the principal's lists of held candidates and targets;
	// rows, dyn and merged are scratch.
	heldLists      heldScratch
	ranges         [][]heldEntry
	rows, dyn, tmp []int32
	get            getter
	seq            iter.Seq2[cedar.PolicyID, *cedar.Policy]
}

// hit is a held candidate selection took: policy p, through grant row.
type hit struct{ p, row int32 }

// All implements cedar.PolicyIterator over the candidates with
// conditions.
func (st *state) All() iter.Seq2[cedar.PolicyID, *cedar.Policy] { return st.seq }

var statePool = sync.Pool{New: func() any {
	st := &state{}
	st.seq = func(yield func(cedar.PolicyID, *cedar.Policy) bool) {
		for _, i := range st.cond {
			p := &st.snap.policies[i]
			if !yield(p.id, p.eval) {
				return
			}
		}
	}
	return st
}}

// getter serves entities to cedar-go, as written: request entities first,
// then bundle entities, with the parents that hold at the decision
// instant.
type getter struct {
	snap *Snapshot
	// reqs are the request's entities, as the request wrote them; byUID
	// indexes them when there are more than a linear search suits.
	reqs  []types.Entity
	byUID map[types.EntityUID]int32
	// slow is set when a request entity is an ancestor of a bundle
	// entity: the bundle's precomputed views do not hold for this request.
	slow bool
	// bundleGraph is set when request entities cannot change the parents
	// of bundle entities (every mode but Replace): a bundle entity keeps
	// its precomputed view even when a request entity adds attributes.
	bundleGraph bool
	// hot are the request's principal, action and resource when they are
	// bundle entities (-1 otherwise): conditions read their attributes,
	// and comparing a uid is cheaper than a lookup in the table of every
	// entity (a cache miss or several in a large bundle).
	hot [dims]int32
	// now is the decision instant, which grants are judged at.
	now int64
	// memo keeps the bundle entities cedar-go has read in this decision:
	// a condition reads the principal's attributes one by one, and each
	// read would otherwise build the entity's set of parents again.
	memo  [4]memoEntity
	nmemo int
}

// memoEntity is a bundle entity (index i) as cedar-go got it.
type memoEntity struct {
	i int32
	e types.Entity
}

// Get implements types.EntityGetter.
func (g *getter) Get(uid types.EntityUID) (types.Entity, bool) {
	if e := g.request(uid); e != nil {
		return *e, true
	}
	s := g.snap
	i := int32(-1)
	for _, h := range g.hot {
		if h >= 0 && s.ents.id(h) == string(uid.ID) && s.ents.typeNames[s.ents.typeOf[h]] == uid.Type {
			i = h
			break
		}
	}
	if i < 0 {
		var ok bool
		if i, ok = s.ents.lookup(uid); !ok {
			return types.Entity{}, false
		}
	}
	for k := range g.nmemo {
		if g.memo[k].i == i {
			return g.memo[k].e, true
		}
	}
	e := s.entity(i, g.now)
	if g.nmemo < len(g.memo) {
		g.memo[g.nmemo] = memoEntity{i, e}
		g.nmemo++
	}
	return e, true
}

// linearEntities is how many request entities are searched linearly
// rather than through a map.
const linearEntities = 8

// request returns the request entity uid, or nil.
func (g *getter) request(uid types.EntityUID) *types.Entity {
	if i := g.find(uid); i >= 0 {
		return &g.reqs[i]
	}
	return nil
}

// find returns the index of request entity uid, or -1.
func (g *getter) find(uid types.EntityUID) int32 {
	if len(g.reqs) > linearEntities {
		if i, ok := g.byUID[uid]; ok {
			return i
		}
		return -1
	}
	for i := range g.reqs {
		if g.reqs[i].UID == uid {
			return int32(i)
		}
	}
	return -1
}

// Decide decides req. It evaluates only the candidate policies: those
// whose scope the request's principal, action and resource satisfy and
// whose validity window contains the decision instant.
func (s *Snapshot) Decide(req *Request) Decision {
	st := s.acquire()
	defer st.release()
	st.selectCandidates(req)

	// A candidate without conditions is satisfied: its scope matched, and
	// a scope cannot fail to evaluate. Only the others go to cedar-go, and
	// a decision whose candidates are all plain (most RBAC decisions)
	// never calls it, saving its fixed cost (eight allocations).
	st.cond, st.match = st.cond[:0], st.match[:0]
	forbidden := false
	for _, i := range st.idx {
		if p := &s.policies[i]; p.plain {
			st.match = append(st.match, i)
			forbidden = forbidden || p.forbid
		} else {
			st.cond = append(st.cond, i)
		}
	}
	var out Decision
	cedarAllow := false
	if len(st.cond) > 0 {
		d, diag := cedar.Authorize(st, &st.get, cedar.Request{
			Principal: req.Principal, Action: req.Action, Resource: req.Resource, Context: req.Context,
		})
		// Cedar reports the forbids that matched when it denies, else the
		// permits: exactly one effect, and every reason is a candidate.
		cedarAllow = d == cedar.Allow
		for _, r := range diag.Reasons {
			st.match = append(st.match, st.condIndex(r.PolicyID))
		}
		forbidden = forbidden || (!cedarAllow && len(diag.Reasons) > 0)
		for _, e := range diag.Errors {
			i := st.condIndex(e.PolicyID)
			if !s.policies[i].template {
				out.Errors = append(out.Errors, EvalError{PolicyID: string(e.PolicyID), Message: e.Message})
				continue
			}
			for _, r := range st.templateReasons(i, req.Principal, nil) {
				out.Errors = append(out.Errors, EvalError{PolicyID: r.ID, Message: e.Message})
			}
		}
		slices.SortFunc(out.Errors, func(a, b EvalError) int { return strings.Compare(a.PolicyID, b.PolicyID) })
		// A grant reached twice is one policy that failed.
		out.Errors = slices.CompactFunc(out.Errors, func(a, b EvalError) bool { return a.PolicyID == b.PolicyID })
	}
	// The determining policies: the forbids that matched if any did,
	// otherwise the permits, in policy (id) order.
	n := 0
	for _, i := range st.match {
		if s.policies[i].forbid == forbidden {
			st.match[n] = i
			n++
		}
	}
	reasons := sortUnique(st.match[:n])
	out.Allow = !forbidden && len(reasons) > 0
	out.UnknownPrincipal = st.unknown&(1<<principalDim) != 0
	out.UnknownResource = st.unknown&(1<<resourceDim) != 0
	if len(reasons) > 0 {
		out.Reasons = make([]Reason, 0, len(reasons))
		templated := false
		for _, i := range reasons {
			p := &s.policies[i]
			if !p.template {
				out.Reasons = append(out.Reasons, Reason{ID: string(p.id), Source: p.source})
				continue
			}
			templated = true
			out.Reasons = st.templateReasons(i, req.Principal, out.Reasons)
		}
		if templated {
			// Grants' ids sort among the policies' as the policies of
			// grants would; a grant reached twice is one reason.
			slices.SortFunc(out.Reasons, func(a, b Reason) int { return strings.Compare(a.ID, b.ID) })
			out.Reasons = slices.CompactFunc(out.Reasons, func(a, b Reason) bool { return a.ID == b.ID })
		}
	}
	return out
}

// Candidates returns how many policies Decide evaluates for req: those
// whose scope can match it and whose validity window holds at its
// instant. Benchmarks use it to show that a decision does not scan every
// policy; Decide does not call it.
func (s *Snapshot) Candidates(req *Request) int {
	st := s.acquire()
	defer st.release()
	st.selectCandidates(req)
	return len(st.idx)
}

// acquire takes a pooled decision state for s.
func (s *Snapshot) acquire() *state {
	st := statePool.Get().(*state)
	st.snap = s
	// Field by field: the getter is large (its memo), and release left
	// it empty.
	g := &st.get
	g.snap, g.hot = s, [dims]int32{-1, -1, -1}
	st.extra = st.extra[:0]
	st.tanc = st.tanc[:0]
	st.held, st.hits, st.heldLists.lists = st.held[:0], st.hits[:0], st.heldLists.lists[:0]
	st.heldKnown, st.heldDone, st.principalBest, st.principal = false, false, false, -1
	return st
}

// condIndex returns the policy index of id, one of the policies handed to
// cedar-go. They are few: searching them beats hashing id.
func (st *state) condIndex(id cedar.PolicyID) int32 {
	for _, i := range st.cond {
		if st.snap.policies[i].id == id {
			return i
		}
	}
	return st.snap.byID[id]
}

// release returns st to the pool, dropping what it references.
func (st *state) release() {
	g := &st.get
	clear(g.byUID)
	clear(st.ents)
	st.ents = st.ents[:0]
	// What the getter references is dropped, so that a pooled state
	// keeps no bundle alive.
	clear(g.memo[:g.nmemo])
	g.snap, g.reqs, g.slow, g.bundleGraph, g.nmemo = nil, nil, false, false, 0
	st.snap = nil
	statePool.Put(st)
}

// selectCandidates puts the candidate policies of req into st.idx, in
// policy order, after installing req's request-scoped entities.
func (st *state) selectCandidates(req *Request) {
	s := st.snap
	now := req.Time
	if now.IsZero() {
		now = time.Now()
	}
	st.now = unixNanos(now)
	st.get.now = st.now

	if len(req.Entities) > 0 {
		st.layer(req.Entities, req.EntityMode)
	}
	var sides [dims]side
	st.unknown = 0
	for d, uid := range [dims]types.EntityUID{req.Principal, req.Action, req.Resource} {
		sides[d] = st.side(dim(d), uid)
	}
	mask := requestBits(&sides[actionDim].view, s.actionBit)
	if p := &sides[principalDim]; p.holds {
		st.ranges, p.nheld = s.heldFor(p.held, st.heldLists.dirs, &sides[resourceDim].view, st.ranges[:0])
		p.held = st.ranges
	}
	// Enumerate the dimension with the fewest candidates; test the action
	// bits, the validity window and the other two dimensions' scopes on
	// each.
	best := principalDim
	for d := actionDim; d < dims; d++ {
		if sides[d].size() < sides[best].size() {
			best = d
		}
	}
	st.idx = st.idx[:0]
	if best != principalDim {
		// The principal's scope is tested on its view, which must hold
		// the targets of the grants it holds.
		st.mergeHeld(&sides[principalDim])
	}
	b := &sides[best]
	for _, list := range [3][]entry{b.cands, b.byType, b.all} {
		for _, e := range list {
			st.consider(e, mask, best, &sides)
		}
	}
	if best == principalDim {
		st.principalBest = true
		for _, list := range b.held {
			for k := range list {
				h := &list[k]
				if !h.active(st.now) || h.e.bits()&mask == 0 {
					continue
				}
				if !h.direct {
					st.mergeHeld(b)
					if !s.filters[h.e.p()].scopes[principalDim].matches(&b.view, s.sets) {
						continue
					}
				}
				// Holding the grant satisfies the principal scope.
				if st.consider(h.e, mask, principalDim, &sides) {
					st.hits = append(st.hits, hit{h.e.p(), h.row})
				}
			}
		}
	}
	// Sorting the candidates (and dropping a policy listed under two of an
	// entity's targets) gives cedar-go the policies in id order, which
	// makes the order of reasons and errors deterministic.
	st.idx = sortUnique(st.idx)
}

// consider adds candidate e of dimension best to st.idx when its action
// bits meet mask, its window holds and the other dimensions' scopes
// match, and reports whether it did.
func (st *state) consider(e entry, mask uint32, best dim, sides *[dims]side) bool {
	s := st.snap
	if e.bits()&mask == 0 {
		return false
	}
	f := &s.filters[e.p()]
	if s.windowed && !f.active(st.now) {
		return false
	}
	for d := range dims {
		if d != best && !f.scopes[d].matches(&sides[d].view, s.sets) {
			return false
		}
	}
	st.idx = append(st.idx, e.p())
	return true
}

// side resolves one of the request's entities: its targeted ancestors and
// candidate policies, from the bundle when it is a bundle entity whose
// parents the request does not replace, computed otherwise.
func (st *state) side(d dim, uid types.EntityUID) side {
	s := st.snap
	idx := &s.index[d]
	sd := side{all: idx.all}
	ri := st.get.find(uid)
	n, inBundle := s.ents.lookup(uid)
	precomputed := false
	switch {
	case st.get.slow && (ri >= 0 || inBundle):
		sd.view, st.tanc = s.viewOf(uid, searchAncestors(uid, st.parentsOf), st.tanc)
	case inBundle && (ri < 0 || st.get.bundleGraph):
		// A request entity merged into this one (MergeAttributes) kept
		// its parents: the precomputed view holds, and Get serves the
		// merged entity before the hot one.
		sd.view, sd.cands = s.staticView(n), s.candsOf(n, d)
		st.get.hot[d] = n
		precomputed = true
		if d == principalDim {
			st.heldKnown, st.principal = true, n
		}
		switch {
		case s.flags[n]&flagRows == 0:
		case d == principalDim:
			// The candidates the principal's grants bring, from its
			// parents' lists, scanned in place.
			s.heldLists(n, &st.heldLists)
			sd.held, sd.holds = st.heldLists.lists, true
		default:
			st.rows = s.rowsOf(n, st.now, false, st.rows[:0])
			st.addHeld(d, &sd, st.rows)
		}
	case ri >= 0:
		sd.view = st.requestView(ri)
	default:
		// Neither in the request nor in the bundle: no ancestors.
		sd.view, st.tanc = s.viewOf(uid, types.EntityUIDSet{}, st.tanc)
		st.unknown |= 1 << d
		if d == principalDim {
			st.heldKnown = true
		}
	}
	if sd.view.typ >= 0 {
		sd.byType = idx.byType[sd.view.typ]
	}
	if !precomputed {
		start := len(st.extra)
		st.extra = s.gather(d, &sd.view, st.extra)
		sd.cands = st.extra[start:]
	}
	return sd
}

// addHeld adds to sd, the precomputed side of a bundle entity, what the
// grants rows (held at the decision instant) add: the targets they lead
// to, in its view, and the policies of those targets, to its candidates.
// Principals, which hold most grants, take the faster way of held
// candidates (heldCands).
func (st *state) addHeld(d dim, sd *side, rows []int32) {
	s := st.snap
	dyn := st.merge(sd, rows)
	if len(dyn) == 0 {
		return
	}
	start := len(st.extra)
	st.extra = append(st.extra, sd.cands...)
	st.extra = s.gatherTargets(d, &sd.view, dyn, st.extra)
	sd.cands = st.extra[start:]
}

// mergeHeld gives the principal's side, once, the targets of the grants
// it holds in its view.
func (st *state) mergeHeld(sd *side) {
	if !sd.holds || sd.merged {
		return
	}
	sd.merged = true
	// The lists are sorted by target: merged into the view one after
	// the other, in a pass each.
	cur := sd.view.tanc
	for _, list := range st.heldLists.tlists {
		out := st.tmp[:0]
		k := 0
		for _, ht := range list {
			if !(ht.notBefore <= st.now && st.now < ht.notAfter) {
				continue
			}
			for k < len(cur) && cur[k] < ht.t {
				out = append(out, cur[k])
				k++
			}
			if k < len(cur) && cur[k] == ht.t || len(out) > 0 && out[len(out)-1] == ht.t {
				continue
			}
			out = append(out, ht.t)
		}
		out = append(out, cur[k:]...)
		// The next pass writes into what cur was; the view keeps a copy.
		st.tmp, st.dyn = st.dyn[:0], out
		cur = out
	}
	start := len(st.tanc)
	st.tanc = append(st.tanc, cur...)
	sd.view.tanc = slices.Clip(st.tanc[start:])
}

// heldRows returns the grants the principal holds at the decision
// instant.
func (st *state) heldRows() []int32 {
	if st.heldDone {
		return st.held
	}
	st.heldDone = true
	for _, list := range st.heldLists.lists {
		prev := int32(-1)
		for k := range list {
			// A grant's candidates are filed by their resource, so a
			// grant appears in several places; the grants are sorted
			// and each listed once below.
			if r := list[k].row; r != prev && list[k].active(st.now) {
				st.held = append(st.held, r)
				prev = r
			}
		}
	}
	st.held = sortUnique(st.held)
	return st.held
}

// merge adds to sd's view the targets that rows lead to, and returns
// those its view did not have.
func (st *state) merge(sd *side, rows []int32) []int32 {
	s := st.snap
	dyn := st.dyn[:0]
	for _, r := range rows {
		dyn = append(dyn, s.staticView(s.grants.rows[r].parent).tanc...)
	}
	dyn = sortUnique(dyn)
	// Only the targets the bundle's own edges do not reach already.
	k := 0
	for _, t := range dyn {
		if !contains(sd.view.tanc, t) {
			dyn[k] = t
			k++
		}
	}
	dyn = dyn[:k]
	st.dyn = dyn
	if len(dyn) == 0 {
		return nil
	}
	start := len(st.tanc)
	st.tanc = append(append(st.tanc, sd.view.tanc...), dyn...)
	slices.Sort(st.tanc[start:])
	sd.view.tanc = slices.Clip(st.tanc[start:])
	return dyn
}

// parentsOf returns an entity's parents as they hold at the decision
// instant, request entities first; it serves the ancestor search of the
// slow path.
func (st *state) parentsOf(uid types.EntityUID) (types.EntityUIDSet, bool) {
	if e := st.get.request(uid); e != nil {
		return e.Parents, true
	}
	if i, ok := st.snap.ents.lookup(uid); ok {
		return st.snap.entity(i, st.now).Parents, true
	}
	return types.EntityUIDSet{}, false
}

// requestView describes request entity e to scopes: its targeted
// ancestors are found by a search over request entities that stops at
// bundle entities, whose precomputed views (and the grants they hold)
// hold their own.
func (st *state) requestView(ri int32) view {
	e := &st.get.reqs[ri]
	s := st.snap
	g := &st.get
	v := s.baseView(e.UID)
	if cap(st.seen) < len(g.reqs) {
		st.seen = make([]bool, len(g.reqs))
	}
	seen := st.seen[:len(g.reqs)]
	clear(seen)
	start := len(st.tanc)
	buf := st.tanc
	if v.self >= 0 {
		buf = append(buf, v.self)
	}
	stack := append(st.stack[:0], ri)
	seen[ri] = true
	for len(stack) > 0 {
		cur := &g.reqs[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		for p := range cur.Parents.All() {
			if i := g.find(p); i >= 0 {
				if !seen[i] {
					seen[i] = true
					stack = append(stack, i)
					if id, ok := s.targets[p]; ok {
						buf = append(buf, id)
					}
				}
				continue
			}
			if n, ok := s.ents.find(p); ok {
				buf = append(buf, s.staticView(n).tanc...)
				if s.ents.defined[n] && s.flags[n]&flagRows != 0 {
					st.rows = s.rowsOf(n, st.now, false, st.rows[:0])
					for _, r := range st.rows {
						buf = append(buf, s.staticView(s.grants.rows[r].parent).tanc...)
					}
				}
			} else if id, ok := s.targets[p]; ok {
				buf = append(buf, id)
			}
		}
	}
	st.stack = stack
	slices.Sort(buf[start:])
	buf = buf[:start+len(slices.Compact(buf[start:]))]
	if len(buf) > start {
		v.tanc = slices.Clip(buf[start:])
	}
	st.tanc = buf
	return v
}

// templateReasons appends to dst the reasons template i gives, which the
// request's principal satisfied: one per grant, held at the decision
// instant, that makes the principal a member of the template's parent,
// named by the grant's id and the template's suffix, at the grant's
// source; and the template itself when the principal reaches the parent
// by an edge no grant makes (one a request entity asserts, say).
func (st *state) templateReasons(i int32, principal types.EntityUID, dst []Reason) []Reason {
	s := st.snap
	p := &s.policies[i]
	g := &s.grants
	start := len(dst)
	plain := false
	if st.heldKnown {
		if st.principalBest {
			// The held candidates selection took name their grants.
			for _, h := range st.hits {
				if h.p == i {
					dst = append(dst, Reason{ID: s.reasonID(h.row, i), Source: g.source(h.row)})
				}
			}
		} else {
			for _, r := range st.heldRows() {
				if g.rows[r].parent == p.parent {
					dst = append(dst, Reason{ID: s.reasonID(r, i), Source: g.source(r)})
				}
			}
		}
		target := s.filters[i].scopes[principalDim].id
		if st.principal >= 0 {
			plain = contains(s.staticView(st.principal).tanc, target)
		} else {
			plain = s.baseView(principal).self == target
		}
	} else {
		dst, plain = st.searchReasons(i, principal, dst)
	}
	if plain || len(dst) == start {
		dst = append(dst, Reason{ID: string(p.id), Source: p.source})
	}
	return dst
}

// searchReasons finds the grants through which principal, whose
// ancestry request entities shape, is a member of template p's parent,
// by a search of the graph as the decision sees it; plain is set when an
// edge no grant makes leads there.
func (st *state) searchReasons(i int32, principal types.EntityUID, dst []Reason) ([]Reason, bool) {
	s := st.snap
	p := &s.policies[i]
	g := &s.grants
	if p.parent < 0 {
		return dst, true
	}
	parent := s.ents.uid(p.parent)
	if principal == parent {
		return dst, true
	}
	plain := false
	seen := map[types.EntityUID]bool{principal: true}
	queue := []types.EntityUID{principal}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		ps, _ := st.parentsOf(x)
		for q := range ps.All() {
			if q == parent {
				found := false
				if xi, ok := s.ents.lookup(x); ok {
					for _, r := range g.own(xi) {
						if g.rows[r].parent == p.parent && g.rows[r].active(st.now) {
							dst = append(dst, Reason{ID: s.reasonID(r, i), Source: g.source(r)})
							found = true
						}
					}
				}
				plain = plain || !found
			}
			if !seen[q] {
				seen[q] = true
				queue = append(queue, q)
			}
		}
	}
	return dst, plain
}
