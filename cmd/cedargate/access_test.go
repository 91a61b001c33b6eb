package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// accessRepo writes a small identity repository: alice is in ops, which
// is in eng; eng may read every service; writing needs MFA (a condition
// on the request context); carol holds a time-bound grant that expires
// on 2027-01-01; contractors are forbidden to write whatever else holds.
func accessRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"cedargate.yaml": "name: acme\nnamespace: Acme\nenvironments: [dev]\n",
		"schema.cedarschema": `namespace Acme {
  entity Service;
  action read, write appliesTo { principal: [User, ServiceAccount], resource: Service, context: { mfa?: Bool } };
}
`,
		"identities/people.yaml": `kind: Group
name: eng
---
kind: Group
name: ops
groups: [eng]
---
kind: Group
name: contractors
---
kind: User
name: alice
groups: [ops]
---
kind: User
name: carol
---
kind: User
name: bob
---
kind: User
name: dave
groups: [eng, contractors]
---
kind: Resource
type: Service
name: billing
---
kind: Resource
type: Service
name: search
---
kind: AccessProfile
name: billing-reader
permissions:
  - actions: [read]
    resources: [billing]
---
kind: Entitlement
subject: User/carol
profile: billing-reader
approved_by: bob
expires: 2027-01-01
ticket: SEC-7
`,
		"policies/eng.cedar": `@id("eng-reads")
permit (principal in Acme::Group::"eng", action == Acme::Action::"read", resource is Acme::Service);

@id("eng-writes-with-mfa")
permit (principal in Acme::Group::"eng", action == Acme::Action::"write", resource is Acme::Service)
when { context has mfa && context.mfa };

@id("no-contractor-writes")
forbid (principal in Acme::Group::"contractors", action == Acme::Action::"write", resource);
`,
	}
	for name, data := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), []byte(data))
	}
	return dir
}

type accessDoc struct {
	Bundle  struct{ Revision, Environment string }
	At      string
	Entries []struct {
		Principal, Action, Resource, Access string
		Policies                            []struct{ ID, Source string }
		Conditions                          []struct{ Policy, Source, Text string }
	}
}

func accessJSON(t *testing.T, args ...string) accessDoc {
	t.Helper()
	r := cedargate(t, append([]string{"access", "--format", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("access %v: %+v", args, r)
	}
	var doc accessDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("access %v: %v\n%s", args, err, r.stdout)
	}
	return doc
}

func entryLines(doc accessDoc) []string {
	var out []string
	for _, e := range doc.Entries {
		var ids []string
		for _, p := range e.Policies {
			ids = append(ids, p.ID)
		}
		out = append(out, e.Principal+" "+e.Action+" "+e.Resource+" "+e.Access+" "+strings.Join(ids, ","))
	}
	return out
}

func TestAccessCommand(t *testing.T) {
	dir := accessRepo(t)
	doc := accessJSON(t, dir, "--env", "dev", "--principal", "User/alice", "--at", "2026-06-01")
	want := []string{
		`Acme::User::"alice" Acme::Action::"read" Acme::Service::"billing" allow eng-reads`,
		`Acme::User::"alice" Acme::Action::"read" Acme::Service::"search" allow eng-reads`,
		`Acme::User::"alice" Acme::Action::"write" Acme::Service::"billing" conditional eng-writes-with-mfa`,
		`Acme::User::"alice" Acme::Action::"write" Acme::Service::"search" conditional eng-writes-with-mfa`,
	}
	if got := entryLines(doc); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alice:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c := doc.Entries[2].Conditions
	if len(c) != 1 || c[0].Policy != "eng-writes-with-mfa" || c[0].Source != "policies/eng.cedar:6:1" ||
		!strings.Contains(c[0].Text, "context.mfa") || doc.At != "2026-06-01T00:00:00Z" || doc.Bundle.Environment != "dev" {
		t.Fatalf("condition or header: %+v %+v", c, doc)
	}

	// Who can do what on billing: the forbid removes dave's writes, the
	// grant is in force before it expires and gone after.
	billing := func(at string) []string {
		return entryLines(accessJSON(t, dir, "--env", "dev", "--resource", `Acme::Service::"billing"`, "--at", at))
	}
	before := strings.Join(billing("2026-06-01"), "\n")
	if !strings.Contains(before, `Acme::User::"carol" Acme::Action::"read" Acme::Service::"billing" allow entitlement:`) ||
		strings.Contains(before, `"dave" Acme::Action::"write"`) || !strings.Contains(before, `"dave" Acme::Action::"read"`) {
		t.Fatalf("billing in June:\n%s", before)
	}
	if after := strings.Join(billing("2027-02-01"), "\n"); strings.Contains(after, "carol") {
		t.Fatalf("billing after the grant expired:\n%s", after)
	}

	// Who can write at all.
	writers := entryLines(accessJSON(t, dir, "--env", "dev", "--action", "write", "--at", "2026-06-01"))
	if len(writers) != 2 || !strings.Contains(writers[0], "alice") {
		t.Fatalf("writers: %v", writers)
	}

	// Text and CSV say the same.
	r := cedargate(t, "access", dir, "--env", "dev", "--principal", "User/alice", "--at", "2026-06-01")
	if r.code != 0 || !strings.Contains(r.stdout, "4 triples: 2 allow, 2 conditional") || !strings.Contains(r.stdout, "when {") {
		t.Fatalf("text: %+v", r)
	}
	r = cedargate(t, "access", dir, "--env", "dev", "--principal", "User/alice", "--at", "2026-06-01", "--format", "csv")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 5 ||
		lines[0] != "principal,action,resource,access,policies,conditions" {
		t.Fatalf("csv: %+v", r)
	}
}

func TestAccessFromStore(t *testing.T) {
	dir := accessRepo(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if r := cedargate(t, "build", dir, "--env", "dev", "--store", storeDir, "--activate", "--revision", "r1", "--now", "2026-06-01"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	fromStore := accessJSON(t, "--store", storeDir, "--at", "2026-06-01")
	fromDir := accessJSON(t, dir, "--env", "dev", "--at", "2026-06-01")
	if fromStore.Bundle.Revision != "r1" || strings.Join(entryLines(fromStore), "\n") != strings.Join(entryLines(fromDir), "\n") {
		t.Fatalf("store %+v\ndir %+v", fromStore, fromDir)
	}
	if r := cedargate(t, "access", "--store", storeDir, "--revision", "nope"); r.code != 2 || !strings.Contains(r.stderr, "nope") {
		t.Fatalf("unknown stored revision: %+v", r)
	}
}

func TestAccessBadInput(t *testing.T) {
	dir := accessRepo(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--principal", "User/alise"}, `did you mean Acme::User::"alice"?`},
		{[]string{"--principal", `Acme::User::"carl"`}, `did you mean Acme::User::"carol"`},
		{[]string{"--resource", "Service/biling"}, `did you mean Acme::Service::"billing"?`},
		{[]string{"--action", "wrte"}, `did you mean Acme::Action::"write"?`},
		{[]string{"--principal", "alice"}, "Type/id"},
		{[]string{"--format", "yaml"}, "--format"},
		{[]string{"--at", "someday"}, "--at"},
	} {
		r := cedargate(t, append([]string{"access", dir, "--env", "dev"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("access %v: %+v, want exit 2 and %q", c.args, r, c.want)
		}
	}
	writeFile(t, filepath.Join(dir, "policies", "broken.cedar"), []byte("permit (principal,\n"))
	if r := cedargate(t, "access", dir, "--env", "dev"); r.code != 2 || !strings.Contains(r.stderr, "policies/broken.cedar:") {
		t.Fatalf("broken repository: %+v", r)
	}
}
