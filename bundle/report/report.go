// Package report renders what `cedargate lint` and `cedargate test` found
// for people and for CI: text (what the commands always printed), JSON in
// a versioned schema, JUnit XML, SARIF 2.1.0 for code scanning, and GitHub
// Actions workflow commands that annotate the lines at fault. Lint reports
// start from a diag.List, test reports from a dectest.Report. Every format
// is deterministic: the same findings give the same bytes, in the same
// order, whatever order they were found in.
//
// docs/cli.md documents each format's shape; the JSON schema is versioned
// and kept stable.
package report

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/cedargate/cedargate/bundle/diag"
)

// Format is an output format of lint and test.
type Format string

// The formats.
const (
	Text   Format = "text"
	JSON   Format = "json"
	JUnit  Format = "junit"
	SARIF  Format = "sarif"
	GitHub Format = "github"
)

// Formats lists the formats, the default first.
func Formats() []string {
	return []string{string(Text), string(JSON), string(JUnit), string(SARIF), string(GitHub)}
}

// Options tune a report.
type Options struct {
	// Root is the identity repository's directory relative to the
	// directory CI resolves paths against (the checkout), with forward
	// slashes. SARIF and GitHub annotations prefix every file with it, so
	// that `cedargate lint identity` run from the checkout annotates
	// identity/policies/ops.cedar. Empty or "." means no prefix. Text,
	// JSON and JUnit keep paths relative to the repository, as every other
	// cedargate message does.
	Root string
	// ToolVersion is the cedargate version SARIF records; empty leaves it
	// out.
	ToolVersion string
	// Verbose makes the text report list every test case.
	Verbose bool
	// Coverage adds coverage to the text, SARIF and GitHub test reports
	// (JSON and JUnit always carry it).
	Coverage bool
	// MinCoverage, when above zero, is the percentage of policies and
	// grants every environment's tests must exercise (see BelowMinimum).
	MinCoverage float64
}

// file returns a diagnostic's file as CI resolves it.
func (o Options) file(f string) string {
	if f == "" || o.Root == "" || o.Root == "." {
		return f
	}
	return path.Join(o.Root, f)
}

// Rule names of the findings that are not guardrails.
const (
	// RuleSource names problems without a rule of their own: a file that
	// does not read, parse or validate.
	RuleSource = "invalid-source"
	// RuleDecisionTest names a decision test that failed or could not run.
	RuleDecisionTest = "decision-test"
	// RuleUntested names a policy or grant that no decision test exercises.
	RuleUntested = "untested-policy"
)

// docsURL is where the rules' documentation lives; SARIF links each rule
// to its section.
const docsURL = "https://github.com/cedargate/cedargate/blob/main/docs/"

// rule describes one rule in SARIF and JUnit.
type rule struct {
	ID      string
	Summary string
	HelpURI string
}

func ruleOf(d diag.Diagnostic) string {
	if d.Rule == "" {
		return RuleSource
	}
	return d.Rule
}

// sorted returns diags sorted as diag.List sorts them, with their rule
// names filled in.
func sorted(diags diag.List) diag.List {
	out := diags.Sorted()
	for i := range out {
		out[i].Rule = ruleOf(out[i])
	}
	return out
}

// withExtra returns rules followed by a rule for every rule name in diags
// that rules lacks, sorted by name, each linked to doc.
func withExtra(rules []rule, diags diag.List, doc string) []rule {
	var extra []rule
	for _, d := range diags {
		id := ruleOf(d)
		has := func(r rule) bool { return r.ID == id }
		if slices.ContainsFunc(rules, has) || slices.ContainsFunc(extra, has) {
			continue
		}
		extra = append(extra, rule{ID: id, Summary: id, HelpURI: docsURL + doc + "#" + id})
	}
	slices.SortFunc(extra, func(a, b rule) int { return cmp.Compare(a.ID, b.ID) })
	return append(slices.Clone(rules), extra...)
}

// message is a diagnostic's text without its position and rule, which
// structured formats carry in fields of their own.
func message(d diag.Diagnostic) string {
	if d.Subject == "" {
		return d.Message
	}
	return d.Subject + ": " + d.Message
}

// counts returns the number of errors and warnings in diags.
func counts(diags diag.List) (errors, warnings int) {
	errors = diags.Errors()
	return errors, len(diags) - errors
}

// unsupported is the error for a format a report does not render.
func unsupported(f Format) error {
	return fmt.Errorf("report format %q: use one of %s", f, strings.Join(Formats(), ", "))
}
