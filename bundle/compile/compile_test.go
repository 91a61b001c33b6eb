package compile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/repo"
)

func load(t *testing.T, files map[string]string) *repo.Repo {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := repo.Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const plainSchema = `entity Folder;
entity Doc in [Folder] { owner: String };
entity Person;
action view appliesTo { principal: Person, resource: Doc, context: {} };
`

// TestPlainCedarProject compiles a repository with only a schema, policies
// and entities: no cedargate.yaml, no identities.
func TestPlainCedarProject(t *testing.T) {
	r := load(t, map[string]string{
		"schema.cedarschema": plainSchema,
		"policies/docs.cedar": `permit (principal, action == Action::"view", resource is Doc) when { resource.owner == "x" };
@id("no-secrets")
forbid (principal, action, resource in Folder::"secret");
`,
		"entities/docs.json": `[
  {"uid": {"type": "Folder", "id": "secret"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "d1"}, "attrs": {"owner": "x"}, "parents": [{"type": "Folder", "id": "secret"}]}
]`,
	})
	res, diags := Compile(r, "")
	if diags.Errors() > 0 {
		t.Fatal(diags)
	}
	var ids []string
	for _, p := range res.Policies {
		ids = append(ids, p.ID+"@"+p.Source)
	}
	if got := strings.Join(ids, " "); got != "no-secrets@policies/docs.cedar:2:1 policies/docs.cedar#0@policies/docs.cedar:1:1" {
		t.Errorf("policy ids = %s", got)
	}
	if _, ok := res.Entities[types.NewEntityUID("Action", "view")]; !ok {
		t.Error("the schema's action entity is missing")
	}
	b := res.Bundle(bundle.Manifest{Revision: "r"})
	if b.Manifest.Environment != "default" || b.Manifest.Counts.Entities != 3 || b.Manifest.Counts.Policies != 2 {
		t.Errorf("manifest = %+v", b.Manifest)
	}
}

func TestEntityFileProblems(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"syntax", "[\n  {\"uid\": {\"type\": \"Doc\", \"id\": \"d\"},,\n]", "entities/e.json:2:"},
		{"not an array", `{"uid": 1}`, "entities/e.json:1:1: an entities file holds a JSON array"},
		{"schema", "[\n {\"uid\": {\"type\": \"Doc\", \"id\": \"d\"}, \"attrs\": {\"owner\": 3}, \"parents\": []}\n]",
			`entities/e.json:2:2: Doc::"d": does not match the schema`},
		{"unknown type", "[\n\n  {\"uid\": {\"type\": \"Dox\", \"id\": \"d\"}, \"attrs\": {}, \"parents\": []}]",
			`entities/e.json:3:3: Dox::"d": does not match the schema: entity type "Dox" not found in schema`},
		{"duplicate", "[{\"uid\": {\"type\": \"Folder\", \"id\": \"f\"}, \"attrs\": {}, \"parents\": []},\n {\"uid\": {\"type\": \"Folder\", \"id\": \"f\"}, \"attrs\": {}, \"parents\": []}]",
			`entities/e.json:2:2: Folder::"f": entity Folder::"f" is already defined at entities/e.json:1:2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Compile(load(t, map[string]string{"schema.cedarschema": plainSchema, "entities/e.json": tt.json}), "")
			if !strings.Contains(diags.String(), tt.want) {
				t.Fatalf("want %q in\n%s", tt.want, diags)
			}
		})
	}
}

func TestValidationOffAcceptsNonConformingPolicies(t *testing.T) {
	files := map[string]string{
		"schema.cedarschema":  plainSchema,
		"policies/p.cedar":    `permit (principal, action, resource) when { resource.nope == 1 };`,
		"entities/extra.json": `[{"uid": {"type": "Doc", "id": "d"}, "attrs": {"owner": "x", "extra": true}, "parents": []}]`,
	}
	if _, diags := Compile(load(t, files), ""); diags.Errors() != 2 {
		t.Fatalf("strict: want 2 errors (policy and entity), got:\n%s", diags)
	}
	files["cedargate.yaml"] = "validation: off\n"
	if _, diags := Compile(load(t, files), ""); diags.Errors() != 0 {
		t.Fatalf("validation off: %s", diags)
	}
}

// TestIdentityLoopholesAreClosed feeds the compiler the inputs a security
// review found could grant more than the identity code says.
func TestIdentityLoopholesAreClosed(t *testing.T) {
	base := map[string]string{
		"cedargate.yaml": "namespace: Acme\n",
		"schema.cedarschema": `namespace Acme {
  entity Service;
  action read appliesTo { principal: [User, ServiceAccount], resource: Service, context: {} };
}`,
		"identities/a.yaml": `kind: Team
name: ops
---
kind: ServiceAccount
name: ledger
owner: ops
expires: 2027-01-01
spiffe_id: spiffe://acme/ledger
---
kind: Resource
type: Service
name: api
---
kind: AccessProfile
name: reader
permissions:
  - actions: [read]
    resources: [api]
`,
	}
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"identity in an entity file", map[string]string{"entities/x.json": `[{"uid": {"type": "Acme::ServiceAccount", "id": "ghost"}, "attrs": {}, "parents": []}]`},
			`entities/x.json:1:2: Acme::ServiceAccount::"ghost": users, service accounts, groups and teams are declared in identities/`},
		{"spiffe id as an attribute", map[string]string{"identities/b.yaml": "kind: ServiceAccount\nname: shadow\nowner: ops\nexpires: 2027-01-01\nattributes: {spiffe_id: \"spiffe://acme/ledger\"}\n"},
			`attribute "spiffe_id" is set by cedargate from the object's fields`},
		{"two entities with one spiffe id", map[string]string{"identities/b.yaml": "kind: ServiceAccount\nname: twin\nowner: ops\nexpires: 2027-01-01\nspiffe_id: spiffe://acme/ledger\n"},
			`SPIFFE id spiffe://acme/ledger is already the spiffe_id of Acme::ServiceAccount::"ledger"`},
		{"when that ends the policy", map[string]string{"identities/b.yaml": "kind: AccessProfile\nname: sneaky\npermissions:\n  - actions: [read]\n    resources: [api]\n    when: 'true }; permit (principal, action, resource) when { true'\n---\nkind: Entitlement\nsubject: ServiceAccount/ledger\nprofile: sneaky\napproved_by: ops\n"},
			`when: must be one Cedar expression`},
		{"break-glass without expiry", map[string]string{"identities/b.yaml": "kind: Exception\nsubject: ServiceAccount/ledger\nprofile: reader\napproved_by: ops\nreason: r\n"},
			`a break-glass grant needs expires`},
		{"spiffe id on another type", map[string]string{"entities/x.json": `[{"uid": {"type": "Acme::Service", "id": "web"}, "attrs": {"spiffe_id": "spiffe://acme/web"}, "parents": []}]`, "cedargate.yaml": "namespace: Acme\nvalidation: off\n"},
			`only a ServiceAccount may have a spiffe_id`},
		{"bad type selector", map[string]string{"identities/b.yaml": "kind: AccessProfile\nname: odd\npermissions:\n  - actions: [read]\n    resources: ['Service, action, resource) when { true }; permit(principal/*']\n"},
			`is not a Cedar entity type`},
		// Holding a profile is a grant's to give: entity files may not
		// make anything a member of one, nor of the expired set.
		{"profile as a parent in an entity file", map[string]string{"entities/x.json": `[{"uid": {"type": "Acme::Service", "id": "web"}, "attrs": {}, "parents": [{"type": "Acme::AccessProfile", "id": "reader"}]}]`, "cedargate.yaml": "namespace: Acme\nvalidation: off\n"},
			`entities/x.json:1:2: Acme::Service::"web": access profiles are given by Entitlements and Exceptions in identities/`},
		{"profile defined in an entity file", map[string]string{"entities/x.json": `[{"uid": {"type": "Acme::Expired", "id": "ServiceAccount"}, "attrs": {}, "parents": []}]`},
			`access profiles are given by Entitlements and Exceptions in identities/`},
		{"profile as a Resource's parent", map[string]string{"identities/b.yaml": "kind: Resource\ntype: Service\nname: web\nparents: [Acme::AccessProfile::\"reader\"]\n---\nkind: Entitlement\nsubject: ServiceAccount/ledger\nprofile: reader\napproved_by: ops\n"},
			`Acme::AccessProfile::"reader" cannot be a parent: access profiles are given by Entitlements and Exceptions`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			for k, v := range tt.files {
				files[k] = v
			}
			_, diags := Compile(load(t, files), "")
			if !strings.Contains(diags.String(), tt.want) {
				t.Fatalf("want %q in\n%s", tt.want, diags)
			}
		})
	}
}

// TestPolicyIDsHoldNoControlCharacters: an @id becomes the id that
// decisions, logs and the command line show, so it may hold no control or
// invisible character (an escape sequence would rewrite a terminal).
func TestPolicyIDsHoldNoControlCharacters(t *testing.T) {
	for name, id := range map[string]string{"escape": `\u{1b}[2J`, "NUL": `a\0b`, "bidi override": `admin\u{202e}`} {
		t.Run(name, func(t *testing.T) {
			r := load(t, map[string]string{"policies/p.cedar": "\n@id(\"" + id + "\")\npermit (principal, action, resource);\n"})
			_, diags := Compile(r, "")
			want := "policies/p.cedar:2:1: @id "
			if got := diags.String(); !strings.Contains(got, want) || !strings.Contains(got, "must not contain control or invisible characters") {
				t.Errorf("want %q ... control or invisible characters in\n%s", want, got)
			}
		})
	}
}

// TestCedarErrorsShowOneLine: a parse error that quotes the repository's
// text (an unterminated string, a string holding an escape sequence) shows
// it on one line, escaped, at its position.
func TestCedarErrorsShowOneLine(t *testing.T) {
	r := load(t, map[string]string{
		"policies/p.cedar": "permit (principal, action, resource)\nwhen { \"line one\nline two\nline three\" \"again\" };\n",
		"policies/q.cedar": "permit (principal, action, resource)\nwhen { true \"\x1b[2J\" };\n",
	})
	_, diags := Compile(r, "")
	if diags.Errors() == 0 {
		t.Fatal("accepted")
	}
	for _, d := range diags {
		if strings.ContainsAny(d.String(), "\n\x1b") || d.Pos.Line == 0 {
			t.Errorf("diagnostic %q spans lines, holds a control character or has no line", d.String())
		}
	}
}
