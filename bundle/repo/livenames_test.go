package repo

import (
	"fmt"
	"strings"
	"testing"
)

// TestLiveNameFields checks the fields that name live objects: valid forms
// are read, invalid ones are errors at their path:line:col.
func TestLiveNameFields(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"identities/a.yaml": `kind: User
name: ana
scim_username: ana.souza@example.com
---
kind: ServiceAccount
name: ledger
kubernetes: [payments/ledger, payments-dev/ledger.v2]
aws_arn: arn:aws:iam::123456789012:role/service/ledger
---
kind: ServiceAccount
name: one
kubernetes: ci/deployer
aws_arn: arn:aws-us-gov:iam::123456789012:user/deployer
`,
	})
	r, err := Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	v, problems := r.View("")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if v.Users[0].SCIMUserName != "ana.souza@example.com" {
		t.Errorf("scim_username = %q", v.Users[0].SCIMUserName)
	}
	sa := v.ServiceAccounts[0]
	if sa.Name != "ledger" || len(sa.Kubernetes) != 2 || sa.Kubernetes[1].Text != "payments-dev/ledger.v2" || sa.AWSARN != "arn:aws:iam::123456789012:role/service/ledger" {
		t.Errorf("ledger = %+v", sa)
	}
	if p := sa.FieldPos("aws_arn"); p.Line != 8 {
		t.Errorf("aws_arn at %v, want line 8", p)
	}
	if one := v.ServiceAccounts[1]; len(one.Kubernetes) != 1 || one.Kubernetes[0].Text != "ci/deployer" || one.Kubernetes[0].Pos.Line != 12 {
		t.Errorf("one = %+v", one)
	}

	for _, tt := range []struct{ name, doc, want string }{
		{"kubernetes without namespace", "kind: ServiceAccount\nname: x\nkubernetes: ledger\n", `identities/b.yaml:3:13: ServiceAccount "x": kubernetes "ledger" must be namespace/name`},
		{"kubernetes upper case", "kind: ServiceAccount\nname: x\nkubernetes:\n  - ok/fine\n  - Pay/Ledger\n", `identities/b.yaml:5:5: ServiceAccount "x": kubernetes "Pay/Ledger" must be namespace/name`},
		{"kubernetes three parts", "kind: ServiceAccount\nname: x\nkubernetes: [a/b/c]\n", `kubernetes "a/b/c" must be namespace/name`},
		{"arn of a group", "kind: ServiceAccount\nname: x\naws_arn: arn:aws:iam::123456789012:group/devs\n", `identities/b.yaml:3:10: ServiceAccount "x": aws_arn "arn:aws:iam::123456789012:group/devs" must be an IAM role or user ARN`},
		{"arn short account", "kind: ServiceAccount\nname: x\naws_arn: arn:aws:iam::1234:role/x\n", `must be an IAM role or user ARN`},
		{"arn list", "kind: ServiceAccount\nname: x\naws_arn: [arn:aws:iam::123456789012:role/x]\n", `aws_arn must be a single value`},
		{"kubernetes twice", "kind: ServiceAccount\nname: x\nkubernetes: [a/x]\n---\nkind: ServiceAccount\nname: y\nkubernetes: [a/y, a/x]\n", `identities/b.yaml:7:19: ServiceAccount "y": kubernetes "a/x" is already that of ServiceAccount "x" (at identities/b.yaml:3:13)`},
		{"aws_arn twice", "kind: ServiceAccount\nname: x\naws_arn: arn:aws:iam::123456789012:role/x\n---\nkind: ServiceAccount\nname: y\naws_arn: arn:aws:iam::123456789012:role/x\n", `identities/b.yaml:7:10: ServiceAccount "y": aws_arn "arn:aws:iam::123456789012:role/x" is already that of ServiceAccount "x" (at identities/b.yaml:3:10)`},
		{"scim_username twice", "kind: User\nname: x\nscim_username: a@b\n---\nkind: User\nname: y\nscim_username: a@b\n", `User "y": scim_username "a@b" is already that of User "x"`},
		{"empty scim_username", "kind: User\nname: x\nscim_username: \"\"\n", `identities/b.yaml:3:16: User "x": scim_username must not be empty`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, map[string]string{"identities/b.yaml": tt.doc})
			r, err := Load(t.Context(), dir)
			if err != nil {
				t.Fatal(err)
			}
			_, problems := r.View("")
			got := fmt.Sprint(problems)
			if !strings.Contains(got, tt.want) {
				t.Errorf("problems = %s\nwant %s", got, tt.want)
			}
		})
	}
}
