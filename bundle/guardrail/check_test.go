package guardrail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// lint compiles every environment of a repository written from files and
// runs the guardrails, as `cedargate lint` does.
func lint(t *testing.T, files map[string]string) string {
	t.Helper()
	r := load(t, files)
	envs := r.Config.Environments
	if len(envs) == 0 {
		envs = []string{""}
	}
	var all diag.List
	var results []*compile.Result
	for _, e := range envs {
		res, d := compile.Compile(r, e)
		all.Append(d)
		results = append(results, res)
	}
	all.Append(Check(r, results, now))
	return all.String()
}

// load loads a repository written from files.
func load(t *testing.T, files map[string]string) *repo.Repo {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := repo.Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const people = `kind: User
name: sam
---
kind: Team
name: ops
members: [sam]
`

func TestWaivers(t *testing.T) {
	base := map[string]string{
		"cedargate.yaml":      "environments: [dev, prod]\n",
		"identities/ops.yaml": people,
		"policies/p.cedar":    "@id(\"open\")\npermit (principal, action, resource);\n",
	}
	waiver := func(subject string) string {
		return "kind: Exception\nrule: broad-grant\nsubject: \"" + subject + "\"\napproved_by: sam\nreason: migration\nexpires: 2026-12-01\n"
	}
	tests := []struct {
		name    string
		subject string
		waived  bool
	}{
		{"policy id", "open", true},
		{"wrong policy id", "opne", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			files["identities/waivers.yaml"] = waiver(tt.subject)
			out := lint(t, files)
			flagged := strings.Contains(out, `policy "open": permits any principal`)
			if flagged == tt.waived {
				t.Fatalf("waived = %v, want %v:\n%s", !flagged, tt.waived, out)
			}
			if !tt.waived && !strings.Contains(out, "waives broad-grant for opne, but nothing in environment") {
				t.Fatalf("an unused waiver is not reported:\n%s", out)
			}
		})
	}

	// A bare name never matches the tail of a policy id.
	files := map[string]string{
		"cedargate.yaml":          "environments: [dev, prod]\n",
		"identities/ops.yaml":     people,
		"policies/admins.cedar":   "permit (principal, action, resource);\n",
		"identities/waivers.yaml": waiver("admins.cedar#0"),
	}
	if out := lint(t, files); !strings.Contains(out, `policy "policies/admins.cedar#0": permits any principal`) {
		t.Fatalf("a bare name waived a policy by its path's tail:\n%s", out)
	}
	files["identities/waivers.yaml"] = waiver("policies/admins.cedar#0")
	if out := lint(t, files); strings.Contains(out, "(broad-grant)") {
		t.Fatalf("the exact policy id did not waive:\n%s", out)
	}
}

// TestCrossoverWaiverCountsInEveryEnvironment waives an
// environment-crossover finding; linting all environments must not call
// the waiver unused in any of them.
func TestCrossoverWaiverCountsInEveryEnvironment(t *testing.T) {
	out := lint(t, map[string]string{
		"cedargate.yaml": "environments: [dev, staging, prod]\n",
		"identities/ops.yaml": people + `---
kind: ServiceAccount
name: legacy-batch
owner: ops
expires: 2027-01-01
review: {last_review: 2026-11-01}
---
kind: Exception
rule: environment-crossover
subject: legacy-batch
approved_by: sam
reason: moving to per-environment accounts in SEC-4
expires: 2026-12-15
`,
	})
	if strings.Contains(out, "environment-crossover") || strings.Contains(out, "orphan-object") {
		t.Fatalf("crossover waiver:\n%s", out)
	}
}

// TestGroupMembersFromEntityFiles counts members that entity files put in
// a group, not only identity objects.
func TestGroupMembersFromEntityFiles(t *testing.T) {
	files := map[string]string{
		"cedargate.yaml":      "validation: off\n",
		"identities/ops.yaml": people + "---\nkind: Group\nname: auditors\n",
	}
	if out := lint(t, files); !strings.Contains(out, `Group "auditors": has no members`) {
		t.Fatalf("empty group not reported:\n%s", out)
	}
	files["entities/extra.json"] = `[{"uid": {"type": "Robot", "id": "ext"}, "attrs": {}, "parents": [{"type": "Group", "id": "auditors"}]}]`
	if out := lint(t, files); strings.Contains(out, `auditors`) {
		t.Fatalf("a member from entities/ is not counted:\n%s", out)
	}
}
