package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/joshdk/go-junit"

	"github.com/cedargate/cedargate/bundle/report"
)

// TestJUnitTestReadByParser reads the test report with go-junit, a JUnit
// parser CI tools use, and checks the suites, counts, statuses, messages
// and coverage properties it finds.
func TestJUnitTestReadByParser(t *testing.T) {
	data := render(t, func(b *bytes.Buffer) error { return report.Test(b, report.JUnit, testRepo(t), opts) })
	suites, err := junit.Ingest(data)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range suites {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "dev,prod,repository" {
		t.Fatalf("suites %s, want dev,prod,repository", got)
	}
	for _, s := range suites[:2] {
		tot := s.Totals
		if tot.Tests != 5 || tot.Passed != 2 || tot.Failed != 2 || tot.Error != 1 {
			t.Errorf("suite %s: totals %+v, want 5 tests: 2 passed, 2 failed (a decision and the coverage), 1 in error", s.Name, tot)
		}
		if s.Properties["coverage.percent"] != "50.0" || s.Properties["coverage.total"] != "4" || s.Properties["coverage.exercised"] != "2" {
			t.Errorf("suite %s: properties %v", s.Name, s.Properties)
		}
		status := map[string]junit.Status{}
		messages := map[string]string{}
		for _, c := range s.Tests {
			status[c.Name], messages[c.Name] = c.Status, c.Message
		}
		for name, want := range map[string]junit.Status{
			"the deployer reads the API":         junit.StatusPassed,
			"admins write the API":               junit.StatusPassed,
			"bob, an admin, cannot write: wrong": junit.StatusFailed,
			"a misspelt principal":               junit.StatusError,
			"coverage of at least 80%":           junit.StatusFailed,
		} {
			if status[name] != want {
				t.Errorf("suite %s, case %q: status %q, want %q", s.Name, name, status[name], want)
			}
		}
		for name, want := range map[string]string{
			"bob, an admin, cannot write: wrong": `tests/api.yaml:14:5: test "bob, an admin, cannot write: wrong": expected deny, got allow; determining policies: admins-manage-services (policies/admins.cedar:1:1)`,
			"a misspelt principal":               `tests/api.yaml:21:16: test "a misspelt principal": no entity App::User::"alcie" in environment "` + s.Name + `" (did you mean "alice"?)`,
			"coverage of at least 80%":           "2 of 4 policies and grants exercised (50.0%), below --min-coverage 80%",
		} {
			if !strings.HasPrefix(messages[name], want) {
				t.Errorf("suite %s, case %q: message %q, want it to start with %q", s.Name, name, messages[name], want)
			}
		}
	}
	if tot := suites[2].Totals; tot.Tests != 1 || tot.Error != 1 || !strings.Contains(suites[2].Tests[0].Message, `tests/broken.yaml:8:5: test "an unknown field": unknown field "expected"`) {
		t.Errorf("repository suite: totals %+v, tests %+v", tot, suites[2].Tests)
	}
}

// TestJUnitLintReadByParser reads the lint report with go-junit: a
// testcase per rule, the rule with errors failing with each of them, the
// warnings in their rule's output.
func TestJUnitLintReadByParser(t *testing.T) {
	data := render(t, func(b *bytes.Buffer) error { return report.Lint(b, report.JUnit, lintRepo(t), opts) })
	suites, err := junit.Ingest(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(suites) != 1 || suites[0].Name != "lint" {
		t.Fatalf("suites %+v, want one, lint", suites)
	}
	s := suites[0]
	if s.Totals.Failed != 1 || s.Totals.Error != 0 || s.Totals.Passed != s.Totals.Tests-1 || s.Totals.Tests < 16 {
		t.Errorf("totals %+v, want every rule a test, one failing", s.Totals)
	}
	for _, c := range s.Tests {
		switch c.Name {
		case "nhi-owner-unknown":
			if c.Status != junit.StatusFailed || !strings.HasPrefix(c.Message, `identities/deployer.yaml:5:8: ServiceAccount "deployer-dev": owner "platfrom" is not a Team or User`) ||
				!strings.HasSuffix(c.Message, "(and 1 more)") || c.Error == nil || strings.Count(c.Error.Error(), "(nhi-owner-unknown)") != 2 {
				t.Errorf("nhi-owner-unknown: %+v", c)
			}
		case "entitlement-expired":
			if c.Status != junit.StatusPassed || !strings.Contains(c.SystemOut, `warning: Entitlement "User/carol:api-reader": expired 2026-10-01`) {
				t.Errorf("entitlement-expired: %+v", c)
			}
		default:
			if c.Status != junit.StatusPassed {
				t.Errorf("%s: %+v, want passed", c.Name, c)
			}
		}
	}
}
