package authzen_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/authzen"
)

// buildRepo builds the repository of files (path → content) and returns
// its bundle's archive, or the build's error.
func buildRepo(t *testing.T, files map[string]string) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := build.Build(context.Background(), dir, build.Options{Now: refNow, Revision: "mapped"})
	if err != nil {
		return nil, err
	}
	return out.Archive, nil
}

// docsRepo is a repository whose AuthZEN names differ from its Cedar
// names, with values the schema types: an entity reference, an ipaddr, a
// record of action properties.
var docsRepo = map[string]string{
	"cedargate.yaml": `namespace: Docs
authzen:
  types:
    person: User
    doc: Document
  actions:
    can_read: read
    can_edit: 'Docs::Action::"write"'
    can_view: read
  action_properties: request
  unknown_subjects: decide
`,
	"schema.cedarschema": `namespace Docs {
  entity User { clearance: Long };
  entity Document { owner: User, classification: String };
  type Request = { method: String };
  action read, write appliesTo {
    principal: [User], resource: [Document],
    context: { source_ip?: ipaddr, request?: Request },
  };
}
`,
	"identities/people.yaml": "kind: User\nname: alice\nattributes: {clearance: 1}\n---\nkind: User\nname: bob\nattributes: {clearance: 3}\n",
	"entities/docs.json":     `[{"uid": {"type": "Docs::Document", "id": "plan"}, "attrs": {"owner": {"__entity": {"type": "Docs::User", "id": "alice"}}, "classification": "internal"}, "parents": []}]`,
	"policies/docs.cedar": `@id("owners-read")
permit (principal, action == Docs::Action::"read", resource is Docs::Document)
when { resource.owner == principal && context has source_ip && context.source_ip.isInRange(ip("10.0.0.0/8")) };

@id("cleared-edit")
permit (principal is Docs::User, action == Docs::Action::"write", resource is Docs::Document)
when { principal.clearance >= 3 && context has request && context.request.method == "PUT" };
`,
}

// TestMappingFromCedargateYAML checks a mapping written in cedargate.yaml:
// the AuthZEN names it lists and no others, values converted by the
// schema (a string to an entity reference or an ipaddr), action
// properties under the configured context attribute, unknown subjects
// decided, and action searches answering with the AuthZEN names.
func TestMappingFromCedargateYAML(t *testing.T) {
	archive, err := buildRepo(t, docsRepo)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, storeWith(t, archive), authzen.Options{}, pdp.Options{})
	read := func(subject, resource, extra string) string {
		return `{"subject": ` + subject + `, "action": {"name": "can_read"}, "resource": ` + resource + extra + `}`
	}
	alice, plan := `{"type": "person", "id": "alice"}`, `{"type": "doc", "id": "plan"}`
	inside := `, "context": {"source_ip": "10.1.2.3"}`
	for _, tt := range []struct {
		name, body string
		want       *bool
		refused    string
	}{
		{"the owner reads from inside", read(alice, plan, inside), yes, ""},
		{"the owner reads from outside", read(alice, plan, `, "context": {"source_ip": "192.0.2.1"}`), no, ""},
		{"another name of the same action", strings.Replace(read(alice, plan, inside), "can_read", "can_view", 1), yes, ""},
		{"an owner given as an id", read(`{"type": "person", "id": "bob"}`, `{"type": "doc", "id": "memo", "properties": {"owner": "bob", "classification": "x"}}`, inside), yes, ""},
		{"an owner given as an AuthZEN entity", read(`{"type": "person", "id": "bob"}`, `{"type": "doc", "id": "memo", "properties": {"owner": {"type": "person", "id": "bob"}}}`, inside), yes, ""},
		{"an owner given as a Cedar UID", read(`{"type": "person", "id": "bob"}`, `{"type": "doc", "id": "memo", "properties": {"owner": "Docs::User::\"bob\""}}`, inside), yes, ""},
		{"an unknown subject is decided", read(`{"type": "person", "id": "carol"}`, `{"type": "doc", "id": "memo", "properties": {"owner": "carol"}}`, inside), yes, ""},
		{"action properties under context.request", `{"subject": {"type": "person", "id": "bob"}, "action": {"name": "can_edit", "properties": {"method": "PUT"}}, "resource": ` + plan + `}`, yes, ""},
		{"another method", `{"subject": {"type": "person", "id": "bob"}, "action": {"name": "can_edit", "properties": {"method": "DELETE"}}, "resource": ` + plan + `}`, no, ""},
		{"a type the mapping does not list", read(`{"type": "user", "id": "alice"}`, plan, inside), nil, "subject.type: type \"user\" is not mapped to a Cedar entity type"},
		{"an action the mapping does not list", strings.Replace(read(alice, plan, inside), "can_read", "read", 1), nil, "action.name: action \"read\" is not mapped"},
		{"a string that is not an ipaddr", read(alice, plan, `, "context": {"source_ip": "inside"}`), nil, "context.source_ip: \"inside\" is not an ipaddr"},
		{"the context gives the action properties' attribute", `{"subject": ` + alice + `, "action": {"name": "can_edit", "properties": {"method": "PUT"}}, "resource": ` + plan + `, "context": {"request": {}}}`, nil, "context.request: is where the action's properties go"},
	} {
		t.Run(tt.name, func(t *testing.T) { checkEvaluation(t, s, tt.body, tt.want, tt.refused) })
	}

	// Action searches answer with every AuthZEN name of an allowed action.
	body := `{"subject": {"type": "person", "id": "alice"}, "resource": ` + plan + inside + `}`
	checkReply(t, s.post(t, authzen.SearchActionPath, body), expectation{path: authzen.SearchActionPath, results: []string{"can_read", "can_view"}}, body)
	// Searches for a type the mapping does not list find nothing.
	body = `{"subject": {"type": "user"}, "action": {"name": "can_read"}, "resource": ` + plan + inside + `}`
	checkReply(t, s.post(t, authzen.SearchSubjectPath, body), expectation{path: authzen.SearchSubjectPath, results: []string{}}, body)
	body = `{"subject": {"type": "person"}, "action": {"name": "can_read"}, "resource": ` + plan + inside + `}`
	checkReply(t, s.post(t, authzen.SearchSubjectPath, body), expectation{path: authzen.SearchSubjectPath, results: []string{"alice"}}, body)
}

// TestMappingErrorsFailTheBuild checks that a mapping naming what the
// schema does not declare fails the build at its line and column.
func TestMappingErrorsFailTheBuild(t *testing.T) {
	files := map[string]string{}
	for k, v := range docsRepo {
		files[k] = v
	}
	files["cedargate.yaml"] = `namespace: Docs
authzen:
  types:
    person: Usr
  actions:
    can_read: reed
  action_properties: source_ip
`
	_, err := buildRepo(t, files)
	if err == nil {
		t.Fatal("the build accepted a mapping to undeclared names")
	}
	for _, want := range []string{
		"cedargate.yaml:4:5: authzen: types: person maps to Docs::Usr, which the schema does not declare; did you mean Docs::User?",
		`cedargate.yaml:6:5: authzen: actions: can_read: unknown action Docs::Action::"reed"`,
		`cedargate.yaml:7:22: authzen: action_properties: the context of Docs::Action::"read" declares source_ip, which is not a record`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("build error does not say\n  %s\ngot:\n%s", want, err)
		}
	}
}

// TestDefaultMapping checks the mapping of a repository that writes none:
// AuthZEN types find entity types of the same name, whatever their case,
// underscores and hyphens; actions find the action of their id; a name
// two namespaces share is ambiguous, refused rather than guessed.
func TestDefaultMapping(t *testing.T) {
	archive, err := buildRepo(t, map[string]string{
		"schema.cedarschema": `namespace Shop {
  entity ServiceAccount;
  entity Order;
  entity Item;
  action buy appliesTo { principal: [ServiceAccount], resource: [Order, Item] };
}
namespace Warehouse {
  entity Item;
  action buy appliesTo { principal: [Shop::ServiceAccount], resource: [Item] };
}
`,
		"entities/e.json":  `[{"uid": {"type": "Shop::ServiceAccount", "id": "bot"}, "attrs": {}, "parents": []}]`,
		"policies/p.cedar": `permit (principal is Shop::ServiceAccount, action == Shop::Action::"buy", resource is Shop::Order);`,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, storeWith(t, archive), authzen.Options{}, pdp.Options{})
	buy := func(subjectType, action, resourceType string) string {
		return fmt.Sprintf(`{"subject": {"type": %q, "id": "bot"}, "action": {"name": %q}, "resource": {"type": %q, "id": "o1"}}`, subjectType, action, resourceType)
	}
	for _, tt := range []struct {
		name, body string
		status     int
		want       *bool
		says       string
	}{
		{"names in full", buy("service_account", `Shop::Action::"buy"`, "order"), 200, yes, ""},
		{"an ambiguous action", buy("service_account", "buy", "order"), 400, nil, `action.name: action "buy" is ambiguous (Shop::Action::"buy", Warehouse::Action::"buy")`},
		{"an ambiguous type", buy("service-account", `Shop::Action::"buy"`, "item"), 400, nil, `resource.type: type "item" is ambiguous (Shop::Item, Warehouse::Item)`},
		{"a full type is not ambiguous", buy("ServiceAccount", `Shop::Action::"buy"`, "Shop::Item"), 200, no, ""},
		{"no such action", buy("ServiceAccount", `Shop::Action::"sell"`, "Shop::Item"), 400, nil, `action.name: action "Shop::Action::\"sell\"" is not an action of the bundle`},
		{"no such type", buy("robot", "buy", "order"), 400, nil, `subject.type: type "robot" names no entity type of the bundle`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, authzen.EvaluationPath, tt.body)
			checkReply(t, r, expectation{status: tt.status, path: authzen.EvaluationPath, decision: tt.want}, tt.body)
			if tt.says != "" {
				if msg := r.body["error"].(map[string]any)["message"].(string); !strings.HasPrefix(msg, tt.says) {
					t.Errorf("message %q, want it to start %q", msg, tt.says)
				}
			}
		})
	}
	// An action search names an action by what finds it: in full, where
	// its id alone is ambiguous.
	body := `{"subject": {"type": "service_account", "id": "bot"}, "resource": {"type": "order", "id": "o1"}}`
	checkReply(t, s.post(t, authzen.SearchActionPath, body), expectation{path: authzen.SearchActionPath, results: []string{`Shop::Action::"buy"`}}, body)
}

// TestDefaultMappingDecides checks that names mapped by default decide:
// snake case and kebab case find a CamelCase type.
func TestDefaultMappingDecides(t *testing.T) {
	archive, err := buildRepo(t, map[string]string{
		"schema.cedarschema": `entity ServiceAccount; entity PurchaseOrder; action approve appliesTo { principal: [ServiceAccount], resource: [PurchaseOrder] };`,
		"entities/e.json":    `[{"uid": {"type": "ServiceAccount", "id": "bot"}, "attrs": {}, "parents": []}]`,
		"policies/p.cedar":   `permit (principal == ServiceAccount::"bot", action == Action::"approve", resource is PurchaseOrder);`,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, storeWith(t, archive), authzen.Options{}, pdp.Options{})
	for _, types := range [][2]string{{"service_account", "purchase_order"}, {"service-account", "purchase-order"}, {"ServiceAccount", "PurchaseOrder"}, {"serviceaccount", "purchaseorder"}} {
		body := `{"subject": {"type": "` + types[0] + `", "id": "bot"}, "action": {"name": "approve"}, "resource": {"type": "` + types[1] + `", "id": "po-1"}}`
		checkReply(t, s.post(t, authzen.EvaluationPath, body), expectation{path: authzen.EvaluationPath, decision: yes}, body)
	}
}
