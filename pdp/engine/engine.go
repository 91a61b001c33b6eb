// Package engine decides Cedar authorization requests against one bundle.
//
// A [Snapshot] is built once per bundle, off the request path, and is
// immutable afterwards, so any number of requests can use it concurrently
// without locks. Building it parses the policies, computes every entity's
// ancestors (the transitive closure of its parents) and indexes the
// policies by their scope, so a decision evaluates only the policies whose
// scope can match the request, whatever the bundle's size.
//
// Selection works on interned ids: every entity a scope names gets a small
// integer id, each bundle entity knows the ids among itself and its
// ancestors and the policies its scopes can match, and each policy's
// scopes and validity window are packed into one cache line. A decision
// scans the candidate list of its principal, action or resource
// (whichever is shortest), drops policies of other actions by a bit mask,
// and tests the other scopes and the window by comparing integers.
//
// The candidates are decided with Cedar's semantics: those without
// conditions are satisfied once their scope matches, and the others go to
// cedar-go through its policy iterator, with their scope removed since it
// has already been matched. Time-bound policies (expiring grants) are
// skipped outside their validity window at the decision instant, with no
// rebuild. Cedar's integration corpus runs against all of this (see
// corpus_test.go).
package engine

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/bundle"
)

// Snapshot is an immutable, compiled bundle ready to decide requests.
type Snapshot struct {
	ref      bundle.Ref
	manifest bundle.Manifest
	policies []policy
	// filters holds, by policy index, what candidate selection tests,
	// packed apart from the rest so that a scan touches one cache line per
	// policy.
	filters []filter
	// sets backs the targets of `in [...]` scopes.
	sets  []int32
	byID  map[cedar.PolicyID]int32
	nodes map[types.EntityUID]*node
	// targets and typeIDs intern the entities and types scopes name;
	// actionBit gives some action targets a bit (see actionBits).
	targets   map[types.EntityUID]int32
	typeIDs   map[types.EntityType]int32
	actionBit []uint32
	// phantoms are the parents that bundle entities name and the bundle
	// does not define (Cedar's `in` holds for them all the same): with
	// the nodes, the uids a request entity may shadow (see EntityMode).
	phantoms map[types.EntityUID]struct{}
	index    [dims]dimIndex
	// windowed is true when some policy is time-bound.
	windowed bool
	// spiffe maps a SPIFFE id to the entity whose spiffe_id attribute it
	// is, for front ends that know callers by workload identity.
	spiffe map[string]types.EntityUID
	// names turns interned ids back into entities and types, for
	// analysis only (see Policy); built on first use.
	names struct {
		once    sync.Once
		targets []types.EntityUID
		types   []types.EntityType
	}
}

// policy is a bundle policy ready to evaluate.
type policy struct {
	id     cedar.PolicyID
	source string
	// eval is the policy with its scope removed: `permit (principal,
	// action, resource) when {...}` with the original conditions. Decide
	// hands cedar-go only policies whose scope it has already matched,
	// exactly, so evaluating the scope again would only repeat entity
	// lookups (for `in`, one per ancestor when it fails). Effect,
	// annotations, conditions and thus errors are the original's.
	eval *cedar.Policy
	// plain is true when the policy has no when or unless clause: once
	// its scope matches, it is satisfied.
	plain  bool
	forbid bool
}

// node is a bundle entity, as written, with what selection needs.
type node struct {
	entity types.Entity
	view   view
	// mark is computeViews' visit state, used only while New runs.
	mark uint8
	// parent is true when the entity is a parent of another bundle
	// entity: a request entity that replaces it changes their ancestry,
	// so their precomputed views do not hold for that request.
	parent bool
	// cands lists, per dimension, the policies whose ==, in, in [...] or
	// is-in scope this entity satisfies (see gather).
	cands [dims][]entry
}

// New compiles b into a Snapshot. It fails if a policy does not parse or
// the entities are not valid Cedar JSON; a bundle that fails here must not
// be activated.
func New(b *bundle.Bundle) (*Snapshot, error) {
	s := &Snapshot{ref: b.Ref(), manifest: b.Manifest, byID: make(map[cedar.PolicyID]int32, len(b.Policies))}
	in := interner{targets: map[types.EntityUID]int32{}, types: map[types.EntityType]int32{}}
	s.policies = make([]policy, 0, len(b.Policies))
	s.filters = make([]filter, 0, len(b.Policies))
	for i, pp := range parsePolicies(b.Policies) {
		bp := &b.Policies[i]
		if pp.err != nil {
			return nil, pp.err
		}
		if _, dup := s.byID[cedar.PolicyID(bp.ID)]; dup {
			return nil, fmt.Errorf("policy %q appears twice", bp.ID)
		}
		f := filter{notBefore: math.MinInt64, notAfter: math.MaxInt64}
		if bp.NotBefore != nil {
			f.notBefore, s.windowed = unixNanos(*bp.NotBefore), true
		}
		if bp.NotAfter != nil {
			f.notAfter, s.windowed = unixNanos(*bp.NotAfter), true
		}
		a := pp.ast
		f.scopes = [dims]scope{in.scope(a.Principal), in.scope(a.Action), in.scope(a.Resource)}
		s.byID[cedar.PolicyID(bp.ID)] = int32(len(s.policies))
		s.policies = append(s.policies, policy{id: cedar.PolicyID(bp.ID), source: bp.Source, eval: pp.eval,
			plain: len(a.Conditions) == 0, forbid: a.Effect == expast.EffectForbid})
		s.filters = append(s.filters, f)
	}
	s.targets, s.typeIDs, s.sets = in.targets, in.types, in.sets
	s.actionBit = actionBits(s.filters, s.sets, len(s.targets))
	for d := range dims {
		s.index[d] = dimIndex{byType: make([][]entry, len(s.typeIDs)), byTarget: make([][]entry, len(s.targets))}
	}
	for i := range s.filters {
		f := &s.filters[i]
		e := newEntry(int32(i), entryBits(&f.scopes[actionDim], s.sets, s.actionBit))
		for d := range dims {
			s.index[d].add(e, &f.scopes[d], s.sets)
		}
	}

	entities, err := parseEntities(b.Entities)
	if err != nil {
		return nil, fmt.Errorf("entities: %w", err)
	}
	s.nodes = make(map[types.EntityUID]*node, len(entities))
	s.spiffe = map[string]types.EntityUID{}
	// Entities of one type share one type string: a lookup then compares
	// type bytes that are already in the cache, and misses on the id only.
	typeNames := map[types.EntityType]types.EntityType{}
	all := make([]*node, 0, len(entities))
	for _, e := range entities {
		uid := e.UID
		if _, dup := s.nodes[uid]; dup {
			return nil, fmt.Errorf("entities: duplicate entity %s", uid)
		}
		t, ok := typeNames[uid.Type]
		if !ok {
			t = uid.Type
			typeNames[t] = t
		}
		uid.Type, e.UID.Type = t, t
		n := &node{entity: e, view: s.baseView(uid)}
		s.nodes[uid] = n
		all = append(all, n)
		if id, ok := e.Attributes.Get("spiffe_id"); ok {
			if str, ok := id.(types.String); ok {
				// Which entity a caller is must not depend on map order: a
				// bundle where two entities claim one SPIFFE id is refused
				// (the compiler refuses to build one).
				if prev, dup := s.spiffe[string(str)]; dup {
					return nil, fmt.Errorf("entities: %s and %s both have spiffe_id %q", prev, uid, str)
				}
				s.spiffe[string(str)] = uid
			}
		}
	}
	s.phantoms = map[types.EntityUID]struct{}{}
	for _, n := range all {
		for p := range n.entity.Parents.All() {
			if pn, ok := s.nodes[p]; ok {
				pn.parent = true
			} else {
				s.phantoms[p] = struct{}{}
			}
		}
	}
	s.computeViews()
	parallel(len(all), func(lo, hi int) {
		var buf []entry
		for _, n := range all[lo:hi] {
			for d := range dims {
				if buf = s.gather(d, &n.view, buf[:0]); len(buf) > 0 {
					n.cands[d] = slices.Clone(buf)
				}
			}
		}
	})
	return s, nil
}

// baseView describes uid to scopes by itself: whether it is a target and
// its type's id (-1 for none), without targeted ancestors.
func (s *Snapshot) baseView(uid types.EntityUID) view {
	v := view{self: -1, typ: -1}
	if id, ok := s.targets[uid]; ok {
		v.self = id
	}
	if id, ok := s.typeIDs[uid.Type]; ok {
		v.typ = id
	}
	return v
}

// viewOf describes uid, whose ancestors are anc, to scopes. The view's
// targeted ancestors are appended to buf, which is returned.
func (s *Snapshot) viewOf(uid types.EntityUID, anc types.EntityUIDSet, buf []int32) (view, []int32) {
	v := s.baseView(uid)
	start := len(buf)
	if v.self >= 0 {
		buf = append(buf, v.self)
	}
	for a := range anc.All() {
		if id, ok := s.targets[a]; ok {
			buf = append(buf, id)
		}
	}
	slices.Sort(buf[start:])
	buf = buf[:start+len(slices.Compact(buf[start:]))]
	if len(buf) > start {
		// Clipped, so that appending to buf never writes into the view.
		v.tanc = slices.Clip(buf[start:])
	}
	return v, buf
}

// gather appends to dst the policies of dimension d whose targeted scope
// (==, in, in [...], is-in) the entity v describes satisfies. They are
// grouped by target, not sorted, and a policy naming several of v's
// targets (in [...]) appears once per target: selection sorts and
// deduplicates the few candidates that survive, which is far cheaper than
// sorting every entity's list when a bundle loads.
func (s *Snapshot) gather(d dim, v *view, dst []entry) []entry {
	idx := &s.index[d]
	for _, t := range v.tanc {
		for _, e := range idx.byTarget[t] {
			if s.filters[e.p()].scopes[d].matches(v, s.sets) {
				dst = append(dst, e)
			}
		}
	}
	return dst
}

// Ref returns the revision, digest and environment of the snapshot's
// bundle.
func (s *Snapshot) Ref() bundle.Ref { return s.ref }

// Manifest returns the snapshot's bundle manifest.
func (s *Snapshot) Manifest() bundle.Manifest { return s.manifest }

// unixNanos is t.UnixNano clamped to the int64 range, where UnixNano
// would wrap: a window bound in the year 1000 must stay in the past, one in
// 3000 in the future.
func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// BySPIFFEID returns the entity whose spiffe_id attribute is id (the
// ServiceAccount of a workload), if any.
func (s *Snapshot) BySPIFFEID(id string) (types.EntityUID, bool) {
	uid, ok := s.spiffe[id]
	return uid, ok
}

// HasEntity reports whether uid is a bundle entity.
func (s *Snapshot) HasEntity(uid types.EntityUID) bool {
	_, ok := s.nodes[uid]
	return ok
}

// PolicyCount returns the number of policies.
func (s *Snapshot) PolicyCount() int { return len(s.policies) }

// EntityCount returns the number of bundle entities.
func (s *Snapshot) EntityCount() int { return len(s.nodes) }

// String describes the snapshot for logs.
func (s *Snapshot) String() string {
	return fmt.Sprintf("%s: %d policies, %d entities", s.ref, len(s.policies), len(s.nodes))
}
