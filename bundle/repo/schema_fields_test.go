package repo

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle/diag"
)

// TestSchemaFieldsAreTheDecodersFields keeps the JSON Schema of identity
// files (docs/identity.schema.json, generated from this package's yaml
// tags by bundle/repo/idschema) true to the decoder: for every kind and
// every nested mapping (credential, review, a permission), the fields the
// schema allows are exactly the fields the decoder knows, as its "unknown
// field" message lists them.
func TestSchemaFieldsAreTheDecodersFields(t *testing.T) {
	data, err := os.ReadFile("../../docs/identity.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	// A field nothing resembles, so that the message lists every field
	// the decoder knows instead of suggesting one.
	const unknown = "qqqqqqqqqqqq: 1\n"
	type mapping struct{ def, src string }
	var mappings []mapping
	for _, k := range Kinds() {
		mappings = append(mappings, mapping{string(k), "kind: " + string(k) + "\nname: x\n" + unknown})
	}
	mappings = append(mappings,
		mapping{"Credential", "kind: ServiceAccount\nname: x\ncredential:\n  type: t\n  " + unknown},
		mapping{"Review", "kind: ServiceAccount\nname: x\nreview:\n  " + unknown},
		mapping{"Permission", "kind: AccessProfile\nname: x\npermissions:\n  - actions: [a]\n    resources: [r]\n    " + unknown},
	)
	for _, m := range mappings {
		t.Run(m.def, func(t *testing.T) {
			var inSchema []string
			for p := range s.Defs[m.def].Properties {
				inSchema = append(inSchema, p)
			}
			slices.Sort(inSchema)
			if len(inSchema) == 0 {
				t.Fatalf("the schema has no properties for %s", m.def)
			}
			docs, err := parseYAML("f.yaml", []byte(m.src), &budget{Limits: DefaultLimits()})
			if err != nil {
				t.Fatal(err)
			}
			var problems diag.List
			d := &decoder{env: "prod", diags: &problems, lim: DefaultLimits()}
			d.decodeObject(docs[0], []string{"prod"})
			const marker = "(known fields: "
			msg := problems.String()
			i := strings.Index(msg, marker)
			if i < 0 || strings.Count(msg, marker) != 1 {
				t.Fatalf("not one list of known fields in %q", msg)
			}
			known, _, _ := strings.Cut(msg[i+len(marker):], ")")
			decoded := strings.Split(known, ", ")
			if !slices.Equal(decoded, inSchema) {
				t.Errorf("the decoder knows %v; the schema allows %v (add or remove the yaml tag, then go generate ./bundle/repo/idschema)", decoded, inSchema)
			}
		})
	}
}
