package guardrail

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
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
	out := lintWith(t, tests[5].files)
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
