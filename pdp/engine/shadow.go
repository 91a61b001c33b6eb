package engine

import (
	"cmp"
	"fmt"

	"github.com/cedar-policy/cedar-go/types"
)

// EntityMode says what a request entity does when the bundle defines its
// uid, as an entity or as a parent that one of its entities names (Cedar
// lets a parent exist as a name only). Such an entity shadows the bundle's.
// Left to the caller, shadowing lets anyone who reaches the API rewrite
// the bundle's identities: a contractor the bundle denies is allowed once
// the request sends the contractor with an admin group as parent. The mode
// is a deployment's choice (`cedargate serve --request-entities`); the
// zero value is the default, RefuseShadowing.
type EntityMode uint8

const (
	// RefuseShadowing refuses a request that sends an entity the bundle
	// defines: front ends find it with Snapshot.Shadowing and answer
	// INVALID_ARGUMENT. Decide, which cannot fail, ignores such an entity
	// (the bundle's stands), so a front end that forgot to check still
	// cannot rewrite the bundle.
	RefuseShadowing EntityMode = iota
	// MergeAttributes keeps the bundle entity's parents and lays the
	// request entity's attributes and tags over its own, the request's
	// winning on a name both have, for that request only. A request entity
	// may repeat parents the bundle gives it, but naming another is
	// refused (Snapshot.Shadowing): its group memberships are the
	// bundle's, and a caller must not believe a decision was made on a
	// graph it was not.
	MergeAttributes
	// Replace lets the request entity replace the bundle's wholly,
	// parents included: cedargate's behaviour before request-entity modes
	// existed, for deployments whose callers are trusted to assert
	// identities.
	Replace
)

// entityModeNames are the modes' names in flags, configuration and status.
var entityModeNames = [...]string{RefuseShadowing: "refuse-shadowing", MergeAttributes: "merge-attributes", Replace: "replace"}

// String returns the mode's name: "refuse-shadowing", "merge-attributes"
// or "replace".
func (m EntityMode) String() string {
	if int(m) < len(entityModeNames) {
		return entityModeNames[m]
	}
	return fmt.Sprintf("EntityMode(%d)", uint8(m))
}

// MarshalText implements encoding.TextMarshaler with the mode's name.
func (m EntityMode) MarshalText() ([]byte, error) {
	if int(m) >= len(entityModeNames) {
		return nil, fmt.Errorf("unknown request-entity mode %d", uint8(m))
	}
	return []byte(entityModeNames[m]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler: it accepts the names
// String returns.
func (m *EntityMode) UnmarshalText(text []byte) error {
	for i, name := range entityModeNames {
		if string(text) == name {
			*m = EntityMode(i)
			return nil
		}
	}
	return fmt.Errorf("request-entity mode must be refuse-shadowing, merge-attributes or replace, not %q", text)
}

// Shadow is a request entity that a mode refuses.
type Shadow struct {
	// Index is the entity's position in the request's entities.
	Index int
	// UID is the entity's uid, which the bundle defines.
	UID types.EntityUID
	// Parent is, in MergeAttributes mode, a parent the request gives the
	// entity that the bundle's entity does not have (the least, in type
	// and id order, if several); zero in RefuseShadowing mode.
	Parent types.EntityUID
	// Undefined is true when the bundle names UID only as a parent of its
	// entities, without defining it as an entity.
	Undefined bool
}

// Shadowing returns the first of ents that mode refuses, if any: in
// RefuseShadowing, an entity whose uid the bundle defines; in
// MergeAttributes, such an entity with a parent the bundle's lacks.
// Replace refuses none. Front ends call it before Decide and refuse the
// request; it costs a map lookup per entity, and nothing for a request
// without entities.
func (s *Snapshot) Shadowing(ents []types.Entity, mode EntityMode) (Shadow, bool) {
	if mode == Replace {
		return Shadow{}, false
	}
	for i := range ents {
		e := &ents[i]
		n, ok := s.ents.find(e.UID)
		if !ok {
			continue
		}
		sh := Shadow{Index: i, UID: e.UID, Undefined: !s.ents.defined[n]}
		if mode == RefuseShadowing {
			return sh, true
		}
		found := false
		for p := range e.Parents.All() {
			if pi, ok := s.ents.find(p); ok && s.ents.hasParent(n, pi) {
				continue
			}
			// Parents are a set: the least foreign one, so that the
			// same request always gets the same error.
			if !found || compareUIDs(p, sh.Parent) < 0 {
				sh.Parent, found = p, true
			}
		}
		if found {
			return sh, true
		}
	}
	return Shadow{}, false
}

// compareUIDs orders uids by type, then id.
func compareUIDs(a, b types.EntityUID) int {
	return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID))
}

// layer installs request-scoped entities as mode says (see EntityMode).
// In RefuseShadowing mode the entities that shadow the bundle are left
// out, in MergeAttributes mode they are merged into the bundle's, so that
// in both the bundle's ancestry holds and its precomputed views serve the
// decision. In Replace mode entities are used as written; when one of them
// is a parent in the bundle, it changes the ancestry of bundle entities,
// and the decision takes the slow path: ancestors searched per request.
// Otherwise a request entity's targeted ancestors are those of its
// request-entity ancestors and the views of the bundle entities among its
// ancestors (requestView).
//
// Entities are served to cedar-go as layered: cedar-go walks the graph
// only for an `in` in a condition, since selection has matched the
// scopes.
func (st *state) layer(entities []types.Entity, mode EntityMode) {
	s := st.snap
	g := &st.get
	g.bundleGraph = mode != Replace
	// own is set once an entity is left out or changed: from then on the
	// layered list is a copy (pooled), never the caller's.
	own := false
	for i := range entities {
		e := &entities[i]
		n, shadow := s.ents.find(e.UID)
		if shadow && mode == Replace {
			if !s.ents.defined[n] || s.flags[n]&flagParent != 0 {
				g.slow = true
			}
			shadow = false
		}
		if shadow && !own {
			st.ents, own = append(st.ents[:0], entities[:i]...), true
		}
		switch {
		case !own:
		case !shadow:
			st.ents = append(st.ents, *e)
		case mode == MergeAttributes:
			st.ents = append(st.ents, s.mergedAt(n, e, st.now))
		}
		// A shadowing entity in RefuseShadowing mode is left out.
	}
	g.reqs = entities
	if own {
		g.reqs = st.ents
	}
	if len(g.reqs) > linearEntities {
		if g.byUID == nil {
			g.byUID = make(map[types.EntityUID]int32, len(g.reqs))
		}
		for i := range g.reqs {
			g.byUID[g.reqs[i].UID] = int32(i)
		}
	}
}

// Layered returns request entity e as a decision in mode sees it: in
// MergeAttributes mode, when the bundle defines its uid, merged into the
// bundle's entity (the bundle's parents, e's attributes and tags over the
// bundle's); otherwise e itself. Front ends that check request entities
// against the schema check this, the entity the decision uses, rather
// than the request's partial one.
func (s *Snapshot) Layered(e types.Entity, mode EntityMode) types.Entity {
	if mode != MergeAttributes {
		return e
	}
	n, ok := s.ents.find(e.UID)
	if !ok {
		return e
	}
	if !s.ents.defined[n] {
		return merged(nil, &e)
	}
	// Every parent the bundle gives it, whatever the instant: front ends
	// check this entity against the schema.
	base := s.ents.entity(n, nil)
	return merged(&base, &e)
}

// mergedAt is merged for store entity n as it is at instant now.
func (s *Snapshot) mergedAt(n int32, e *types.Entity, now int64) types.Entity {
	if !s.ents.defined[n] {
		return merged(nil, e)
	}
	base := s.entity(n, now)
	return merged(&base, e)
}

// merged is request entity e laid over bundle entity base (nil for a uid
// the bundle names only as a parent): base's parents, and base's
// attributes and tags with e's added over them.
func merged(base *types.Entity, e *types.Entity) types.Entity {
	out := types.Entity{UID: e.UID, Attributes: e.Attributes, Tags: e.Tags}
	if base != nil {
		out.Parents = base.Parents
		out.Attributes = overlay(base.Attributes, e.Attributes)
		out.Tags = overlay(base.Tags, e.Tags)
	}
	return out
}

// overlay is base with top's entries added, top winning on a key both
// have.
func overlay(base, top types.Record) types.Record {
	if base.Len() == 0 {
		return top
	}
	if top.Len() == 0 {
		return base
	}
	m := make(types.RecordMap, base.Len()+top.Len())
	for k, v := range base.All() {
		m[k] = v
	}
	for k, v := range top.All() {
		m[k] = v
	}
	return types.NewRecord(m)
}
