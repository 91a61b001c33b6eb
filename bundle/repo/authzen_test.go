package repo

import (
	"strings"
	"testing"
)

// TestAuthZENSection reads the authzen section of cedargate.yaml, and
// refuses, at its line and column, what it cannot be.
func TestAuthZENSection(t *testing.T) {
	load := loadConfig
	t.Run("absent", func(t *testing.T) {
		if r := load(t, "name: x\n"); r.Config.AuthZEN != nil {
			t.Fatalf("a mapping without the section: %+v", r.Config.AuthZEN)
		}
	})
	t.Run("set", func(t *testing.T) {
		r := load(t, `namespace: Acme
authzen:
  types:
    user: User
    document: Acme::Docs::Document
  actions:
    can_read: read
    can_write: 'Acme::Action::"write"'
  action_properties: request
  unknown_subjects: decide
  unknown_resources: deny
  undeclared_properties: keep
`)
		if p := r.Problems.String(); p != "" {
			t.Fatal(p)
		}
		a := r.Config.AuthZEN
		if len(a.Types) != 2 || a.Types[1] != (NameMapping{From: "document", To: "Acme::Docs::Document", Pos: a.Types[1].Pos}) || a.Types[1].Pos.String() != "cedargate.yaml:5:5" {
			t.Errorf("types %+v", a.Types)
		}
		if len(a.Actions) != 2 || a.Actions[0].To != "read" || a.Actions[1].To != `Acme::Action::"write"` {
			t.Errorf("actions %+v", a.Actions)
		}
		if a.ActionProperties.Value != "request" || a.UnknownSubjects.Value != "decide" || a.UnknownResources.Value != "deny" || a.UndeclaredProperties.Value != "keep" {
			t.Errorf("settings %+v", a)
		}
	})
	t.Run("refused", func(t *testing.T) {
		r := load(t, `authzen:
  types:
    user: "User::"
    robot: [Robot]
  actions: {}
  action_properties: ""
  unknown_subjects: allow
  undeclared_properties: keep-all
  unknown_resource: deny
`)
		got := r.Problems.String()
		for _, want := range []string{
			`cedargate.yaml:3:11: authzen: types: user maps to "User::", which is not a Cedar entity type`,
			`cedargate.yaml:4:12: authzen: types: robot must map to one Cedar name, found a list`,
			`cedargate.yaml:5:12: authzen: actions maps nothing, so every request would be refused`,
			`cedargate.yaml:6:22: authzen: action_properties must name a context attribute`,
			`cedargate.yaml:7:21: authzen: unknown_subjects must be deny or decide, not "allow"`,
			`cedargate.yaml:8:26: authzen: undeclared_properties must be drop or keep, not "keep-all"`,
			`cedargate.yaml:9:3: authzen: unknown field "unknown_resource" (did you mean "unknown_resources"?)`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("problems do not contain\n  %s\ngot:\n%s", want, got)
			}
		}
	})
}
