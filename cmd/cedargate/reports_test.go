package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// reportRepo is the small repository bundle/report renders its golden
// reports from: a guardrail error and warning, passing, failing and
// unrunnable test cases, a test file that does not read, and a policy and
// a grant no test exercises.
const reportRepo = "../../bundle/report/testdata/repo"

// TestLintTextThroughCLI pins lint's text output, which the formats for CI
// leave as it was: findings and the count on standard error, exit 1.
func TestLintTextThroughCLI(t *testing.T) {
	r := cedargate(t, "lint", reportRepo, "--now", refDate)
	if r.code != exitProblems {
		t.Errorf("exit %d, want %d", r.code, exitProblems)
	}
	golden(t, "reports/lint.text.golden", "--- stdout\n"+r.stdout+"--- stderr\n"+r.stderr)
}

// TestReportFormatsExitCodes runs lint and test in every format on a
// repository with problems and on a clean one: the report is on standard
// output in full, and the exit code is the text format's.
func TestReportFormatsExitCodes(t *testing.T) {
	// Long and independent of other tests: it runs beside the other long
	// tests marked parallel, to keep make test within its 10-minute budget.
	t.Parallel()
	clean := scaffold(t)
	for _, format := range []string{"text", "json", "junit", "sarif", "github"} {
		for _, command := range []string{"lint", "test"} {
			t.Run(command+"/"+format, func(t *testing.T) {
				bad := cedargate(t, command, reportRepo, "--now", refDate, "--format", format)
				if bad.code != exitProblems {
					t.Errorf("repository with problems: exit %d, want %d\n%s%s", bad.code, exitProblems, bad.stdout, bad.stderr)
				}
				// A finding of lint's, a failing case of test's.
				mark := map[string]string{"lint": "platfrom", "test": "alcie"}[command]
				if format != "text" && !strings.Contains(bad.stdout, mark) {
					t.Errorf("the %s report lacks the findings:\n%s", format, bad.stdout)
				}
				if format == "json" || format == "sarif" {
					var v map[string]any
					if err := json.Unmarshal([]byte(bad.stdout), &v); err != nil {
						t.Errorf("stdout is not one JSON document: %v\n%s", err, bad.stdout)
					}
				}
				good := cedargate(t, command, clean, "--now", refDate, "--format", format)
				if good.code != exitOK {
					t.Errorf("clean repository: exit %d, want 0\n%s%s", good.code, good.stdout, good.stderr)
				}
			})
		}
	}
	if r := cedargate(t, "lint", clean, "--format", "xml"); r.code != exitUsage || !strings.Contains(r.stderr, "--format must be one of text, json, junit, sarif, github") {
		t.Errorf("--format xml: %+v", r)
	}
}

// TestTestVerbose checks that test -v lists every case with its result,
// environment, position, name, expected and actual decision.
func TestTestVerbose(t *testing.T) {
	r := cedargate(t, "test", reportRepo, "--now", refDate, "-v")
	if r.code != exitProblems {
		t.Errorf("exit %d, want %d", r.code, exitProblems)
	}
	for _, want := range []string{
		`PASS\s+dev\s+tests/api.yaml:2:5\s+the deployer reads the API\s+allow\s+allow`,
		`PASS\s+prod\s+tests/api.yaml:7:5\s+admins write the API\s+allow\s+allow`,
		`FAIL\s+dev\s+tests/api.yaml:14:5\s+bob, an admin, cannot write: wrong\s+deny\s+allow`,
		`FAIL\s+prod\s+tests/api.yaml:20:5\s+a misspelt principal\s+allow\s+\(did not run\)`,
		`4 passed, 4 failed, 1 other problem`,
	} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("stdout lacks %s:\n%s", want, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, "PASS") + strings.Count(r.stdout, "FAIL"); n != 8 {
		t.Errorf("%d cases listed, want 8:\n%s", n, r.stdout)
	}
	// Without -v only the summary.
	if r := cedargate(t, "test", reportRepo, "--now", refDate); strings.Contains(r.stdout, "PASS") {
		t.Errorf("test without -v lists cases:\n%s", r.stdout)
	}
}

// TestTestCoverage adds a policy no test exercises to a repository whose
// tests exercise everything, and checks --coverage and --min-coverage.
func TestTestCoverage(t *testing.T) {
	dir := scaffold(t)
	full := cedargate(t, "test", dir, "--now", refDate, "--coverage", "--min-coverage", "100")
	if full.code != exitOK || !strings.Contains(full.stdout, "coverage dev: 2 of 2 policies and grants exercised (100.0%)") {
		t.Fatalf("fully covered repository: %+v", full)
	}
	policy := `
// Nobody tests this one.
@id("auditors-read")
permit (principal in App::Group::"admins", action == App::Action::"read", resource is App::Service);
`
	if err := os.WriteFile(filepath.Join(dir, "policies", "audit.cedar"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cedargate(t, "test", dir, "--now", refDate, "--coverage")
	for _, want := range []string{
		"6 passed\n",
		"coverage dev: 2 of 3 policies and grants exercised (66.7%)\n  policies/audit.cedar:3:1: policy \"auditors-read\" decides no test\n",
		"coverage prod: 2 of 3 policies and grants exercised (66.7%)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != exitOK {
		t.Errorf("--coverage without a minimum: exit %d, want 0", r.code)
	}
	if r := cedargate(t, "test", dir, "--now", refDate, "--min-coverage", "60"); r.code != exitOK {
		t.Errorf("--min-coverage 60 at 66.7%%: %+v", r)
	}
	r = cedargate(t, "test", dir, "--now", refDate, "--min-coverage", "70")
	if r.code != exitProblems || !strings.Contains(r.stderr, "coverage of environment dev is 66.7%, below --min-coverage 70%") ||
		!strings.Contains(r.stderr, "coverage of environment prod is 66.7%, below --min-coverage 70%") {
		t.Errorf("--min-coverage 70 at 66.7%%: %+v", r)
	}
	r = cedargate(t, "test", dir, "--now", refDate, "--min-coverage", "70", "--format", "json")
	var doc struct {
		Summary struct {
			BelowMin []string `json:"below_min_coverage"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != exitProblems || strings.Join(doc.Summary.BelowMin, ",") != "dev,prod" ||
		!strings.Contains(r.stderr, "coverage of environment dev is 66.7%, below --min-coverage 70%") {
		t.Errorf("--min-coverage 70 --format json: %v %+v", err, r)
	}
	if r := cedargate(t, "test", dir, "--min-coverage", "120"); r.code != exitUsage {
		t.Errorf("--min-coverage 120: %+v", r)
	}
}
