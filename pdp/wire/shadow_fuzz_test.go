package wire_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// The fuzz target decides every request it accepts against a small bundle
// whose uids the seeds (and thus the fuzzer) use, in each request-entity
// mode: a request entity that shadows the bundle must be found by
// Snapshot.Shadowing exactly when it does, and must change nothing in
// RefuseShadowing mode.

// shadowFixture is the bundle: a user in group g, a group admin, a
// resource r whose parent G::"ghost" the bundle does not define.
const shadowFixture = `[
{"uid": {"type": "U", "id": "u"}, "parents": [{"type": "G", "id": "g"}], "attrs": {"level": 1}},
{"uid": {"type": "G", "id": "g"}, "parents": [], "attrs": {}},
{"uid": {"type": "G", "id": "admin"}, "parents": [], "attrs": {}},
{"uid": {"type": "R", "id": "r"}, "parents": [{"type": "G", "id": "ghost"}], "attrs": {"secret": true}}
]`

// shadowUIDs are the uids of shadowFixture: its entities and the parent it
// names only.
var shadowUIDs = map[types.EntityUID]bool{
	types.NewEntityUID("U", "u"): true, types.NewEntityUID("G", "g"): true, types.NewEntityUID("G", "admin"): true,
	types.NewEntityUID("R", "r"): true, types.NewEntityUID("G", "ghost"): true,
}

func shadowSnapshot(f *testing.F) *engine.Snapshot {
	f.Helper()
	s, err := engine.New(&bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: 1, Revision: "r", Environment: "e"},
		Entities: []byte(shadowFixture), Policies: []bundle.Policy{
			{ID: "admins", Source: "x", Cedar: `permit (principal in G::"admin", action, resource);`},
			{ID: "levels", Source: "x", Cedar: `permit (principal, action, resource) when { principal.level > 1 };`},
			{ID: "secrets", Source: "x", Cedar: `forbid (principal in G::"g", action, resource in G::"ghost") when { resource.secret };`},
		}})
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// shadowSeeds are requests whose entities shadow the fixture's: the
// escalation of issue 9 (the user sent with the admin group as parent),
// attributes over a bundle entity with its own parents repeated, a parent
// the bundle names only, given a parent, and a bundle entity after a
// request-only one.
func shadowSeeds() []*cedargatev1.AuthorizeRequest {
	req := func(ents ...*cedargatev1.Entity) *cedargatev1.AuthorizeRequest {
		return &cedargatev1.AuthorizeRequest{Principal: ref("U", "u"), Action: ref("Action", "a"), Resource: ref("R", "r"), Entities: ents}
	}
	return []*cedargatev1.AuthorizeRequest{
		req(&cedargatev1.Entity{Uid: ref("U", "u"), Parents: []*cedargatev1.EntityRef{ref("G", "admin")}}),
		req(&cedargatev1.Entity{Uid: ref("U", "u"), Parents: []*cedargatev1.EntityRef{ref("G", "g")},
			Attrs: map[string]*cedargatev1.Value{"level": long(5)}}),
		req(&cedargatev1.Entity{Uid: ref("G", "ghost"), Parents: []*cedargatev1.EntityRef{ref("G", "admin")}}),
		req(&cedargatev1.Entity{Uid: ref("D", "new"), Parents: []*cedargatev1.EntityRef{ref("R", "r")}},
			&cedargatev1.Entity{Uid: ref("R", "r"), Attrs: map[string]*cedargatev1.Value{"secret": boolean(false)}}),
	}
}

// checkEntityModes decides req against s in every mode and checks what
// the modes promise.
func checkEntityModes(t *testing.T, s *engine.Snapshot, req *engine.Request) {
	first := -1
	var kept []types.Entity
	for i, e := range req.Entities {
		if !shadowUIDs[e.UID] {
			kept = append(kept, e)
		} else if first < 0 {
			first = i
		}
	}
	sh, refused := s.Shadowing(req.Entities, engine.RefuseShadowing)
	if refused != (first >= 0) || (refused && (sh.Index != first || sh.UID != req.Entities[first].UID)) {
		t.Fatalf("Shadowing = %+v, %v; the first entity the bundle defines is at %d", sh, refused, first)
	}
	if sh, refused := s.Shadowing(req.Entities, engine.Replace); refused {
		t.Fatalf("Replace refused %+v", sh)
	}
	if sh, refused := s.Shadowing(req.Entities, engine.MergeAttributes); refused && !shadowUIDs[sh.UID] {
		t.Fatalf("MergeAttributes refused %+v, which the bundle does not define", sh)
	}
	decide := func(ents []types.Entity, mode engine.EntityMode) engine.Decision {
		r := *req
		r.Entities, r.EntityMode, r.Time = ents, mode, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
		return s.Decide(&r)
	}
	// A request no front end refused, decided in RefuseShadowing mode, is
	// decided as if its shadowing entities were not there.
	if got, want := decide(req.Entities, engine.RefuseShadowing), decide(kept, engine.Replace); !reflect.DeepEqual(got, want) {
		t.Fatalf("RefuseShadowing decided %+v; without the shadowing entities: %+v", got, want)
	}
	decide(req.Entities, engine.MergeAttributes)
	decide(req.Entities, engine.Replace)
}
