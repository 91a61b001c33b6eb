package guardrail

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/bundle/repo"
)

// broadGrants reports permit policies and access profiles that let any
// principal, any action or any resource: unconstrained in the scope and
// not mentioned in a when/unless condition either. A condition such as
// `resource.owner == principal` constrains both variables it names, so
// ownership-style ABAC policies pass.
func (c *checker) broadGrants() {
	for _, p := range c.res.Policies {
		if p.Object != "" || p.Parsed.Effect() != cedar.Permit {
			continue
		}
		a := (*expast.Policy)(p.Parsed.AST())
		used := conditionVariables(a)
		var any []string
		if _, ok := a.Principal.(expast.ScopeTypeAll); ok && !used["principal"] {
			any = append(any, "any principal")
		}
		if _, ok := a.Action.(expast.ScopeTypeAll); ok && !used["action"] {
			any = append(any, "any action")
		}
		if _, ok := a.Resource.(expast.ScopeTypeAll); ok && !used["resource"] {
			any = append(any, "any resource")
		}
		if len(any) > 0 {
			c.report(BroadGrant, p.Pos, p.ID, fmt.Sprintf("policy %q", p.ID), "permits %s: constrain the scope (==, in or is), or waive with an Exception naming %q",
				strings.Join(any, " and "), p.ID)
		}
	}
	all := c.resourceTypes()
	for _, ap := range c.v.Profiles {
		for _, perm := range ap.Permissions {
			for what, list := range map[string][]repo.Token{"any action": perm.Actions, "any resource": perm.Resources} {
				for _, t := range list {
					if t.Text == "*" {
						c.report(BroadGrant, t.Pos, ap.Key(), ap.Label(), "permits %s: list them, or waive with an Exception naming %q", what, ap.Key())
					}
				}
			}
			c.everyType(ap, perm, all)
		}
	}
}

// resourceTypes returns the resource types of the schema's actions: the
// types a request's resource can have. Nil without a schema.
func (c *checker) resourceTypes() map[types.EntityType]bool {
	if c.res.Schema == nil {
		return nil
	}
	all := map[types.EntityType]bool{}
	for _, a := range c.res.Schema.Actions {
		if a.AppliesTo != nil {
			for _, t := range a.AppliesTo.Resources {
				all[t] = true
			}
		}
	}
	return all
}

// everyType reports a permission whose Type/* selectors cover every
// resource type of the schema: that is "*" spelt out.
func (c *checker) everyType(ap *repo.AccessProfile, perm repo.Permission, all map[types.EntityType]bool) {
	if len(all) == 0 || slices.ContainsFunc(perm.Resources, func(t repo.Token) bool { return t.Text == "*" }) {
		return
	}
	covered := map[types.EntityType]bool{}
	var first *repo.Token
	for i, t := range perm.Resources {
		if typ, ok := strings.CutSuffix(t.Text, "/*"); ok && all[types.EntityType(c.v.Config.Qualify(typ))] {
			covered[types.EntityType(c.v.Config.Qualify(typ))] = true
			if first == nil {
				first = &perm.Resources[i]
			}
		}
	}
	if len(covered) < len(all) {
		return
	}
	names := make([]string, 0, len(all))
	for t := range all {
		names = append(names, string(t))
	}
	slices.Sort(names)
	cover := fmt.Sprintf("all %d resource types of the schema", len(all))
	if len(all) == 1 {
		cover = "the schema's only resource type"
	}
	c.report(BroadGrant, first.Pos, ap.Key(), ap.Label(), "permits any resource: its Type/* cover %s (%s); list the resources, or waive with an Exception naming %q",
		cover, strings.Join(names, ", "), ap.Key())
}

// conditionVariables lists the variables (principal, action, resource,
// context) a policy's conditions refer to.
func conditionVariables(p *expast.Policy) map[string]bool {
	used := map[string]bool{}
	for _, cond := range p.Conditions {
		expast.Inspect(expast.NewNode(cond.Body), func(n expast.IsNode) bool {
			if v, ok := n.(expast.NodeTypeVariable); ok {
				used[string(v.Name)] = true
			}
			return true
		})
	}
	return used
}
