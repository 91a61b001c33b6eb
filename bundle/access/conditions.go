package access

import (
	"iter"
	"strings"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/ast"
	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/pdp/engine"
)

// A policy applies to a request when every when clause evaluates to true
// and every unless clause to false; a clause that fails to evaluate makes
// Cedar skip the policy, whatever its effect. So a policy applies exactly
// when each of its atoms does: the conjuncts of its when clauses
// (a && b holds iff a and b both evaluate to true) and the disjuncts of
// its unless clauses (a || b is false iff a and b both evaluate to
// false). An atom that reads the request context cannot be judged
// offline; the others are judged against the bundle's entities.

// judged is what analysis knows of a policy's conditions.
type judged struct {
	// static holds the atoms that do not read the context, as a permit
	// with an unconstrained scope: it is satisfied for a triple exactly
	// when they all hold. Nil when there are none.
	static *cedar.Policy
	// dynamic are the clauses that read the context: when the static
	// atoms hold, whether the policy applies depends on the request.
	dynamic []Condition
}

// judge splits the conditions of policy p.
func judge(p engine.PolicyInfo) judged {
	var j judged
	if p.Plain {
		return j
	}
	var static []expast.ConditionType
	for _, c := range p.AST.Conditions {
		reads := false
		for _, atom := range atoms(c) {
			if readsContext(atom) {
				reads = true
			} else {
				static = append(static, expast.ConditionType{Condition: c.Condition, Body: atom})
			}
		}
		if reads {
			j.dynamic = append(j.dynamic, Condition{Policy: p.ID, Source: p.Source, Text: clauseText(c)})
		}
	}
	if len(static) > 0 {
		j.static = cedar.NewPolicyFromAST((*ast.Policy)(&expast.Policy{Effect: expast.EffectPermit,
			Principal: expast.ScopeTypeAll{}, Action: expast.ScopeTypeAll{}, Resource: expast.ScopeTypeAll{},
			Conditions: static}))
	}
	return j
}

// atoms splits a clause into what must each hold: the conjuncts of a
// when clause, the disjuncts of an unless clause.
func atoms(c expast.ConditionType) []expast.IsNode {
	var out []expast.IsNode
	var split func(n expast.IsNode)
	split = func(n expast.IsNode) {
		switch v := n.(type) {
		case expast.NodeTypeAnd:
			if c.Condition == expast.ConditionWhen {
				split(v.Left)
				split(v.Right)
				return
			}
		case expast.NodeTypeOr:
			if c.Condition == expast.ConditionUnless {
				split(v.Left)
				split(v.Right)
				return
			}
		}
		out = append(out, n)
	}
	split(c.Body)
	return out
}

// readsContext reports whether n reads the request context.
func readsContext(n expast.IsNode) bool {
	found := false
	expast.Inspect(expast.NewNode(n), func(n expast.IsNode) bool {
		if v, ok := n.(expast.NodeTypeVariable); ok && v.Name == "context" {
			found = true
		}
		return !found
	})
	return found
}

// clauseText renders one clause in Cedar, e.g. `when { context.mfa }`.
func clauseText(c expast.ConditionType) string {
	p := &expast.Policy{Principal: expast.ScopeTypeAll{}, Action: expast.ScopeTypeAll{}, Resource: expast.ScopeTypeAll{},
		Conditions: []expast.ConditionType{c}}
	text := string(cedar.NewPolicyFromAST((*ast.Policy)(p)).MarshalCedar())
	if i := strings.Index(text, ")\n"); i >= 0 {
		text = text[i+2:]
	}
	return strings.TrimSuffix(strings.TrimSpace(text), ";")
}

// statics is the policy iterator of one triple's static atoms.
type statics struct {
	policies []int32
	judged   []judged
	ids      []cedar.PolicyID
}

// All implements cedar.PolicyIterator.
func (s *statics) All() iter.Seq2[cedar.PolicyID, *cedar.Policy] {
	return func(yield func(cedar.PolicyID, *cedar.Policy) bool) {
		for _, i := range s.policies {
			if !yield(s.ids[i], s.judged[i].static) {
				return
			}
		}
	}
}

// getter serves the bundle's entities to cedar-go.
type getter struct{ snap *engine.Snapshot }

// Get implements types.EntityGetter.
func (g getter) Get(uid types.EntityUID) (types.Entity, bool) { return g.snap.Entity(uid) }
