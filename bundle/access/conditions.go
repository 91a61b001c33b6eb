package access

import (
	"iter"
	"math/bits"
	"slices"
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
	// static are the atoms that do not read the context, those that
	// read the fewest of principal, action and resource first.
	static []atom
	// dynamic are the clauses that read the context: when the static
	// atoms hold, whether the policy applies depends on the request.
	dynamic []Condition
}

// atom is one static atom, as a permit with an unconstrained scope that
// is satisfied for a triple exactly when the atom holds.
type atom struct {
	policy *cedar.Policy
	// reads is what the atom reads of the request (readsPrincipal and
	// the like): its value is the same for every triple that agrees on
	// those, which is what lets a walk reuse it.
	reads uint8
}

// What static atoms read of the request.
const (
	readsPrincipal uint8 = 1 << iota
	readsAction
	readsResource
)

// judge splits the conditions of policy p.
func judge(p engine.PolicyInfo) judged {
	var j judged
	if p.Plain {
		return j
	}
	for k, c := range p.AST.Conditions {
		reads := false
		for _, n := range atoms(c) {
			if readsContext(n) {
				reads = true
				continue
			}
			j.static = append(j.static, atom{reads: variables(n), policy: cedar.NewPolicyFromAST((*ast.Policy)(&expast.Policy{
				Effect: expast.EffectPermit, Principal: expast.ScopeTypeAll{}, Action: expast.ScopeTypeAll{}, Resource: expast.ScopeTypeAll{},
				Conditions: []expast.ConditionType{{Condition: c.Condition, Body: n}}}))})
		}
		if reads {
			j.dynamic = append(j.dynamic, Condition{Policy: p.ID, Source: p.Source, Text: clauseText(c), clause: k})
		}
	}
	// An atom that fails decides: those a walk keeps longest go first.
	slices.SortStableFunc(j.static, func(x, y atom) int { return bits.OnesCount8(x.reads) - bits.OnesCount8(y.reads) })
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

// variables returns which of principal, action and resource n reads.
func variables(n expast.IsNode) uint8 {
	var out uint8
	expast.Inspect(expast.NewNode(n), func(n expast.IsNode) bool {
		if v, ok := n.(expast.NodeTypeVariable); ok {
			switch v.Name {
			case "principal":
				out |= readsPrincipal
			case "action":
				out |= readsAction
			case "resource":
				out |= readsResource
			}
		}
		return true
	})
	return out
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

// one is a policy iterator of one policy.
type one struct {
	id     cedar.PolicyID
	policy *cedar.Policy
}

// All implements cedar.PolicyIterator.
func (o *one) All() iter.Seq2[cedar.PolicyID, *cedar.Policy] { return o.each }

func (o *one) each(yield func(cedar.PolicyID, *cedar.Policy) bool) { yield(o.id, o.policy) }

// getter serves the bundle's entities to cedar-go.
type getter struct{ snap *engine.Snapshot }

// Get implements types.EntityGetter.
func (g getter) Get(uid types.EntityUID) (types.Entity, bool) { return g.snap.Entity(uid) }
