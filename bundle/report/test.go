package report

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/cedargate/cedargate/bundle/dectest"
	"github.com/cedargate/cedargate/bundle/diag"
)

// testRules are the rules of a test report's findings.
var testRules = []rule{
	{ID: RuleDecisionTest, Summary: "every decision test gets the decision (and determining policies) it expects",
		HelpURI: docsURL + "tests.md"},
	{ID: RuleUntested, Summary: "every policy and grant determines the decision of at least one decision test",
		HelpURI: docsURL + "tests.md#coverage"},
	sourceRule,
}

// Test writes the outcome of `cedargate test` to w in format f. The text
// report is what goes to standard output: with Verbose a line per case,
// then the summary, then, with Coverage, each environment's coverage; the
// failures themselves are the command's error, printed as diagnostics.
func Test(w io.Writer, f Format, rep dectest.Report, o Options) error {
	rep = sortReport(rep)
	switch f {
	case Text:
		return testText(w, rep, o)
	case JSON:
		return testJSON(w, rep, o)
	case JUnit:
		return testJUnit(w, rep, o)
	case SARIF:
		findings := testFindings(rep, o)
		return writeSARIF(w, findings, withExtra(testRules, findings, "guardrails.md"), o)
	case GitHub:
		return writeGitHub(w, testFindings(rep, o), o, "cedargate test: "+TestSummary(rep))
	}
	return unsupported(f)
}

// BelowMinimum returns the environments whose coverage is below min
// percent, sorted by name; none when min is zero or less. Coverage is
// compared as every report shows it, rounded to one decimal, so that a
// report never says "80.0%, below --min-coverage 80%".
func BelowMinimum(rep dectest.Report, min float64) []dectest.Coverage {
	var out []dectest.Coverage
	for _, c := range rep.Coverage {
		if min > 0 && percent(c) < min {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b dectest.Coverage) int { return cmp.Compare(a.Env, b.Env) })
	return out
}

// Shortfall says that environment c's coverage is below min, for the
// command's standard error.
func Shortfall(c dectest.Coverage, min float64) string {
	return fmt.Sprintf("coverage of environment %s is %.1f%%, below --min-coverage %g%%", EnvName(c.Env), percent(c), min)
}

// sortReport orders cases by environment, position and name, and coverage
// by environment, whatever order the suites ran in.
func sortReport(rep dectest.Report) dectest.Report {
	rep.Cases = slices.Clone(rep.Cases)
	slices.SortStableFunc(rep.Cases, func(a, b dectest.Case) int {
		return cmp.Or(cmp.Compare(a.Env, b.Env), a.Pos.Compare(b.Pos), cmp.Compare(a.Name, b.Name))
	})
	rep.Coverage = slices.Clone(rep.Coverage)
	slices.SortStableFunc(rep.Coverage, func(a, b dectest.Coverage) int { return cmp.Compare(a.Env, b.Env) })
	return rep
}

// TestSummary is the summary line: "N passed", then the failures and the
// problems that kept cases from being read at all.
func TestSummary(rep dectest.Report) string {
	msg := fmt.Sprintf("%d passed", rep.Passed)
	if rep.Failures.Errors() == 0 {
		return msg
	}
	msg += fmt.Sprintf(", %d failed", rep.Failed)
	// Problems in the test files or the repository kept cases from being
	// read at all; say so rather than print "0 failed".
	if other := rep.Failures.Errors() - rep.Failed; other > 0 {
		msg += fmt.Sprintf(", %d other problem(s) in the repository or its test files", other)
	}
	return msg
}

// percent rounds a coverage percentage to one decimal, as every format
// shows it.
func percent(c dectest.Coverage) float64 {
	return math.Round(c.Percent()*10) / 10
}

// EnvName names an environment in reports: "default" in a repository
// that declares none.
func EnvName(env string) string {
	if env == "" {
		return "default"
	}
	return env
}

// testFindings are the findings of a test report, for SARIF and GitHub:
// the failures of cases, the problems that kept cases from being read,
// and, with Coverage or a minimum, every policy or grant no case
// exercises: a warning, or an error in an environment below the minimum.
func testFindings(rep dectest.Report, o Options) diag.List {
	var out diag.List
	for _, c := range rep.Cases {
		for _, p := range c.Problems {
			p.Rule = RuleDecisionTest
			if c.Env != "" {
				p.Message += fmt.Sprintf(" [env %s]", c.Env)
			}
			out.Add(p)
		}
	}
	out.Append(rep.Problems)
	if o.Coverage || o.MinCoverage > 0 {
		below := BelowMinimum(rep, o.MinCoverage)
		for _, c := range rep.Coverage {
			sev := diag.Warning
			if slices.ContainsFunc(below, func(b dectest.Coverage) bool { return b.Env == c.Env }) {
				sev = diag.Error
			}
			for _, u := range c.Unexercised {
				out.Add(diag.Diagnostic{Pos: u.Pos, Severity: sev, Rule: RuleUntested, Subject: fmt.Sprintf("%s %q", u.Origin, u.ID),
					Message: fmt.Sprintf("decides no decision test in environment %s (coverage %.1f%%)", EnvName(c.Env), percent(c))})
			}
		}
	}
	return sorted(out)
}

// testText writes the text report.
func testText(w io.Writer, rep dectest.Report, o Options) error {
	var b strings.Builder
	if o.Verbose && len(rep.Cases) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "RESULT\tENV\tPOSITION\tNAME\tEXPECTED\tGOT")
		for _, c := range rep.Cases {
			result, got := "PASS", c.Got
			if !c.Pass {
				result = "FAIL"
			}
			if got == "" {
				got = "(did not run)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", result, EnvName(c.Env), c.Pos, c.Name, c.Expect, got)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	b.WriteString(TestSummary(rep))
	b.WriteByte('\n')
	if o.Coverage {
		for _, c := range rep.Coverage {
			fmt.Fprintf(&b, "coverage %s: %d of %d policies and grants exercised (%.1f%%)\n", EnvName(c.Env), c.Exercised, c.Total, percent(c))
			for _, u := range c.Unexercised {
				fmt.Fprintf(&b, "  %s: %s %q decides no test\n", u.Pos, u.Origin, u.ID)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
