package demo

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoRunsAndExplainsItsDecisions runs the whole demo against the real
// examples/acme and checks what it shows. Run fails when an answer is not
// the one the example expects.
func TestDemoRunsAndExplainsItsDecisions(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), Options{Repo: filepath.Join("..", "..", "examples", "acme"), Out: &out})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"== 1. build", "== 2. serve it: PDP on 127.0.0.1:", "== 3. ask it over gRPC", "== 4. the decision log",
		"DENY  Acme::User::\"jordan.lee\" read Acme::Table::\"transactions\"\n      because contractors-no-customer-data at policies/data.cedar:6:1",
		"DENY  Acme::User::\"jordan.lee\" read Acme::Service::\"ledger\"\n      because no policy applies: default deny",
		"because people-need-mfa-to-change-data at policies/data.cedar:",
		"ALLOW Acme::User::\"maria.chen\" read Acme::Table::\"transactions\"\n      because entitlement:Group/payments-engineers:payments-db-reader#0 at identities/entitlements.yaml:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if n := strings.Count(got, `{"decision_id":`); n != len(scenarios) {
		t.Errorf("decision log shows %d lines, want %d:\n%s", n, len(scenarios), got)
	}
	if t.Failed() {
		t.Log(got)
	}
}
