// Package access answers, for one compiled bundle at an instant, who can do
// what: the (principal, action, resource) triples of the bundle's own
// entities that the bundle allows, each with the policies or grants that
// allow it. It is the effective-access engine behind `cedargate access`,
// `diff` and `review`.
//
// Triples are found through the decision engine's scope index, never by
// trying every principal × action × resource. Cedar's semantics hold
// exactly: forbid overrides permit, default deny, attributes and ancestry
// from the bundle. A policy whose conditions read the request context
// (source IP, MFA, request time) cannot be decided offline: the triples it
// may allow, or may forbid, are conditional, reported with the condition's
// text and position, never silently allowed or dropped.
package access

import (
	"errors"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
)

// Kind is how a triple is allowed.
type Kind string

// The kinds of access.
const (
	// Allow: the bundle allows the triple whatever the request context.
	Allow Kind = "allow"
	// Conditional: the bundle allows the triple for some request contexts
	// and not others (a permit or a forbid that reads context applies).
	Conditional Kind = "conditional"
)

// PolicyRef names a policy or grant and where it is written.
type PolicyRef struct {
	// ID is the bundle policy id (e.g. "policies/ops.cedar#2" or
	// "entitlement:alice-reads#0").
	ID string `json:"id"`
	// Source is "path:line:column" of the policy, or of the identity
	// object that generated it.
	Source string `json:"source"`
}

// Condition is a condition a conditional triple depends on.
type Condition struct {
	// Policy is the id of the policy the condition belongs to.
	Policy string `json:"policy"`
	// Source is where the condition is written, "path:line:column".
	Source string `json:"source"`
	// Text is the condition in Cedar, e.g. `when { context.mfa }`.
	Text string `json:"text"`
}

// Entry is one triple the bundle allows, or may allow.
type Entry struct {
	Principal types.EntityUID
	Action    types.EntityUID
	Resource  types.EntityUID
	Access    Kind
	// Policies are the permits that allow the triple (for a conditional
	// triple, those that may), sorted by id.
	Policies []PolicyRef
	// Conditions are, for a conditional triple, the conditions of the
	// permits and forbids it depends on; empty for Allow.
	Conditions []Condition
}

// Query selects triples: a zero UID matches any.
type Query struct {
	Principal, Action, Resource types.EntityUID
	// At is the instant time-bound grants are judged at.
	At time.Time
}

// Table is the answer to a Query: the entries, sorted by principal,
// action, resource.
type Table struct {
	Bundle  bundle.Ref `json:"bundle"`
	At      time.Time  `json:"at"`
	Entries []Entry    `json:"entries"`
}

// Analyzer answers queries about one bundle. Build it once per bundle
// (it indexes the bundle); it is safe for concurrent use.
type Analyzer struct {
	b *bundle.Bundle
}

// errUnbuilt marks the skeleton: the engine lands with issue 10's access
// work.
var errUnbuilt = errors.New("access: the effective-access engine is not built yet")

// New indexes b for queries.
func New(b *bundle.Bundle) (*Analyzer, error) {
	return nil, errUnbuilt
}

// Query returns the triples q selects, at q.At.
func (a *Analyzer) Query(q Query) (*Table, error) {
	return nil, errUnbuilt
}
