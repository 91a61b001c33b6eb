package decisionlog

import (
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
)

// Entry is one decision as the log records it.
//
// Record keeps the Policies and Errors slices rather than copying them, so a
// caller must not modify them after handing the entry over.
type Entry struct {
	// DecisionID identifies the decision, e.g. the id returned to the caller,
	// so that a log line can be matched to a request.
	DecisionID string
	// Time is when the decision was made; it is written in UTC.
	Time time.Time
	// Principal, Action and Resource are the request's entity UIDs.
	Principal, Action, Resource types.EntityUID
	// Allow is the decision: true for "allow", false for "deny".
	Allow bool
	// Policies are the ids of the policies that determined the decision.
	Policies []string
	// Errors are the policies that failed to evaluate.
	Errors []Error
	// Bundle identifies the policy bundle the decision was made against.
	Bundle Bundle
	// Latency is how long the decision took; it is written in whole
	// microseconds.
	Latency time.Duration
	// Caller is the authenticated identity of the client that asked for the
	// decision; the field is left out of the line when empty.
	Caller string
	// Frontend names the API the decision was asked through when it is not
	// cedargate's own gRPC API ("authzen" for the AuthZEN HTTP API); the
	// field is left out of the line when empty.
	Frontend string
}

// Error is a policy that could not be evaluated for a decision: the
// engine's own, so that a decision's errors are logged as they are.
type Error = engine.EvalError

// Bundle identifies the bundle a decision was made against, so that a
// decision can be replayed against exactly the same policies.
type Bundle = bundle.Ref
