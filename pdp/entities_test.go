package pdp_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/client"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// The organisation of the request-entity tests: carol is a contractor
// with clearance 0, dana an admin. Admins read every document; anyone
// active reads documents up to their clearance; contractors never read
// above level 1. The escalation issue 9 found is carol sent with the
// admins group as parent, which in Replace mode reads the payroll.
var orgFiles = map[string]string{
	"schema.cedarschema": `namespace Org {
  entity Group in [Group];
  entity User in [Group] { active: Bool, clearance: Long };
  entity Doc { level: Long };
  action read appliesTo { principal: User, resource: Doc, context: {} };
}
`,
	"entities/org.json": `[
  {"uid": {"type": "Org::Group", "id": "admins"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Org::Group", "id": "contractors"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Org::User", "id": "carol"}, "attrs": {"active": true, "clearance": 0}, "parents": [{"type": "Org::Group", "id": "contractors"}]},
  {"uid": {"type": "Org::User", "id": "dana"}, "attrs": {"active": true, "clearance": 5}, "parents": [{"type": "Org::Group", "id": "admins"}]},
  {"uid": {"type": "Org::Doc", "id": "handbook"}, "attrs": {"level": 1}, "parents": []},
  {"uid": {"type": "Org::Doc", "id": "payroll"}, "attrs": {"level": 3}, "parents": []}
]
`,
	"policies/org.cedar": `@id("admins-read")
permit (principal in Org::Group::"admins", action == Org::Action::"read", resource is Org::Doc);

@id("cleared-read")
permit (principal, action == Org::Action::"read", resource is Org::Doc)
when { principal.active && principal.clearance >= resource.level };

@id("contractors-low-only")
forbid (principal in Org::Group::"contractors", action, resource is Org::Doc)
when { resource.level > 1 };
`,
}

func orgUser(id string, attrs types.RecordMap, parents ...string) types.Entity {
	e := types.Entity{UID: uid("Org::User", id), Attributes: types.NewRecord(attrs)}
	var ps []types.EntityUID
	for _, p := range parents {
		ps = append(ps, uid("Org::Group", p))
	}
	e.Parents = types.NewEntityUIDSet(ps...)
	return e
}

func carolReads(doc string, ents ...types.Entity) client.Request {
	return client.Request{Principal: uid("Org::User", "carol"), Action: uid("Org::Action", "read"), Resource: uid("Org::Doc", doc), Entities: ents}
}

// startOrg serves the organisation's bundle over real gRPC with the given
// request-entity mode.
func startOrg(t *testing.T, mode engine.EntityMode) *harness {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	st := buildFiles(t, dir, "org", orgFiles, nil)
	if _, err := st.Activate(t.Context(), "org", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	return start(t, st, func(o *pdp.Options) { o.RequestEntities = mode })
}

var (
	// escalation is carol with the admins group as parent: in Replace
	// mode, it reads the payroll.
	escalation = orgUser("carol", types.RecordMap{"active": types.True, "clearance": types.Long(0)}, "admins")
	// cleared raises carol's clearance and sends nothing else: with her
	// bundle attributes and parents kept, she reads the handbook.
	cleared = orgUser("carol", types.RecordMap{"clearance": types.Long(1)})
	// memo is a document the bundle does not know, sent whole.
	memo = types.Entity{UID: uid("Org::Doc", "memo"), Attributes: types.NewRecord(types.RecordMap{"level": types.Long(0)})}
)

// decision is what a test expects of one request: a decision by one
// policy ("" for a default deny), with one policy failing to evaluate or
// none, or a refusal whose message holds refused.
type decision struct {
	allow   bool
	by      string
	failed  string
	refused string
}

func checkDecision(t *testing.T, d client.Decision, err error, want decision) {
	t.Helper()
	if want.refused != "" {
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), want.refused) {
			t.Fatalf("got %+v, %v; want INVALID_ARGUMENT containing %q", d, err, want.refused)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	by, failed := "", ""
	if len(d.Reasons) > 0 {
		by = d.Reasons[0].ID
	}
	if len(d.Errors) > 0 {
		failed = d.Errors[0].PolicyID
	}
	if d.Allow != want.allow || by != want.by || failed != want.failed || len(d.Reasons) > 1 || len(d.Errors) > 1 {
		t.Fatalf("decision %+v, want allow=%v by %q, %q failing", d, want.allow, want.by, want.failed)
	}
}

// TestRequestEntityModes decides the same requests over real gRPC against
// a PDP in each request-entity mode, one at a time (Authorize) and in a
// batch (BatchAuthorize), and checks that GetStatus reports the mode.
func TestRequestEntityModes(t *testing.T) {
	const refusedCarol = `entities[0]: Org::User::"carol" is defined by the bundle: a request entity may not replace or change what the bundle defines (request entities: refuse-shadowing)`
	const refusedParent = `entities[0].parents: Org::Group::"admins" is not a parent of Org::User::"carol" in the bundle`
	requests := map[string]client.Request{
		"bundle only":          carolReads("handbook"),
		"request-only entity":  carolReads("memo", memo),
		"escalation":           carolReads("payroll", escalation),
		"merged clearance":     carolReads("handbook", cleared, memo),
		"repeated parents":     carolReads("payroll", orgUser("carol", types.RecordMap{"clearance": types.Long(3)}, "contractors")),
		"second entity shadow": carolReads("memo", memo, types.Entity{UID: uid("Org::Doc", "payroll")}),
	}
	tests := []struct {
		mode engine.EntityMode
		pb   pb.RequestEntitiesMode
		want map[string]decision
	}{
		{engine.RefuseShadowing, pb.RequestEntitiesMode_REQUEST_ENTITIES_MODE_REFUSE_SHADOWING, map[string]decision{
			"bundle only":          {allow: false},
			"request-only entity":  {allow: true, by: "cleared-read"},
			"escalation":           {refused: refusedCarol},
			"merged clearance":     {refused: refusedCarol},
			"repeated parents":     {refused: refusedCarol},
			"second entity shadow": {refused: `entities[1]: Org::Doc::"payroll" is defined by the bundle`},
		}},
		{engine.MergeAttributes, pb.RequestEntitiesMode_REQUEST_ENTITIES_MODE_MERGE_ATTRIBUTES, map[string]decision{
			"bundle only":         {allow: false},
			"request-only entity": {allow: true, by: "cleared-read"},
			"escalation":          {refused: refusedParent},
			// The request's clearance, the bundle's active flag.
			"merged clearance": {allow: true, by: "cleared-read"},
			// Cleared for the payroll, but still a contractor: the
			// bundle's parents hold.
			"repeated parents": {allow: false, by: "contractors-low-only"},
			// The payroll merged with nothing: the bundle's as it was.
			"second entity shadow": {allow: true, by: "cleared-read"},
		}},
		{engine.Replace, pb.RequestEntitiesMode_REQUEST_ENTITIES_MODE_REPLACE, map[string]decision{
			"bundle only":         {allow: false},
			"request-only entity": {allow: true, by: "cleared-read"},
			// Today's behaviour, which the default now refuses.
			"escalation": {allow: true, by: "admins-read"},
			// Replaced wholly: without the bundle's active attribute,
			// cleared-read fails to evaluate.
			"merged clearance":     {allow: false, failed: "cleared-read"},
			"repeated parents":     {allow: false, by: "contractors-low-only", failed: "cleared-read"},
			"second entity shadow": {allow: true, by: "cleared-read"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			h := startOrg(t, tt.mode)
			ctx := context.Background()
			for name, req := range requests {
				t.Run(name, func(t *testing.T) {
					d, err := h.client.Authorize(ctx, req)
					checkDecision(t, d, err, tt.want[name])
					// The same request in a batch, after one without
					// entities: decided alike, or refused naming its index.
					ds, err := h.client.BatchAuthorize(ctx, []client.Request{carolReads("handbook"), req})
					want := tt.want[name]
					if want.refused != "" {
						want.refused = "requests[1]." + want.refused
						checkDecision(t, client.Decision{}, err, want)
						return
					}
					if err != nil || len(ds) != 2 {
						t.Fatalf("batch: %v, %v", ds, err)
					}
					checkDecision(t, ds[1], nil, want)
				})
			}
			// A request's entities are for that request only.
			d, err := h.client.Authorize(ctx, carolReads("handbook"))
			checkDecision(t, d, err, decision{allow: false})
			st, err := h.client.Status(ctx)
			if err != nil || st.GetRequestEntities() != tt.pb {
				t.Fatalf("GetStatus request_entities = %v, %v; want %v", st.GetRequestEntities(), err, tt.pb)
			}
		})
	}
}

// TestFrontEndsShareEntityRules checks that in-process front ends (the
// Envoy ext_authz adapter decides through Server.Decide) are held to the
// deployment's request-entity mode too.
func TestFrontEndsShareEntityRules(t *testing.T) {
	h := startOrg(t, engine.RefuseShadowing)
	req := carolReads("payroll", escalation)
	_, err := h.srv.Decide(context.Background(), func(_ *engine.Snapshot, _ time.Time) (*engine.Request, error) {
		return &engine.Request{Principal: req.Principal, Action: req.Action, Resource: req.Resource, Entities: req.Entities}, nil
	})
	if fe := (*wire.FieldError)(nil); !errors.As(err, &fe) || fe.Field != "entities[0]" || !strings.Contains(fe.Reason, `Org::User::"carol" is defined by the bundle`) {
		t.Fatalf("Decide = %v, want a field error naming entities[0] and carol", err)
	}
}

// TestValidatedMergeChecksTheMergedEntity runs --validate-requests with
// each mode that lets a request entity through: in merge-attributes mode
// the schema is checked against the entity the decision uses (the
// bundle's, with the request's attributes added), so sending only the
// attribute to change is valid; in replace mode the request's entity is
// the whole entity, and one without the bundle's attributes is refused.
func TestValidatedMergeChecksTheMergedEntity(t *testing.T) {
	wrongType := orgUser("carol", types.RecordMap{"clearance": types.String("high")})
	tests := []struct {
		mode engine.EntityMode
		ent  types.Entity
		want decision
	}{
		{engine.MergeAttributes, cleared, decision{allow: true, by: "cleared-read"}},
		{engine.MergeAttributes, wrongType, decision{refused: `entities[0]: Org::User::"carol" does not match the schema`}},
		{engine.Replace, cleared, decision{refused: `entities[0]: Org::User::"carol" does not match the schema`}},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String()+"/"+tt.ent.Attributes.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			st := buildFiles(t, dir, "org", orgFiles, nil)
			if _, err := st.Activate(t.Context(), "org", store.ActionRollout, t0); err != nil {
				t.Fatal(err)
			}
			h := start(t, st, func(o *pdp.Options) { o.RequestEntities, o.ValidateRequests = tt.mode, true })
			d, err := h.client.Authorize(context.Background(), carolReads("handbook", tt.ent))
			checkDecision(t, d, err, tt.want)
		})
	}
}
