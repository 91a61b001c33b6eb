package drift

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/inventory/awsiam"
	"github.com/cedargate/cedargate/bundle/inventory/kubernetes"
	"github.com/cedargate/cedargate/bundle/inventory/scim"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/golden"
)

// at is the instant the fixtures are read as of (awsiam/testdata/README.md).
var at = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func view(t *testing.T) *repo.View {
	t.Helper()
	r, err := repo.Load(t.Context(), "testdata/repo")
	if err != nil {
		t.Fatal(err)
	}
	v, problems := r.View("")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	return v
}

func snapshots(t *testing.T) map[string]*inventory.Snapshot {
	t.Helper()
	now := func() time.Time { return at }
	out := map[string]*inventory.Snapshot{}
	for name, src := range map[string]inventory.Source{
		"scim":       scim.NewFile("../scim/testdata/root-query.json", scim.Options{Now: now}),
		"kubernetes": &kubernetes.Source{Files: []string{"../kubernetes/testdata/all.json"}, Now: now},
		"awsiam": &awsiam.Source{Details: "../awsiam/testdata/authorization-details.json",
			CredentialReport: "../awsiam/testdata/credential-report.csv", Now: now},
	} {
		s, err := src.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out[name] = s
	}
	return out
}

func render(r *Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "%s %s live=%s|%s|%s code=%s pos=%s\n  %s\n", f.Source, f.Kind, f.LiveKind, f.LiveID, f.LiveKey, f.Code, f.Pos, f.Message)
	}
	return b.String()
}

// TestCompare compares the fixture repository with each source's
// fixtures and checks the findings against golden files.
func TestCompare(t *testing.T) {
	v := view(t)
	snaps := snapshots(t)
	for _, name := range []string{"scim", "kubernetes", "awsiam"} {
		t.Run(name, func(t *testing.T) {
			r, err := Compare(v, []*inventory.Snapshot{snaps[name]}, Options{At: at})
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "testdata/"+name+".golden", []byte(render(r)))
		})
	}
}

// TestOptions checks the unused period, all sources at once in a
// deterministic order, and the errors of Compare.
func TestOptions(t *testing.T) {
	v := view(t)
	snaps := snapshots(t)
	all := []*inventory.Snapshot{snaps["scim"], snaps["awsiam"], snaps["kubernetes"]}
	r, err := Compare(v, all, Options{At: at, UnusedAfter: 500 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Count(CredentialUnused); n != 0 {
		t.Errorf("unused after 500d: %d credential-unused findings, want 0", n)
	}
	// Group developers is not code-only against SCIM: IAM holds a group
	// of that name, so it lives in AWS.
	if n := r.Count(LiveOnly, CodeOnly); n != 8 {
		t.Errorf("%d live-only and code-only findings, want 8:\n%s", n, render(r))
	}
	again, _ := Compare(v, []*inventory.Snapshot{snaps["kubernetes"], snaps["scim"], snaps["awsiam"]}, Options{At: at, UnusedAfter: 500 * 24 * time.Hour})
	if render(again) != render(r) {
		t.Errorf("findings depend on the order of sources")
	}
	if r.Sources[0] != "scim" || r.Env != "" || r.At != "2026-12-01T00:00:00Z" {
		t.Errorf("report header = %q %q %q", r.Sources, r.Env, r.At)
	}
	if _, err := Compare(v, nil, Options{}); err == nil {
		t.Error("Compare without an instant: no error")
	}
	other := *snaps["scim"]
	other.Source = "okta"
	if _, err := Compare(v, []*inventory.Snapshot{&other}, Options{At: at}); err == nil || !strings.Contains(err.Error(), `no source "okta" in the inventory section of cedargate.yaml, and it is not a source type`) {
		t.Errorf("unknown source: %v", err)
	}
}

// TestSCIMUserMatching checks how SCIM userNames find Users: by
// scim_username, by name, by the part before @, and that a disabled
// live account code declares is reported.
func TestSCIMUserMatching(t *testing.T) {
	v := view(t)
	objs := []inventory.Object{
		{Kind: inventory.User, ID: "1", Key: "ana@example.com", Active: true},
		{Kind: inventory.User, ID: "2", Key: "Bo Chen", Active: true},
		{Kind: inventory.User, ID: "3", Key: "carol", Active: false},
		{Kind: inventory.User, ID: "4", Key: "alice@corp.example", Active: true},
		{Kind: inventory.User, ID: "5", Key: "bo@example.com", Name: "bo", Active: true},
		{Kind: inventory.User, ID: "6", Key: "ana", Name: "ana", Active: true},
		{Kind: inventory.Group, ID: "g1", Key: "oncall", Members: []string{"ana@example.com", "Bo Chen"}, Active: true},
		{Kind: inventory.Group, ID: "g2", Key: "contractors", Active: true},
		{Kind: inventory.Group, ID: "g3", Key: "developers", Members: []string{"alice@corp.example"}, Active: true},
	}
	r, err := Compare(v, []*inventory.Snapshot{inventory.NewSnapshot("scim", at, objs)}, Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	got := render(r)
	want := `scim live-only live=User|1|ana@example.com code= pos=
  User ana@example.com is live but not in code; User ana matches ana better; give the User scim_username: to say which one it is, and add the other
scim live-only live=User|5|bo@example.com code= pos=
  User bo@example.com is live but not in code; add a User named bo (or give an existing User scim_username: bo@example.com), or remove it from the directory
scim membership live=Group|g1|oncall code=User/ana pos=identities/people.yaml:7:10
  code puts User ana in Group oncall, but the live group lacks the member; provision the membership, or remove the group from the user's groups
scim membership live=Group|g1|oncall code=User/bo pos=identities/people.yaml:9:1
  live group oncall has member Bo Chen, whom code does not put in Group oncall; add oncall to the user's groups, or remove the member live
scim disabled live=User|3|carol code=User/carol pos=identities/people.yaml:13:1
  live user carol is disabled, but code still declares User carol; remove the user from code (or enable the account live)
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIRSAAttribute checks that a Kubernetes ServiceAccount assuming
// another IAM role than its code's aws_arn is reported, and the matching
// one (in the fixtures) is not.
func TestIRSAAttribute(t *testing.T) {
	v := view(t)
	objs := []inventory.Object{
		{Kind: inventory.ServiceAccount, ID: "u1", Key: "payments/ledger-bot", Active: true,
			Attributes: map[string]string{irsaAnnotation: "arn:aws:iam::123456789012:role/admin"}},
		{Kind: inventory.ServiceAccount, ID: "u2", Key: "payments/batch-export", Active: true,
			Attributes: map[string]string{irsaAnnotation: "arn:aws:iam::123456789012:role/whatever"}},
	}
	r, err := Compare(v, []*inventory.Snapshot{inventory.NewSnapshot("kubernetes", at, objs)}, Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	want := `kubernetes attribute live=ServiceAccount|u1|payments/ledger-bot code=ServiceAccount/ledger-bot pos=identities/nhi.yaml:6:10
  Kubernetes ServiceAccount payments/ledger-bot assumes role arn:aws:iam::123456789012:role/admin (annotation eks.amazonaws.com/role-arn), but code says ServiceAccount ledger-bot is arn:aws:iam::123456789012:role/ledger-bot; fix the annotation, or aws_arn
`
	if got := render(r); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestMapping checks the inventory section of cedargate.yaml: a source
// with its own name and type, users matched by email, a group by its
// scim_displayname, Kubernetes namespaces skipped; and that a disabled
// live user code does not declare is no drift.
func TestMapping(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "cedargate.yaml", `inventory:
  okta:
    type: scim
    user_key: email
  prod-cluster:
    type: kubernetes
    skip_namespaces: [kube-system]
`)
	writeFile(t, dir, "identities/a.yaml", `kind: User
name: ana
scim_username: ana@corp.example
groups: [platform-ops]
---
kind: Group
name: platform-ops
scim_displayname: Platform Ops
---
kind: ServiceAccount
name: dns
owner: ana
expires: 2027-01-01
kubernetes: kube-system/coredns
`)
	r, err := repo.Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	v, problems := r.View("")
	if problems.Errors() > 0 {
		t.Fatal(problems)
	}
	users := inventory.NewSnapshot("okta", at, []inventory.Object{
		{Kind: inventory.User, ID: "1", Key: "U123", Active: true, Attributes: map[string]string{"email": "ana@corp.example"}},
		{Kind: inventory.User, ID: "2", Key: "U456", Active: false, Attributes: map[string]string{"email": "left@corp.example"}},
		{Kind: inventory.Group, ID: "g1", Key: "Platform Ops", Members: []string{"U123"}, Active: true},
	})
	cluster := inventory.NewSnapshot("prod-cluster", at, []inventory.Object{
		{Kind: inventory.ServiceAccount, ID: "s1", Key: "kube-system/kube-proxy", Active: true, Attributes: map[string]string{"namespace": "kube-system"}},
	})
	rep, err := Compare(v, []*inventory.Snapshot{users, cluster}, Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 {
		t.Errorf("findings, want none:\n%s", render(rep))
	}
	// The same live objects under the default mapping of scim: matched
	// by userName, so ana is code-only and U123 live-only.
	users.Source = "scim"
	rep, err = Compare(v, []*inventory.Snapshot{users}, Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Count(LiveOnly, CodeOnly); got != 2 {
		t.Errorf("default mapping: %d live-only and code-only findings, want 2:\n%s", got, render(rep))
	}
}

// TestIAMGroups checks the IAM group memberships of IAM users that match
// code: a group named as a code Group the identity is not in, a group
// code does not know, and a code Group whose IAM group lacks the user are
// each a membership finding; a group whose members code does not know,
// and a code Group IAM has no group of, are left alone.
func TestIAMGroups(t *testing.T) {
	v := view(t)
	const acct = "arn:aws:iam::123456789012:"
	group := func(id, name string, members ...string) inventory.Object {
		return inventory.Object{Kind: inventory.Group, ID: id, Key: acct + "group/" + name, Name: name, Members: members, Active: true}
	}
	user := func(kind inventory.Kind, id, name string, groups ...string) inventory.Object {
		var arns []string
		for _, g := range groups {
			arns = append(arns, acct+"group/"+g)
		}
		return inventory.Object{Kind: kind, ID: id, Key: acct + "user/" + name, Name: name, Groups: arns, Active: true}
	}
	objs := []inventory.Object{
		group("G1", "developers", acct+"user/alice"),
		group("G2", "oncall", acct+"user/alice"),
		group("G3", "legacy-admins", acct+"user/bob"),
		group("G4", "contractors"),
		group("G5", "break-glass", acct+"user/service/ci-deployer"),
		user(inventory.User, "U1", "alice", "developers", "oncall"),
		user(inventory.User, "U2", "bob", "legacy-admins"),
		user(inventory.ServiceAccount, "U3", "service/ci-deployer", "break-glass"),
		{Kind: inventory.ServiceAccount, ID: "R1", Key: acct + "role/ledger-bot", Name: "ledger-bot", Active: true},
	}
	r, err := Compare(v, []*inventory.Snapshot{inventory.NewSnapshot("awsiam", at, objs)}, Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		if f.Kind != CodeOnly {
			got = append(got, fmt.Sprintf("%s %s %s %s", f.Kind, f.LiveKey, f.Code, f.Pos))
		}
	}
	want := []string{
		"live-only " + acct + "user/bob  ",
		"membership " + acct + "group/break-glass ServiceAccount/ci-deployer identities/nhi.yaml:13:1",
		"membership " + acct + "group/oncall User/alice identities/people.yaml:18:9",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%q\nwant\n%q\n%s", got, want, render(r))
	}
	for _, f := range r.Findings {
		if f.LiveKey == acct+"group/break-glass" && !strings.Contains(f.Message, "IAM group break-glass, which code does not know") {
			t.Errorf("unknown group: %s", f.Message)
		}
	}
}
