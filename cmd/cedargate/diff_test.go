package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle/access"
	"github.com/cedargate/cedargate/internal/gittest"
)

// TestDiff runs `cedargate diff` on a repository with three commits: the
// scaffold (A), a grant to a new user (B) and a change that does not
// build (C). The Markdown of every kind of change is tested in
// bundle/access/change; this is the command: its formats, exit codes
// and bad input.
func TestDiff(t *testing.T) {
	dir := scaffold(t)
	commit := func(who, date, msg string) string {
		gittest.Run(t, dir, who, date, "add", "-A")
		gittest.Run(t, dir, who, date, "commit", "-qm", msg)
		return gittest.Run(t, dir, who, date, "rev-parse", "HEAD")
	}
	gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "init", "-q")
	commitA := commit("alice", "2026-11-20T09:00:00Z", "Scaffold")
	grant := filepath.Join(dir, "identities", "carol.yaml")
	writeFile(t, grant, []byte(`kind: User
name: carol
---
kind: Entitlement
subject: User/carol
profile: api-reader
approved_by: bob
expires: 2027-01-15
ticket: SEC-2
`))
	commitB := commit("bob", "2026-11-21T09:00:00Z", "Carol reads the API")
	writeFile(t, grant, []byte("kind: Entitlement\nsubject: User/carol\nprofile: api-raeder\n"))
	commitC := commit("bob", "2026-11-22T09:00:00Z", "A typo")
	gittest.Run(t, dir, "bob", "2026-11-22T09:00:00Z", "reset", "-q", "--hard", commitB)
	before := treeHash(t, dir)

	diff := func(args ...string) result {
		t.Helper()
		return cedargate(t, append([]string{"diff", dir, "--env", "prod", "--at", refDate}, args...)...)
	}

	t.Run("text", func(t *testing.T) {
		r := diff("--from", commitA, "--to", commitB)
		for _, want := range []string{
			"diff of environment prod at 2026-11-23T00:00:00Z\nfrom " + commitA + "\nto   " + commitB + "\n1 access gained, 0 lost, 2 identity changes\n",
			"\nApp::User::\"carol\"\n  + App::Action::\"read\" on App::Service::\"api\": gained\n      allow\n        by entitlement:User/carol:api-reader#0 at identities/carol.yaml:4:1\n",
			"\nidentities\n  + User carol: added\n",
			"  + Entitlement User/carol:api-reader: added\n      subject: User/carol\n",
			"      expires: 2027-01-15\n",
		} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("diff: %+v\nlacks %q", r, want)
			}
		}
	})

	t.Run("JSON has the documented shape", func(t *testing.T) {
		r := diff("--from", commitA, "--to", commitB, "--format", "json")
		var got map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
			t.Fatalf("diff --format json: %+v, %v", r, err)
		}
		doc := documentedJSON(t, "cedargate diff")
		// B gains and loses nothing else: lost is empty, so its shape is
		// the documented gained entry's.
		if diff := shapeDiff(doc, got, "", false); len(diff) > 0 {
			t.Errorf("diff --format json differs from the example in %s:\n%s", cliDoc, strings.Join(diff, "\n"))
		}
		var x struct {
			From, To struct {
				Revision string `json:"revision"`
			}
			Gained, Lost []access.Entry
			Identities   []struct {
				Kind, Name, Change string
				Fields             []struct{ Field, From, To string }
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &x); err != nil {
			t.Fatal(err)
		}
		if x.From.Revision != commitA || x.To.Revision != commitB || len(x.Gained) != 1 || x.Lost == nil || len(x.Lost) != 0 ||
			x.Gained[0].Principal.String() != `App::User::"carol"` || x.Gained[0].Access != access.Allow ||
			len(x.Identities) != 2 || x.Identities[1].Change != "added" || x.Identities[1].Fields[0].Field != "subject" {
			t.Errorf("diff --format json:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, `"lost": []`) {
			t.Errorf("an empty list is not []:\n%s", r.stdout)
		}
	})

	t.Run("markdown", func(t *testing.T) {
		r := diff("--from", commitA, "--to", commitB, "--format", "markdown")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "### cedargate diff of `prod`: `"+commitA[:12]+"` → `"+commitB[:12]+"`\n\n**1 access gained, 0 lost, 2 identity changes**") {
			t.Errorf("diff --format markdown: %+v", r)
		}
	})

	t.Run("fail on gained", func(t *testing.T) {
		if r := diff("--from", commitA, "--to", commitB, "--fail-on-gained"); r.code != 3 || !strings.Contains(r.stdout, "1 access gained") ||
			!strings.Contains(r.stderr, "1 access gained (--fail-on-gained)") {
			t.Errorf("access gained: %+v, want exit 3 and the report", r)
		}
		if r := diff("--from", commitB, "--to", commitA, "--fail-on-gained"); r.code != 0 || !strings.Contains(r.stdout, "0 access gained, 1 lost") {
			t.Errorf("access lost only: %+v, want exit 0", r)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
			want []string
		}{
			{"unknown revision", []string{"--from", "no-such-branch"}, []string{"no-such-branch"}},
			{"revision that does not build", []string{"--from", commitA, "--to", commitC},
				[]string{"revision " + commitC + " (" + commitC[:12] + ") does not build: identities/carol.yaml:3:10: ", "api-raeder"}},
			{"no --from", nil, []string{"--from is required"}},
			{"bad format", []string{"--from", commitA, "--format", "html"}, []string{"--format must be one of text, markdown, json"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := diff(tt.args...)
				if r.code != 2 {
					t.Errorf("exit %d, want 2: %+v", r.code, r)
				}
				for _, want := range tt.want {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("stderr lacks %q: %s", want, r.stderr)
					}
				}
			})
		}
	})

	if after := treeHash(t, dir); after != before {
		t.Errorf("diff changed the repository")
	}

	t.Run("the work tree when --to is absent", func(t *testing.T) {
		if err := os.Remove(grant); err != nil {
			t.Fatal(err)
		}
		r := diff("--from", commitB)
		if r.code != 0 || !strings.Contains(r.stdout, "\nto   "+commitB+"-dirty-") || !strings.Contains(r.stdout, "0 access gained, 1 lost, 2 identity changes") {
			t.Errorf("diff against the work tree: %+v", r)
		}
	})
}
