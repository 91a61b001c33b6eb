package change_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/access"
	"github.com/cedargate/cedargate/bundle/access/change"
	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/internal/gittest"
	goldenpkg "github.com/cedargate/cedargate/internal/golden"
)

// at is the instant every test judges access at: the base's exception
// (until 2026-12-01) and entitlement (until 2027-01-15) are in force.
var at = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// TestCompare commits testdata/base, changes it in one way, commits again
// and compares the two revisions as `cedargate diff` does. Each case
// lists the access changes and identity changes it must report; the
// Markdown is compared with testdata/<case>.md (rerun with -update to
// rewrite the files, then read them).
func TestCompare(t *testing.T) {
	tests := []struct {
		name         string
		edit         func(t *testing.T, dir string)
		gained, lost int
		// access is each access change, "principal action resource: label".
		access []string
		// identities is each identity change, "Kind name change: fields".
		identities []string
	}{
		{
			name: "new-entitlement",
			edit: func(t *testing.T, dir string) {
				write(t, dir, "identities/carol.yaml", `kind: AccessProfile
name: api-writer
permissions:
  - actions: [read, write]
    resources: [api]
---
kind: Entitlement
name: carol-writes-api
subject: User/carol
profile: api-writer
approved_by: alice
expires: 2027-02-01
ticket: SEC-2
reason: Carol maintains the API.
`)
			},
			gained:     1,
			access:     []string{`App::User::"carol" App::Action::"write" App::Service::"api": gained`},
			identities: []string{"AccessProfile api-writer added: permissions", "Entitlement carol-writes-api added: subject profile approved_by expires ticket reason"},
		},
		{
			name: "widened-profile",
			edit: func(t *testing.T, dir string) {
				replace(t, dir, "identities/deployer.yaml", "  - actions: [read]\n", "  - actions: [read, deploy]\n")
			},
			gained: 2,
			access: []string{
				`App::ServiceAccount::"deployer" App::Action::"deploy" App::Service::"api": gained`,
				`App::User::"carol" App::Action::"deploy" App::Service::"api": conditional → allow`,
			},
			identities: []string{"AccessProfile api-reader changed: permissions"},
		},
		{
			name: "removed-group-membership",
			edit: func(t *testing.T, dir string) {
				replace(t, dir, "identities/people.yaml", "groups: [admins, devs]", "groups: [devs]")
			},
			lost: 4,
			access: []string{
				`App::User::"bob" App::Action::"read" App::Service::"api": lost`,
				`App::User::"bob" App::Action::"read" App::Service::"billing": lost`,
				`App::User::"bob" App::Action::"write" App::Service::"api": lost`,
				`App::User::"bob" App::Action::"write" App::Service::"billing": lost`,
			},
			identities: []string{"User bob changed: groups"},
		},
		{
			name: "condition-only-policy-change",
			edit: func(t *testing.T, dir string) {
				replace(t, dir, "policies/devs.cedar", "when { context.mfa };", "when { context.mfa && context.on_call };")
			},
			gained: 2, lost: 2,
			access: []string{
				`App::User::"bob" App::Action::"deploy" App::Service::"api": conditions changed`,
				`App::User::"carol" App::Action::"deploy" App::Service::"api": conditions changed`,
			},
		},
		{
			name: "extended-expiry",
			edit: func(t *testing.T, dir string) {
				replace(t, dir, "identities/deployer.yaml", "expires: 2027-01-15", "expires: 2027-04-15")
				replace(t, dir, "identities/deployer.yaml", "expires: 2026-12-01", "expires: 2026-12-08")
			},
			identities: []string{"Entitlement deployer-reads-api changed: expires", "Exception carol-on-call changed: expires"},
		},
		{
			name: "forbid-added",
			edit: func(t *testing.T, dir string) {
				write(t, dir, "policies/freeze.cedar", `// Writes need MFA; billing is frozen for the audit.
@id("writes-need-mfa")
forbid (principal, action == App::Action::"write", resource)
unless { context.mfa };

@id("billing-frozen")
forbid (principal, action == App::Action::"write", resource == App::Service::"billing");
`)
			},
			lost: 4,
			access: []string{
				`App::User::"alice" App::Action::"write" App::Service::"api": allow → conditional`,
				`App::User::"alice" App::Action::"write" App::Service::"billing": lost`,
				`App::User::"bob" App::Action::"write" App::Service::"api": allow → conditional`,
				`App::User::"bob" App::Action::"write" App::Service::"billing": lost`,
			},
		},
		{
			name: "pure-refactor",
			edit: func(t *testing.T, dir string) {
				// Objects move between files and change order, lists
				// change order, policies move to another directory below
				// a new comment, a block is written in flow style and 1h
				// as 60m: the same values, so nothing to report.
				services := read(t, dir, "identities/services.yaml")
				remove(t, dir, "identities/services.yaml")
				people := read(t, dir, "identities/people.yaml")
				people = strings.Replace(people, "groups: [admins, devs]", "groups: [devs, admins]", 1)
				people = strings.Replace(people, "members: [alice, bob]", "members: [bob, alice]", 1)
				write(t, dir, "identities/people.yaml", services+"---\n"+people)
				docs := strings.Split(read(t, dir, "identities/deployer.yaml"), "---\n")
				slices.Reverse(docs)
				docs[len(docs)-1] = strings.Replace(docs[len(docs)-1], "credential:\n  type: x509-svid\n  rotation: 1h\n", "credential: {rotation: 60m, type: x509-svid}\n", 1)
				write(t, dir, "identities/deployer.yaml", strings.Join(docs, "---\n"))
				for _, p := range []string{"admins.cedar", "devs.cedar"} {
					write(t, dir, "policies/ops/"+p, "// Moved under ops/.\n\n"+read(t, dir, "policies/"+p))
					remove(t, dir, "policies/"+p)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, filepath.Join("testdata", "base"), dir)
			gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "init", "-q")
			gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "add", "-A")
			gittest.Run(t, dir, "alice", "2026-11-20T09:00:00Z", "commit", "-qm", "Base")
			tt.edit(t, dir)
			gittest.Run(t, dir, "bob", "2026-11-21T09:00:00Z", "add", "-A")
			gittest.Run(t, dir, "bob", "2026-11-21T09:00:00Z", "commit", "-qm", tt.name)

			r := compare(t, dir, "HEAD~1", "HEAD")
			if len(r.Gained) != tt.gained || len(r.Lost) != tt.lost {
				t.Errorf("%d gained, %d lost; want %d, %d", len(r.Gained), len(r.Lost), tt.gained, tt.lost)
			}
			var access []string
			for _, c := range r.Access {
				access = append(access, fmt.Sprintf("%s %s %s: %s", c.Principal, c.Action, c.Resource, c.Label()))
			}
			if !slices.Equal(access, tt.access) {
				t.Errorf("access changes:\n  %s\nwant:\n  %s", strings.Join(access, "\n  "), strings.Join(tt.access, "\n  "))
			}
			var ids []string
			for _, c := range r.Identities {
				var fields []string
				for _, f := range c.Fields {
					fields = append(fields, f.Field)
				}
				ids = append(ids, fmt.Sprintf("%s %s %s: %s", c.Kind, c.Name, c.Change, strings.Join(fields, " ")))
			}
			if !slices.Equal(ids, tt.identities) {
				t.Errorf("identity changes:\n  %s\nwant:\n  %s", strings.Join(ids, "\n  "), strings.Join(tt.identities, "\n  "))
			}
			var md bytes.Buffer
			if err := change.WriteMarkdown(&md, r); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", tt.name+".md"), md.Bytes())
		})
	}
}

// compare compiles environment prod of dir at both revisions and
// compares them at the test instant.
func compare(t *testing.T, dir, from, to string) *change.Report {
	t.Helper()
	side := func(rev string) *change.Side {
		c, _, err := build.CompileRevision(context.Background(), dir, rev, "prod")
		if err != nil {
			t.Fatal(err)
		}
		s, err := change.Snapshot(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	r, err := change.Compare(side(from), side(to), at)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden compares got with the file at path (see golden.Check).
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	goldenpkg.Check(t, path, got)
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// replace replaces old, which must be there, with new in the file name.
func replace(t *testing.T, dir, name, old, new string) {
	t.Helper()
	s := read(t, dir, name)
	if !strings.Contains(s, old) {
		t.Fatalf("%s lacks %q", name, old)
	}
	write(t, dir, name, strings.Replace(s, old, new, 1))
}

// copyDir copies the files under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// TestMarkdownLimits: a change that reaches many principals still fits a
// pull-request comment (GitHub's hold 65,536 characters): the tables and
// details stop, saying how many more there are.
func TestMarkdownLimits(t *testing.T) {
	r := &change.Report{Env: "prod", At: at, From: change.Revision{Revision: strings.Repeat("a", 40)}, To: change.Revision{Revision: strings.Repeat("b", 40)}}
	for i := range 300 {
		e := access.Entry{Principal: types.NewEntityUID("App::User", types.String(fmt.Sprintf("u%03d", i))), Action: types.NewEntityUID("App::Action", "read"),
			Resource: types.NewEntityUID("App::Service", "api"), Access: access.Allow, Policies: []access.PolicyRef{{ID: "entitlement:wide#0", Source: "identities/wide.yaml:1:1"}}}
		r.Gained = append(r.Gained, e)
		r.Access = append(r.Access, change.AccessChange{Principal: e.Principal, Action: e.Action, Resource: e.Resource, To: &r.Gained[i]})
	}
	var md bytes.Buffer
	if err := change.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**300 access gained, 0 lost, 0 identity changes**", "| … and 250 more | | |\n", "\n… and 100 more: run `cedargate diff --format json` to see them all.\n"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the Markdown lacks %q", want)
		}
	}
	if md.Len() > 65536 {
		t.Errorf("the Markdown has %d bytes, more than a comment holds", md.Len())
	}
}
