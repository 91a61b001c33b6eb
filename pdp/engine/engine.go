// Package engine decides Cedar authorization requests against one bundle.
//
// A [Snapshot] is built once per bundle, off the request path, and is
// immutable afterwards, so any number of requests can use it concurrently
// without locks. Building it parses the policies, computes every entity's
// ancestors (the transitive closure of its parents) and indexes the
// policies by their scope, so a decision evaluates only the policies whose
// scope can match the request, whatever the bundle's size; cedar-go
// evaluates those through its policy iterator. Time-bound policies (expiring
// grants) are skipped outside their validity window at the decision
// instant, with no rebuild.
package engine

import (
	"fmt"
	"math"

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
	byID     map[cedar.PolicyID]int32
	nodes    map[types.EntityUID]*node
	// ancestors holds every entity that is a parent of another; a request
	// entity with one of these uids changes bundle entities' ancestry, so
	// the precomputed closures cannot be used for that request.
	ancestors map[types.EntityUID]struct{}
	index     [dims]dimIndex
	// windowed is true when some policy is time-bound.
	windowed bool
	// spiffe maps a SPIFFE id to the entity whose spiffe_id attribute it
	// is, for front ends that know callers by workload identity.
	spiffe map[string]types.EntityUID
}

// policy is a bundle policy ready to evaluate.
type policy struct {
	id     cedar.PolicyID
	source string
	parsed *cedar.Policy
	scopes [dims]scope
	// notBefore and notAfter are the validity window in Unix nanoseconds.
	notBefore, notAfter int64
}

// node is a bundle entity. entity.Parents holds the entity's ancestors (the
// closure of its parents), which is what cedar-go's `in` needs: with the
// closure, `in` succeeds on the first lookup instead of walking the graph.
type node struct {
	entity types.Entity
	// parents are the parents as written, for requests that override an
	// ancestor (see Snapshot.ancestors).
	parents types.EntityUIDSet
	// cands lists, per dimension, the policies whose ==, in or is-in scope
	// this entity satisfies, sorted.
	cands [dims][]int32
}

// New compiles b into a Snapshot. It fails if a policy does not parse or
// the entities are not valid Cedar JSON; a bundle that fails here must not
// be activated.
func New(b *bundle.Bundle) (*Snapshot, error) {
	s := &Snapshot{ref: b.Ref(), manifest: b.Manifest, byID: make(map[cedar.PolicyID]int32, len(b.Policies))}
	for i := range dims {
		s.index[i] = newDimIndex()
	}
	s.policies = make([]policy, 0, len(b.Policies))
	for i, bp := range b.Policies {
		list, err := cedar.NewPolicyListFromBytes(bp.Source, []byte(bp.Cedar))
		if err != nil {
			return nil, fmt.Errorf("policy %q: %w", bp.ID, err)
		}
		if len(list) != 1 {
			return nil, fmt.Errorf("policy %q: holds %d policies, want 1", bp.ID, len(list))
		}
		if _, dup := s.byID[cedar.PolicyID(bp.ID)]; dup {
			return nil, fmt.Errorf("policy %q appears twice", bp.ID)
		}
		p := policy{id: cedar.PolicyID(bp.ID), source: bp.Source, parsed: list[0], notBefore: math.MinInt64, notAfter: math.MaxInt64}
		if bp.NotBefore != nil {
			p.notBefore, s.windowed = bp.NotBefore.UnixNano(), true
		}
		if bp.NotAfter != nil {
			p.notAfter, s.windowed = bp.NotAfter.UnixNano(), true
		}
		a := (*expast.Policy)(list[0].AST())
		p.scopes = [dims]scope{scopeOf(a.Principal), scopeOf(a.Action), scopeOf(a.Resource)}
		for d := range dims {
			s.index[d].add(int32(i), &p.scopes[d])
		}
		s.byID[p.id] = int32(i)
		s.policies = append(s.policies, p)
	}
	var entities types.EntityMap
	if err := entities.UnmarshalJSON(b.Entities); err != nil {
		return nil, fmt.Errorf("entities: %w", err)
	}
	s.nodes = make(map[types.EntityUID]*node, len(entities))
	s.ancestors = map[types.EntityUID]struct{}{}
	s.spiffe = map[string]types.EntityUID{}
	for uid, e := range entities {
		s.nodes[uid] = &node{entity: e, parents: e.Parents}
		if id, ok := e.Attributes.Get("spiffe_id"); ok {
			if str, ok := id.(types.String); ok {
				s.spiffe[string(str)] = uid
			}
		}
		for p := range e.Parents.All() {
			s.ancestors[p] = struct{}{}
		}
	}
	computeClosures(s.nodes)
	for uid, n := range s.nodes {
		for d := range dims {
			n.cands[d] = s.gather(d, uid, n.entity.Parents, nil)
		}
	}
	return s, nil
}

// gather appends to dst, sorted and without duplicates, the policies of
// dimension d whose targeted scope (==, in, is-in) uid satisfies, given
// uid's ancestors anc.
func (s *Snapshot) gather(d dim, uid types.EntityUID, anc types.EntityUIDSet, dst []int32) []int32 {
	start := len(dst)
	idx := &s.index[d]
	add := func(t types.EntityUID) {
		for _, i := range idx.byTarget[t] {
			if s.policies[i].scopes[d].matches(uid, anc) {
				dst = append(dst, i)
			}
		}
	}
	add(uid)
	for a := range anc.All() {
		add(a)
	}
	return dst[:start+len(sortUnique(dst[start:]))]
}

// Ref returns the revision, digest and environment of the snapshot's
// bundle.
func (s *Snapshot) Ref() bundle.Ref { return s.ref }

// Manifest returns the snapshot's bundle manifest.
func (s *Snapshot) Manifest() bundle.Manifest { return s.manifest }

// Source returns the source position of policy id, or "".
func (s *Snapshot) Source(id string) string {
	if i, ok := s.byID[cedar.PolicyID(id)]; ok {
		return s.policies[i].source
	}
	return ""
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

// active reports whether policy i applies at instant now (Unix ns).
func (p *policy) active(now int64) bool {
	return p.notBefore <= now && now < p.notAfter
}

// String describes the snapshot for logs.
func (s *Snapshot) String() string {
	return fmt.Sprintf("%s: %d policies, %d entities", s.ref, len(s.policies), len(s.nodes))
}
