// Package evaluate decides one request offline, against a repository
// compiled as `cedargate build` compiles it, with the decision engine the
// PDP runs (pdp/engine), and explains the decision: for every policy whose
// scope could match, whether it did, which `when` or `unless` clause was
// false or failed to evaluate and where (path:line:column), and which
// policies determined the answer. `cedargate eval` is its front end.
//
// A clause is explained by asking cedar-go about it alone: the one-policy
// set `permit (principal, action, resource) when { <clause> };` is
// authorized against the same entities and request, and allow, deny or an
// error says whether the clause is true, false or fails. Cedar evaluates a
// policy's clauses in order and stops at the first that does not hold, so
// the clauses after it are reported as not evaluated.
package evaluate

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go"
	cedarast "github.com/cedar-policy/cedar-go/ast"
	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/access"
	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/pdp/cedarjson"
	"github.com/cedargate/cedargate/pdp/engine"
)

// Request is one question, as written on the command line.
type Request struct {
	// Principal, Action and Resource are UIDs in the short form
	// (User/alice, a bare action name) or Cedar's (Acme::User::"alice").
	Principal, Action, Resource string
	// Context is a JSON object, converted by the schema (cedarjson);
	// empty is the empty context.
	Context []byte
	// Entities is a JSON array of request-scoped entities in Cedar's
	// JSON entity format; empty is none.
	Entities []byte
	// At is the decision instant.
	At time.Time
	// Explain asks for the policy-by-policy explanation.
	Explain bool
}

// Result is a decision and what explains it.
type Result struct {
	Bundle                      bundle.Ref
	At                          time.Time
	Principal, Action, Resource types.EntityUID
	// Decision is the engine's answer, as the PDP would give it.
	Decision engine.Decision
	// ErrorSources maps a policy id of Decision.Errors to where the error
	// arose: the clause's path:line:column (the policy's without
	// --explain).
	ErrorSources map[string]string
	// Warnings are what makes the answer suspect: a principal or resource
	// that is no entity, a request that does not match the schema.
	Warnings []string
	// Policies explains every policy whose scope could match, in policy
	// id order; set only when the request asked for it.
	Policies []Policy
}

// Policy is how one policy fared.
type Policy struct {
	ID, Source string
	// Effect is "permit" or "forbid".
	Effect string
	// Scope says which parts of the scope the request satisfies.
	Scope Scope
	// Active is false when the policy's validity window (a grant's
	// expiry) does not contain the instant.
	Active bool
	// Conditions are its when and unless clauses, in order.
	Conditions []Condition
	// Outcome is "matched" (it applies), "scope" (its scope does not
	// match), "inactive" (outside its validity window), "condition" (a
	// clause does not hold) or "error" (a clause failed to evaluate).
	Outcome string
	// Determining is true for the policies that determined the decision.
	Determining bool
}

// Scope is whether the request satisfies each part of a policy's scope.
type Scope struct {
	Principal, Action, Resource bool
	// Text is the scope as Cedar writes it.
	Text string
}

// Condition is one when or unless clause.
type Condition struct {
	// Kind is "when" or "unless".
	Kind string
	// Source is the clause's path:line:column (its keyword), or the
	// policy's when the clause cannot be located (generated policies).
	Source string
	// Text is the clause's expression in Cedar.
	Text string
	// Result is "true", "false", "error", or "skipped" when an earlier
	// clause already did not hold.
	Result string
	// Holds is whether the clause lets the policy apply: a when that is
	// true, an unless that is false.
	Holds bool
	// Error is the evaluation error when Result is "error".
	Error string
}

// InputError is a request that cannot be asked: a UID, context or entity
// list that does not read, an action the schema does not declare.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(format string, args ...any) error {
	return &InputError{fmt.Errorf(format, args...)}
}

// Run decides req against c.
func Run(c *build.Compiled, req Request) (*Result, error) {
	snap, err := engine.New(c.Bundle)
	if err != nil {
		return nil, fmt.Errorf("compiling the bundle: %w", err)
	}
	conv := cedarjson.New(c.Result.Schema, c.Repo.Config.Namespace)
	res := &Result{Bundle: c.Bundle.Ref(), At: req.At}
	if res.Bundle.Digest == "" {
		// A compiled bundle gets its digest when it is encoded; report the
		// one build would store it under.
		if res.Bundle.Digest, err = bundle.ComputeDigest(c.Bundle); err != nil {
			return nil, fmt.Errorf("digest of the bundle: %w", err)
		}
	}
	if res.Principal, err = conv.UID(req.Principal); err != nil {
		return nil, inputErr("--principal: %v", err)
	}
	if res.Action, err = conv.ActionUID(req.Action); err != nil {
		return nil, inputErr("--action: %v", err)
	}
	if res.Resource, err = conv.UID(req.Resource); err != nil {
		return nil, inputErr("--resource: %v", err)
	}
	if s := c.Result.Schema; s != nil {
		if _, ok := s.Actions[res.Action]; !ok {
			var names []string
			for u := range s.Actions {
				names = append(names, u.String())
			}
			slices.Sort(names)
			msg := fmt.Sprintf("--action: the schema declares no action %s", res.Action)
			if hint := repo.Suggest(res.Action.String(), names); hint != "" {
				msg += fmt.Sprintf("; did you mean %s?", hint)
			}
			return nil, inputErr("%s (it declares %s)", msg, strings.Join(names, ", "))
		}
	}
	er := &engine.Request{Principal: res.Principal, Action: res.Action, Resource: res.Resource, Time: req.At}
	if len(req.Context) > 0 {
		if er.Context, err = conv.Context(res.Action, req.Context); err != nil {
			return nil, inputErr("--context: %v", err)
		}
	}
	if len(req.Entities) > 0 {
		if er.Entities, err = conv.Entities(req.Entities); err != nil {
			return nil, inputErr("--entities: %v", err)
		}
		if sh, refused := snap.Shadowing(er.Entities, engine.RefuseShadowing); refused {
			return nil, inputErr("--entities: entities[%d]: %s is defined by the bundle: a PDP refuses request entities that shadow bundle entities (serve --request-entities refuse-shadowing, the default)", sh.Index, sh.UID)
		}
	}
	res.Warnings = append(res.Warnings, unknownEntities(snap, er, c.Env)...)
	if s := c.Result.Schema; s != nil {
		// As the PDP's --validate-requests judges it, naming the context
		// field where the validator's own message does not.
		var mismatch error
		if err := validate.New(s).Request(types.Request{Principal: er.Principal, Action: er.Action, Resource: er.Resource, Context: er.Context}); err != nil {
			mismatch = err
			if fe := conv.CheckContext(res.Action, er.Context); fe != nil {
				mismatch = fe
			}
		}
		if mismatch != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("the request does not match the schema: %v; a PDP with --validate-requests refuses it, one without decides it as shown", mismatch))
		}
	}
	res.Decision = snap.Decide(er)
	res.ErrorSources = map[string]string{}
	for _, e := range res.Decision.Errors {
		res.ErrorSources[e.PolicyID] = ""
	}
	ex := explainer{snap: snap, an: snap.Analysis(), files: c.Repo.Policies, when: grantConditions(c.Result), req: er, ents: entityMap(snap, er.Entities)}
	determining := map[string]bool{}
	for _, r := range res.Decision.Reasons {
		determining[r.ID] = true
	}
	for _, i := range ex.couldMatch() {
		if _, failed := res.ErrorSources[ex.an.Policy(i).ID]; !failed && !req.Explain {
			// Without --explain only the clauses that failed are located.
			continue
		}
		p, a := ex.policy(i)
		if !p.Scope.Action || !relevant(p, a) {
			continue
		}
		p.Determining = determining[p.ID]
		if _, failed := res.ErrorSources[p.ID]; failed {
			res.ErrorSources[p.ID] = p.Source
			for _, c := range p.Conditions {
				if c.Result == "error" {
					res.ErrorSources[p.ID] = c.Source
				}
			}
		}
		if req.Explain {
			res.Policies = append(res.Policies, p)
		}
	}
	slices.SortFunc(res.Policies, func(a, b Policy) int { return strings.Compare(a.ID, b.ID) })
	return res, nil
}

// unknownEntities warns about a principal or resource that neither the
// bundle nor the request defines: the engine decides for it as for an
// entity with no attributes and no parents, which is most often a typo.
func unknownEntities(snap *engine.Snapshot, req *engine.Request, env string) []string {
	var out []string
	for _, x := range []struct {
		role string
		uid  types.EntityUID
	}{{"principal", req.Principal}, {"resource", req.Resource}} {
		if snap.HasEntity(x.uid) || slices.ContainsFunc(req.Entities, func(e types.Entity) bool { return e.UID == x.uid }) {
			continue
		}
		var ids []string
		for e := range snap.Entities() {
			if e.UID.Type == x.uid.Type {
				ids = append(ids, string(e.UID.ID))
			}
		}
		slices.Sort(ids)
		msg := fmt.Sprintf("%s %s is not an entity of the bundle (environment %q)", x.role, x.uid, env)
		if s := repo.Suggest(string(x.uid.ID), ids); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", types.NewEntityUID(x.uid.Type, types.String(s)))
		} else {
			msg += "; define it with --entities to ask about an entity the bundle lacks"
		}
		msg += " It is decided as an entity with no attributes and no parents."
		out = append(out, msg)
	}
	return out
}

// entityMap is every entity the decision sees: the bundle's, and the
// request's added (shadowing is refused before).
func entityMap(snap *engine.Snapshot, reqEnts []types.Entity) types.EntityMap {
	m := types.EntityMap{}
	for e := range snap.Entities() {
		m[e.UID] = e
	}
	for _, e := range reqEnts {
		m[e.UID] = e
	}
	return m
}

type explainer struct {
	snap *engine.Snapshot
	// an names the policies decisions name: one per grant and template.
	an    *engine.Analysis
	files []*repo.File
	// when says where the condition of each generated grant with one is
	// written (its profile's when:), by policy id.
	when map[string]diag.Position
	req  *engine.Request
	ents types.EntityMap
}

// couldMatch returns the candidates for explanation: the policies whose
// action scope the request's action satisfies, sorted. Which of them are
// worth showing is decided once each is explained (see relevant).
func (x *explainer) couldMatch() []int32 {
	return x.an.Matching(engine.ActionDim, x.req.Action, nil)
}

// relevant reports whether p is worth explaining: its scope matches, or it
// names the request's principal or resource (or a group or container of
// them) in a scope that matches, so only the other part of its scope is
// missing: the grants on this resource the principal lacks, and the
// principal's grants on other resources. Policies about other principals
// and other resources are left out.
func relevant(p Policy, a *expast.Policy) bool {
	targeted := func(n any) bool {
		switch n.(type) {
		case expast.ScopeTypeAll, expast.ScopeTypeIs:
			return false
		}
		return true
	}
	s := p.Scope
	return s.Principal && s.Resource ||
		s.Principal && targeted(a.Principal) ||
		s.Resource && targeted(a.Resource)
}

// policy explains policy i.
func (x *explainer) policy(i int32) (Policy, *expast.Policy) {
	info := x.an.Policy(i)
	p := Policy{ID: info.ID, Source: info.Source, Effect: "permit", Active: x.an.ActiveAt(i, x.req.Time)}
	if info.Forbid {
		p.Effect = "forbid"
	}
	scope := func(pr expast.IsPrincipalScopeNode, ac expast.IsActionScopeNode, rs expast.IsResourceScopeNode) bool {
		r, _ := x.holds(&expast.Policy{Effect: expast.EffectPermit, Principal: pr, Action: ac, Resource: rs})
		return r == "true"
	}
	a := info.AST
	p.Scope = Scope{
		Principal: scope(a.Principal, expast.ScopeTypeAll{}, expast.ScopeTypeAll{}),
		Action:    scope(expast.ScopeTypeAll{}, a.Action, expast.ScopeTypeAll{}),
		Resource:  scope(expast.ScopeTypeAll{}, expast.ScopeTypeAll{}, a.Resource),
		Text:      scopeText(a),
	}
	clauses := access.ClauseSources(x.files, info.Source)
	if pos, ok := x.when[info.ID]; ok && len(clauses) == 0 {
		clauses = []string{pos.String()}
	}
	stopped := false
	for k, cond := range a.Conditions {
		c := Condition{Kind: "when", Source: info.Source, Text: clauseText(cond.Body), Result: "skipped"}
		if cond.Condition == expast.ConditionUnless {
			c.Kind = "unless"
		}
		if k < len(clauses) {
			c.Source = clauses[k]
		}
		if !stopped {
			c.Result, c.Error = x.holds(&expast.Policy{Effect: expast.EffectPermit, Principal: expast.ScopeTypeAll{},
				Action: expast.ScopeTypeAll{}, Resource: expast.ScopeTypeAll{},
				Conditions: []expast.ConditionType{{Condition: expast.ConditionWhen, Body: cond.Body}}})
			c.Holds = (c.Result == "true") == (c.Kind == "when") && c.Result != "error"
			stopped = !c.Holds
		}
		p.Conditions = append(p.Conditions, c)
	}
	switch {
	case !p.Scope.Principal || !p.Scope.Action || !p.Scope.Resource:
		p.Outcome = "scope"
	case !p.Active:
		p.Outcome = "inactive"
	case slices.ContainsFunc(p.Conditions, func(c Condition) bool { return c.Result == "error" }):
		p.Outcome = "error"
	case slices.ContainsFunc(p.Conditions, func(c Condition) bool { return c.Result != "skipped" && !c.Holds }):
		p.Outcome = "condition"
	default:
		p.Outcome = "matched"
	}
	return p, a
}

// holds authorizes the one-policy set {a} and says "true" (it applies),
// "false" or "error" with the message.
func (x *explainer) holds(a *expast.Policy) (result, message string) {
	ps := cedar.NewPolicySet()
	ps.Add("clause", cedar.NewPolicyFromAST((*cedarast.Policy)(a)))
	d, diag := cedar.Authorize(ps, x.ents, cedar.Request{
		Principal: x.req.Principal, Action: x.req.Action, Resource: x.req.Resource, Context: x.req.Context,
	})
	switch {
	case len(diag.Errors) > 0:
		return "error", diag.Errors[0].Message
	case d == cedar.Allow:
		return "true", ""
	}
	return "false", ""
}

// scopeText renders a policy's scope as Cedar writes it.
func scopeText(a *expast.Policy) string {
	p := &expast.Policy{Effect: a.Effect, Principal: a.Principal, Action: a.Action, Resource: a.Resource}
	text := string(cedar.NewPolicyFromAST((*cedarast.Policy)(p)).MarshalCedar())
	if open := strings.IndexByte(text, '('); open >= 0 {
		if end := strings.LastIndexByte(text, ')'); end > open {
			return strings.Join(strings.Fields(text[open+1:end]), " ")
		}
	}
	return text
}

// clauseText renders a condition's expression in Cedar.
func clauseText(body expast.IsNode) string {
	p := &expast.Policy{Effect: expast.EffectPermit, Principal: expast.ScopeTypeAll{}, Action: expast.ScopeTypeAll{},
		Resource: expast.ScopeTypeAll{}, Conditions: []expast.ConditionType{{Condition: expast.ConditionWhen, Body: body}}}
	text := string(cedar.NewPolicyFromAST((*cedarast.Policy)(p)).MarshalCedar())
	if open := strings.Index(text, "when {"); open >= 0 {
		if end := strings.LastIndexByte(text, '}'); end > open {
			return strings.Join(strings.Fields(text[open+len("when {"):end]), " ")
		}
	}
	return text
}

// grantConditions maps each generated grant that has a condition to where
// its profile writes that condition, so that --explain points at the
// profile's when: rather than at the grant.
func grantConditions(res *compile.Result) map[string]diag.Position {
	m := map[string]diag.Position{}
	for _, p := range res.Logical() {
		if p.When.File != "" {
			m[p.ID] = p.When
		}
	}
	return m
}
