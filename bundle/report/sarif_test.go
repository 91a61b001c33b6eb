package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/report"
	"github.com/cedargate/cedargate/internal/schematest"
)

// sarifSchema compiles the official SARIF 2.1.0 JSON schema (see
// testdata/README.md), asserting formats such as uri.
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	const url = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/schemas/sarif-schema-2.1.0.json"
	return schematest.Compile(t, "testdata/sarif-schema-2.1.0.json", url)
}

func validate(sch *jsonschema.Schema, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

// TestSARIFValidatesAgainstSchema validates the lint and test SARIF
// reports, with and without a root that needs escaping in a URI, against
// the SARIF 2.1.0 schema, and checks that the schema does refuse a log
// that breaks it.
func TestSARIFValidatesAgainstSchema(t *testing.T) {
	sch := sarifSchema(t)
	diags := lintRepo(t)
	rep := testRepo(t)
	for _, root := range []string{"", "identity code/acme"} {
		o := opts
		o.Root = root
		lint := render(t, func(b *bytes.Buffer) error { return report.Lint(b, report.SARIF, diags, o) })
		test := render(t, func(b *bytes.Buffer) error { return report.Test(b, report.SARIF, rep, o) })
		for name, data := range map[string][]byte{"lint": lint, "test": test} {
			if err := validate(sch, data); err != nil {
				t.Errorf("%s SARIF (root %q) does not match the SARIF 2.1.0 schema: %v\n%s", name, root, err, data)
			}
		}
		if root != "" && !strings.Contains(string(lint), `"uri": "identity%20code/acme/identities/deployer.yaml"`) {
			t.Errorf("lint SARIF with root %q lacks the escaped, prefixed uri:\n%s", root, lint)
		}
	}

	// The example repository, with its own findings and cases.
	acmeDiags, err := build.Lint(t.Context(), "../../examples/acme", "", at)
	if err != nil {
		t.Fatal(err)
	}
	acmeRep, err := build.Test(t.Context(), "../../examples/acme", "", at)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"lint": render(t, func(b *bytes.Buffer) error { return report.Lint(b, report.SARIF, acmeDiags, opts) }),
		"test": render(t, func(b *bytes.Buffer) error { return report.Test(b, report.SARIF, acmeRep, opts) }),
	} {
		if err := validate(sch, data); err != nil {
			t.Errorf("%s SARIF of examples/acme does not match the SARIF 2.1.0 schema: %v\n%s", name, err, data)
		}
	}

	// The control: the same log with a level SARIF does not define.
	var log map[string]any
	if err := json.Unmarshal(render(t, func(b *bytes.Buffer) error { return report.Lint(b, report.SARIF, diags, opts) }), &log); err != nil {
		t.Fatal(err)
	}
	log["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)["level"] = "fatal"
	bad, _ := json.Marshal(log)
	if err := validate(sch, bad); err == nil {
		t.Error("the schema accepted a result with level \"fatal\"; it validates nothing")
	}
}

// TestSARIFRules checks what code scanning shows of each result: its rule
// (declared, with a link to the rule's section of the docs), its level
// and its place.
func TestSARIFRules(t *testing.T) {
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID      string `json:"id"`
						HelpURI string `json:"helpUri"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine   int `json:"startLine"`
							StartColumn int `json:"startColumn"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	data := render(t, func(b *bytes.Buffer) error { return report.Lint(b, report.SARIF, lintRepo(t), opts) })
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	for _, r := range run.Tool.Driver.Rules {
		if r.ID == "nhi-owner-unknown" && r.HelpURI != "https://github.com/cedargate/cedargate/blob/main/docs/guardrails.md#nhi-owner-unknown" {
			t.Errorf("rule %s: helpUri %q", r.ID, r.HelpURI)
		}
	}
	type got struct {
		rule, level, uri string
		line, col        int
	}
	var results []got
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result of %s points at rule %d, %s", r.RuleID, r.RuleIndex, run.Tool.Driver.Rules[r.RuleIndex].ID)
		}
		loc := r.Locations[0].PhysicalLocation
		results = append(results, got{r.RuleID, r.Level, loc.ArtifactLocation.URI, loc.Region.StartLine, loc.Region.StartColumn})
	}
	want := []got{
		{"nhi-owner-unknown", "error", "identities/deployer.yaml", 5, 8},
		{"nhi-owner-unknown", "error", "identities/deployer.yaml", 5, 8},
		{"entitlement-expired", "warning", "identities/deployer.yaml", 32, 10},
	}
	if len(results) != len(want) {
		t.Fatalf("results %+v, want %+v", results, want)
	}
	for i := range want {
		if results[i] != want[i] {
			t.Errorf("result %d: %+v, want %+v", i, results[i], want[i])
		}
	}
}
