package engine

import (
	"iter"
	"sync"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
)

// Request is one authorization request.
type Request struct {
	Principal, Action, Resource types.EntityUID
	Context                     types.Record
	// Entities are request-scoped: for this request only, they replace
	// bundle entities with the same uid and add the others. Their uids must
	// be distinct (the wire layer checks).
	Entities []types.Entity
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
}

// Reason is a determining policy.
type Reason struct {
	ID     string
	Source string
}

// EvalError is a policy that failed to evaluate for the request.
type EvalError struct {
	PolicyID string
	Message  string
}

// side is what a decision needs about its principal, action or resource.
type side struct {
	uid types.EntityUID
	anc types.EntityUIDSet
	// cands are the targeted-scope policies uid satisfies; byType and all
	// complete the candidates of the dimension.
	cands, byType, all []int32
}

func (s *side) size() int { return len(s.cands) + len(s.byType) + len(s.all) }

// state is the scratch space of one decision, pooled so that a decision
// allocates little beyond what cedar-go itself needs.
type state struct {
	snap  *Snapshot
	idx   []int32
	extra []int32
	get   getter
	seq   iter.Seq2[cedar.PolicyID, *cedar.Policy]
}

// All implements cedar.PolicyIterator over the candidate policies.
func (st *state) All() iter.Seq2[cedar.PolicyID, *cedar.Policy] { return st.seq }

var statePool = sync.Pool{New: func() any {
	st := &state{}
	st.seq = func(yield func(cedar.PolicyID, *cedar.Policy) bool) {
		for _, i := range st.idx {
			p := &st.snap.policies[i]
			if !yield(p.id, p.parsed) {
				return
			}
		}
	}
	return st
}}

// getter serves entities to cedar-go: request entities first, then bundle
// entities, with ancestors as parents unless slow is set.
type getter struct {
	snap *Snapshot
	req  map[types.EntityUID]*types.Entity
	slow bool
}

// Get implements types.EntityGetter.
func (g *getter) Get(uid types.EntityUID) (types.Entity, bool) {
	if g.req != nil {
		if e, ok := g.req[uid]; ok {
			return *e, true
		}
	}
	n, ok := g.snap.nodes[uid]
	if !ok {
		return types.Entity{}, false
	}
	if g.slow {
		e := n.entity
		e.Parents = n.parents
		return e, true
	}
	return n.entity, true
}

// Decide decides req. It evaluates only the candidate policies: those
// whose scope the request's principal, action and resource satisfy and
// whose validity window contains the decision instant.
func (s *Snapshot) Decide(req *Request) Decision {
	st := s.acquire()
	defer st.release()
	st.selectCandidates(req)

	d, diag := cedar.Authorize(st, &st.get, cedar.Request{
		Principal: req.Principal, Action: req.Action, Resource: req.Resource, Context: req.Context,
	})
	out := Decision{Allow: d == cedar.Allow}
	if len(diag.Reasons) > 0 {
		out.Reasons = make([]Reason, len(diag.Reasons))
		for i, r := range diag.Reasons {
			out.Reasons[i] = Reason{ID: string(r.PolicyID), Source: s.policies[s.byID[r.PolicyID]].source}
		}
	}
	if len(diag.Errors) > 0 {
		out.Errors = make([]EvalError, len(diag.Errors))
		for i, e := range diag.Errors {
			out.Errors[i] = EvalError{PolicyID: string(e.PolicyID), Message: e.Message}
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
	st.get = getter{snap: s}
	st.extra = st.extra[:0]
	return st
}

// release returns st to the pool, dropping what it references.
func (st *state) release() {
	st.snap, st.get = nil, getter{}
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
	nowNs := now.UnixNano()

	if len(req.Entities) > 0 {
		st.layer(req.Entities)
	}
	var sides [dims]side
	for d, uid := range [dims]types.EntityUID{req.Principal, req.Action, req.Resource} {
		sides[d] = st.side(dim(d), uid)
	}
	// Enumerate the dimension with the fewest candidates; test the other
	// two dimensions' scopes and the validity window on each.
	best := principalDim
	for d := actionDim; d < dims; d++ {
		if sides[d].size() < sides[best].size() {
			best = d
		}
	}
	st.idx = st.idx[:0]
	b := &sides[best]
	for _, list := range [3][]int32{b.cands, b.byType, b.all} {
		for _, i := range list {
			p := &s.policies[i]
			if s.windowed && !p.active(nowNs) {
				continue
			}
			ok := true
			for d := range dims {
				if d != best && !p.scopes[d].matches(sides[d].uid, sides[d].anc) {
					ok = false
					break
				}
			}
			if ok {
				st.idx = append(st.idx, i)
			}
		}
	}
	// The three lists are each sorted and hold different policies; sorting
	// the union gives cedar-go the policies in id order, which makes the
	// order of reasons and errors deterministic.
	sortUnique(st.idx)
}

// side resolves one of the request's entities: its ancestors and
// candidate policies, from the bundle when it is a bundle entity the
// request does not replace, computed otherwise.
func (st *state) side(d dim, uid types.EntityUID) side {
	s := st.snap
	sd := side{uid: uid, all: s.index[d].all, byType: s.index[d].byType[uid.Type]}
	re, inReq := st.get.req[uid]
	n, inBundle := s.nodes[uid]
	switch {
	case st.get.slow && (inReq || inBundle):
		sd.anc = searchAncestors(uid, st.parentsOf)
	case inReq:
		sd.anc = re.Parents // layer computed the closure
	case inBundle:
		sd.anc, sd.cands = n.entity.Parents, n.cands[d]
		return sd
	}
	start := len(st.extra)
	st.extra = s.gather(d, uid, sd.anc, st.extra)
	sd.cands = st.extra[start:]
	return sd
}

// parentsOf returns an entity's parents as written, request entities
// first; it serves the ancestor search of the slow path.
func (st *state) parentsOf(uid types.EntityUID) (types.EntityUIDSet, bool) {
	if e, ok := st.get.req[uid]; ok {
		return e.Parents, true
	}
	if n, ok := st.snap.nodes[uid]; ok {
		return n.parents, true
	}
	return types.EntityUIDSet{}, false
}

// layer installs request-scoped entities. When none of them is an ancestor
// of a bundle entity, bundle closures stay valid and the request entities
// get closures of their own. Otherwise the request changes the ancestry of
// bundle entities and the decision takes the slow path: parents as
// written, ancestors searched per request.
func (st *state) layer(entities []types.Entity) {
	s := st.snap
	st.get.req = make(map[types.EntityUID]*types.Entity, len(entities))
	for i := range entities {
		e := &entities[i]
		st.get.req[e.UID] = e
		if _, ok := s.ancestors[e.UID]; ok {
			st.get.slow = true
		}
	}
	if st.get.slow {
		return
	}
	// Give each request entity its ancestors: its parents, their bundle
	// closures, and the ancestors of parents that are request entities.
	withClosure := make(map[types.EntityUID]*types.Entity, len(entities))
	for uid, e := range st.get.req {
		c := *e
		c.Parents = searchAncestors(uid, func(u types.EntityUID) (types.EntityUIDSet, bool) {
			if re, ok := st.get.req[u]; ok {
				return re.Parents, true
			}
			if n, ok := s.nodes[u]; ok {
				// The bundle closure is complete: return it as the
				// parents and the search adds nothing beyond it.
				return n.entity.Parents, true
			}
			return types.EntityUIDSet{}, false
		})
		withClosure[uid] = &c
	}
	st.get.req = withClosure
}
