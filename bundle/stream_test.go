package bundle

import (
	"bytes"
	"strings"
	"testing"
)

// TestStreamedListsAreReadAsWholeFilesWere holds the policies and grants,
// decoded as they stream out of the archive, to what unmarshalling the
// whole files accepted and refused, and to the order of the checks: a
// file that does not decode is reported only once its hash has been
// checked, so that a damaged bundle is still a digest mismatch.
func TestStreamedListsAreReadAsWholeFilesWere(t *testing.T) {
	good, err := Encode(grantSample())
	if err != nil {
		t.Fatal(err)
	}
	grant := `{"id":"entitlement:User/a:p","source":"identities/a.yaml:3:1","origin":"Entitlement","principal":{"type":"User","id":"a"},"parent":{"type":"AccessProfile","id":"p"}}`
	tests := []struct {
		name   string
		grants string
		// relist makes SHA256SUMS match the files again.
		relist bool
		want   string
		count  int
	}{
		{"as encoded, on one line", "[" + grant + "]", true, "", 1},
		{"spread over lines", "[\n  " + strings.ReplaceAll(grant, ",", ",\n  ") + "\n]\n", true, "", 1},
		{"null is no grants", "null", true, "", 0},
		{"empty", "[]", true, "", 0},
		{"unknown field", `[{"id":"g","extra":1}]`, true, `grants.json: json: unknown field "extra"`, 0},
		{"trailing data", "[" + grant + "] x", true, "grants.json: trailing data after the JSON value", 0},
		{"not a list", `{"id":"g"}`, true, "grants.json: json: cannot unmarshal object into Go value of type []bundle.Grant", 0},
		{"a number", `7`, true, "grants.json: json: cannot unmarshal number into Go value of type []bundle.Grant", 0},
		{"wrong type", `[{"id":7}]`, true, "grants.json: json: cannot unmarshal number into Go struct field Grant.id of type string", 0},
		{"truncated", "[" + grant, true, "grants.json: unexpected EOF", 0},
		{"bad time", `[{"id":"g","not_after":"tomorrow"}]`, true, "grants.json: parsing time", 0},
		{"unsorted", "[" + strings.Replace(grant, "entitlement:User/a:p", "b", 1) + "," + strings.Replace(grant, "entitlement:User/a:p", "a", 1) + "]", true, "grant ids are not sorted and unique", 0},
		{"not decodable, digest wrong", `[{"id":7}]`, false, "digest mismatch", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := withFile(t, good, GrantsFile, []byte(tt.grants))
			if tt.relist {
				archive = relisted(t, archive)
			}
			b, err := Decode(bytes.NewReader(archive), DecodeOptions{})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(b.Grants) != tt.count || len(b.Policies) != 1 {
					t.Fatalf("decoded %d grants and %d policies, want %d and 1", len(b.Grants), len(b.Policies), tt.count)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
