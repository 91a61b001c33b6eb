package compile

import (
	"slices"
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
)

const grantRepoSchema = `namespace Acme {
  entity Service;
  action read appliesTo { principal: [User, ServiceAccount], resource: Service, context: {} };
  action deploy appliesTo { principal: ServiceAccount, resource: Service, context: {} };
}`

const grantRepo = `kind: Team
name: ops
members: [alice]
---
kind: User
name: alice
---
kind: User
name: bob
---
kind: Group
name: eng
---
kind: ServiceAccount
name: ledger
owner: ops
expires: 2027-01-01
---
kind: Resource
type: Service
name: api
---
kind: Resource
type: Service
name: web
---
kind: AccessProfile
name: reader
permissions:
  - actions: [read]
    resources: [api, web]
---
kind: AccessProfile
name: deployer
permissions:
  - actions: [deploy]
    resources: [api]
---
kind: AccessProfile
name: unused
permissions:
  - actions: [read]
    resources: [api]
---
kind: Entitlement
subject: Team/ops
profile: reader
approved_by: bob
---
kind: Entitlement
subject: User/bob
profile: reader
approved_by: alice
expires: 2026-12-31
---
kind: Entitlement
subject: ServiceAccount/ledger
profile: deployer
approved_by: alice
`

// TestGrantsCompileToData checks what a repository's grants become: one
// template per profile selector, whoever holds it; the grants as
// memberships with their windows; the edges in the subjects' entities;
// and the policies decisions name, one per grant and template.
func TestGrantsCompileToData(t *testing.T) {
	res, diags := Compile(load(t, map[string]string{"cedargate.yaml": "namespace: Acme\n", "schema.cedarschema": grantRepoSchema,
		"identities/a.yaml": grantRepo}), "")
	if diags.Errors() > 0 {
		t.Fatal(diags)
	}
	var ids []string
	for _, p := range res.Policies {
		ids = append(ids, p.ID)
	}
	// Two grants of reader, one template per selector; unused, granted to
	// nobody, has none.
	if want := []string{"expired:ServiceAccount", "profile:deployer#0", "profile:reader#0", "profile:reader#1"}; !slices.Equal(ids, want) {
		t.Errorf("policies %v, want %v", ids, want)
	}
	var grants []string
	for _, g := range res.Grants {
		grants = append(grants, g.ID+" "+g.Source+" "+g.Principal.ID+"->"+g.Parent.ID)
	}
	if want := []string{
		"entitlement:ServiceAccount/ledger:deployer identities/a.yaml:56:1 ledger->deployer",
		"entitlement:Team/ops:reader identities/a.yaml:45:1 ops->reader",
		"entitlement:User/bob:reader identities/a.yaml:50:1 bob->reader",
		"expired:ServiceAccount/ledger identities/a.yaml:17:10 ledger->ServiceAccount",
	}; !slices.Equal(grants, want) {
		t.Errorf("grants\n%s\nwant\n%s", strings.Join(grants, "\n"), strings.Join(want, "\n"))
	}
	ops := res.Entities[types.NewEntityUID("Acme::Team", "ops")]
	if !slices.Contains(ops.Parents, types.NewEntityUID("Acme::AccessProfile", "reader")) {
		t.Errorf("Team ops has parents %v, want Acme::AccessProfile::\"reader\" among them", ops.Parents)
	}
	b := res.Bundle(bundle.Manifest{Revision: "r"})
	if c := b.Manifest.Counts; c.Policies != 4 || c.Grants != 3 || b.Manifest.EarliestExpiry == nil || b.Manifest.EarliestExpiry.Format("2006-01-02") != "2026-12-31" {
		t.Errorf("manifest %+v", b.Manifest)
	}
	// The policies decisions name, as a policy per grant would be.
	var logical []string
	for _, p := range res.Logical() {
		logical = append(logical, p.ID+" "+p.Source)
	}
	if want := []string{
		"entitlement:ServiceAccount/ledger:deployer#0 identities/a.yaml:56:1",
		"entitlement:Team/ops:reader#0 identities/a.yaml:45:1",
		"entitlement:Team/ops:reader#1 identities/a.yaml:45:1",
		"entitlement:User/bob:reader#0 identities/a.yaml:50:1",
		"entitlement:User/bob:reader#1 identities/a.yaml:50:1",
		"expired:ServiceAccount/ledger identities/a.yaml:17:10",
	}; !slices.Equal(logical, want) {
		t.Errorf("logical policies\n%s\nwant\n%s", strings.Join(logical, "\n"), strings.Join(want, "\n"))
	}
	p, ok := res.Policy("entitlement:Team/ops:reader#1")
	if want := "permit (\n    principal in Acme::Team::\"ops\",\n    action == Acme::Action::\"read\",\n    resource in Acme::Service::\"web\"\n);"; !ok || p.Cedar != want || p.NotAfter != nil {
		t.Errorf("Policy = %q (%v), want %q", p.Cedar, ok, want)
	}
	p, ok = res.Policy("expired:ServiceAccount/ledger")
	if want := "forbid (\n    principal == Acme::ServiceAccount::\"ledger\",\n    action,\n    resource\n);"; !ok || p.Cedar != want || p.NotBefore == nil || p.Object != "ServiceAccount/ledger" {
		t.Errorf("Policy = %q (%v), want %q", p.Cedar, ok, want)
	}
	if _, ok := res.Policy("entitlement:Team/ops:reader#2"); ok {
		t.Error("reader has no third policy")
	}
}

// TestGrantsAreValidatedAtTheGrant: a grant's policies are validated as
// if written out with its subject, once per profile and kind of subject,
// and each problem is reported at each grant it concerns.
func TestGrantsAreValidatedAtTheGrant(t *testing.T) {
	repoText := grantRepo + `---
kind: Entitlement
subject: User/alice
profile: deployer
approved_by: bob
---
kind: Entitlement
subject: User/bob
profile: deployer
approved_by: alice
`
	_, diags := Compile(load(t, map[string]string{"cedargate.yaml": "namespace: Acme\n", "schema.cedarschema": grantRepoSchema,
		"identities/a.yaml": repoText}), "")
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	want := []string{
		`identities/a.yaml:61:1: policy "entitlement:User/alice:deployer#0": unable to find an applicable action given the policy scope constraints`,
		`identities/a.yaml:66:1: policy "entitlement:User/bob:deployer#0": unable to find an applicable action given the policy scope constraints`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("diagnostics\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
