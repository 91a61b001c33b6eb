package access

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"
	"github.com/cedar-policy/cedar-go/x/exp/schema"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
)

// action is an action of the bundle with the entity types it applies to.
type action struct {
	uid types.EntityUID
	// principals and resources are the types of the schema's appliesTo;
	// any is true when the bundle has no schema, so that nothing limits
	// the action.
	principals, resources []types.EntityType
	any                   bool
	// principal and resource mark, by the analyzer's type ids, the types
	// of principals and resources (see index).
	principal, resource []bool
}

// principalMarks and resourceMarks return the marks of the types the
// action applies to as principal and as resource, nil for any type.
func (a *action) principalMarks() []bool {
	if a.any {
		return nil
	}
	return a.principal
}

func (a *action) resourceMarks() []bool {
	if a.any {
		return nil
	}
	return a.resource
}

// index marks the action's principal and resource types by type id.
func (a *action) index(ids map[types.EntityType]int32) {
	a.principal, a.resource = make([]bool, len(ids)), make([]bool, len(ids))
	for t, id := range ids {
		a.principal[id] = slices.Contains(a.principals, t)
		a.resource[id] = slices.Contains(a.resources, t)
	}
}

// Actions lists the actions of bundle b, whose snapshot is snap, sorted:
// the schema's, or without a schema those its policies name; what an
// Analyzer of it would list, without indexing the bundle.
func Actions(b *bundle.Bundle, snap *engine.Snapshot) ([]types.EntityUID, error) {
	var an *engine.Analysis
	if len(b.Schema) == 0 {
		an = snap.Analysis() // only a bundle without a schema reads its policies
	}
	acts, err := actionsOf(b.Schema, an)
	if err != nil {
		return nil, err
	}
	out := make([]types.EntityUID, len(acts))
	for i := range acts {
		out[i] = acts[i].uid
	}
	return out, nil
}

// actionsOf lists the bundle's actions, sorted: the schema's, each with
// the types its appliesTo names (an action without appliesTo applies to
// nothing). A bundle without a schema has the actions its policies name,
// applying to every entity.
func actionsOf(src []byte, an *engine.Analysis) ([]action, error) {
	var out []action
	if len(src) == 0 {
		seen := map[types.EntityUID]bool{}
		for i := range int32(an.PolicyCount()) {
			var uids []types.EntityUID
			switch s := an.Policy(i).AST.Action.(type) {
			case expast.ScopeTypeEq:
				uids = []types.EntityUID{s.Entity}
			case expast.ScopeTypeIn:
				uids = []types.EntityUID{s.Entity}
			case expast.ScopeTypeInSet:
				uids = s.Entities
			}
			for _, u := range uids {
				if !seen[u] {
					seen[u] = true
					out = append(out, action{uid: u, any: true})
				}
			}
		}
	} else {
		var s schema.Schema
		if err := s.UnmarshalCedar(src); err != nil {
			return nil, fmt.Errorf("bundle schema: %w", err)
		}
		res, err := s.Resolve()
		if err != nil {
			return nil, fmt.Errorf("bundle schema: %w", err)
		}
		for uid, a := range res.Actions {
			act := action{uid: uid}
			if a.AppliesTo != nil {
				act.principals = slices.Sorted(slices.Values(a.AppliesTo.Principals))
				act.resources = slices.Sorted(slices.Values(a.AppliesTo.Resources))
			}
			out = append(out, act)
		}
	}
	slices.SortFunc(out, func(a, b action) int { return compareUID(a.uid, b.uid) })
	return out, nil
}

// compareUID orders entity UIDs by type, then id.
func compareUID(a, b types.EntityUID) int {
	if c := cmp.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}
