package compile

import (
	"slices"
	"strings"
	"testing"
)

// exprSchema is the schema of the position tests: people with a required
// and an optional attribute, a context with an ipaddr and an optional
// flag.
const exprSchema = `namespace App {
  entity User { department: String, level?: Long };
  entity Service { tier: String };
  type Ctx = { source_ip: ipaddr, mfa?: Bool };
  action read appliesTo { principal: [User, ServiceAccount], resource: Service, context: Ctx };
}
`

const exprConfig = "name: t\nnamespace: App\n"

// TestPolicyProblemsAtTheExpression checks that each kind of mistake in a
// hand-written policy is reported at the expression it is about, with
// its hint, not at the policy's first line.
func TestPolicyProblemsAtTheExpression(t *testing.T) {
	head := "@id(\"p\")\npermit (principal is App::User, action == App::Action::\"read\", resource)\n"
	tests := []struct {
		name, policy, want string
	}{
		{"type error in when", head + "when { resource.tier < 3 };\n",
			"policies/p.cedar:3:8: policy \"p\": unexpected type: expected Long but saw String"},
		{"condition not a Bool", head + "when { true }\nunless {\n  context.source_ip\n};\n",
			"policies/p.cedar:5:3: policy \"p\": unexpected type: expected Bool but saw ipaddr"},
		{"operand not a Bool", head + "when { principal.department == \"x\" || (true && principal.department) };\n",
			"policies/p.cedar:3:40: policy \"p\": unexpected type: expected Bool but saw String"},
		{"string for ipaddr", head + "when {\n  context.source_ip == \"10.1.1.1\"\n};\n",
			"policies/p.cedar:4:24: policy \"p\": the types String and ipaddr are not compatible (a string is not an ipaddr: write ip(\"10.1.1.1\"))"},
		{"string for ipaddr method", head + "when { context.source_ip.isInRange(\"10.0.0.0/8\") };\n",
			"policies/p.cedar:3:36: policy \"p\": unexpected type: expected ipaddr but saw String (a string is not an ipaddr: write ip(\"10.0.0.0/8\"))"},
		{"optional attribute", head + "when { context has source_ip && context.mfa == true };\n",
			"policies/p.cedar:3:41: policy \"p\": unable to guarantee safety of access to optional attribute `mfa` in context for App::Action::\"read\" (it may be absent: test for it first, `context has mfa && …`)"},
		{"optional attribute tested once", head + "when { (principal has level && principal.level > 2) || principal.level > 5 };\n",
			"policies/p.cedar:3:66: policy \"p\": unable to guarantee safety of access to optional attribute `level` on entity type `App::User` (it may be absent: test for it first, `principal has level && …`)"},
		{"unknown attribute", head + "when {\n  principal.department == \"ops\" &&\n  principal.departmnt == \"ops\"\n};\n",
			"policies/p.cedar:5:13: policy \"p\": attribute `departmnt` on entity type `App::User` not found (did you mean \"department\"?)"},
		{"unknown entity type", head + "when { principal in App::Grup::\"admins\" };\n",
			"policies/p.cedar:3:21: policy \"p\": unrecognized entity type `App::Grup` (did you mean App::Group?)"},
		{"unknown entity type, the right policy", "permit (principal, action, resource in App::Sevice::\"a\");\n" +
			"permit (principal, action, resource in App::Sevice::\"b\");\n@id(\"p\")\nforbid (principal in App::Grp::\"x\", action, resource);\n" +
			"permit (principal in App::Grp::\"y\", action, resource);\n",
			"policies/p.cedar:1:40: policy \"policies/p.cedar#0\": unrecognized entity type `App::Sevice` (did you mean App::Service?)\n" +
				"policies/p.cedar:2:40: policy \"policies/p.cedar#1\": unrecognized entity type `App::Sevice` (did you mean App::Service?)\n" +
				"policies/p.cedar:4:22: policy \"p\": unrecognized entity type `App::Grp` (did you mean App::Group?)\n" +
				"policies/p.cedar:5:22: policy \"policies/p.cedar#3\": unrecognized entity type `App::Grp` (did you mean App::Group?)"},
		{"unknown entity type in scope", "permit (\n  principal == App::Usr::\"alice\",\n  action,\n  resource\n);\n",
			"policies/p.cedar:2:16: policy \"policies/p.cedar#0\": unrecognized entity type `App::Usr` (did you mean App::User?)"},
		{"unknown action", "permit (principal, action in [App::Action::\"read\", App::Action::\"raed\"], resource);\n",
			"policies/p.cedar:1:52: policy \"policies/p.cedar#0\": unrecognized action `App::Action::\"raed\"` (did you mean \"read\"?)"},
		{"unknown type in a profile", "",
			"identities/profiles.yaml:5:17: unknown entity type App::Sevice (did you mean App::Service?)"},
		{"parser: missing semicolon", head + "when { true }\n",
			"policies/p.cedar:3:14: expected `;` after the policy"},
		{"parser: missing operand", head + "when { principal.department == };\n",
			"policies/p.cedar:3:32: expected an expression, found `}`"},
		{"parser: misspelt when", head + "whem { true };\n",
			"policies/p.cedar:3:1: expected `when`, `unless` or `;` after the policy's scope, found `whem` (did you mean `when`?)"},
		{"parser: unknown name", head + "when { principal.department == ops };\n",
			"policies/p.cedar:3:32: unknown name `ops`: an expression starts with principal, action, resource, context, a literal, an entity (Type::\"id\") or a function such as ip(...)"},
		{"parser: missing type", "permit (principal, action, resource is\n);\n",
			"policies/p.cedar:2:1: expected a name, found `)`"},
		{"parser: set not closed", head + "when { [1, 2 }.contains(1) };\n",
			"policies/p.cedar:3:14: expected `,` or the closing bracket, found `}`"},
		{"parser: text ends early", head + "when { principal.department ==",
			"policies/p.cedar:3:31: the text ends early: expected an expression"},
		{"parser: single =", head + "when { principal.department = \"ops\" };\n",
			"policies/p.cedar:3:29: expected `}`, found `=`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"cedargate.yaml": exprConfig, "schema.cedarschema": exprSchema, "policies/p.cedar": tt.policy,
				"identities/people.yaml": "kind: User\nname: alice\nattributes: {department: ops}\n"}
			if tt.policy == "" {
				delete(files, "policies/p.cedar")
				files["identities/profiles.yaml"] = "kind: AccessProfile\nname: reader\npermissions:\n  - actions: [read]\n    resources: [Sevice/*]\n"
			}
			r := load(t, files)
			_, diags := Compile(r, "")
			if got := strings.TrimSpace(diags.String()); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestProfileWhenCheckedOnce checks a profile's when: against the schema
// once, at the expression in the profile's file, whether nobody or two
// subjects hold the profile; the grants add nothing of their own.
func TestProfileWhenCheckedOnce(t *testing.T) {
	profile := "kind: AccessProfile\nname: reader\npermissions:\n  - actions: [read]\n    resources: [Service/*]\n" +
		"    when: context.source_ip == \"10.1.1.1\" && principal.departmnt == \"ops\"\n" +
		"  - actions: [read]\n    resources: [Service/*]\n    when: principal.department == \"ops\"\n"
	people := "kind: User\nname: alice\nattributes: {department: ops}\n---\nkind: User\nname: bob\nattributes: {department: ops}\n"
	grants := "kind: Entitlement\nsubject: User/alice\nprofile: reader\napproved_by: bob\n---\n" +
		"kind: Entitlement\nsubject: User/bob\nprofile: reader\napproved_by: alice\n"
	// The condition is checked for every principal the action allows, so
	// a ServiceAccount without the attribute is a problem too.
	want := "identities/profiles.yaml:6:32: AccessProfile \"reader\": when: the types String and ipaddr are not compatible (a string is not an ipaddr: write ip(\"10.1.1.1\"))\n" +
		"identities/profiles.yaml:6:56: AccessProfile \"reader\": when: attribute `departmnt` on entity type `App::ServiceAccount` not found (App::ServiceAccount has: spiffe_id)\n" +
		"identities/profiles.yaml:6:56: AccessProfile \"reader\": when: attribute `departmnt` on entity type `App::User` not found (did you mean \"department\"?)\n" +
		"identities/profiles.yaml:9:21: AccessProfile \"reader\": when: attribute `department` on entity type `App::ServiceAccount` not found " +
		"(the profile may be granted to any principal its actions allow; if only App::User has it, test the type first: `principal is App::User && …`)\n"
	for _, tt := range []struct {
		name   string
		grants string
	}{{"granted to nobody", ""}, {"granted twice", grants}} {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"cedargate.yaml": exprConfig, "schema.cedarschema": exprSchema,
				"identities/profiles.yaml": profile, "identities/people.yaml": people}
			if tt.grants != "" {
				files["identities/grants.yaml"] = tt.grants
			}
			_, diags := Compile(load(t, files), "")
			if got := diags.String(); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestProfileWhenPositions checks where a when: problem is reported for
// each way YAML writes the condition: at the expression when the file
// holds the condition as it is, at the when: value otherwise.
func TestProfileWhenPositions(t *testing.T) {
	tests := []struct{ name, when, want string }{
		{"plain", `when: principal has level && principal.level > 1 && context.mfa`,
			"identities/profiles.yaml:6:65: AccessProfile \"reader\": when: unable to guarantee safety of access to optional attribute `mfa` in context for App::Action::\"read\" (it may be absent: test for it first, `context has mfa && …`)"},
		{"quoted", `when: "principal has level && principal.level > 1 && context.mfa"`,
			"identities/profiles.yaml:6:66: AccessProfile \"reader\": when: unable to guarantee safety of access to optional attribute `mfa` in context for App::Action::\"read\" (it may be absent: test for it first, `context has mfa && …`)"},
		{"block", "when: |\n      principal has level && principal.level > 1 && context.mfa",
			"identities/profiles.yaml:6:11: AccessProfile \"reader\": when: unable to guarantee safety of access to optional attribute `mfa` in context for App::Action::\"read\" (it may be absent: test for it first, `context has mfa && …`)"},
		{"syntax", `when: principal.level >`,
			"identities/profiles.yaml:6:28: AccessProfile \"reader\": when: expected an expression, found the end of the condition"},
		{"syntax, quoted", `when: "principal.level > 1 &&"`,
			"identities/profiles.yaml:6:34: AccessProfile \"reader\": when: expected an expression, found the end of the condition"},
		{"syntax, unknown name", `when: principal.department == ops`,
			"identities/profiles.yaml:6:35: AccessProfile \"reader\": when: unknown name `ops`: an expression starts with principal, action, resource, context, a literal, an entity (Type::\"id\") or a function such as ip(...)"},
		{"syntax, block", "when: >-\n      principal.department ==",
			"identities/profiles.yaml:6:11: AccessProfile \"reader\": when: expected an expression, found the end of the condition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			profile := "kind: AccessProfile\nname: reader\npermissions:\n  - actions: [read]\n    resources: [Service/*]\n    " + tt.when + "\n"
			_, diags := Compile(load(t, map[string]string{"cedargate.yaml": exprConfig, "schema.cedarschema": exprSchema,
				"identities/profiles.yaml": profile, "identities/people.yaml": "kind: User\nname: alice\nattributes: {department: ops}\n"}), "")
			if got := strings.TrimSpace(diags.String()); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestUnquotedStar checks that a * YAML reads as an alias is explained,
// with the fix, where it is written.
func TestUnquotedStar(t *testing.T) {
	for _, tt := range []struct{ name, perm, want string }{
		{"in a flow list", "  - actions: [read]\n    resources: [*]\n", "identities/profiles.yaml:5:17"},
		{"after others", "  - actions: [read, *]\n    resources: [Service/*]\n", "identities/profiles.yaml:4:21"},
		{"in a block list", "  - actions:\n      - *\n    resources: [Service/*]\n", "identities/profiles.yaml:5:9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Compile(load(t, map[string]string{"cedargate.yaml": exprConfig, "schema.cedarschema": exprSchema,
				"identities/profiles.yaml": "kind: AccessProfile\nname: reader\npermissions:\n" + tt.perm}), "")
			want := tt.want + `: unquoted *: YAML reads * as an alias (a reference to an &anchor), not as text; quote it: "*"`
			if got := strings.TrimSpace(diags.String()); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestSpans checks the sub-expressions found in a condition, and that
// text that is not one expression gives none, whatever it holds.
func TestSpans(t *testing.T) {
	text := func(src string, s span, toks []tok) string { return src[toks[s.from].off:toks[s.to-1].end] }
	src := `if principal has level then principal.level > 2 else [1, -3].contains(context.n) || {a: "x"}["a"] like "*x"`
	toks := tokenize(src, 0, 1, 1)
	var got []string
	for _, s := range spans(toks) {
		got = append(got, text(src, s, toks))
	}
	for _, want := range []string{"principal has level", "principal.level > 2", "-3", "[1, -3].contains(context.n)", `{a: "x"}["a"] like "*x"`, src} {
		if !slices.Contains(got, want) {
			t.Errorf("spans miss %q: %q", want, got)
		}
	}
	for _, bad := range []string{"", "(", "a.", "[1,", "{a:", "a has", "if a then", "x[", "1 2", "a::", "!"} {
		if sp := spans(tokenize(bad, 0, 1, 1)); sp != nil {
			t.Errorf("spans(%q) = %v, want none", bad, sp)
		}
	}
}
