package report

import (
	"io"
	"net/url"
	"slices"

	"github.com/cedargate/cedargate/bundle/diag"
)

// The SARIF 2.1.0 log, reduced to what code scanning reads. Field names
// are the specification's.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	HelpURI              string       `json:"helpUri"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI       string `json:"uri"`
			URIBaseID string `json:"uriBaseId"`
		} `json:"artifactLocation"`
		Region *sarifRegion `json:"region,omitempty"`
	} `json:"physicalLocation"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// writeSARIF writes diags as one SARIF run of cedargate, every rule in
// rules described with a link to its documentation. Locations are
// relative to %SRCROOT%, the checkout, as code scanning expects.
func writeSARIF(w io.Writer, diags diag.List, rules []rule, o Options) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "cedargate", Version: o.ToolVersion,
		InformationURI: "https://github.com/cedargate/cedargate", Rules: []sarifRule{}}}, Results: []sarifResult{}}
	for _, r := range rules {
		sr := sarifRule{ID: r.ID, ShortDescription: sarifMessage{r.Summary}, HelpURI: r.HelpURI}
		// A guardrail's severity is error unless cedargate.yaml lowers it.
		sr.DefaultConfiguration.Level = "error"
		if r.ID == RuleUntested {
			sr.DefaultConfiguration.Level = "warning"
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sr)
	}
	for _, d := range diags {
		id := ruleOf(d)
		res := sarifResult{RuleID: id, RuleIndex: slices.IndexFunc(rules, func(r rule) bool { return r.ID == id }),
			Level: d.Severity.String(), Message: sarifMessage{message(d)}}
		if f := o.file(d.Pos.File); f != "" {
			var loc sarifLocation
			// A path is a relative URI reference once spaces and the like are escaped.
			loc.PhysicalLocation.ArtifactLocation.URI = (&url.URL{Path: f}).String()
			loc.PhysicalLocation.ArtifactLocation.URIBaseID = "%SRCROOT%"
			if d.Pos.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: d.Pos.Line, StartColumn: d.Pos.Col}
			}
			res.Locations = []sarifLocation{loc}
		}
		run.Results = append(run.Results, res)
	}
	return writeJSON(w, sarifLog{Schema: "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}
