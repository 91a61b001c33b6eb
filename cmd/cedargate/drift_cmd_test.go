package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// The drift fixtures: the repository and the inventory sources' own
// fixtures, read as of the instant the AWS fixtures are dated.
const (
	driftRepo    = "../../bundle/inventory/drift/testdata/repo"
	driftK8s     = "kubernetes=../../bundle/inventory/kubernetes/testdata/all.json"
	driftIAM     = "awsiam=../../bundle/inventory/awsiam/testdata/authorization-details.json"
	driftIAMRep  = "awsiam=../../bundle/inventory/awsiam/testdata/credential-report.csv"
	driftSCIM    = "scim=../../bundle/inventory/scim/testdata/root-query.json"
	driftInstant = "2026-12-01T00:00:00Z"
)

// TestDriftCommand runs cedargate drift on the fixtures: text and JSON
// name the live object and the code's file:line, --fail-on exits 3 only
// for kinds found, and bad input exits 2 without a report.
func TestDriftCommand(t *testing.T) {
	base := []string{"drift", driftRepo, "--at", driftInstant, "--source", driftK8s, "--source", driftIAM, "--source", driftIAMRep}

	t.Run("text", func(t *testing.T) {
		r := runCLI(t, base...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for _, want := range []string{
			"1 live-only, 2 code-only, 2 membership, 1 binding-unknown, 2 credential-stale, 1 credential-on-expired, 1 credential-unused",
			"live: awsiam Group arn:aws:iam::123456789012:group/deployers (id AGPAQ3EGRT5ZDEPLOY001)",
			"live: kubernetes ServiceAccount payments/hotfix-debugger (id c3e9a1f0-77b2-4d06-8e5c-2f4a6b8d0e99)",
			"code: identities/nhi.yaml:26:10: ServiceAccount/vendor-sync",
			"code: identities/nhi.yaml:20:13: ServiceAccount/ci-deployer",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		r := runCLI(t, append(base, "--source", driftSCIM, "--format", "json")...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var doc struct {
			Environment string   `json:"environment"`
			At          string   `json:"at"`
			Sources     []string `json:"sources"`
			Findings    []struct {
				Kind     string `json:"kind"`
				Source   string `json:"source"`
				LiveKind string `json:"live_kind"`
				LiveID   string `json:"live_id"`
				LiveKey  string `json:"live_key"`
				Code     string `json:"code"`
				Pos      string `json:"pos"`
				Message  string `json:"message"`
			} `json:"findings"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.At != driftInstant || strings.Join(doc.Sources, ",") != "kubernetes,awsiam,scim" {
			t.Errorf("header: %+v", doc)
		}
		membership := map[string]int{}
		for _, f := range doc.Findings {
			if f.Kind != "membership" {
				continue
			}
			membership[f.Source]++
			switch f.Source {
			case "scim":
				if f.LiveKey != "oncall" || !strings.HasPrefix(f.Pos, "identities/people.yaml:") {
					t.Errorf("scim membership finding: %+v", f)
				}
			case "awsiam":
				if f.LiveKind != "Group" || !strings.HasPrefix(f.LiveKey, "arn:aws:iam::123456789012:group/") || !strings.HasPrefix(f.Pos, "identities/nhi.yaml:") {
					t.Errorf("awsiam membership finding: %+v", f)
				}
			}
		}
		if membership["scim"] != 2 || membership["awsiam"] != 2 {
			t.Errorf("membership findings by source %v, want 2 scim and 2 awsiam:\n%s", membership, r.stdout)
		}
	})

	t.Run("markdown", func(t *testing.T) {
		r := runCLI(t, append(base, "--format", "markdown")...)
		if r.code != 0 || !strings.Contains(r.stdout, "| finding | source | code | live | what to do |") ||
			!strings.Contains(r.stdout, "| binding-unknown | kubernetes | `identities/people.yaml:23:1: Group/contractors` | Binding `payments/contractors-edit`") {
			t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("in sync", func(t *testing.T) {
		r := runCLI(t, "drift", driftRepo, "--at", driftInstant, "--source", "kubernetes=../../bundle/inventory/drift/testdata/in-sync-k8s.json", "--fail-on", "any")
		if r.code != 0 || !strings.Contains(r.stdout, ": in sync") {
			t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"fail-on found", []string{"--fail-on", "binding-unknown,credential-stale"}, 3, "3 finding(s)"},
		{"fail-on any", []string{"--fail-on", "any"}, 3, "10 finding(s)"},
		{"fail-on not found", []string{"--fail-on", "disabled,attribute"}, 0, ""},
		{"unused after a long time", []string{"--unused-after", "500d", "--fail-on", "credential-unused"}, 0, ""},
		{"unknown kind", []string{"--fail-on", "stale"}, 2, `unknown finding kind "stale"`},
		{"unknown source", []string{"--source", "okta=x.json"}, 2, "--source okta: no source \"okta\" in the inventory section"},
		{"source without value", []string{"--source", "scim"}, 2, `--source "scim": want NAME=URL|FILE`},
		{"missing file", []string{"--source", "scim=missing.json"}, 2, "missing.json"},
		{"scim over http", []string{"--source", "scim=http://idp.example.com/scim/v2", "--scim-token-file", "../../bundle/inventory/drift/testdata/repo/cedargate.yaml"}, 2, "must be an https:// URL"},
		{"bad unused-after", []string{"--unused-after", "soon"}, 2, "--unused-after"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, append(base, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d, %q", r.code, r.stderr, tt.code, tt.stderr)
			}
			if tt.code == 2 && r.stdout != "" {
				t.Errorf("a failed drift wrote a report:\n%s", r.stdout)
			}
		})
	}

	t.Run("no source", func(t *testing.T) {
		if r := runCLI(t, "drift", driftRepo); r.code != 2 || !strings.Contains(r.stderr, "--source is required") {
			t.Errorf("exit %d, %s", r.code, r.stderr)
		}
	})
}
