package repo

import (
	"strings"
	"testing"
)

// TestNamesAndEncoding refuses, at path:line:col, names that would become
// Cedar ids with control or invisible characters, and files that are not
// UTF-8 (which were rewritten, U+FFFD in the bundle for what the source
// says). Nothing is rewritten silently.
func TestNamesAndEncoding(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"NUL", map[string]string{"identities/a.yaml": "kind: User\nname: \"eve\\0x\"\n"},
			`identities/a.yaml:2:7: User "eve\x00x": name must not contain control or invisible characters (found U+0000)`},
		{"escape sequence", map[string]string{"identities/a.yaml": "kind: Group\nname: \"ops\\e[31m\"\n"},
			`identities/a.yaml:2:7: Group "ops\x1b[31m": name must not contain control or invisible characters (found U+001B)`},
		{"DEL", map[string]string{"identities/a.yaml": "kind: Team\nname: \"t\\x7f\"\n"},
			`identities/a.yaml:2:7: Team "t\x7f": name must not contain control or invisible characters (found U+007F)`},
		{"C1 control", map[string]string{"identities/a.yaml": "kind: User\nname: \"a\\x85b\"\n"},
			`identities/a.yaml:2:7: User "a\u0085b": name must not contain '/', ':', '#', quotes or white space`},
		{"bidirectional override", map[string]string{"identities/a.yaml": "kind: User\nname: \"admin\\u202Enimda\"\n"},
			`identities/a.yaml:2:7: User "admin\u202enimda": name must not contain control or invisible characters (found U+202E)`},
		{"zero-width space", map[string]string{"identities/a.yaml": "kind: Resource\ntype: Service\nname: \"api\\u200B\"\n"},
			`identities/a.yaml:3:7: Resource "api\u200b": name must not contain control or invisible characters (found U+200B)`},
		{"no-break space", map[string]string{"identities/a.yaml": "kind: User\nname: \"eve\\u00A0x\"\n"},
			`identities/a.yaml:2:7: User "eve\u00a0x": name must not contain '/', ':', '#', quotes or white space`},
		{"entitlement name", map[string]string{"identities/a.yaml": "kind: Entitlement\nname: \"grant\\tx\"\nsubject: a\nprofile: p\n"},
			`identities/a.yaml:2:7: Entitlement "grant\tx": name must not contain '/', ':', '#', quotes or white space`},
		{"exception name", map[string]string{"identities/a.yaml": "kind: Exception\nname: \"w\\0\"\nrule: broad-grant\n"},
			`identities/a.yaml:2:7: Exception "w\x00": name must not contain control or invisible characters (found U+0000)`},
		{"invalid UTF-8 in an identity", map[string]string{"identities/a.yaml": "kind: User\nname: eve\xff\xfex\n"},
			"identities/a.yaml:2:10: invalid UTF-8 (byte 0xff): files must be UTF-8 text"},
		{"invalid UTF-8 after other text", map[string]string{"identities/a.yaml": "kind: User\nname: é\ndescription: \"ü\xc3\"\n"},
			"identities/a.yaml:3:16: invalid UTF-8 (byte 0xc3)"},
		{"invalid UTF-8 in a policy", map[string]string{"policies/p.cedar": "permit (principal, action, resource)\nwhen { context.x == \"\xff\" };\n"},
			"policies/p.cedar:2:22: invalid UTF-8 (byte 0xff)"},
		{"invalid UTF-8 in entities", map[string]string{"entities/e.json": "[{\"uid\": {\"type\": \"T\", \"id\": \"\xfe\"}}]"},
			"entities/e.json:1:31: invalid UTF-8 (byte 0xfe)"},
		{"invalid UTF-8 in a test", map[string]string{"tests/t.yaml": "cases:\n  - name: \xc0\n"},
			"tests/t.yaml:2:11: invalid UTF-8 (byte 0xc0)"},
		{"invalid UTF-8 in cedargate.yaml", map[string]string{ConfigFile: "name: \xed\xa0\x80\n"},
			"cedargate.yaml:1:7: invalid UTF-8 (byte 0xed)"},
		{"invalid UTF-8 in the schema", map[string]string{SchemaFile: "entity \xffUser;\n"},
			"schema.cedarschema:1:8: invalid UTF-8 (byte 0xff)"},
		{"control character in a file name", map[string]string{"policies/a\x1b[2J.cedar": "permit (principal, action, resource);\n"},
			`policies/a\x1b[2J.cedar: file name must be UTF-8 without control or invisible characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.files)
			got := loadProblems(t, dir)
			if !strings.Contains(got, tt.want) {
				t.Errorf("problems do not contain\n  %s\ngot:\n%s", tt.want, got)
			}
		})
	}
}

// TestPlainNamesPass keeps the checks from refusing what names may hold.
func TestPlainNamesPass(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"identities/a.yaml": "kind: User\nname: zoë.o'brien-2@example.org\n---\nkind: Group\nname: 運用チーム\n"})
	if got := loadProblems(t, dir); got != "" {
		t.Errorf("problems: %s", got)
	}
}
