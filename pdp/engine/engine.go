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
// has already been matched. Cedar's integration corpus runs against all
// of this (see corpus_test.go).
//
// Grants are data (grants.go): an access profile's policies are
// templates naming the profile's entity, and a grant is a membership in
// it with a validity window. A decision counts the memberships that hold
// at its instant, hiding the others from scopes and conditions alike, so
// a grant stops granting at its expiry with no rebuild; and it names, for
// a template that determined it, the grants through which the principal
// held the profile. Time-bound policies are skipped outside their
// window the same way. Entities are kept in a compact store (store.go)
// and handed to cedar-go only when it reads them. Analyses read the
// snapshot through Analysis, where each grant is the policies it stands
// for.
package engine

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/internal/parallel"
)

// Snapshot is an immutable, compiled bundle ready to decide requests.
type Snapshot struct {
	ref      bundle.Ref
	manifest bundle.Manifest
	// sums are the SHA-256 and the size of the bundle's files
	// (bundle.Bundle.Sums, Sizes): a later bundle shares what is the same
	// (see share), and its policies and grants of the same size are only
	// hashed (see Entities.Holds).
	sums     map[string]fileSum
	policies []policy
	// filters holds, by policy index, what candidate selection tests,
	// packed apart from the rest so that a scan touches one cache line per
	// policy.
	filters []filter
	// sets backs the targets of `in [...]` scopes.
	sets []int32
	byID map[cedar.PolicyID]int32
	// targets and typeIDs intern the entities and types scopes name;
	// actionBit gives some action targets a bit (see actionBits).
	targets   map[types.EntityUID]int32
	typeIDs   map[types.EntityType]int32
	actionBit []uint32
	index     [dims]dimIndex
	// windowed is true when some policy or grant is time-bound;
	// policiesWindowed when some policy is.
	windowed, policiesWindowed bool
	// templateOf is the entity each template's principal scope names,
	// in policy order.
	templateOf []types.EntityUID
	// spiffe maps a SPIFFE id to the entity whose spiffe_id attribute it
	// is, for front ends that know callers by workload identity.
	spiffe map[string]int32

	// ents holds the bundle's entities and the parents they name (see
	// store.go). The rest is by entity index: self is the entity's target
	// id (-1 if no scope names it), flags what selection needs to know,
	// tanc its targeted ancestors (see view) and cands, per dimension, the
	// policies whose ==, in, in [...] or is-in scope it satisfies (see
	// gather), both in pools. typeTarget is the `is` type id of each of
	// the store's types (-1 if no scope names it).
	ents       *store
	self       []int32
	flags      []uint8
	tanc       []span
	tancPool   []int32
	cands      [][dims]span
	candPool   []entry
	typeTarget []int32
	// grants are the bundle's grants (see grants.go).
	grants grantTable
	// slack is how many entries of tancPool and candPool no entity's
	// list holds any more: those that the leaves that reloads moved
	// (see reparent) held before, in this snapshot and in those it was
	// made from.
	slack int

	// names turns interned ids back into entities and types, for
	// analysis only (see Analysis); built on first use.
	names struct {
		once    sync.Once
		targets []types.EntityUID
		types   []types.EntityType
	}
	analysis struct {
		once sync.Once
		a    *Analysis
	}
}

// Entity flags.
const (
	// flagParent is set on an entity that is a parent of a bundle entity:
	// a request entity that replaces it changes their ancestry, so their
	// precomputed views do not hold for that request.
	flagParent uint8 = 1 << iota
	// flagRows is set on an entity that holds grants, its own or its
	// ancestors' (see grantTable).
	flagRows
)

// policy is a bundle policy ready to evaluate.
type policy struct {
	id     cedar.PolicyID
	source string
	// eval is the policy with its scope removed: `permit (principal,
	// action, resource) when {...}` with the original conditions. Decide
	// hands cedar-go only policies whose scope it has already matched,
	// exactly, so evaluating the scope again would only repeat entity
	// lookups (for `in`, one per ancestor when it fails). Effect,
	// annotations, conditions and thus errors are the original's. Nil for
	// a plain policy, which cedar-go never sees.
	eval *cedar.Policy
	// plain is true when the policy has no when or unless clause: once
	// its scope matches, it is satisfied.
	plain  bool
	forbid bool
	// template is true for a bundle template (bundle.Policy.Template):
	// parent is the entity its principal scope names (-1 when the bundle
	// has no such entity), and suffix what decisions append to the id of
	// a grant it applies through; tmplPos is its place among parent's
	// templates, in policy order (see computeReasons).
	template bool
	parent   int32
	tmplPos  int32
	suffix   string
}

// New compiles b into a Snapshot. It fails if a policy does not parse,
// the entities are not valid Cedar JSON or the grants do not fit the
// entities and templates; a bundle that fails here must not be
// activated.
func New(b *bundle.Bundle) (*Snapshot, error) { return build(b, 0) }

// Release names parts of a bundle that NewReleasing may drop.
type Release uint8

// The parts of a bundle NewReleasing may drop.
const (
	// ReleaseEntities drops the bundle's entities (Bundle.Entities), the
	// largest part: the snapshot's store holds what they say.
	ReleaseEntities Release = 1 << iota
	// ReleaseGrants drops the bundle's grants (Bundle.Grants): the
	// snapshot's grant table holds what decisions need of them.
	ReleaseGrants
)

// NewReleasing is New for a caller that has no further use for the parts
// of b that release names (the PDP, activating a bundle): it sets each to
// nil as soon as the snapshot holds what it needs of it, so that its
// memory can be collected while the rest of the snapshot is built. For a
// million identities the entities are a quarter of a gigabyte of JSON
// and the grants half as much again, otherwise held until New returns,
// alongside the snapshot being built and, during a hot reload, the one
// still serving. A part dropped stays dropped if New then fails.
func NewReleasing(b *bundle.Bundle, release Release) (*Snapshot, error) { return build(b, release) }

// build is New, releasing the parts of b that release names.
func build(b *bundle.Bundle, release Release) (*Snapshot, error) {
	if s := share(b, release); s != nil {
		return s, nil
	}
	if s, err := reshape(b); s != nil || err != nil {
		return s, err
	}
	// Policies the serving snapshot holds are not decoded (Bundle.Held):
	// its compiled policies are taken.
	var prev *Snapshot
	if e, ok := streamed(b); ok && b.Held[bundle.PoliciesFile] {
		prev = e.serving
	}
	if prev == nil && (b.Held[bundle.PoliciesFile] || b.Held[bundle.GrantsFile]) {
		return nil, fmt.Errorf("%s and %s were not decoded, and no snapshot holds them", bundle.PoliciesFile, bundle.GrantsFile)
	}
	s := &Snapshot{ref: b.Ref(), manifest: b.Manifest, sums: sumsOf(b)}
	// The policies and the entities are independent until templates find
	// their parents: they are compiled side by side, so that the policies
	// use the processor that the serial parts of loading the entities
	// leave idle. A policy's error is reported before the entities'.
	var templateOf []types.EntityUID
	var perr error
	compiled := make(chan struct{})
	go func() {
		defer close(compiled)
		if prev != nil {
			s.reusePolicies(prev)
			templateOf = s.templateOf
			return
		}
		templateOf, perr = s.compilePolicies(b.Policies)
	}()
	ents, err := entitiesOf(b)
	<-compiled
	if perr != nil {
		return nil, perr
	}
	if err != nil {
		return nil, fmt.Errorf("entities: %w", err)
	}
	s.ents = ents
	if release&ReleaseEntities != 0 {
		b.Entities = nil
	}
	k := 0
	for i := range s.policies {
		if s.policies[i].template {
			if j, ok := s.ents.find(templateOf[k]); ok {
				s.policies[i].parent = j
			}
			k++
		}
	}
	if err := s.indexEntities(); err != nil {
		return nil, err
	}
	if err := s.grants.load(s, b.Grants); err != nil {
		return nil, err
	}
	if release&ReleaseGrants != 0 {
		b.Grants = nil
	}
	if err := s.computeViews(); err != nil {
		return nil, err
	}
	if err := s.grants.check(s); err != nil {
		return nil, err
	}
	s.computeHeld()
	s.computeReasons()
	s.gatherAll()
	return s, nil
}

// compilePolicies parses the policies ps and indexes them by scope. It
// returns the entity each template's principal scope names, in policy
// order.
func (s *Snapshot) compilePolicies(ps []bundle.Policy) ([]types.EntityUID, error) {
	in := interner{targets: map[types.EntityUID]int32{}, types: map[types.EntityType]int32{}}
	s.policies = make([]policy, 0, len(ps))
	s.filters = make([]filter, 0, len(ps))
	var templateOf []types.EntityUID
	s.byID = make(map[cedar.PolicyID]int32, len(ps))
	for i, pp := range parsePolicies(ps) {
		bp := &ps[i]
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
		p := policy{id: cedar.PolicyID(bp.ID), source: bp.Source, eval: pp.eval,
			plain: len(a.Conditions) == 0, forbid: a.Effect == expast.EffectForbid, parent: -1}
		if p.plain {
			p.eval = nil
		}
		if bp.Template {
			sc, ok := a.Principal.(expast.ScopeTypeIn)
			if !ok {
				return nil, fmt.Errorf("template policy %q: its principal scope must be `principal in` an entity", bp.ID)
			}
			p.template, p.suffix = true, templateSuffix(bp.ID)
			templateOf = append(templateOf, sc.Entity)
		}
		s.byID[p.id] = int32(len(s.policies))
		s.policies = append(s.policies, p)
		s.filters = append(s.filters, f)
	}
	s.targets, s.typeIDs, s.sets = in.targets, in.types, in.sets
	s.templateOf, s.policiesWindowed = templateOf, s.windowed
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
	return templateOf, nil
}

// fileSum is a file's SHA-256 and size.
type fileSum struct {
	sum  [32]byte
	size int64
}

// sumsOf returns the SHA-256 and the size of b's files, nil for a bundle
// not decoded.
func sumsOf(b *bundle.Bundle) map[string]fileSum {
	if b.Sums == nil {
		return nil
	}
	sums := make(map[string]fileSum, len(b.Sums))
	for name, sum := range b.Sums {
		size, ok := b.Sizes[name]
		if !ok {
			size = -1
		}
		sums[name] = fileSum{sum: sum, size: size}
	}
	return sums
}

// reusePolicies takes prev's compiled policies, the same as s's: what
// is by policy is shared, save each policy's parent and place among its
// parent's templates, which s's entities and grants decide.
func (s *Snapshot) reusePolicies(prev *Snapshot) {
	s.policies = slices.Clone(prev.policies)
	for i := range s.policies {
		s.policies[i].parent, s.policies[i].tmplPos = -1, 0
	}
	s.filters, s.sets, s.byID, s.targets, s.typeIDs = prev.filters, prev.sets, prev.byID, prev.targets, prev.typeIDs
	s.actionBit, s.index, s.templateOf = prev.actionBit, prev.index, prev.templateOf
	s.windowed, s.policiesWindowed = prev.policiesWindowed, prev.policiesWindowed
}

// templateSuffix is what a decision appends to a grant's id to name the
// policy a template stands for: the "#<n>" that ends the template's id,
// or nothing.
func templateSuffix(id string) string {
	if i := strings.LastIndexByte(id, '#'); i >= 0 {
		return id[i:]
	}
	return ""
}

// indexEntities gives every entity what selection reads: its target id,
// its flags and its SPIFFE id.
func (s *Snapshot) indexEntities() error {
	e := s.ents
	n := e.len()
	s.self = make([]int32, n)
	for i := range s.self {
		s.self[i] = -1
	}
	for uid, id := range s.targets {
		if i, ok := e.find(uid); ok {
			s.self[i] = id
		}
	}
	s.typeTarget = make([]int32, len(e.typeNames))
	for t, name := range e.typeNames {
		s.typeTarget[t] = -1
		if id, ok := s.typeIDs[name]; ok {
			s.typeTarget[t] = id
		}
	}
	s.flags = make([]uint8, n)
	for p := range e.parentEdges() {
		s.flags[p] |= flagParent
	}
	var err error
	s.spiffe, err = spiffeOf(e)
	return err
}

// spiffeOf maps the SPIFFE ids of e's entities to the entities.
func spiffeOf(e *store) (map[string]int32, error) {
	spiffe := map[string]int32{}
	for i := range int32(e.len()) {
		if !e.defined[i] {
			continue
		}
		if id, ok := e.records[e.attrs[i]].Get("spiffe_id"); ok {
			if str, ok := id.(types.String); ok {
				// Which entity a caller is must not depend on the order
				// of entities: a bundle where two entities claim one
				// SPIFFE id is refused (the compiler refuses to build
				// one).
				if prev, dup := spiffe[string(str)]; dup {
					return nil, fmt.Errorf("entities: %s and %s both have spiffe_id %q", e.uid(prev), e.uid(i), str)
				}
				spiffe[string(str)] = i
			}
		}
	}
	return spiffe, nil
}

// gatherAll computes every entity's candidate lists, in parallel, into
// one pool.
func (s *Snapshot) gatherAll() {
	n := s.ents.len()
	s.cands = make([][dims]span, n)
	type part struct {
		lo   int
		pool []entry
	}
	var mu sync.Mutex
	var parts []part
	parallel.Chunks(n, minChunk, func(lo, hi int) {
		var pool []entry
		for i := lo; i < hi; i++ {
			v := s.staticView(int32(i))
			for d := range dims {
				start := len(pool)
				pool = s.gather(d, &v, pool)
				s.cands[i][d] = span{off: uint32(start), n: uint32(len(pool) - start)}
			}
		}
		mu.Lock()
		parts = append(parts, part{lo, slices.Clip(pool)})
		mu.Unlock()
	})
	slices.SortFunc(parts, func(a, b part) int { return a.lo - b.lo })
	total := 0
	for _, p := range parts {
		total += len(p.pool)
	}
	s.candPool = make([]entry, 0, total)
	for k, p := range parts {
		hi := n
		if k+1 < len(parts) {
			hi = parts[k+1].lo
		}
		base := uint32(len(s.candPool))
		for i := p.lo; i < hi; i++ {
			for d := range dims {
				s.cands[i][d].off += base
			}
		}
		s.candPool = append(s.candPool, p.pool...)
	}
}

// staticView describes entity i to scopes as the bundle's parents make
// it, without the grants it holds.
func (s *Snapshot) staticView(i int32) view {
	t := s.tanc[i]
	v := view{self: s.self[i], typ: s.typeTarget[s.ents.typeOf[i]], tanc: s.tancPool[t.off : t.off+t.n : t.off+t.n]}
	if len(v.tanc) == 0 {
		v.tanc = nil
	}
	return v
}

// candsOf returns entity i's candidates of dimension d.
func (s *Snapshot) candsOf(i int32, d dim) []entry {
	c := s.cands[i][d]
	return s.candPool[c.off : c.off+c.n : c.off+c.n]
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
	return s.gatherTargets(d, v, v.tanc, dst)
}

// gatherTargets is gather for the targets ts of v only.
func (s *Snapshot) gatherTargets(d dim, v *view, ts []int32, dst []entry) []entry {
	idx := &s.index[d]
	for _, t := range ts {
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
	i, ok := s.spiffe[id]
	if !ok {
		return types.EntityUID{}, false
	}
	return s.ents.uid(i), true
}

// HasEntity reports whether uid is a bundle entity.
func (s *Snapshot) HasEntity(uid types.EntityUID) bool {
	_, ok := s.ents.lookup(uid)
	return ok
}

// PolicyCount returns the number of policies.
func (s *Snapshot) PolicyCount() int { return len(s.policies) }

// EntityCount returns the number of bundle entities.
func (s *Snapshot) EntityCount() int { return s.ents.count }

// GrantCount returns the number of grants.
func (s *Snapshot) GrantCount() int { return len(s.grants.rows) }

// String describes the snapshot for logs.
func (s *Snapshot) String() string {
	return fmt.Sprintf("%s: %d policies, %d grants, %d entities", s.ref, len(s.policies), len(s.grants.rows), s.ents.count)
}
