package compile

import (
	"cmp"
	"maps"
	"slices"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"

	"github.com/cedargate/cedargate/bundle"
)

// authzen resolves cedargate.yaml's authzen section against the schema
// into the bundle's AuthZEN mapping: every Cedar name in full, each type
// and action one the schema declares (when there is a schema), so that
// the PDP can trust what it reads. A repository without the section gets
// no mapping, and its bundle is what it was before mappings existed.
func (c *compiler) authzen() {
	a := c.cfg.AuthZEN
	if a == nil {
		return
	}
	m := &bundle.AuthZEN{Namespace: c.cfg.Namespace, ActionProperties: a.ActionProperties.Value,
		UnknownSubjects: a.UnknownSubjects.Value, UnknownResources: a.UnknownResources.Value,
		UndeclaredProperties: a.UndeclaredProperties.Value}
	if a.Types != nil {
		m.Types = map[string]string{}
		for _, t := range a.Types {
			typ := types.EntityType(c.cfg.Qualify(t.To))
			if c.out.Schema != nil && !c.declares(typ) {
				c.diags.Errorf(t.Pos, "authzen: types: %s maps to %s, which the schema does not declare; %s", t.From, typ, c.typeHint(string(typ)))
				continue
			}
			m.Types[t.From] = string(typ)
		}
	}
	if a.Actions != nil {
		m.Actions = map[string]string{}
		for _, act := range a.Actions {
			uid, err := c.actionUID(act.To)
			if err != nil {
				c.diags.Errorf(act.Pos, "authzen: actions: %s: %v", act.From, err)
				continue
			}
			m.Actions[act.From] = uid.String()
		}
	}
	if key := types.String(a.ActionProperties.Value); key != "" && c.out.Schema != nil {
		// Action properties go under this attribute of the context: an
		// action that declares the attribute must declare a record there.
		for _, uid := range slices.SortedFunc(maps.Keys(c.out.Schema.Actions), func(x, y types.EntityUID) int {
			return cmp.Compare(x.String(), y.String())
		}) {
			act := c.out.Schema.Actions[uid]
			if act.AppliesTo == nil {
				continue
			}
			if attr, ok := act.AppliesTo.Context[key]; ok {
				if _, rec := attr.Type.(resolved.RecordType); !rec {
					c.diags.Errorf(a.ActionProperties.Pos, "authzen: action_properties: the context of %s declares %s, which is not a record", uid, key)
				}
			}
		}
	}
	c.out.AuthZEN = m
}

// declares reports whether the schema declares entity type t.
func (c *compiler) declares(t types.EntityType) bool {
	if _, ok := c.out.Schema.Entities[t]; ok {
		return true
	}
	_, ok := c.out.Schema.Enums[t]
	return ok
}
