package compile

import (
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
			"policies/p.cedar:3:8: policy \"p\": unexpected type: expected datetime, or duration, or Long but saw String"},
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
		{"unknown entity type in scope", "permit (\n  principal == App::Usr::\"alice\",\n  action,\n  resource\n);\n",
			"policies/p.cedar:2:16: policy \"policies/p.cedar#0\": unrecognized entity type `App::Usr` (did you mean App::User?)"},
		{"parser: missing semicolon", head + "when { true }\n",
			"policies/p.cedar:3:14: expected `;` after the policy"},
		{"parser: missing operand", head + "when { principal.department == };\n",
			"policies/p.cedar:3:32: expected an expression, found `}`"},
		{"parser: misspelt when", head + "whem { true };\n",
			"policies/p.cedar:3:1: expected `when`, `unless` or `;` after the policy's scope, found `whem` (did you mean `when`?)"},
		{"parser: single =", head + "when { principal.department = \"ops\" };\n",
			"policies/p.cedar:3:29: expected `}`, found `=`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := load(t, map[string]string{"cedargate.yaml": exprConfig, "schema.cedarschema": exprSchema, "policies/p.cedar": tt.policy,
				"identities/people.yaml": "kind: User\nname: alice\nattributes: {department: ops}\n"})
			_, diags := Compile(r, "")
			if got := strings.TrimSpace(diags.String()); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
