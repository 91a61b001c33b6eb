package report

import (
	"encoding/json"
	"io"

	"github.com/cedargate/cedargate/bundle/dectest"
	"github.com/cedargate/cedargate/bundle/diag"
)

// SchemaVersion is the version of the JSON reports' schema. It changes
// only when a field changes meaning or disappears; new fields may be
// added without a change.
const SchemaVersion = 1

// jsonFinding is one diagnostic in a JSON report.
type jsonFinding struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
	Subject  string `json:"subject"`
	Message  string `json:"message"`
}

func jsonFindings(diags diag.List) []jsonFinding {
	out := []jsonFinding{}
	for _, d := range diags {
		out = append(out, jsonFinding{File: d.Pos.File, Line: d.Pos.Line, Column: d.Pos.Col,
			Severity: d.Severity.String(), Rule: ruleOf(d), Subject: d.Subject, Message: d.Message})
	}
	return out
}

type lintDoc struct {
	Version  int           `json:"version"`
	Findings []jsonFinding `json:"findings"`
	Summary  struct {
		Errors   int `json:"errors"`
		Warnings int `json:"warnings"`
	} `json:"summary"`
}

func lintJSON(w io.Writer, diags diag.List) error {
	doc := lintDoc{Version: SchemaVersion, Findings: jsonFindings(diags)}
	doc.Summary.Errors, doc.Summary.Warnings = counts(diags)
	return writeJSON(w, doc)
}

// writeJSON writes v indented, with a final newline, and without HTML
// escaping: Cedar's "<" and "&&" stay readable.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type testDoc struct {
	Version  int            `json:"version"`
	Cases    []jsonCase     `json:"cases"`
	Problems []jsonFinding  `json:"problems"`
	Coverage []jsonCoverage `json:"coverage"`
	Summary  struct {
		Passed      int      `json:"passed"`
		Failed      int      `json:"failed"`
		Problems    int      `json:"problems"`
		MinCoverage float64  `json:"min_coverage"`
		BelowMin    []string `json:"below_min_coverage"`
	} `json:"summary"`
}

type jsonCase struct {
	Environment string        `json:"environment"`
	Name        string        `json:"name"`
	File        string        `json:"file"`
	Line        int           `json:"line"`
	Column      int           `json:"column"`
	Expect      string        `json:"expect"`
	Got         string        `json:"got"`
	Pass        bool          `json:"pass"`
	Policies    []jsonPolicy  `json:"policies"`
	Problems    []jsonFinding `json:"problems"`
}

type jsonPolicy struct {
	ID     string `json:"id"`
	Source string `json:"source"`
}

type jsonCoverage struct {
	Environment string            `json:"environment"`
	Total       int               `json:"total"`
	Exercised   int               `json:"exercised"`
	Percent     float64           `json:"percent"`
	Unexercised []jsonUnexercised `json:"unexercised"`
}

type jsonUnexercised struct {
	ID     string `json:"id"`
	Origin string `json:"origin"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

func testJSON(w io.Writer, rep dectest.Report, o Options) error {
	doc := testDoc{Version: SchemaVersion, Cases: []jsonCase{}, Problems: jsonFindings(sorted(rep.Problems)), Coverage: []jsonCoverage{}}
	for _, c := range rep.Cases {
		jc := jsonCase{Environment: c.Env, Name: c.Name, File: c.Pos.File, Line: c.Pos.Line, Column: c.Pos.Col, Expect: c.Expect, Got: c.Got,
			Pass: c.Pass, Policies: []jsonPolicy{}, Problems: jsonFindings(sorted(c.Problems))}
		for _, p := range c.Policies {
			jc.Policies = append(jc.Policies, jsonPolicy{ID: p.ID, Source: p.Source})
		}
		doc.Cases = append(doc.Cases, jc)
	}
	for _, c := range rep.Coverage {
		jc := jsonCoverage{Environment: c.Env, Total: c.Total, Exercised: c.Exercised, Percent: percent(c), Unexercised: []jsonUnexercised{}}
		for _, u := range c.Unexercised {
			jc.Unexercised = append(jc.Unexercised, jsonUnexercised{ID: u.ID, Origin: u.Origin, File: u.Pos.File, Line: u.Pos.Line, Column: u.Pos.Col})
		}
		doc.Coverage = append(doc.Coverage, jc)
	}
	doc.Summary.Passed, doc.Summary.Failed, doc.Summary.Problems = rep.Passed, rep.Failed, rep.Problems.Errors()
	doc.Summary.MinCoverage, doc.Summary.BelowMin = o.MinCoverage, []string{}
	for _, c := range BelowMinimum(rep, o.MinCoverage) {
		doc.Summary.BelowMin = append(doc.Summary.BelowMin, c.Env)
	}
	return writeJSON(w, doc)
}
