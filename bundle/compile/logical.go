package compile

import (
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go"
	cedarast "github.com/cedar-policy/cedar-go/ast"
	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/bundle"
)

// The policies decisions name are not all in the bundle: a grant stands
// for its profile's template policies with its subject in their scope
// (see grants.go). Logical and Policy give them, as a bundle holding one
// policy per grant would: the same ids, sources, scopes and Cedar.

// Logical returns the policies decisions can name, sorted by id: the
// bundle's policies that are not templates, and one policy per grant and
// template of the grant's parent, with id "<grant id><suffix>" (suffix
// being the "#<n>" that ends the template's id, if any), the grant's
// source, origin and window, and the template's condition position. The
// policies of grants carry no Cedar and no parsed form (there can be
// millions); Policy returns one in full.
func (r *Result) Logical() []Policy {
	byParent := r.templatesByParent()
	out := make([]Policy, 0, len(r.Policies)+len(r.Grants))
	for _, p := range r.Policies {
		if !p.Template {
			out = append(out, p)
		}
	}
	for i := range r.Grants {
		g := &r.Grants[i]
		for _, t := range byParent[g.Parent] {
			out = append(out, logicalPolicy(g, &r.Policies[t], false))
		}
	}
	slices.SortFunc(out, func(a, b Policy) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Policy returns the policy decisions name by id (see Logical), with its
// Cedar and parsed form.
func (r *Result) Policy(id string) (Policy, bool) {
	if i, ok := slices.BinarySearchFunc(r.Policies, id, func(p Policy, id string) int { return strings.Compare(p.ID, id) }); ok {
		return r.Policies[i], true
	}
	byParent := r.templatesByParent()
	// The grant's id is the policy's, or the policy's without a "#<n>".
	for _, gid := range []string{id, id[:max(0, strings.LastIndexByte(id, '#'))]} {
		i, ok := slices.BinarySearchFunc(r.Grants, gid, func(g Grant, id string) int { return strings.Compare(g.ID, id) })
		if !ok {
			continue
		}
		g := &r.Grants[i]
		for _, t := range byParent[g.Parent] {
			if gid+TemplateSuffix(r.Policies[t].ID) == id {
				return logicalPolicy(g, &r.Policies[t], true), true
			}
		}
	}
	return Policy{}, false
}

// TemplateSuffix is what a decision appends to a grant's id to name the
// policy template id stands for: the "#<n>" that ends id, or nothing.
func TemplateSuffix(id string) string {
	if i := strings.LastIndexByte(id, '#'); i >= 0 {
		return id[i:]
	}
	return ""
}

// templatesByParent indexes the template policies by the entity their
// principal scope names, which grants make principals members of.
func (r *Result) templatesByParent() map[bundle.UID][]int {
	m := map[bundle.UID][]int{}
	for i := range r.Policies {
		p := &r.Policies[i]
		if !p.Template {
			continue
		}
		if in, ok := (*expast.Policy)(p.Parsed.AST()).Principal.(expast.ScopeTypeIn); ok {
			u := bundle.UID{Type: string(in.Entity.Type), ID: string(in.Entity.ID)}
			m[u] = append(m[u], i)
		}
	}
	return m
}

// logicalPolicy is the policy grant g stands for by template t; full adds
// its Cedar and parsed form.
func logicalPolicy(g *Grant, t *Policy, full bool) Policy {
	p := Policy{Policy: bundle.Policy{ID: g.ID + TemplateSuffix(t.ID), Source: g.Source, Origin: g.Origin, NotBefore: g.NotBefore, NotAfter: g.NotAfter},
		Pos: g.Pos, Object: g.Object, When: t.When}
	if full {
		a := *(*expast.Policy)(t.Parsed.AST())
		uid := types.NewEntityUID(types.EntityType(g.Principal.Type), types.String(g.Principal.ID))
		if g.Members {
			a.Principal = expast.ScopeTypeIn{Entity: uid}
		} else {
			a.Principal = expast.ScopeTypeEq{Entity: uid}
		}
		p.Parsed = cedar.NewPolicyFromAST((*cedarast.Policy)(&a))
		p.Cedar = string(p.Parsed.MarshalCedar())
	}
	return p
}
