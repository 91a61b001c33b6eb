package report

import (
	"fmt"
	"io"

	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/guardrail"
)

// lintRules are the rules lint checks: every guardrail, then problems in
// the source itself. Rules a finding names that are not guardrails (a
// newer check) are appended by withExtra.
func lintRules() []rule {
	var out []rule
	for _, r := range guardrail.Rules() {
		out = append(out, rule{ID: r.Name, Summary: r.Summary, HelpURI: docsURL + "guardrails.md#" + r.Name})
	}
	return append(out, sourceRule)
}

var sourceRule = rule{ID: RuleSource,
	Summary: "every file of the repository reads, parses and validates (settings, identities, schema, Cedar policies, tests)",
	HelpURI: docsURL + "identity-format.md"}

// Lint writes the findings of `cedargate lint` to w in format f, which is
// one of JSON, JUnit, SARIF or GitHub: the text report is the command's
// own, printed as build prints its problems.
func Lint(w io.Writer, f Format, diags diag.List, o Options) error {
	diags = sorted(diags)
	rules := withExtra(lintRules(), diags, "guardrails.md")
	switch f {
	case JSON:
		return lintJSON(w, diags)
	case JUnit:
		return lintJUnit(w, diags, rules)
	case SARIF:
		return writeSARIF(w, diags, rules, o)
	case GitHub:
		return writeGitHub(w, diags, o, lintSummary(diags))
	}
	return unsupported(f)
}

// lintSummary is the last line of the GitHub report.
func lintSummary(diags diag.List) string {
	e, w := counts(diags)
	return fmt.Sprintf("cedargate lint: %d error(s), %d warning(s)", e, w)
}
