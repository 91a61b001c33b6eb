package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/internal/gittest"
)

// checkID asks the PDP at addr for a decision with `cedargate check
// --json` and returns its decision id.
func checkID(t *testing.T, addr, principal, action, resource, want string) string {
	t.Helper()
	r := cedargate(t, "check", "--addr", addr, "--json", "--principal", principal, "--action", action, "--resource", resource)
	var d struct {
		Decision string `json:"decision"`
		ID       string `json:"decision_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || d.Decision != want || d.ID == "" {
		t.Fatalf("check %s %s %s: %+v (%v), want %s", principal, action, resource, r, err, want)
	}
	return d.ID
}

// TestExplainAfterTheFileChanged is the whole path with the real binary:
// commit A is built into a store and served with a decision log, real
// decisions are made over gRPC, then commit B changes the policy that
// allowed one of them. explain shows A's lines, not B's, and the commit
// that last changed them at A; it explains a grant with its
// entitlement's YAML and a default deny too.
func TestExplainAfterTheFileChanged(t *testing.T) {
	// Long and independent of other tests: it runs beside the other long
	// tests marked parallel, to keep make test within its 10-minute budget.
	t.Parallel()
	dir := scaffoldToday(t)
	gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "init", "-q")
	gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "add", "-A")
	gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "commit", "-qm", "Scaffold the identity repository")
	commitA := gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "rev-parse", "HEAD")
	storeDir := filepath.Join(t.TempDir(), "store")
	if r := cedargate(t, "build", dir, "--env", "prod", "--store", storeDir, "--activate"); r.code != 0 || !strings.Contains(r.stdout, "built "+commitA) {
		t.Fatalf("build: %+v", r)
	}
	logFile := filepath.Join(t.TempDir(), "decisions.log")
	// Sync: an answer leaves once its entry is in the file.
	s := serve(t, "--store", storeDir, "--decision-log", logFile, "--decision-log-sync")
	adminID := checkID(t, s.addr, `App::User::"alice"`, `App::Action::"write"`, `App::Service::"api"`, "allow")
	grantID := checkID(t, s.addr, `App::ServiceAccount::"deployer-prod"`, `App::Action::"read"`, `App::Service::"api"`, "allow")
	denyID := checkID(t, s.addr, `App::ServiceAccount::"deployer-prod"`, `App::Action::"write"`, `App::Service::"api"`, "deny")

	// Commit B narrows the admins' policy: the lines that decided are gone
	// from the work tree and from HEAD.
	admins := filepath.Join(dir, "policies", "admins.cedar")
	old, err := os.ReadFile(admins)
	if err != nil {
		t.Fatal(err)
	}
	const oldAction = `  action in [App::Action::"read", App::Action::"write"],`
	const newAction = `  action == App::Action::"read",`
	if !strings.Contains(string(old), oldAction+"\n") {
		t.Fatalf("the scaffold's policy changed; the test expects %q in:\n%s", oldAction, old)
	}
	if err := os.WriteFile(admins, []byte(strings.Replace(string(old), oldAction, newAction, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, dir, "bob", "2026-11-22T08:00:00Z", "commit", "-qam", "Admins only read")
	commitB := gittest.Run(t, dir, "bob", "2026-11-22T08:00:00Z", "rev-parse", "HEAD")

	t.Run("a hand-written policy, at the logged revision", func(t *testing.T) {
		r := cedargate(t, "explain", adminID, "--decision-log", logFile, "--repo", dir)
		if r.code != 0 {
			t.Fatalf("explain: %+v", r)
		}
		for _, want := range []string{
			"decision " + adminID + ": ALLOW\n",
			`  principal  App::User::"alice"` + "\n",
			"revision " + commitA + ", committed 2026-11-20T09:00:00Z: rebuilds to the logged digest\n",
			"allowed by 1 policy\n\nadmins-manage-services\n  a hand-written permit policy\n  at policies/admins.cedar:2:1\n",
			"  policies/admins.cedar, lines 1-7 (the policy)\n  last changed in " + commitA[:12] + " by alice <alice@example.org> on 2026-11-20T09:00:00Z: Scaffold the identity repository\n",
			"  2 | @id(\"admins-manage-services\")\n",
			"  5 | " + oldAction + "\n",
			"  7 | );\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("explain output lacks %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, newAction) || strings.Contains(r.stdout, commitB[:12]) || strings.Contains(r.stdout, "warning") {
			t.Errorf("explain shows commit B or a warning:\n%s", r.stdout)
		}
	})

	t.Run("a grant, with its entitlement's YAML", func(t *testing.T) {
		r := cedargate(t, "explain", grantID, "--decision-log", logFile, "--repo", dir)
		if r.code != 0 {
			t.Fatalf("explain: %+v", r)
		}
		for _, want := range []string{
			"entitlement:ServiceAccount/deployer-prod:api-reader#0\n  a grant: Entitlement \"ServiceAccount/deployer-prod:api-reader\" gives AccessProfile \"api-reader\" to ServiceAccount/deployer-prod (approved by bob, ticket SEC-1, until ",
			"(Entitlement \"ServiceAccount/deployer-prod:api-reader\")\n",
			" | kind: Entitlement\n",
			" | subject: ServiceAccount/deployer-${env}\n",
			" | approved_by: bob\n",
			"(AccessProfile \"api-reader\")\n",
			" |   - actions: [read]\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("explain output lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("a default deny", func(t *testing.T) {
		r := cedargate(t, "explain", denyID, "--decision-log", logFile, "--repo", dir)
		if r.code != 0 || !strings.Contains(r.stdout, "decision "+denyID+": DENY\n") || !strings.Contains(r.stdout, "\ndenied by default: no policy permits\n") {
			t.Fatalf("explain: %+v", r)
		}
	})

	t.Run("JSON", func(t *testing.T) {
		r := cedargate(t, "explain", adminID, "--decision-log", logFile, "--repo", dir, "--format", "json")
		var x struct {
			Decision struct {
				ID       string `json:"decision_id"`
				Decision string `json:"decision"`
				Bundle   struct{ Revision string }
			}
			Revision struct {
				Commit        string `json:"commit"`
				DigestMatches bool   `json:"digest_matches"`
			}
			Policies []struct {
				ID      string `json:"id"`
				Kind    string `json:"kind"`
				Sources []struct {
					Text       string `json:"text"`
					LastChange struct {
						Commit string `json:"commit"`
					} `json:"last_change"`
				} `json:"sources"`
			} `json:"policies"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &x); err != nil || r.code != 0 {
			t.Fatalf("explain --format json: %+v, %v", r, err)
		}
		// Each shape printed is the one docs/cli.md documents: an allow by
		// a policy (no grant, no expiry), by a grant, and a default deny.
		doc := documentedJSON(t, "cedargate explain")
		for _, id := range []string{adminID, grantID, denyID} {
			r := cedargate(t, "explain", id, "--decision-log", logFile, "--repo", dir, "--format", "json")
			var got map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("explain %s --format json: %+v, %v", id, r, err)
			}
			// No caller without TLS: the example has one, documented as
			// left out when the log has none.
			if d, ok := got["decision"].(map[string]any); ok && d["caller"] == nil {
				d["caller"] = "spiffe://example.org/gateway"
			}
			if diff := shapeDiff(doc, got, "", id == grantID); len(diff) > 0 {
				t.Errorf("explain %s --format json differs from the example in %s:\n%s", id, cliDoc, strings.Join(diff, "\n"))
			}
		}
		if x.Decision.ID != adminID || x.Decision.Decision != "allow" || x.Revision.Commit != commitA || !x.Revision.DigestMatches ||
			len(x.Policies) != 1 || x.Policies[0].Kind != "policy" || len(x.Policies[0].Sources) != 1 ||
			!strings.Contains(x.Policies[0].Sources[0].Text, oldAction) || x.Policies[0].Sources[0].LastChange.Commit != commitA {
			t.Fatalf("explain --format json: %s", r.stdout)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		logLines, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		elsewhere := t.TempDir()
		// The grant's line torn in the middle, as a crash mid-write leaves
		// it.
		notJSON := filepath.Join(elsewhere, "not-json.log")
		lines := strings.SplitAfter(string(logLines), "\n")
		torn := -1
		for i, l := range lines {
			if strings.Contains(l, grantID) {
				lines[i], torn = l[:len(l)/2]+"\n", i+1
			}
		}
		if err := os.WriteFile(notJSON, []byte(strings.Join(lines, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		// The same entries, as if the log came from a bundle of another
		// repository: their revision is no commit of this one.
		otherRev := filepath.Join(elsewhere, "other-repo.log")
		if err := os.WriteFile(otherRev, []byte(strings.ReplaceAll(string(logLines), commitA, strings.Repeat("0", 40))), 0o644); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			args []string
			want string
		}{
			{"an unknown decision id", []string{"explain", "0123456789abcdef0123456789abcdef", "--decision-log", logFile, "--repo", dir},
				`decision "0123456789abcdef0123456789abcdef" is not in ` + logFile + " (1 file(s) searched)"},
			{"a log line that is not JSON", []string{"explain", grantID, "--decision-log", notJSON, "--repo", dir},
				fmt.Sprintf("%s:%d: the line that mentions decision %q is not a decision log entry: not JSON", notJSON, torn, grantID)},
			{"a revision the repository does not have", []string{"explain", adminID, "--decision-log", otherRev, "--repo", dir},
				"revision " + strings.Repeat("0", 40) + " does not exist in the Git repository of " + dir},
			{"a log that does not exist", []string{"explain", adminID, "--decision-log", filepath.Join(elsewhere, "none.log"), "--repo", dir},
				"no such file, and no rotated backups of it"},
			{"a repository outside Git", []string{"explain", adminID, "--decision-log", logFile, "--repo", elsewhere},
				"is not in a Git work tree"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := cedargate(t, tt.args...)
				if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
					t.Fatalf("%v: %+v\nwant exit %d and stderr saying %q", tt.args, r, exitUsage, tt.want)
				}
			})
		}
	})
}
