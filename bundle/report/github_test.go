package report_test

import (
	"bytes"
	"testing"

	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/report"
)

// TestAnnotationEscaping checks the workflow commands against GitHub's
// escaping rules: in the message '%', CR and LF are escaped; in a property
// (file, title) also ':' and ','; so that neither a line break nor a
// separator in a message, path or rule ends the command early.
func TestAnnotationEscaping(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    diag.Diagnostic
		file string
		want string
	}{
		{"plain error",
			diag.Diagnostic{Pos: diag.Position{File: "policies/ops.cedar", Line: 3, Col: 7}, Rule: "broad-grant", Message: "permits everything"},
			"policies/ops.cedar",
			"::error file=policies/ops.cedar,line=3,col=7,title=broad-grant::permits everything"},
		{"warning with subject",
			diag.Diagnostic{Pos: diag.Position{File: "identities/a.yaml", Line: 4}, Severity: diag.Warning, Rule: "entitlement-expired", Subject: `Entitlement "x"`, Message: "expired"},
			"identities/a.yaml",
			`::warning file=identities/a.yaml,line=4,title=entitlement-expired::Entitlement "x": expired`},
		{"newlines and percent in the message",
			diag.Diagnostic{Pos: diag.Position{File: "p.cedar", Line: 1, Col: 1}, Message: "first line\r\nsecond, 100% sure: yes\nthird"},
			"p.cedar",
			"::error file=p.cedar,line=1,col=1,title=invalid-source::first line%0D%0Asecond, 100%25 sure: yes%0Athird"},
		{"commas, colons, percent and newlines in properties",
			diag.Diagnostic{Pos: diag.Position{File: "a,b:c%d.yaml", Line: 2, Col: 1}, Rule: "odd,rule:x\ny", Message: "m"},
			"dir: x/a,b:c%d.yaml",
			"::error file=dir%3A x/a%2Cb%3Ac%25d.yaml,line=2,col=1,title=odd%2Crule%3Ax%0Ay::m"},
		{"an escape sequence is escaped, not decoded",
			diag.Diagnostic{Message: "literal %0A and %25"},
			"",
			"::error title=invalid-source::literal %250A and %2525"},
		{"no position",
			diag.Diagnostic{Message: "cedargate.yaml is missing"},
			"",
			"::error title=invalid-source::cedargate.yaml is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := report.Annotation(tc.d, tc.file); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestGitHubRoot checks that annotations name files from the checkout,
// prefixing the repository's directory.
func TestGitHubRoot(t *testing.T) {
	o := opts
	o.Root = "identity"
	got := render(t, func(b *bytes.Buffer) error { return report.Lint(b, report.GitHub, lintRepo(t), o) })
	want := "::warning file=identity/identities/deployer.yaml,line=32,col=10,title=entitlement-expired::"
	if !bytes.Contains(got, []byte(want)) {
		t.Errorf("annotations lack %q:\n%s", want, got)
	}
}
