package diag_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/diag"
	goldenpkg "github.com/cedargate/cedargate/internal/golden"
)

// golden compares got with testdata/name (see golden.Check).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenpkg.Check(t, filepath.Join("testdata", name), []byte(got))
}

// positioned is what editors, CI annotations and grep parse: every line
// a diagnostic prints starts with path:line:column.
var positioned = regexp.MustCompile(`^[^\s:]+:\d+:\d+: .*\S`)

// TestMultilineGolden renders diagnostics whose messages hold several
// lines: every line gets the position, severity, subject and rule.
func TestMultilineGolden(t *testing.T) {
	pos := diag.Position{File: "policies/data.cedar", Line: 7, Col: 1}
	var l diag.List
	l.Add(diag.Diagnostic{Pos: pos, Subject: `policy "p"`,
		Message: "fails schema validation: first problem\nsecond problem\nthird problem"})
	l.Add(diag.Diagnostic{Pos: diag.Position{File: "identities/people.yaml", Line: 3, Col: 5}, Severity: diag.Warning, Rule: "review-overdue",
		Subject: `User "alice"`, Message: "two things\r\nare wrong\r\n"})
	l.Add(diag.Diagnostic{Pos: diag.Position{File: "schema.cedarschema", Line: 2, Col: 3},
		Message: "invalid schema:\n\n   entity Doc {\n     ^ here\n\n"})
	l.Add(diag.Diagnostic{Pos: diag.Position{File: "tests/a.yaml", Line: 1, Col: 1}, Message: "lone\rcarriage return"})
	l.Add(diag.Diagnostic{Pos: diag.Position{File: "cedargate.yaml", Line: 4}, Message: "\n\n"})
	l.Errorf(diag.Position{File: "policies/ok.cedar", Line: 1, Col: 1}, "one line")
	out := l.String()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line != "cedargate.yaml:4:" && !positioned.MatchString(line) {
			t.Errorf("line without its position: %q", line)
		}
	}
	golden(t, "multiline.golden", out)

	// Without a position (an error that is not about a file) the lines
	// still come out one by one.
	golden(t, "unpositioned.golden", diag.ListOf(errors.New("reading the store:\nno such file")).String())
}

// TestLintGolden lints a repository whose policy breaks the schema three
// independent ways (since cedar-go v1.9.2 a comparison with a missing
// attribute reports the attribute only, so each mistake stands alone): cedar-go reports the three together, in an order that varies,
// and the build prints each as a diagnostic of its own, with its
// position, in the same order every time.
func TestLintGolden(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"schema.cedarschema": "namespace App {\n  entity User;\n  entity Doc;\n  action read appliesTo { principal: User, resource: Doc, context: {} };\n}\n",
		"policies/bad.cedar": "@id(\"bad\")\npermit (principal is App::User, action == App::Action::\"read\", resource is App::Doc)\n" +
			"when { principal.level == 1 && resource.owner == \"x\" && 1 > \"x\" };\n",
	}
	writeRepo(t, dir, files)
	var first string
	for i := range 10 {
		diags, err := build.Lint(t.Context(), dir, "", time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		out := diags.String() + fmt.Sprintf("%d error(s)\n", diags.Errors())
		if i == 0 {
			first = out
		} else if out != first {
			t.Fatalf("lint printed\n%s\nthen\n%s", first, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(first, "\n"), "\n") {
		if !positioned.MatchString(line) && !strings.HasSuffix(line, " error(s)") {
			t.Errorf("line without its position: %q", line)
		}
	}
	golden(t, "lint.golden", first)
}

func writeRepo(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExpressionErrorsGolden lints a repository with the common mistakes
// of a policy author: each is reported at its expression, with its hint,
// and a profile's broken when: once, at its own line, though two
// entitlements grant the profile.
func TestExpressionErrorsGolden(t *testing.T) {
	dir := t.TempDir()
	writeRepo(t, dir, map[string]string{
		"cedargate.yaml": "name: t\nnamespace: App\n",
		"schema.cedarschema": `namespace App {
  entity User { department: String, level?: Long };
  entity Service { tier: String };
  type Ctx = { source_ip: ipaddr, mfa?: Bool };
  action read appliesTo { principal: [User], resource: Service, context: Ctx };
}
`,
		"identities/people.yaml": "kind: User\nname: alice\nattributes: {department: ops}\n---\nkind: User\nname: bob\nattributes: {department: ops}\n",
		"identities/profiles.yaml": "kind: AccessProfile\nname: reader\npermissions:\n  - actions: [read]\n    resources: [Service/*]\n" +
			"    when: context.source_ip.isInRange(\"10.0.0.0/8\")\n",
		"identities/grants.yaml": "kind: Entitlement\nsubject: User/alice\nprofile: reader\napproved_by: bob\n---\n" +
			"kind: Entitlement\nsubject: User/bob\nprofile: reader\napproved_by: alice\n",
		"policies/people.cedar": `@id("ops-read")
permit (principal, action == App::Action::"read", resource is App::Service)
when {
  principal.departmnt == "ops" &&
  context.mfa &&
  context.source_ip == "10.1.1.1"
};

@id("no-contractors")
forbid (principal in App::Grup::"contractors", action, resource);

@id("tiers")
permit (principal is App::User, action == App::Action::"read", resource)
when { resource has tier && resource.tier < 3 };
`,
		"policies/broken.cedar": "permit (principal, action, resource)\nwhen { principal.department == \"ops\" }\n",
	})
	diags, err := build.Lint(t.Context(), dir, "", time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "expressions.golden", diags.String()+fmt.Sprintf("%d error(s)\n", diags.Errors()))
}
