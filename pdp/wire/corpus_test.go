package wire_test

import (
	"cmp"
	"maps"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/internal/cedarcorpus"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// corpusBundle is cedarcorpus.Case.Bundle for a test.
func corpusBundle(t *testing.T, c cedarcorpus.Case) (*bundle.Bundle, types.EntityMap) {
	t.Helper()
	b, ents, err := c.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	return b, ents
}

// sendAndDecode does what a client and the server do with a request:
// the client encodes it, gRPC marshals and unmarshals it, the server
// decodes it. The decoded request must equal the original.
func sendAndDecode(t *testing.T, orig *engine.Request, lim wire.Limits) *engine.Request {
	t.Helper()
	pr, err := wire.EncodeRequest(orig)
	if err != nil {
		t.Fatalf("encoding: %v", err)
	}
	got, err := wire.DecodeRequest(overTheWire(t, pr, &cedargatev1.AuthorizeRequest{}), lim)
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if !requestsEqual(got, orig) {
		t.Fatalf("decoded request differs:\n got %+v\nwant %+v", got, orig)
	}
	return got
}

// TestCorpus sends every request of Cedar's integration-test corpus over
// the wire and decides it: the decoded request must equal the original,
// and its decision, determining policies and erroring policies must be
// Cedar's. Each request goes twice: as the corpus has it, against a
// snapshot holding the case's entities; and with all those entities sent
// as request entities, against a snapshot with none.
func TestCorpus(t *testing.T) {
	cases, err := cedarcorpus.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	var requests, raised atomic.Int64
	t.Run("cases", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				b, ents := corpusBundle(t, c)
				full, err := engine.New(b)
				if err != nil {
					t.Fatal(err)
				}
				empty := *b
				empty.Entities = []byte("[]")
				bare, err := engine.New(&empty)
				if err != nil {
					t.Fatal(err)
				}
				// Send entities in uid order so a failure reproduces.
				all := slices.SortedFunc(maps.Values(ents), func(a, b types.Entity) int {
					return cmp.Or(cmp.Compare(a.UID.Type, b.UID.Type), cmp.Compare(a.UID.ID, b.UID.ID))
				})
				// The default limits hold every corpus request; a case with
				// more entities than a server takes by default gets a
				// raised limit for its request-entity run, and is counted.
				withEntities := wire.Limits{}
				if len(all) > wire.DefaultMaxEntities {
					withEntities.MaxEntities = len(all)
					raised.Add(1)
				}
				for _, r := range c.Requests {
					requests.Add(1)
					orig := &engine.Request{Principal: r.Principal, Action: r.Action, Resource: r.Resource, Context: r.Context}
					checkDecision(t, r, "bundle entities", full.Decide(sendAndDecode(t, orig, wire.Limits{})))
					orig.Entities = all
					// The bundle is empty, so no entity shadows it; Replace
					// says so, as the corpus expects of request entities.
					sent := sendAndDecode(t, orig, withEntities)
					sent.EntityMode = engine.Replace
					checkDecision(t, r, "request entities", bare.Decide(sent))
				}
			})
		}
	})
	t.Logf("%d cases, %d requests, each sent and decided two ways; %d cases over the default entity limit",
		len(cases), requests.Load(), raised.Load())
}

// checkDecision compares a decision with the one Cedar expects.
func checkDecision(t *testing.T, r cedarcorpus.Request, mode string, got engine.Decision) {
	t.Helper()
	var reasons, errs []string
	for _, x := range got.Reasons {
		reasons = append(reasons, x.ID)
	}
	for _, x := range got.Errors {
		errs = append(errs, x.PolicyID)
	}
	if got.Allow != (r.Decision == cedar.Allow) || !slices.Equal(reasons, r.Reasons) || !slices.Equal(errs, r.Errors) {
		t.Errorf("%s (%s): got allow=%v reasons=%v errors=%v, want %v reasons=%v errors=%v",
			r.Description, mode, got.Allow, reasons, errs, r.Decision, r.Reasons, r.Errors)
	}
}
