package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cedargate/cedargate/bundle/dectest"
	"github.com/cedargate/cedargate/bundle/diag"
)

// The JUnit XML that Jenkins, GitLab and most CI servers read: the
// de facto schema of Ant's JUnit task. Times are "0": decisions take
// microseconds, and a fixed value keeps the report deterministic.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Properties *junitProperties `xml:"properties"`
	Cases      []junitCase      `xml:"testcase"`
}

type junitProperties struct {
	List []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut *junitText    `xml:"system-out"`
}

// junitProblem is a <failure> (the case ran and got something else) or an
// <error> (it could not run).
type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// junitText is an element whose text is CDATA, so that multi-line
// messages stay readable in the file.
type junitText struct {
	Text string `xml:",cdata"`
}

// add appends c to s and counts it.
func (s *junitSuite) add(c junitCase) {
	c.Time = "0"
	s.Tests++
	if c.Failure != nil {
		s.Failures++
	}
	if c.Error != nil {
		s.Errors++
	}
	s.Cases = append(s.Cases, c)
}

func writeJUnit(w io.Writer, name string, suites []junitSuite) error {
	doc := junitSuites{Name: name, Time: "0", Suites: suites}
	for i := range doc.Suites {
		s := &doc.Suites[i]
		s.Time = "0"
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// problem makes the <failure> or <error> of diags: the first one's line as
// message, every one as text.
func problem(typ string, diags diag.List) *junitProblem {
	msg := strings.SplitN(diags[0].String(), "\n", 2)[0]
	if len(diags) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(diags)-1)
	}
	return &junitProblem{Message: msg, Type: typ, Text: diags.String()}
}

// lintJUnit writes one testsuite, "lint", with a testcase per rule:
// passing when the rule found no error, failing with each error
// otherwise; warnings are the testcase's system-out. Findings are not per
// environment (one found in several is reported once), so neither are
// the testcases; and a testcase per rule keeps its name from run to run,
// which is what Jenkins and GitLab track a test's history by.
func lintJUnit(w io.Writer, diags diag.List, rules []rule) error {
	suite := junitSuite{Name: "lint"}
	for _, r := range rules {
		var errs, warns diag.List
		for _, d := range diags {
			switch {
			case d.Rule != r.ID:
			case d.Severity == diag.Error:
				errs.Add(d)
			default:
				warns.Add(d)
			}
		}
		c := junitCase{Name: r.ID, Classname: "lint"}
		if len(errs) > 0 {
			c.Failure = problem(r.ID, errs)
		}
		if len(warns) > 0 {
			c.SystemOut = &junitText{warns.String()}
		}
		suite.add(c)
	}
	return writeJUnit(w, "cedargate lint", []junitSuite{suite})
}

// testJUnit writes a testsuite per environment with a testcase per
// decision-test case: a <failure> when it got another decision, an
// <error> when it could not run. Each suite's properties carry its
// coverage; with a minimum, a "coverage" testcase fails when the
// environment is below it. Problems that kept cases from being read form
// one more suite, "repository", with a testcase in error.
func testJUnit(w io.Writer, rep dectest.Report, o Options) error {
	var suites []junitSuite
	suite := func(env string) *junitSuite {
		name := EnvName(env)
		for i := range suites {
			if suites[i].Name == name {
				return &suites[i]
			}
		}
		suites = append(suites, junitSuite{Name: name})
		return &suites[len(suites)-1]
	}
	for _, c := range rep.Cases {
		jc := junitCase{Name: c.Name, Classname: strings.TrimSuffix(strings.TrimSuffix(c.Pos.File, ".yaml"), ".yml"), File: c.Pos.File}
		switch {
		case c.Pass:
		case c.Got == "":
			jc.Error = problem("error", c.Problems)
		default:
			jc.Failure = problem("decision", c.Problems)
		}
		suite(c.Env).add(jc)
	}
	below := BelowMinimum(rep, o.MinCoverage)
	for _, c := range rep.Coverage {
		s := suite(c.Env)
		s.Properties = &junitProperties{[]junitProperty{
			{"coverage.exercised", fmt.Sprint(c.Exercised)},
			{"coverage.percent", fmt.Sprintf("%.1f", percent(c))},
			{"coverage.total", fmt.Sprint(c.Total)},
		}}
		if o.MinCoverage <= 0 {
			continue
		}
		jc := junitCase{Name: fmt.Sprintf("coverage of at least %g%%", o.MinCoverage), Classname: "coverage"}
		var lines []string
		for _, u := range c.Unexercised {
			lines = append(lines, fmt.Sprintf("%s: %s %q decides no test", u.Pos, u.Origin, u.ID))
		}
		if slices.ContainsFunc(below, func(b dectest.Coverage) bool { return b.Env == c.Env }) {
			jc.Failure = &junitProblem{Type: "coverage", Text: strings.Join(lines, "\n") + "\n",
				Message: fmt.Sprintf("%d of %d policies and grants exercised (%.1f%%), below --min-coverage %g%%", c.Exercised, c.Total, percent(c), o.MinCoverage)}
		}
		s.add(jc)
	}
	if len(rep.Problems) > 0 {
		s := junitSuite{Name: "repository"}
		s.add(junitCase{Name: "test files and environments read", Classname: "repository", Error: problem("error", rep.Problems)})
		suites = append(suites, s)
	}
	return writeJUnit(w, "cedargate test", suites)
}
