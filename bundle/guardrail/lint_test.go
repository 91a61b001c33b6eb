package guardrail

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle/compile"
)

// policyRepo is a clean two-environment repository: the tests of the
// policy-lint rules add or replace files and look at one rule's findings.
var policyRepo = map[string]string{
	"cedargate.yaml": "namespace: App\nenvironments: [dev, prod]\n",
	"schema.cedarschema": `namespace App {
  entity Service;
  entity Queue;
  // Documents arrive with each request; the repository defines none.
  entity Document;
  action read appliesTo { principal: [User, ServiceAccount], resource: [Service, Document] };
  action publish appliesTo { principal: [ServiceAccount], resource: [Queue] };
}
`,
	"identities/people.yaml": `kind: User
name: sam
---
kind: User
name: kim
---
kind: Team
name: ops
members: [sam]
---
kind: ServiceAccount
name: ci-deployer-${env}
owner: ops
expires: 2027-06-01
review: {last_review: 2026-11-01}
---
kind: Resource
type: Service
name: api
---
kind: Resource
type: Service
name: billing
environments: [prod]
---
kind: Resource
type: Queue
name: events
`,
}

// lintWith lints policyRepo with files added or replaced.
func lintWith(t *testing.T, files map[string]string) string {
	t.Helper()
	all := maps.Clone(policyRepo)
	maps.Copy(all, files)
	return lint(t, all)
}

// findings returns the lines of out that rule reports.
func findings(out, rule string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(l, " ("+rule+")") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestUnknownEntity(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{{
		name: "typo in a forbid",
		files: map[string]string{"policies/deny.cedar": `// The CI deployer may never touch billing.
@id("deny-ci")
forbid (principal == App::ServiceAccount::"ci-deployer-prd", action, resource);
`},
		want: []string{`policies/deny.cedar:3:22: policy "deny-ci": App::ServiceAccount::"ci-deployer-prd" exists in no environment (did you mean App::ServiceAccount::"ci-deployer-prod"?); the policy can never match it (unknown-entity)`},
	}, {
		name: "sets, conditions and a second line",
		files: map[string]string{"policies/p.cedar": `forbid (
  principal,
  action,
  resource
) when {
  principal in [App::Team::"ops", App::Team::"opz"] ||
  resource == App::Service :: "bilingg" || resource in App::Service::"api"
};
`},
		want: []string{
			`policies/p.cedar:6:35: policy "policies/p.cedar#0": App::Team::"opz" exists in no environment (did you mean App::Team::"ops"?); the policy can never match it (unknown-entity)`,
			`policies/p.cedar:7:15: policy "policies/p.cedar#0": App::Service::"bilingg" exists in no environment (did you mean App::Service::"billing"?); the policy can never match it (unknown-entity)`,
		},
	}, {
		name: "the policy of each literal",
		files: map[string]string{"policies/two.cedar": `@id("first")
forbid (principal == App::User::"sam", action, resource);
@id("second")
forbid (principal == App::User::"samm", action, resource);
`},
		want: []string{`policies/two.cedar:4:22: policy "second": App::User::"samm" exists in no environment (did you mean App::User::"sam"?); the policy can never match it (unknown-entity)`},
	}, {
		name: "in one environment only",
		files: map[string]string{"policies/p.cedar": `@id("guard")
forbid (principal == App::ServiceAccount::"ci-deployer-dev", action, resource == App::Service::"billing");
`},
	}, {
		name: "request-scoped type, comments and strings",
		files: map[string]string{"policies/p.cedar": `// App::User::"ghost" is a comment.
@id("docs")
forbid (principal, action, resource == App::Document::"q3-report")
when { context has note && context.note == "App::User::\"ghost\"" };
`},
	}, {
		name: "unknown type left to strict validation",
		files: map[string]string{"policies/p.cedar": `@id("typo")
forbid (principal in App::Gruop::"admins", action, resource);
`},
	}, {
		name: "unknown type without validation",
		files: map[string]string{
			"cedargate.yaml":   "namespace: App\nenvironments: [dev, prod]\nvalidation: off\n",
			"policies/p.cedar": "@id(\"typo\")\nforbid (principal in App::Tem::\"ops\", action == App::Action::\"raed\", resource);\n",
		},
		want: []string{
			`policies/p.cedar:2:22: policy "typo": App::Tem::"ops": unknown entity type App::Tem (did you mean App::Team?); the policy can never match it (unknown-entity)`,
			`policies/p.cedar:2:49: policy "typo": App::Action::"raed" exists in no environment (did you mean App::Action::"read"?); the policy can never match it (unknown-entity)`,
		},
	}, {
		name: "a profile's condition",
		files: map[string]string{"identities/profiles.yaml": `kind: AccessProfile
name: reader
permissions:
  - actions: [read]
    resources: [api]
    when: principal in App::Team::"opps"
---
kind: Entitlement
subject: kim
profile: reader
approved_by: sam
`},
		want: []string{`identities/profiles.yaml:6:24: AccessProfile "reader": when: App::Team::"opps" exists in no environment (did you mean App::Team::"ops"?); the condition can never match it (unknown-entity)`},
	}, {
		name: "a profile's condition in a block",
		files: map[string]string{"identities/profiles.yaml": `kind: AccessProfile
name: reader
permissions:
  - actions: [read]
    resources: [api]
    when: |
      principal in App::Team::"ops" ||
      principal in App::Team::"opps"
---
kind: Entitlement
subject: kim
profile: reader
approved_by: sam
`},
		want: []string{`identities/profiles.yaml:6:11: AccessProfile "reader": when: App::Team::"opps" exists in no environment (did you mean App::Team::"ops"?); the condition can never match it (unknown-entity)`},
	}, {
		name: "waived by policy id",
		files: map[string]string{
			"policies/deny.cedar": "@id(\"deny-ci\")\nforbid (principal == App::ServiceAccount::\"ci-deployer-prd\", action, resource);\n",
			"identities/waiver.yaml": `kind: Exception
rule: unknown-entity
subject: deny-ci
expires: 2026-12-20
approved_by: sam
reason: the account arrives with PLAT-12
`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := lintWith(t, tt.files)
			if got := findings(out, UnknownEntity); !slices.Equal(got, tt.want) {
				t.Fatalf("unknown-entity findings:\n  %s\nwant:\n  %s\nall output:\n%s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "), out)
			}
			if strings.Contains(out, "orphan-object") && strings.Contains(out, "Exception") {
				t.Fatalf("the waiver waived nothing:\n%s", out)
			}
		})
	}
	// The validator reports the unknown type, once: unknown-entity does not
	// repeat it.
	out := lintWith(t, map[string]string{"policies/p.cedar": "@id(\"typo\")\nforbid (principal in App::Gruop::\"admins\", action, resource);\n"})
	if !strings.Contains(out, "unrecognized entity type `App::Gruop`") {
		t.Fatalf("strict validation does not report the unknown type:\n%s", out)
	}
}

func TestEntityLiterals(t *testing.T) {
	src := "permit (principal == A::\"x\", action in [A::Action::\"r\\\"q\"], resource)\n" +
		"when { \"B::\\\"no\\\"\" == \"\" && é == C ::\n  \"y\" }; // D::\"no\"\n"
	var got []string
	for _, l := range entityLiterals(src) {
		got = append(got, fmt.Sprintf("%s@%d:%d", l.uid, l.line, l.col))
	}
	want := []string{`A::"x"@1:22`, `A::Action::"r\"q"@1:41`, `C::"y"@2:34`}
	if !slices.Equal(got, want) {
		t.Fatalf("literals %v, want %v", got, want)
	}
}

// grantsRepo grants a profile, breaks glass and waives a rule, each
// expiring on a date of its own; now is 2026-11-23T12:00:00Z.
const grantsRepo = `kind: AccessProfile
name: reader
permissions:
  - actions: [read]
    resources: [api]
---
kind: Entitlement
subject: kim
profile: reader
approved_by: sam
expires: 2026-11-30
---
kind: Exception
subject: sam
profile: reader
approved_by: kim
expires: 2026-11-24T06:00:00Z
reason: incident INC-1
---
kind: Exception
rule: credential-rotation-too-slow
subject: nightly
environments: [prod]
approved_by: sam
expires: 2026-12-20
reason: reviewed with the platform audit in PLAT-9
---
kind: ServiceAccount
name: nightly
owner: ops
expires: 2026-12-02
review: {last_review: 2026-11-01}
credential: {type: api-key, rotation: 180d, last_rotated: 2026-11-01}
environments: [prod]
`

func TestExpiringSoon(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []string
	}{{
		name: "default window",
		want: []string{
			`identities/grants.yaml:11:10: warning: Entitlement "User/kim:reader": expires 2026-11-30, in 6 days (guardrails.expiry_warning: 14d): renew it with a new approval if it is still needed, or let it lapse (expiring-soon)`,
			`identities/grants.yaml:17:10: warning: Exception "User/sam:reader": expires 2026-11-24T06:00:00Z, in less than a day (guardrails.expiry_warning: 14d): end the break-glass work before then, or renew it with a new approval (expiring-soon)`,
			`identities/grants.yaml:31:10: warning: ServiceAccount "nightly": expires 2026-12-02, in 8 days (guardrails.expiry_warning: 14d): extend expires if the workload is still needed, or remove the account (expiring-soon)`,
		},
	}, {
		name:   "wider window",
		config: "guardrails:\n  expiry_warning: 4w\n",
		want: []string{
			`identities/grants.yaml:11:10: warning: Entitlement "User/kim:reader": expires 2026-11-30, in 6 days (guardrails.expiry_warning: 28d): renew it with a new approval if it is still needed, or let it lapse (expiring-soon)`,
			`identities/grants.yaml:17:10: warning: Exception "User/sam:reader": expires 2026-11-24T06:00:00Z, in less than a day (guardrails.expiry_warning: 28d): end the break-glass work before then, or renew it with a new approval (expiring-soon)`,
			`identities/grants.yaml:25:10: warning: Exception "credential-rotation-too-slow:nightly": expires 2026-12-20, in 26 days (guardrails.expiry_warning: 28d): fix what it waives before then, or renew it with a new approval (expiring-soon)`,
			`identities/grants.yaml:31:10: warning: ServiceAccount "nightly": expires 2026-12-02, in 8 days (guardrails.expiry_warning: 28d): extend expires if the workload is still needed, or remove the account (expiring-soon)`,
		},
	}, {
		name:   "narrow window, as an error",
		config: "guardrails:\n  expiry_warning: 7d\n  severity:\n    expiring-soon: error\n",
		want: []string{
			`identities/grants.yaml:11:10: Entitlement "User/kim:reader": expires 2026-11-30, in 6 days (guardrails.expiry_warning: 7d): renew it with a new approval if it is still needed, or let it lapse (expiring-soon)`,
			`identities/grants.yaml:17:10: Exception "User/sam:reader": expires 2026-11-24T06:00:00Z, in less than a day (guardrails.expiry_warning: 7d): end the break-glass work before then, or renew it with a new approval (expiring-soon)`,
		},
	}, {
		name:   "off",
		config: "guardrails:\n  severity:\n    expiring-soon: off\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := lintWith(t, map[string]string{
				"cedargate.yaml":         "namespace: App\nenvironments: [dev, prod]\n" + tt.config,
				"identities/grants.yaml": grantsRepo,
			})
			if got := findings(out, ExpiringSoon); !slices.Equal(got, tt.want) {
				t.Fatalf("expiring-soon findings:\n  %s\nwant:\n  %s\nall output:\n%s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "), out)
			}
		})
	}
	// Expired is another rule's: expiring-soon says nothing of it.
	out := lintWith(t, map[string]string{"identities/grants.yaml": strings.Replace(grantsRepo, "expires: 2026-11-30", "expires: 2026-11-20", 1)})
	if !strings.Contains(out, `Entitlement "User/kim:reader": expired 2026-11-20`) || strings.Contains(out, `"User/kim:reader": expires`) {
		t.Fatalf("an expired grant:\n%s", out)
	}
}

func TestEveryTypeIsABroadGrant(t *testing.T) {
	profile := func(resources string) map[string]string {
		return map[string]string{"identities/profiles.yaml": `kind: AccessProfile
name: everything
permissions:
  - actions: [read, publish]
    resources: ` + resources + `
---
kind: Entitlement
subject: kim
profile: everything
approved_by: sam
`}
	}
	tests := []struct {
		resources string
		want      []string
	}{
		{"[Service/*, Document/*, api]", nil},
		{"[Service/*, Document/*, Queue/*]", []string{
			`identities/profiles.yaml:5:17: AccessProfile "everything": permits any resource: its Type/* cover all 3 resource types of the schema (App::Document, App::Queue, App::Service); list the resources, or waive with an Exception naming "AccessProfile/everything" (broad-grant)`,
		}},
		{"[api, App::Queue/*, Document/*, Service/*]", []string{
			`identities/profiles.yaml:5:22: AccessProfile "everything": permits any resource: its Type/* cover all 3 resource types of the schema (App::Document, App::Queue, App::Service); list the resources, or waive with an Exception naming "AccessProfile/everything" (broad-grant)`,
		}},
		{`["*"]`, []string{
			`identities/profiles.yaml:5:17: AccessProfile "everything": permits any resource: list them, or waive with an Exception naming "AccessProfile/everything" (broad-grant)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.resources, func(t *testing.T) {
			out := lintWith(t, profile(tt.resources))
			if got := findings(out, BroadGrant); !slices.Equal(got, tt.want) {
				t.Fatalf("broad-grant findings:\n  %s\nwant:\n  %s\nall output:\n%s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "), out)
			}
		})
	}
}

func TestJustificationMissing(t *testing.T) {
	const grants = `kind: AccessProfile
name: reader
permissions:
  - actions: [read]
    resources: [api]
---
kind: Entitlement
subject: kim
profile: reader
approved_by: sam
---
kind: Entitlement
subject: sam
profile: reader
approved_by: kim
ticket: SEC-1
reason: on call
---
kind: Exception
rule: review-overdue
approved_by: sam
expires: 2026-12-20
`
	tests := []struct {
		name, require string
		want          []string
	}{
		{"nothing required", "", nil},
		{"ticket and reason", "[ticket, reason]", []string{
			`identities/grants.yaml:7:1: Entitlement "User/kim:reader": no reason: cedargate.yaml requires one on every grant and Exception (guardrails.require, cedargate.yaml:4:21) (justification-missing)`,
			`identities/grants.yaml:7:1: Entitlement "User/kim:reader": no ticket: cedargate.yaml requires one on every grant and Exception (guardrails.require, cedargate.yaml:4:13) (justification-missing)`,
			`identities/grants.yaml:19:1: Exception "review-overdue": no ticket: cedargate.yaml requires one on every grant and Exception (guardrails.require, cedargate.yaml:4:13) (justification-missing)`,
		}},
		{"reason", "reason", []string{
			`identities/grants.yaml:7:1: Entitlement "User/kim:reader": no reason: cedargate.yaml requires one on every grant and Exception (guardrails.require, cedargate.yaml:4:12) (justification-missing)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := "namespace: App\nenvironments: [dev, prod]\n"
			if tt.require != "" {
				config += "guardrails:\n  require: " + tt.require + "\n"
			}
			out := lintWith(t, map[string]string{"cedargate.yaml": config, "identities/grants.yaml": grants})
			if got := findings(out, JustificationMissing); !slices.Equal(got, tt.want) {
				t.Fatalf("justification-missing findings:\n  %s\nwant:\n  %s\nall output:\n%s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "), out)
			}
			// The Exception's missing reason is exception-unbounded's.
			if !strings.Contains(out, `Exception "review-overdue": missing reason`) {
				t.Fatalf("exception-unbounded does not report the missing reason:\n%s", out)
			}
		})
	}
}

// TestUnknownEntityBuildingOneEnvironment checks what `build --env prod`
// checks: only prod is compiled, and an entity of dev alone (a service
// account, a user, a resource) still exists, whether dev is decoded in
// full or names-only, as a build does.
func TestUnknownEntityBuildingOneEnvironment(t *testing.T) {
	files := maps.Clone(policyRepo)
	files["identities/dev.yaml"] = "kind: User\nname: dana\nenvironments: [dev]\n---\nkind: Resource\ntype: Service\nname: ledger\nenvironments: [dev]\n"
	files["policies/p.cedar"] = "@id(\"guard\")\nforbid (principal, action, resource) when { principal in [App::ServiceAccount::\"ci-deployer-dev\", App::ServiceAccount::\"ci-deployer-deb\", App::User::\"dana\"] || resource == App::Service::\"ledger\" };\n"
	want := []string{`policies/p.cedar:2:99: policy "guard": App::ServiceAccount::"ci-deployer-deb" exists in no environment (did you mean App::ServiceAccount::"ci-deployer-dev"?); the policy can never match it (unknown-entity)`}
	for _, namesOnly := range []bool{false, true} {
		r := load(t, files)
		r.DecodeAhead, r.AheadNamesOnly = true, namesOnly
		res, d := compile.Compile(r, "prod")
		d.Append(Check(r, []*compile.Result{res}, now))
		if got := findings(d.String(), UnknownEntity); !slices.Equal(got, want) {
			t.Fatalf("names-only %v: unknown-entity findings:\n  %s\nwant:\n  %s\nall output:\n%s", namesOnly, strings.Join(got, "\n  "), strings.Join(want, "\n  "), d)
		}
	}
}
