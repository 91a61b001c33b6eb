package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// edit describes a change to one file of the scaffold: replace old with new,
// or append when old is empty.
type edit struct {
	file, old, new string
}

func apply(t *testing.T, dir string, e edit) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(e.file))
	data, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s := string(data)
	if e.old == "" {
		s += e.new
	} else {
		if !strings.Contains(s, e.old) {
			t.Fatalf("%s does not contain %q", e.file, e.old)
		}
		s = strings.Replace(s, e.old, e.new, 1)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	platform = "identities/platform.yaml"
	deployer = "identities/deployer.yaml"
	admins   = "policies/admins.cedar"
)

// TestBrokenInputs feeds one broken input at a time to `cedargate build`
// and checks that the build fails with exit 1, that the message names the
// file, line and column of the problem (and the rule, for guardrails), and
// that the store it would have written to is unchanged.
func TestBrokenInputs(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		// want are substrings of stderr: the position first.
		want []string
	}{
		{"malformed YAML", []edit{{platform, "members: [alice]", "members: [alice"}},
			[]string{"identities/platform.yaml:4:10: invalid YAML: sequence end token ']' not found"}},
		{"tab indentation", []edit{{platform, "name: alice\n", "name: alice\n\tgroups: [x]\n"}},
			[]string{"identities/platform.yaml:8:1: invalid YAML"}},
		{"duplicate key", []edit{{platform, "name: bob\n", "name: bob\nname: robert\n"}},
			[]string{`identities/platform.yaml:12:1: invalid YAML: mapping key "name" already defined at [11:1]`}},
		{"unknown field", []edit{{deployer, "owner: platform", "ownr: platform"}},
			[]string{`identities/deployer.yaml:5:1: ServiceAccount "deployer-prod": unknown field "ownr" (did you mean "owner"?)`}},
		{"unknown nested field", []edit{{deployer, "  rotation: 1h", "  rotate: 1h"}},
			[]string{`identities/deployer.yaml:10:3: ServiceAccount "deployer-prod": unknown field "rotate" (known fields: last_rotated, rotation, type)`}},
		{"unknown kind", []edit{{platform, "kind: Group", "kind: Groop"}},
			[]string{`identities/platform.yaml:15:7: unknown kind "Groop" (did you mean "Group"?)`}},
		{"bad date", []edit{{deployer, "expires: 2027-05-23", "expires: next year"}},
			[]string{`identities/deployer.yaml:6:10: ServiceAccount "deployer-prod": expires: "next year" is not a date`}},
		{"unknown variable", []edit{{deployer, "deployer-${env}\nowner", "deployer-${ENV}\nowner"}},
			[]string{`identities/deployer.yaml:4:7: ServiceAccount: name: unknown variable ${ENV} (the only variable is ${env})`}},
		{"dangling group", []edit{{platform, "groups: [admins]", "groups: [admns]"}},
			[]string{`identities/platform.yaml:8:10: no Group named "admns" in environment "prod" (did you mean "admins"?)`}},
		{"dangling profile", []edit{{deployer, "profile: api-reader", "profile: api-writer"}},
			[]string{`identities/deployer.yaml:24:10: Entitlement "ServiceAccount/deployer-prod:api-writer": no AccessProfile named "api-writer" in environment "prod" (profiles: api-reader)`}},
		{"dangling resource", []edit{{deployer, "resources: [api]", "resources: [apii]"}},
			[]string{`identities/deployer.yaml:20:17: no Resource named "apii" in environment "prod" (did you mean "api"?)`}},
		{"dangling resource type/name", []edit{{deployer, "resources: [api]", "resources: [Service/apj]"}},
			[]string{`identities/deployer.yaml:20:17: no entity App::Service::"apj" in environment "prod" (did you mean App::Service::"api"?): declare it as a Resource or in entities/`}},
		{"unknown action", []edit{{deployer, "actions: [read]", "actions: [raed]"}},
			[]string{`identities/deployer.yaml:19:15: unknown action App::Action::"raed" (the schema declares: read, write)`}},
		{"invalid Cedar", []edit{{admins, "resource is App::Service", "resource is"}},
			[]string{"policies/admins.cedar:7:1: expected a name, found `)`"}},
		{"schema violation in a policy", []edit{{admins, "", "\npermit (principal == App::User::\"alice\", action == App::Action::\"read\", resource) when { principal.level > 3 };\n"}},
			[]string{"policies/admins.cedar:9:100: policy \"policies/admins.cedar#1\": attribute `level` on entity type `App::User` not found (App::User has no attributes)"}},
		{"schema violation in an entity", []edit{{platform, "name: bob\n", "name: bob\nattributes: {level: 3}\n"}},
			[]string{`identities/platform.yaml:12:21: User "bob": does not match the schema: unexpected attribute "level"`}},
		{"duplicate object", []edit{{platform, "", "---\nkind: User\nname: alice\n"}},
			[]string{`identities/platform.yaml:22:1: User "alice": defined twice in environment "prod" (first at identities/platform.yaml:6:1)`}},
		{"failing decision test", []edit{{"tests/api.yaml", "    action: write\n    resource: Service/api\n    expect: deny", "    action: write\n    resource: Service/api\n    expect: allow"}},
			[]string{`tests/api.yaml:9:5: test "the deployer cannot write the API": expected allow, got deny; no policy determined it (default deny)`}},

		// Every guardrail.
		{"nhi-owner-missing", []edit{{deployer, "owner: platform\n", ""}},
			[]string{`identities/deployer.yaml:3:1: ServiceAccount "deployer-prod": no owner`, "(nhi-owner-missing)"}},
		{"nhi-owner-unknown", []edit{{deployer, "owner: platform", "owner: platfrom"}},
			[]string{`identities/deployer.yaml:5:8: ServiceAccount "deployer-prod": owner "platfrom" is not a Team or User: no Team or User named "platfrom" in environment "prod" (did you mean "platform"?) (nhi-owner-unknown)`, "(nhi-owner-unknown)"}},
		{"nhi-expiry-missing", []edit{{deployer, "expires: 2027-05-23\n", ""}},
			[]string{`identities/deployer.yaml:3:1: ServiceAccount "deployer-prod": no expiry`, "(nhi-expiry-missing)"}},
		{"nhi-lifetime-too-long", []edit{{deployer, "expires: 2027-05-23", "expires: 2029-01-01"}},
			[]string{`identities/deployer.yaml:6:10: ServiceAccount "deployer-prod": expires 2029-01-01, more than 365d from now`, "(nhi-lifetime-too-long)"}},
		{"credential-rotation-overdue", []edit{{deployer, "type: x509-svid", "type: api-key\n  last_rotated: 2026-11-01"}},
			[]string{`identities/deployer.yaml:10:17: ServiceAccount "deployer-prod": api-key credential last rotated 2026-11-01, due every 1h`, "(credential-rotation-overdue)"}},
		{"credential-rotation-too-slow", []edit{{deployer, "rotation: 1h", "rotation: 180d"}},
			[]string{`identities/deployer.yaml:10:13: ServiceAccount "deployer-prod": credential rotates every 180d`, "(credential-rotation-too-slow)"}},
		{"review-overdue", []edit{{deployer, "last_review: 2026-11-23", "last_review: 2026-01-02"}},
			[]string{`identities/deployer.yaml:13:16: ServiceAccount "deployer-prod": last reviewed 2026-01-02, due every 90d`, "(review-overdue)"}},
		{"entitlement-expired", []edit{{deployer, "expires: 2027-02-23", "expires: 2026-11-01"}},
			[]string{`identities/deployer.yaml:26:10: Entitlement "ServiceAccount/deployer-prod:api-reader": expired 2026-11-01 and grants nothing`, "(entitlement-expired)"}},
		{"expiring-soon, as an error", []edit{{"cedargate.yaml", "exception_max_duration: 30d", "exception_max_duration: 30d\n  severity: {expiring-soon: error}"}, {deployer, "expires: 2027-02-23", "expires: 2026-11-30"}},
			[]string{`identities/deployer.yaml:26:10: Entitlement "ServiceAccount/deployer-prod:api-reader": expires 2026-11-30, in 7 days (guardrails.expiry_warning: 14d)`, "(expiring-soon)"}},
		{"entitlement-unapproved", []edit{{deployer, "approved_by: bob\n", ""}},
			[]string{`identities/deployer.yaml:22:1: Entitlement "ServiceAccount/deployer-prod:api-reader": no approved_by`, "(entitlement-unapproved)"}},
		{"entitlement approved by its subject", []edit{{deployer, "subject: ServiceAccount/deployer-${env}", "subject: User/bob"}},
			[]string{`identities/deployer.yaml:25:14: Entitlement "User/bob:api-reader": approved by its own subject User/bob`, "(entitlement-unapproved)"}},
		{"justification-missing", []edit{{"cedargate.yaml", "exception_max_duration: 30d", "exception_max_duration: 30d\n  require: [ticket]"}, {deployer, "ticket: SEC-1\n", ""}},
			[]string{`identities/deployer.yaml:22:1: Entitlement "ServiceAccount/deployer-prod:api-reader": no ticket: cedargate.yaml requires one on every grant and Exception (guardrails.require, cedargate.yaml:9:13)`, "(justification-missing)"}},
		{"exception-unbounded", []edit{{deployer, "", "---\nkind: Exception\nrule: broad-grant\nsubject: admins-manage-services\napproved_by: bob\n"}},
			[]string{`identities/deployer.yaml:30:1: Exception "broad-grant:admins-manage-services": missing expires, reason`, "(exception-unbounded)"}},
		{"broad-grant", []edit{{admins, "", "\n@id(\"everything\")\npermit (principal, action, resource is App::Service);\n"}},
			[]string{`policies/admins.cedar:9:1: policy "everything": permits any principal and any action`, "(broad-grant)"}},
		{"unknown-entity", []edit{{admins, "", "\n@id(\"deployer-read-only\")\nforbid (principal == App::ServiceAccount::\"deployer-prd\", action == App::Action::\"write\", resource);\n"}},
			[]string{`policies/admins.cedar:10:22: policy "deployer-read-only": App::ServiceAccount::"deployer-prd" exists in no environment (did you mean App::ServiceAccount::"deployer-prod"?)`, "(unknown-entity)"}},
		{"environment-crossover", []edit{{deployer, "name: deployer-${env}", "name: deployer"}, {deployer, "subject: ServiceAccount/deployer-${env}", "subject: ServiceAccount/deployer"}},
			[]string{`identities/deployer.yaml:3:1: ServiceAccount "deployer": exists in production and in other environments (dev, prod)`, "(environment-crossover)"}},
		{"shared-identity", []edit{{deployer, "spiffe_id: spiffe://example.org/${env}/deployer", "spiffe_id: [\"spiffe://example.org/${env}/deployer\", spiffe://example.org/ci]"}},
			[]string{`identities/deployer.yaml:7:12: ServiceAccount "deployer-prod": used by 2 workloads`, "(shared-identity)"}},
		{"orphan-object", []edit{{platform, "", "---\nkind: Group\nname: auditors\n"}},
			[]string{`identities/platform.yaml:22:1: Group "auditors": has no members in environment "prod"`, "(orphan-object)"}},
	}
	base := scaffold(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if r := cedargate(t, "build", base, "--env", "prod", "--store", storeDir, "--activate", "--now", refDate); r.code != 0 {
		t.Fatalf("the scaffold does not build: %+v", r)
	}
	before := treeHash(t, storeDir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			for _, e := range tt.edits {
				apply(t, dir, e)
			}
			r := cedargate(t, "build", dir, "--env", "prod", "--store", storeDir, "--activate", "--now", refDate)
			if r.code != exitProblems {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", r.code, exitProblems, r.stdout, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not contain\n  %s\ngot:\n%s", w, r.stderr)
				}
			}
			if got := treeHash(t, storeDir); got != before {
				t.Errorf("the store changed")
			}
		})
	}
}

// TestUsageErrors checks the exit code and message of command lines that
// are wrong rather than repositories that are.
func TestUsageErrors(t *testing.T) {
	dir := scaffold(t)
	store := filepath.Join(t.TempDir(), "store")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"biuld", dir}, `unknown command "biuld"`},
		{"unknown flag", []string{"lint", dir, "--evn", "prod"}, "unknown flag: --evn"},
		{"no repository here", []string{"lint"}, "cedargate lint: the current directory holds no cedargate.yaml; give the identity repository's DIR, or run it there"},
		{"two directories", []string{"lint", dir, dir}, "cedargate lint takes at most one argument (DIR, default .), got 2"},
		{"env required", []string{"build", dir, "--store", store, "--now", refDate}, "--env is required: cedargate.yaml declares environments dev, prod"},
		{"env not declared", []string{"build", dir, "--env", "staging", "--store", store, "--now", refDate}, "--env staging: not one of the environments in cedargate.yaml (dev, prod)"},
		{"store required", []string{"build", dir, "--env", "prod"}, "--store is required"},
		{"bad --now", []string{"lint", dir, "--now", "tomorrow"}, `--now: "tomorrow" is not a date`},
		{"client cert without CA", []string{"status", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, "--tls-cert and --tls-key need --tls-ca"},
		{"unknown store command", []string{"store", "verfiy"}, `unknown command "verfiy" for "cedargate store"`},
		{"store verify without a store", []string{"store", "verify"}, "--store is required"},
		{"store repair with a missing key", []string{"store", "repair", "--store", store, "--verify-key", "missing.pub"}, "--verify-key: open missing.pub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cedargate(t, tt.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, exitUsage, tt.want)
			}
		})
	}
}
