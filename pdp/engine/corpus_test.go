package engine_test

import (
	"slices"
	"testing"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/internal/cedarcorpus"
	"github.com/cedargate/cedargate/pdp/engine"
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

// TestCorpus decides every request of Cedar's integration-test corpus and
// compares decision, determining policies and erroring policies with what
// Cedar expects. Each request runs five ways: with the entities in the
// bundle (the indexed path), with an empty bundle and all entities sent in
// the request (request-scoped entities with computed ancestors), and with
// the entities both in the bundle and in the request, in each
// request-entity mode: replacing the bundle's (Replace: request entities
// overriding bundle ancestors, the slow path), merged into them
// (MergeAttributes) and left out (RefuseShadowing, as Decide treats a
// request no front end refused). The request sends the bundle's entities
// unchanged, so every way must give Cedar's answer.
func TestCorpus(t *testing.T) {
	cases, err := cedarcorpus.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	requests := 0
	for _, c := range cases {
		requests += len(c.Requests)
		t.Run(c.Name, func(t *testing.T) {
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
			var all []types.Entity
			for _, e := range ents {
				all = append(all, e)
			}
			modes := []struct {
				name     string
				snap     *engine.Snapshot
				entities []types.Entity
				mode     engine.EntityMode
			}{
				{"bundle", full, nil, engine.RefuseShadowing},
				{"request", bare, all, engine.RefuseShadowing},
				{"override", full, all, engine.Replace},
				{"merge", full, all, engine.MergeAttributes},
				{"refuse", full, all, engine.RefuseShadowing},
			}
			for _, r := range c.Requests {
				for _, m := range modes {
					got := m.snap.Decide(&engine.Request{Principal: r.Principal, Action: r.Action, Resource: r.Resource,
						Context: r.Context, Entities: m.entities, EntityMode: m.mode})
					var reasons, errs []string
					for _, x := range got.Reasons {
						reasons = append(reasons, x.ID)
					}
					for _, x := range got.Errors {
						errs = append(errs, x.PolicyID)
					}
					if got.Allow != (r.Decision == cedar.Allow) || !slices.Equal(reasons, r.Reasons) || !slices.Equal(errs, r.Errors) {
						t.Errorf("%s (%s): got allow=%v reasons=%v errors=%v, want %v reasons=%v errors=%v",
							r.Description, m.name, got.Allow, reasons, errs, r.Decision, r.Reasons, r.Errors)
					}
					if !slices.IsSorted(reasons) || !slices.IsSorted(errs) {
						t.Errorf("%s (%s): reasons %v or errors %v are not in id order", r.Description, m.name, reasons, errs)
					}
				}
			}
		})
	}
	t.Logf("%d cases, %d requests, each decided five ways", len(cases), requests)
}
