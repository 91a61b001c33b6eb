package engine

import (
	"iter"
	"slices"
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
}

func (s *side) size() int { return len(s.cands) + len(s.byType) + len(s.all) }

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
	get     getter
	seq     iter.Seq2[cedar.PolicyID, *cedar.Policy]
}

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
// then bundle entities.
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
	// bundle entities: conditions read their attributes, and comparing a
	// uid is cheaper than a lookup in a map of every entity (a cache miss
	// or several in a large bundle).
	hot [dims]*node
}

// Get implements types.EntityGetter.
func (g *getter) Get(uid types.EntityUID) (types.Entity, bool) {
	if e := g.request(uid); e != nil {
		return *e, true
	}
	var n *node
	for _, h := range g.hot {
		if h != nil && h.entity.UID == uid {
			n = h
			break
		}
	}
	if n == nil {
		var ok bool
		if n, ok = g.snap.nodes[uid]; !ok {
			return types.Entity{}, false
		}
	}
	return n.entity, true
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
		if len(diag.Errors) > 0 {
			out.Errors = make([]EvalError, len(diag.Errors))
			for i, e := range diag.Errors {
				out.Errors[i] = EvalError{PolicyID: string(e.PolicyID), Message: e.Message}
			}
		}
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
		out.Reasons = make([]Reason, len(reasons))
		for k, i := range reasons {
			out.Reasons[k] = Reason{ID: string(s.policies[i].id), Source: s.policies[i].source}
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
	st.get = getter{snap: s, byUID: st.get.byUID}
	st.extra = st.extra[:0]
	st.tanc = st.tanc[:0]
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
	clear(st.get.byUID)
	clear(st.ents)
	st.ents = st.ents[:0]
	st.snap, st.get = nil, getter{byUID: st.get.byUID}
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
	nowNs := unixNanos(now)

	if len(req.Entities) > 0 {
		st.layer(req.Entities, req.EntityMode)
	}
	var sides [dims]side
	st.unknown = 0
	for d, uid := range [dims]types.EntityUID{req.Principal, req.Action, req.Resource} {
		sides[d] = st.side(dim(d), uid)
	}
	mask := requestBits(&sides[actionDim].view, s.actionBit)
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
	b := &sides[best]
	for _, list := range [3][]entry{b.cands, b.byType, b.all} {
	next:
		for _, e := range list {
			if e.bits()&mask == 0 {
				continue
			}
			f := &s.filters[e.p()]
			if s.windowed && !f.active(nowNs) {
				continue
			}
			for d := range dims {
				if d != best && !f.scopes[d].matches(&sides[d].view, s.sets) {
					continue next
				}
			}
			st.idx = append(st.idx, e.p())
		}
	}
	// Sorting the candidates (and dropping a policy listed under two of an
	// entity's targets) gives cedar-go the policies in id order, which
	// makes the order of reasons and errors deterministic.
	st.idx = sortUnique(st.idx)
}

// side resolves one of the request's entities: its targeted ancestors and
// candidate policies, from the bundle when it is a bundle entity whose
// parents the request does not replace, computed otherwise.
func (st *state) side(d dim, uid types.EntityUID) side {
	s := st.snap
	idx := &s.index[d]
	sd := side{all: idx.all}
	ri := st.get.find(uid)
	n, inBundle := s.nodes[uid]
	precomputed := false
	switch {
	case st.get.slow && (ri >= 0 || inBundle):
		sd.view, st.tanc = s.viewOf(uid, searchAncestors(uid, st.parentsOf), st.tanc)
	case inBundle && (ri < 0 || st.get.bundleGraph):
		// A request entity merged into this one (MergeAttributes) kept
		// its parents: the precomputed view holds, and Get serves the
		// merged entity before the hot one.
		sd.view, sd.cands = n.view, n.cands[d]
		st.get.hot[d] = n
		precomputed = true
	case ri >= 0:
		sd.view = st.requestView(ri)
	default:
		// Neither in the request nor in the bundle: no ancestors.
		sd.view, st.tanc = s.viewOf(uid, types.EntityUIDSet{}, st.tanc)
		st.unknown |= 1 << d
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

// parentsOf returns an entity's parents as written, request entities
// first; it serves the ancestor search of the slow path.
func (st *state) parentsOf(uid types.EntityUID) (types.EntityUIDSet, bool) {
	if e := st.get.request(uid); e != nil {
		return e.Parents, true
	}
	if n, ok := st.snap.nodes[uid]; ok {
		return n.entity.Parents, true
	}
	return types.EntityUIDSet{}, false
}

// requestView describes request entity e to scopes: its targeted
// ancestors are found by a search over request entities that stops at
// bundle entities, whose precomputed views hold their own.
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
			if n, ok := s.nodes[p]; ok {
				buf = append(buf, n.view.tanc...)
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
