package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// evalPolicies is written at policies/net.cedar; the tests name its
// clauses by line and column.
const evalPolicies = `@id("eng-reads-from-office")
permit (principal in Acme::Group::"eng", action == Acme::Action::"read", resource is Acme::Service)
when { context.source_ip.isIpv4() }
when { context.source_ip.isInRange(ip("10.0.0.0/8")) };

@id("eng-writes")
permit (principal in Acme::Group::"eng", action == Acme::Action::"write", resource is Acme::Service);

@id("no-contractor-writes")
forbid (principal in Acme::Group::"contractors", action == Acme::Action::"write", resource);

@id("admins-by-level")
permit (principal in Acme::Group::"eng", action == Acme::Action::"admin", resource is Acme::Service)
  when { context.level * 1000000000000000000 > 5 };
`

// evalRepo is accessRepo (alice in ops, in eng; dave in eng and
// contractors; carol's grant to read billing expires on 2027-01-01) with
// evalPolicies instead of its policies, and a schema whose read needs a
// source IP and whose admin a level.
func evalRepo(t *testing.T) string {
	t.Helper()
	dir := accessRepo(t)
	if err := os.Remove(filepath.Join(dir, "policies", "eng.cedar")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "policies", "net.cedar"), []byte(evalPolicies))
	writeFile(t, filepath.Join(dir, "schema.cedarschema"), []byte(`namespace Acme {
  entity Service;
  action read appliesTo { principal: [User, ServiceAccount], resource: Service, context: { source_ip: ipaddr } };
  action write appliesTo { principal: [User, ServiceAccount], resource: Service, context: {} };
  action admin appliesTo { principal: [User], resource: Service, context: { level: Long } };
}
`))
	return dir
}

// evalDoc is eval's --format json document.
type evalDoc struct {
	Decision            string `json:"decision"`
	Principal           string `json:"principal"`
	At                  string `json:"at"`
	DeterminingPolicies []struct {
		ID, Source string
	} `json:"determining_policies"`
	Errors []struct {
		PolicyID string `json:"policy_id"`
		Source   string `json:"source"`
		Message  string `json:"message"`
	} `json:"errors"`
	Warnings []string `json:"warnings"`
	Policies []struct {
		ID          string `json:"id"`
		Effect      string `json:"effect"`
		Outcome     string `json:"outcome"`
		Determining bool   `json:"determining"`
		Active      bool   `json:"active"`
		Scope       struct {
			Principal, Action, Resource bool
		} `json:"scope"`
		Conditions []struct {
			Kind, Source, Text, Result, Error string
		} `json:"conditions"`
	} `json:"policies"`
}

func evalJSONRun(t *testing.T, wantCode int, args ...string) (evalDoc, result) {
	t.Helper()
	r := cedargate(t, append([]string{"eval", "--format", "json", "--explain", "--at", "2026-11-23T12:00:00Z"}, args...)...)
	if r.code != wantCode {
		t.Fatalf("exit %d, want %d: %+v", r.code, wantCode, r)
	}
	var doc evalDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	return doc, r
}

// TestEvalExplain decides offline and explains: a deny by forbid, a deny
// because a clause is false, a deny by an evaluation error, an unknown
// principal, and allows by a policy and by a time-bound grant.
func TestEvalExplain(t *testing.T) {
	dir := evalRepo(t)
	req := func(p, a, r string, more ...string) []string {
		return append([]string{dir, "--env", "dev", "--principal", p, "--action", a, "--resource", r}, more...)
	}

	t.Run("deny by forbid", func(t *testing.T) {
		doc, _ := evalJSONRun(t, 1, req("User/dave", "write", "Service/billing")...)
		if doc.Decision != "deny" || len(doc.DeterminingPolicies) != 1 || doc.DeterminingPolicies[0].ID != "no-contractor-writes" ||
			doc.DeterminingPolicies[0].Source != "policies/net.cedar:9:1" {
			t.Fatalf("%+v", doc)
		}
		var forbid, permit bool
		for _, p := range doc.Policies {
			switch p.ID {
			case "no-contractor-writes":
				forbid = p.Effect == "forbid" && p.Determining && p.Outcome == "matched"
			case "eng-writes":
				permit = p.Effect == "permit" && !p.Determining && p.Outcome == "matched"
			case "eng-reads-from-office", "admins-by-level":
				t.Errorf("%s is about another action, yet listed", p.ID)
			}
		}
		if !forbid || !permit {
			t.Fatalf("the forbid must determine over the matching permit: %+v", doc.Policies)
		}
	})

	t.Run("deny by a false condition", func(t *testing.T) {
		doc, _ := evalJSONRun(t, 1, req("User/alice", "read", "Service/billing", "--context", `{"source_ip": "192.168.1.1"}`)...)
		if doc.Decision != "deny" || len(doc.DeterminingPolicies) != 0 {
			t.Fatalf("%+v", doc)
		}
		var found bool
		for _, p := range doc.Policies {
			if p.ID != "eng-reads-from-office" {
				continue
			}
			found = true
			if p.Outcome != "condition" || len(p.Conditions) != 2 ||
				p.Conditions[0].Result != "true" || p.Conditions[0].Source != "policies/net.cedar:3:1" ||
				p.Conditions[1].Result != "false" || p.Conditions[1].Source != "policies/net.cedar:4:1" ||
				!strings.Contains(p.Conditions[1].Text, `isInRange(ip("10.0.0.0/8"))`) {
				t.Fatalf("%+v", p)
			}
		}
		if !found {
			t.Fatalf("eng-reads-from-office not explained: %+v", doc.Policies)
		}
		// The same in text names the clause, its position and its value.
		r := cedargate(t, append([]string{"eval", "--explain", "--at", "2026-11-23T12:00:00Z"}, req("User/alice", "read", "Service/billing", "--context", `{"source_ip": "192.168.1.1"}`)...)...)
		want := `does not apply: its when clause at policies/net.cedar:4:1 is false`
		if r.code != 1 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, `when { context.source_ip.isInRange(ip("10.0.0.0/8")) }: false`) {
			t.Fatalf("want %q in: %+v", want, r)
		}
	})

	t.Run("allow", func(t *testing.T) {
		doc, _ := evalJSONRun(t, 0, req("Acme::User::\"alice\"", `Acme::Action::"read"`, "Acme::Service/billing", "--context", `{"source_ip": "10.1.1.1"}`)...)
		if doc.Decision != "allow" || len(doc.DeterminingPolicies) != 1 || doc.DeterminingPolicies[0].ID != "eng-reads-from-office" {
			t.Fatalf("%+v", doc)
		}
	})

	t.Run("deny by an evaluation error", func(t *testing.T) {
		doc, _ := evalJSONRun(t, 1, req("User/alice", "admin", "Service/billing", "--context", `{"level": 100}`)...)
		if doc.Decision != "deny" || len(doc.Errors) != 1 || doc.Errors[0].PolicyID != "admins-by-level" ||
			doc.Errors[0].Source != "policies/net.cedar:14:3" || !strings.Contains(doc.Errors[0].Message, "overflow") {
			t.Fatalf("the error must name the policy, the clause's position and the overflow: %+v", doc.Errors)
		}
		if len(doc.Policies) != 1 || doc.Policies[0].Outcome != "error" || doc.Policies[0].Conditions[0].Result != "error" ||
			!strings.Contains(doc.Policies[0].Conditions[0].Error, "overflow") {
			t.Fatalf("%+v", doc.Policies)
		}
		r := cedargate(t, append([]string{"eval", "--at", "2026-11-23T12:00:00Z"}, req("User/alice", "admin", "Service/billing", "--context", `{"level": 100}`)...)...)
		if r.code != 1 || !strings.Contains(r.stdout, "error in admins-by-level at policies/net.cedar:14:3: ") {
			t.Fatalf("%+v", r)
		}
	})

	t.Run("unknown principal", func(t *testing.T) {
		doc, r := evalJSONRun(t, 1, req("User/alcie", "write", "Service/billing")...)
		if doc.Decision != "deny" || doc.Principal != `Acme::User::"alcie"` || len(doc.Warnings) != 1 ||
			!strings.Contains(doc.Warnings[0], `principal Acme::User::"alcie" is not an entity of the bundle`) ||
			!strings.Contains(doc.Warnings[0], `did you mean Acme::User::"alice"?`) {
			t.Fatalf("%+v", doc)
		}
		if !strings.Contains(r.stderr, `warning: principal Acme::User::"alcie"`) {
			t.Fatalf("the warning goes to standard error too: %q", r.stderr)
		}
	})

	t.Run("a grant's condition at its profile's when", func(t *testing.T) {
		grantDir := evalRepo(t)
		writeFile(t, filepath.Join(grantDir, "identities", "admin-grant.yaml"), []byte(`kind: AccessProfile
name: billing-admin
permissions:
  - actions: [admin]
    resources: [billing]
    when: context.level > 3
---
kind: Entitlement
subject: User/carol
profile: billing-admin
approved_by: bob
expires: 2027-01-01
ticket: SEC-8
`))
		doc, _ := evalJSONRun(t, 1, grantDir, "--env", "dev", "--principal", "User/carol", "--action", "admin", "--resource", "Service/billing", "--context", `{"level": 2}`)
		var found bool
		for _, p := range doc.Policies {
			if !strings.HasPrefix(p.ID, "entitlement:User/carol:billing-admin") {
				continue
			}
			found = true
			// The grant is written at line 8; its condition on line 6,
			// from column 11, in the profile it uses.
			if p.Outcome != "condition" || len(p.Conditions) != 1 || p.Conditions[0].Result != "false" ||
				p.Conditions[0].Source != "identities/admin-grant.yaml:6:11" {
				t.Fatalf("%+v", p)
			}
		}
		if !found {
			t.Fatalf("the grant is not explained: %+v", doc.Policies)
		}
	})

	t.Run("request the schema refuses", func(t *testing.T) {
		doc, _ := evalJSONRun(t, 1, req("User/alice", "read", "Service/billing")...)
		if len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0], "the request does not match the schema: context.source_ip: required by the schema, missing") {
			t.Fatalf("decided, with a warning naming the field: %+v", doc)
		}
	})

	t.Run("request entities", func(t *testing.T) {
		ents := filepath.Join(t.TempDir(), "entities.json")
		writeFile(t, ents, []byte(`[{"uid": {"type": "Acme::Service", "id": "scratch"}, "parents": [], "attrs": {}}]`))
		doc, r := evalJSONRun(t, 0, req("User/alice", "write", "Service/scratch", "--entities", ents)...)
		if doc.Decision != "allow" || len(doc.Warnings) != 0 {
			t.Fatalf("an entity the request defines is no unknown entity: %+v %s", doc, r.stderr)
		}
		writeFile(t, ents, []byte(`[{"uid": {"type": "Acme::Service", "id": "billing"}, "parents": [], "attrs": {}}]`))
		r = cedargate(t, append([]string{"eval", "--at", "2026-11-23"}, req("User/alice", "write", "Service/billing", "--entities", ents)...)...)
		if r.code != 2 || !strings.Contains(r.stderr, `--entities: entities[0]: Acme::Service::"billing" is defined by the bundle`) {
			t.Fatalf("a request entity that shadows the bundle's is refused, as the PDP refuses it: %+v", r)
		}
	})

	t.Run("time-bound grant", func(t *testing.T) {
		if doc, _ := evalJSONRun(t, 0, req("User/carol", "read", "Service/billing", "--context", `{"source_ip": "192.168.1.1"}`)...); doc.Decision != "allow" {
			t.Fatalf("before expiry: %+v", doc)
		}
		r := cedargate(t, "eval", dir, "--env", "dev", "--principal", "User/carol", "--action", "read", "--resource", "Service/billing",
			"--context", `{"source_ip": "192.168.1.1"}`, "--at", "2027-01-02", "--explain", "--format", "json")
		var doc evalDoc
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 1 {
			t.Fatalf("%v %+v", err, r)
		}
		var inactive bool
		for _, p := range doc.Policies {
			inactive = inactive || (p.Outcome == "inactive" && !p.Active)
		}
		if !inactive {
			t.Fatalf("the expired grant must be explained as not in force: %+v", doc.Policies)
		}
	})
}

// TestEvalBadInput checks that a request that cannot be asked exits 2 and
// says why.
func TestEvalBadInput(t *testing.T) {
	dir := evalRepo(t)
	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"context type":   {[]string{"--principal", "User/alice", "--action", "read", "--resource", "Service/billing", "--context", `{"source_ip": "ten"}`}, `--context: context.source_ip: "ten" is not an ipaddr`},
		"unknown action": {[]string{"--principal", "User/alice", "--action", "raed", "--resource", "Service/billing"}, `the schema declares no action Acme::Action::"raed"; did you mean Acme::Action::"read"?`},
		"bad uid":        {[]string{"--principal", "alice", "--action", "read", "--resource", "Service/billing"}, `--principal: "alice" is not an entity UID`},
		"missing flag":   {[]string{"--action", "read", "--resource", "Service/billing"}, `--principal is required`},
		"bad format":     {[]string{"--principal", "User/alice", "--action", "read", "--resource", "Service/billing", "--format", "xml"}, `--format must be one of text, json`},
	} {
		t.Run(name, func(t *testing.T) {
			r := cedargate(t, append([]string{"eval", dir, "--env", "dev", "--at", "2026-11-23"}, tt.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want exit 2 and %q: %+v", tt.want, r)
			}
		})
	}
}

// TestCheckConvertsByTheServedSchema runs check against a real PDP on
// loopback: short UIDs and {"source_ip": "10.1.1.1"} are read by the
// schema of the bundle the PDP serves, which check asks it for; Cedar JSON
// still works; a value that does not convert is a usage error naming the
// field. A PDP validating requests names the field it refuses.
func TestCheckConvertsByTheServedSchema(t *testing.T) {
	dir := evalRepo(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if r := cedargate(t, "build", dir, "--env", "dev", "--store", storeDir, "--activate", "--revision", "r1", "--now", "2026-11-23"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	s := serve(t, "--store", storeDir, "--decision-log", "", "--validate-requests")
	check := func(args ...string) result {
		return cedargate(t, append([]string{"check", "--addr", s.addr, "--principal", "User/alice", "--action", "read", "--resource", "Service/billing"}, args...)...)
	}
	if r := check("--context", `{"source_ip":"10.1.1.1"}`); r.code != exitOK || !strings.Contains(r.stdout, "by eng-reads-from-office") {
		t.Fatalf("a converted context from the office: %+v", r)
	}
	if r := check("--context", `{"source_ip":"192.168.1.1"}`); r.code != exitProblems || !strings.HasPrefix(r.stdout, "DENY") {
		t.Fatalf("from elsewhere: %+v", r)
	}
	if r := check("--context", `{"source_ip":{"__extn":{"fn":"ip","arg":"10.1.1.1"}}}`); r.code != exitOK {
		t.Fatalf("Cedar JSON context: %+v", r)
	}
	if r := check("--context", `{"source_ip":"ten"}`); r.code != exitUsage || !strings.Contains(r.stderr, `--context: context.source_ip: "ten" is not an ipaddr`) {
		t.Fatalf("a value that does not convert: %+v", r)
	}
	r := check("--context", `{"source_ip":{"__extn":{"fn":"decimal","arg":"1.0"}}}`)
	if r.code != exitFailure || !strings.Contains(r.stderr, "InvalidArgument") || !strings.Contains(r.stderr, "context.source_ip: expected ipaddr, got decimal") {
		t.Fatalf("a request the schema refuses: %+v", r)
	}
}
