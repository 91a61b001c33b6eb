package wire_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

func TestResponseRoundTrip(t *testing.T) {
	ref := wire.EncodeBundleRef(bundle.Ref{Revision: "0123abc", Digest: "sha256:00", Environment: "prod"})
	if ref.Revision != "0123abc" || ref.Digest != "sha256:00" || ref.Environment != "prod" {
		t.Fatalf("bundle ref %v", ref)
	}
	tests := []struct {
		name string
		d    engine.Decision
		want cedargatev1.Decision
	}{
		{"default deny", engine.Decision{}, cedargatev1.Decision_DECISION_DENY},
		{"allow", engine.Decision{Allow: true, Reasons: []engine.Reason{{ID: "a", Source: "policies/a.cedar:1:1"}, {ID: "b"}}},
			cedargatev1.Decision_DECISION_ALLOW},
		{"deny by forbid with errors", engine.Decision{Reasons: []engine.Reason{{ID: "f", Source: "policies/f.cedar:3:1"}},
			Errors: []engine.EvalError{{PolicyID: "e1", Message: "attribute not found"}, {PolicyID: "e2", Message: "overflow"}}},
			cedargatev1.Decision_DECISION_DENY},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := wire.EncodeResponse(tt.d, "dec-1", ref)
			if resp.Decision != tt.want || resp.DecisionId != "dec-1" || resp.Bundle != ref {
				t.Fatalf("got %v", resp)
			}
			got := wire.DecodeResponse(overTheWire(t, resp, &cedargatev1.AuthorizeResponse{}))
			if got.Allow != tt.d.Allow || !slices.Equal(got.Reasons, tt.d.Reasons) || !slices.Equal(got.Errors, tt.d.Errors) {
				t.Fatalf("got %+v, want %+v", got, tt.d)
			}
		})
	}
}

// TestDecodeResponseFailsClosed checks that a client reading a response
// allows only on an explicit ALLOW.
func TestDecodeResponseFailsClosed(t *testing.T) {
	for _, resp := range []*cedargatev1.AuthorizeResponse{
		nil,
		{},
		{Decision: cedargatev1.Decision_DECISION_UNSPECIFIED, DeterminingPolicies: []*cedargatev1.PolicyRef{{Id: "p"}}},
		{Decision: cedargatev1.Decision(7)},
	} {
		if wire.DecodeResponse(resp).Allow {
			t.Errorf("%v decodes as an allow", resp)
		}
	}
	if !wire.DecodeResponse(&cedargatev1.AuthorizeResponse{Decision: cedargatev1.Decision_DECISION_ALLOW}).Allow {
		t.Error("an ALLOW does not decode as an allow")
	}
	// A marshalled unknown enum value survives the wire as itself.
	got := overTheWire(t, &cedargatev1.AuthorizeResponse{Decision: cedargatev1.Decision(7)}, &cedargatev1.AuthorizeResponse{})
	if wire.DecodeResponse(got).Allow || !proto.Equal(got, &cedargatev1.AuthorizeResponse{Decision: cedargatev1.Decision(7)}) {
		t.Errorf("unknown decision: got %v", got)
	}
}
