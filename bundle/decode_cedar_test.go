package bundle

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/internal/cedarscan"
)

// nested returns a policy whose condition nests n brackets.
func nested(n int) string {
	return "permit (principal, action, resource) when { " + strings.Repeat("(", n) + "true" + strings.Repeat(")", n) + " };"
}

// TestDecodeRefusesCedarBeyondTheCeilings reads bundles whose policies or
// schema cedar-go could not parse without overflowing its stack (a fatal
// error: every replica activating such a bundle would crash, at every
// restart): each is refused by Decode, before anything parses it, with an
// error that names the policy and the limit. Text at the ceilings, which
// a repository may set, is read.
func TestDecodeRefusesCedarBeyondTheCeilings(t *testing.T) {
	tests := []struct {
		name string
		edit func(b *Bundle)
		want string // "" when the bundle must be read
	}{
		{"a million nested brackets", func(b *Bundle) { b.Policies[1].Cedar = nested(1_000_000) },
			`policy "policies/a.cedar#0" (from policies/a.cedar:1:1), line 1, column 1068 of its text: policy or schema beyond the limits every bundle is held to: Cedar expression nested deeper than 1024 levels`},
		{"a long chain of operators", func(b *Bundle) {
			b.Policies[1].Cedar = "permit (principal, action, resource) when { true" + strings.Repeat(" && true", 1_000_000) + " };"
		}, "Cedar expression deeper than 4096 levels of operators and brackets"},
		{"a long run of unary operators", func(b *Bundle) {
			b.Policies[1].Cedar = "permit (principal, action, resource) when { " + strings.Repeat("!", 2_000_000) + "true };"
		}, "Cedar expression deeper than 4096 levels of operators and brackets"},
		{"a huge policy", func(b *Bundle) {
			b.Policies[1].Cedar = "permit (principal, action, resource) when { [" + strings.Repeat("1,", cedarscan.MaxPolicySize/2) + "1] == [] };"
		}, "policy is 1048632 bytes long, more than 1048576"},
		{"a deep schema", func(b *Bundle) {
			b.Schema = []byte("entity User { a: " + strings.Repeat("Set<", 100_000) + "Long" + strings.Repeat(">", 100_000) + " };")
		}, "schema.cedarschema:1:4113: policy or schema beyond the limits every bundle is held to: Cedar expression nested deeper than 1024 levels"},
		{"nesting at the ceiling", func(b *Bundle) { b.Policies[1].Cedar = nested(cedarscan.MaxDepth - 1) }, ""},
		{"a schema at the ceiling", func(b *Bundle) {
			b.Schema = []byte("entity User { a: " + strings.Repeat("Set<", cedarscan.MaxDepth-1) + "Long" + strings.Repeat(">", cedarscan.MaxDepth-1) + " };")
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := sample()
			tt.edit(b)
			archive, err := Encode(b)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Decode(bytes.NewReader(archive), DecodeOptions{})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Decode: %v", err)
			case tt.want != "" && (!errors.Is(err, ErrCedarLimits) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Decode error = %v\nwant ErrCedarLimits and %q", err, tt.want)
			case err != nil && len(err.Error()) > 1024:
				t.Fatalf("an error of %d bytes quotes the bundle", len(err.Error()))
			}
		})
	}
}
