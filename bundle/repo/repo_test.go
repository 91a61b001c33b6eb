package repo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"90d", 90 * 24 * time.Hour, ""},
		{"2w", 14 * 24 * time.Hour, ""},
		{"1w3d", 10 * 24 * time.Hour, ""},
		{"36h", 36 * time.Hour, ""},
		{"90", 0, "not a duration"},
		{"d", 0, "not a duration"},
		{"3y", 0, `unknown unit "y"`},
		{"", 0, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %v, %v; want %v", got, err, tt.want)
			}
			if back, _ := ParseDuration(FormatDuration(got)); back != got {
				t.Errorf("FormatDuration(%v) = %q does not parse back", got, FormatDuration(got))
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	if got, err := ParseTime("2026-12-01"); err != nil || !got.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date: %v %v", got, err)
	}
	if got, err := ParseTime("2026-12-01T09:30:00+02:00"); err != nil || !got.Equal(time.Date(2026, 12, 1, 7, 30, 0, 0, time.UTC)) {
		t.Errorf("RFC 3339: %v %v", got, err)
	}
	if _, err := ParseTime("01/12/2026"); err == nil {
		t.Error("accepted a locale date")
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
		err  string
	}{
		{"ledger-bot", Ref{Name: "ledger-bot"}, ""},
		{"ServiceAccount/ledger-bot", Ref{Type: "ServiceAccount", Name: "ledger-bot"}, ""},
		{"Acme::Database/ledger/main", Ref{Type: "Acme::Database", Name: "ledger/main"}, ""},
		{"Database/*", Ref{Type: "Database", Name: "*"}, ""},
		{`Acme::User::"al\"ice"`, Ref{Type: "Acme::User", Name: `al"ice`, Literal: true}, ""},
		{`Acme::User::"\u{1F600}"`, Ref{Type: "Acme::User", Name: "\U0001F600", Literal: true}, ""},
		{"/x", Ref{}, "not a kind or Cedar type"},
		{"User/", Ref{}, "no name after"},
		{`User::"a"b"`, Ref{}, "unescaped quote"},
		{`1User::"a"`, Ref{}, "not an entity type"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRef(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEnvironmentsExpansionAndOverrides checks how one file serves every
// environment: environments: filters, ${env} expands, overrides: replace
// attributes.
func TestEnvironmentsExpansionAndOverrides(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"cedargate.yaml": "environments: [dev, prod]\n",
		"identities/a.yaml": `kind: User
name: alice
attributes: {tier: low, team: payments}
overrides:
  prod:
    attributes: {tier: high}
---
kind: ServiceAccount
name: ledger-${env}
spiffe_id: spiffe://acme/${env}/ledger
environments: [prod]
`,
	})
	r, err := Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		env, tier string
		accounts  int
	}{{"dev", `"low"`, 0}, {"prod", `"high"`, 1}} {
		v, problems := r.View(tt.env)
		if len(problems) > 0 {
			t.Fatalf("%s: %v", tt.env, problems)
		}
		got, _ := v.Users[0].Attributes["tier"].JSON()
		if string(got) != tt.tier {
			t.Errorf("%s: tier = %s, want %s", tt.env, got, tt.tier)
		}
		if team, _ := v.Users[0].Attributes["team"].JSON(); string(team) != `"payments"` {
			t.Errorf("%s: an override dropped the other attributes: team = %s", tt.env, team)
		}
		if len(v.ServiceAccounts) != tt.accounts {
			t.Fatalf("%s: %d service accounts, want %d", tt.env, len(v.ServiceAccounts), tt.accounts)
		}
		if tt.accounts == 1 && (v.ServiceAccounts[0].Name != "ledger-prod" || v.ServiceAccounts[0].SPIFFEIDs[0].Text != "spiffe://acme/prod/ledger") {
			t.Errorf("${env} not expanded: %+v", v.ServiceAccounts[0])
		}
	}
	if _, err := r.CheckEnv(""); err == nil || !strings.Contains(err.Error(), "--env is required") {
		t.Errorf("CheckEnv(\"\") = %v", err)
	}
	if _, err := r.CheckEnv("staging"); err == nil || !strings.Contains(err.Error(), "not one of the environments") {
		t.Errorf("CheckEnv(staging) = %v", err)
	}
}

// loadConfig loads a repository holding only cedargate.yaml, config.
func loadConfig(t *testing.T, config string) *Repo {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, map[string]string{"cedargate.yaml": config})
	r, err := Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConfigProblems(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"cedargate.yaml": `name: x
namespace: "Acme::"
environments: [dev, Prod]
production: [live]
validation: loose
guardrails:
  nhi_max_lifetme: 30d
  severity:
    broad-grant: fatal
`})
	r := loadDir(t, dir)
	got := r.Problems.String()
	for _, want := range []string{
		`cedargate.yaml:2:12: namespace "Acme::" is not a Cedar namespace`,
		`cedargate.yaml:3:21: environment name "Prod" must be lower-case`,
		`cedargate.yaml:4:14: production environment "live" is not in environments`,
		`cedargate.yaml:5:13: validation must be strict, permissive or off, not "loose"`,
		`cedargate.yaml:7:3: guardrails: unknown field "nhi_max_lifetme" (did you mean "nhi_max_lifetime"?)`,
		`cedargate.yaml:9:18: guardrails: severity of broad-grant must be error, warning or off`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not contain\n  %s\ngot:\n%s", want, got)
		}
	}
}

func loadDir(t *testing.T, dir string) *Repo {
	t.Helper()
	r, err := Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestInventoryConfig reads the inventory section and refuses what it
// cannot be, at the setting.
func TestInventoryConfig(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"cedargate.yaml": `inventory:
  okta:
    type: scim
    user_key: email
  kubernetes:
    skip_namespaces: [kube-system]
  ldap:
    user_key: uid
  eks:
    type: k8s
    user_key: email
  Bad_Name:
    type: awsiam
  aws:
    type: awsiam
    regions: [eu-west-1]
`})
	r := loadDir(t, dir)
	got := r.Problems.String()
	for _, want := range []string{
		`cedargate.yaml:7:3: inventory.ldap: type is required: scim, kubernetes or awsiam (only a source named as its type may leave it out)`,
		`cedargate.yaml:10:11: inventory.eks: type must be scim, kubernetes or awsiam, not "k8s"`,
		`cedargate.yaml:11:15: inventory.eks: user_key applies to scim sources only`,
		`cedargate.yaml:12:3: inventory: source name "Bad_Name" must be lower-case letters, digits and '-'`,
		`cedargate.yaml:16:5: inventory.aws: unknown field "regions"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not contain\n  %s\ngot:\n%s", want, got)
		}
	}
	okta, err := r.Config.Source("okta")
	if err != nil || okta.Type != SourceSCIM || okta.UserKey != UserKeyEmail {
		t.Errorf("okta = %+v, %v", okta, err)
	}
	k, err := r.Config.Source("kubernetes")
	if err != nil || k.Type != SourceKubernetes || len(k.SkipNamespaces) != 1 || k.Pos.Line != 5 {
		t.Errorf("kubernetes = %+v, %v", k, err)
	}
	if s, err := r.Config.Source("scim"); err != nil || s.UserKey != UserKeyUserName || s.Pos.Line != 0 {
		t.Errorf("scim (default) = %+v, %v", s, err)
	}
	if _, err := r.Config.Source("azure"); err == nil || !strings.Contains(err.Error(), "want one of scim, kubernetes, awsiam, okta, eks, aws)") {
		t.Errorf("azure: %v", err)
	}
}

// TestGuardrailSettings reads the settings of expiring-soon and
// justification-missing, and refuses what they cannot be.
func TestGuardrailSettings(t *testing.T) {
	load := loadConfig
	t.Run("defaults", func(t *testing.T) {
		r := load(t, "name: x\n")
		g := r.Config.Guardrails
		if g.ExpiryWarning != 14*24*time.Hour || len(g.Require) != 0 {
			t.Fatalf("defaults: expiry_warning %v, require %v", g.ExpiryWarning, g.Require)
		}
	})
	t.Run("set", func(t *testing.T) {
		r := load(t, "guardrails:\n  expiry_warning: 3w\n  require: [ticket, reason]\n")
		if p := r.Problems.String(); p != "" {
			t.Fatal(p)
		}
		g := r.Config.Guardrails
		if g.ExpiryWarning != 21*24*time.Hour || !g.Requires(RequireTicket) || !g.Requires(RequireReason) {
			t.Fatalf("expiry_warning %v, require %v", g.ExpiryWarning, g.Require)
		}
		if pos := g.Require[1].Pos.String(); pos != "cedargate.yaml:3:21" {
			t.Errorf("reason is written at %s", pos)
		}
	})
	t.Run("refused", func(t *testing.T) {
		r := load(t, "guardrails:\n  expiry_warning: 0d\n  require: [tiket, reason, reason, approver]\n")
		got := r.Problems.String()
		for _, want := range []string{
			`cedargate.yaml:2:19: guardrails: expiry_warning must be positive`,
			`cedargate.yaml:3:13: guardrails: require: "tiket" is not a field guardrails can require (did you mean "ticket"?)`,
			`cedargate.yaml:3:28: guardrails: require: reason is listed twice`,
			`cedargate.yaml:3:36: guardrails: require: "approver" is not a field guardrails can require (ticket or reason)`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("problems do not contain\n  %s\ngot:\n%s", want, got)
			}
		}
		if g := r.Config.Guardrails; g.ExpiryWarning != 14*24*time.Hour || len(g.Require) != 1 {
			t.Errorf("a refused setting changed the guardrails: expiry_warning %v, require %v", g.ExpiryWarning, g.Require)
		}
	})
}
