package idschema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/repo/idschema"
	"github.com/cedargate/cedargate/internal/golden"
	"github.com/cedargate/cedargate/internal/schematest"
)

// committed is the schema file the repository publishes.
const committed = "../../../docs/identity.schema.json"

// TestCommittedSchemaIsCurrent fails while docs/identity.schema.json is not
// what the generator makes of bundle/repo today: run go generate
// ./bundle/repo/idschema (or this test with -update).
func TestCommittedSchemaIsCurrent(t *testing.T) {
	got, err := idschema.Generate("..")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, committed, got)
}

// compile compiles the committed schema with a validator of its own
// (santhosh-tekuri/jsonschema, draft 2020-12), as editors would.
func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	return schematest.Compile(t, committed, idschema.ID)
}

// documents reads the documents of a YAML file as JSON values, as
// yaml-language-server sees them (YAML 1.2: an unquoted date is a string).
func documents(t *testing.T, name string, data []byte) []any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []any
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if doc == nil {
			continue
		}
		js, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
}

// identityFiles lists the identity files of the examples and of the
// repository `cedargate init` writes.
func identityFiles(t *testing.T) []string {
	t.Helper()
	initDir := filepath.Join(t.TempDir(), "init")
	if err := build.Init(initDir, build.InitOptions{Now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, root := range []string{"../../../examples", initDir} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) &&
				strings.Contains(filepath.ToSlash(p), "/identities/") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// TestExamplesAndInitMatchTheSchema validates every identity file of the
// examples and of `cedargate init`, document by document.
func TestExamplesAndInitMatchTheSchema(t *testing.T) {
	s := compile(t)
	files := identityFiles(t)
	if len(files) < 3 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(f)))+"/"+filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs := documents(t, f, data)
			if len(docs) == 0 {
				t.Fatal("no documents")
			}
			for i, d := range docs {
				if err := s.Validate(d); err != nil {
					t.Errorf("document %d: %v", i, err)
				}
			}
		})
	}
}

// TestSchemaRejectsMistakes checks that typical mistakes are flagged, each
// at the field that is wrong, and that the same document without the
// mistake passes.
func TestSchemaRejectsMistakes(t *testing.T) {
	s := compile(t)
	tests := []struct {
		name, doc string
		// want appears in the validation error: the field's location.
		want string
	}{
		{"typo in a field name", "kind: User\nname: alice\ngruops: [admins]\n", "gruops"},
		{"typo in a nested field name", "kind: ServiceAccount\nname: bot\ncredential:\n  type: api-key\n  rotaton: 30d\n", "rotaton"},
		{"unknown kind", "kind: Usr\nname: alice\n", "/kind"},
		{"missing kind", "name: alice\n", "kind"},
		{"missing name", "kind: Group\ngroups: [all]\n", "name"},
		{"mapping where a list goes", "kind: User\nname: alice\ngroups: {admins: true}\n", "/groups"},
		{"not a date", "kind: Entitlement\nsubject: User/alice\nprofile: p\nexpires: next week\n", "/expires"},
		{"not a duration", "kind: ServiceAccount\nname: bot\nreview:\n  cadence: quarterly\n", "/review/cadence"},
		{"permissions not a list", "kind: AccessProfile\nname: p\npermissions: read\n", "/permissions"},
		{"permission without resources", "kind: AccessProfile\nname: p\npermissions:\n  - actions: [read]\n", "resources"},
		{"attributes not a mapping", "kind: Resource\ntype: Service\nname: api\nattributes: [a]\n", "/attributes"},
		{"a field of another kind", "kind: Team\nname: t\nowner: bob\n", "owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := documents(t, tt.name, []byte(tt.doc))
			err := s.Validate(docs[0])
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.doc)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error does not mention %q:\n%v", tt.want, err)
			}
		})
	}
	// A document with every kind of field right passes: the rejections
	// above are the mistakes, not the schema refusing everything.
	ok := `kind: ServiceAccount
name: bot-${env}
owner: platform
description:
expires: 2027-01-31
spiffe_id: spiffe://example.org/bot
groups: workloads
credential: {type: api-key, rotation: 1w3d, last_rotated: 2026-11-02T09:00:00Z}
review: {cadence: 90d, last_review: 2026-10-15}
attributes: {tier: 1, owner_email: "bot@example.org"}
overrides:
  prod:
    attributes: {tier: 0}
`
	if err := s.Validate(documents(t, "ok", []byte(ok))[0]); err != nil {
		t.Errorf("a correct ServiceAccount is refused: %v", err)
	}
}
