package wire

import (
	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// EncodeResponse builds the response to one decided request: the
// decision, its determining policies and evaluation errors in the
// engine's order (by policy id), the decision id the decision log uses,
// and the bundle that decided. ref may be shared by every response of a
// snapshot (see [EncodeBundleRef]): responses only read it.
func EncodeResponse(d engine.Decision, decisionID string, ref *cedargatev1.BundleRef) *cedargatev1.AuthorizeResponse {
	resp := &cedargatev1.AuthorizeResponse{Decision: cedargatev1.Decision_DECISION_DENY, DecisionId: decisionID, Bundle: ref}
	if d.Allow {
		resp.Decision = cedargatev1.Decision_DECISION_ALLOW
	}
	// One backing array per list instead of one allocation per entry;
	// the messages are created in place, never copied.
	if len(d.Reasons) > 0 {
		refs := make([]cedargatev1.PolicyRef, len(d.Reasons))
		resp.DeterminingPolicies = make([]*cedargatev1.PolicyRef, len(d.Reasons))
		for i, r := range d.Reasons {
			refs[i].Id, refs[i].Source = r.ID, r.Source
			resp.DeterminingPolicies[i] = &refs[i]
		}
	}
	if len(d.Errors) > 0 {
		errs := make([]cedargatev1.EvaluationError, len(d.Errors))
		resp.Errors = make([]*cedargatev1.EvaluationError, len(d.Errors))
		for i, e := range d.Errors {
			errs[i].PolicyId, errs[i].Message = e.PolicyID, e.Message
			resp.Errors[i] = &errs[i]
		}
	}
	return resp
}

// EncodeBundleRef converts a bundle's revision, digest and environment to
// their wire form; a server builds it once per snapshot.
func EncodeBundleRef(ref bundle.Ref) *cedargatev1.BundleRef {
	return &cedargatev1.BundleRef{Revision: ref.Revision, Digest: ref.Digest, Environment: ref.Environment}
}

// DecodeResponse reads a decision back from a response, for clients and
// tests. It fails closed as the API asks of clients: anything but
// DECISION_ALLOW, including DECISION_UNSPECIFIED and values a newer server
// may add, is a deny.
func DecodeResponse(resp *cedargatev1.AuthorizeResponse) engine.Decision {
	d := engine.Decision{Allow: resp.GetDecision() == cedargatev1.Decision_DECISION_ALLOW}
	for _, p := range resp.GetDeterminingPolicies() {
		d.Reasons = append(d.Reasons, engine.Reason{ID: p.GetId(), Source: p.GetSource()})
	}
	for _, e := range resp.GetErrors() {
		d.Errors = append(d.Errors, engine.EvalError{PolicyID: e.GetPolicyId(), Message: e.GetMessage()})
	}
	return d
}
