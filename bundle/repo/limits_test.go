package repo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deepBlock is a YAML document of block mappings nested n deep.
func deepBlock(n int) string {
	var b strings.Builder
	b.WriteString("kind: User\nname: deep\nattributes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat("  ", i+1), i)
	}
	fmt.Fprintf(&b, "%sleaf: 1\n", strings.Repeat("  ", n+1))
	return b.String()
}

// TestLimits loads one file beyond each limit: the default refuses it at
// path:line:col naming the limit, its value and how to raise it, and the
// same file loads once cedargate.yaml raises that limit.
func TestLimits(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
		// raise is the `limits:` setting that lets the files through.
		raise string
	}{
		{"file size", map[string]string{"identities/big.yaml": "kind: User\nname: big\ndescription: " + strings.Repeat("x", 4<<20) + "\n"},
			"identities/big.yaml: file is 4194339 bytes, larger than 4MiB (limit file_size: 4MiB; raise it under limits: in cedargate.yaml)",
			"file_size: 5MiB"},
		{"repository size", map[string]string{
			"policies/a.cedar": "// " + strings.Repeat("x", 3<<20),
			"policies/b.cedar": "// " + strings.Repeat("x", 3<<20),
		},
			"policies/b.cedar: the repository's files are larger than 4MiB together; this file and the ones read after it are not read (limit repository_size: 4MiB; raise it under limits: in cedargate.yaml)",
			"repository_size: 8MiB"},
		{"flow nesting", map[string]string{"identities/deep.yaml": "kind: User\nname: deep\nattributes: {a: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "}\n"},
			"identities/deep.yaml:3:79: YAML nested deeper than 64 levels (limit yaml_depth: 64; raise it under limits: in cedargate.yaml)",
			"yaml_depth: 80"},
		{"block nesting", map[string]string{"identities/deep.yaml": deepBlock(70)},
			"identities/deep.yaml:67:129: YAML nested deeper than 64 levels (limit yaml_depth: 64",
			"yaml_depth: 80"},
		{"YAML values", map[string]string{"identities/many.yaml": "kind: User\nname: many\nattributes: {a: [" + strings.Repeat("1,", 100_000) + "1]}\n"},
			"identities/many.yaml:3:200000: more than 100000 YAML values in this file (limit yaml_nodes: 100000; raise it under limits: in cedargate.yaml)",
			"yaml_nodes: 200000"},
		{"path length", map[string]string{"identities/long.yaml": "kind: User\nname: long\nattributes:\n  " + strings.Repeat("k", 600) + ": 1\n"},
			"identities/long.yaml:4:3: the keys and list positions leading to this value are 613 bytes long, more than 512 (limit yaml_path_length: 512; raise it under limits: in cedargate.yaml)",
			"yaml_path_length: 1KiB"},
		{"repository values", map[string]string{
			"tests/a.yaml":       "cases: [" + strings.Repeat("1,", 90_000) + "1]\n",
			"entities/many.json": "[" + strings.Repeat("1,", 90_000) + "1]\n",
		},
			"more than 150000 values in the repository's files together (YAML and JSON values, Cedar tokens) (limit repository_nodes: 150000; raise it under limits: in cedargate.yaml)",
			"repository_nodes: 200000"},
		{"Cedar tokens", map[string]string{"policies/many.cedar": strings.Repeat("permit (principal, action, resource);\n", 20_000)},
			"policies/many.cedar:16667:1: more than 150000 values in the repository's files together (YAML and JSON values, Cedar tokens) (limit repository_nodes: 150000;",
			"repository_nodes: 200000"},
		{"JSON nesting", map[string]string{"entities/deep.json": "[\n" + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "]\n"},
			"entities/deep.json:2:64: JSON nested deeper than 64 levels (limit json_depth: 64; raise it under limits: in cedargate.yaml)",
			"json_depth: 80"},
		{"policy size", map[string]string{"policies/big.cedar": "permit (principal, action, resource);\n\npermit (principal, action, resource) when { " + "[" + strings.Repeat("true, ", 12000) + "true].contains(true) };\n"},
			"policies/big.cedar:3:1: policy is 72068 bytes long, more than 65536 (limit policy_size: 64KiB; raise it under limits: in cedargate.yaml)",
			"policy_size: 128KiB"},
		{"Cedar nesting", map[string]string{"policies/deep.cedar": "permit (principal, action, resource)\nwhen { " + strings.Repeat("(", 70) + "true" + strings.Repeat(")", 70) + " };\n"},
			"policies/deep.cedar:2:71: Cedar expression nested deeper than 64 levels (brackets and if-then-else) (limit cedar_depth: 64; raise it under limits: in cedargate.yaml)",
			"cedar_depth: 80"},
		{"Cedar if-then-else", map[string]string{"policies/deep.cedar": "permit (principal, action, resource)\nwhen { " + strings.Repeat("if true then true else ", 70) + "true };\n"},
			"policies/deep.cedar:2:1457: Cedar expression nested deeper than 64 levels",
			"cedar_depth: 80"},
		{"schema nesting", map[string]string{"schema.cedarschema": "entity User { a: " + strings.Repeat("Set<", 70) + "String" + strings.Repeat(">", 70) + " };\n"},
			"schema.cedarschema:1:273: Cedar expression nested deeper than 64 levels",
			"cedar_depth: 80"},
		{"when: condition", map[string]string{"identities/p.yaml": "kind: AccessProfile\nname: p\npermissions:\n  - actions: [read]\n    resources: [\"*\"]\n    when: \"" + strings.Repeat("(", 70) + "true" + strings.Repeat(")", 70) + "\"\n"},
			`identities/p.yaml:6:11: AccessProfile "p": Cedar expression nested deeper than 64 levels (brackets and if-then-else) (limit cedar_depth: 64; raise it under limits: in cedargate.yaml)`,
			"cedar_depth: 80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.files)
			// Two limits are lowered so that a test needs no huge files.
			base := ""
			switch tt.name {
			case "repository size":
				base = "limits:\n  repository_size: 4MiB\n"
			case "repository values", "Cedar tokens":
				base = "limits:\n  repository_nodes: 150000\n"
			}
			if base != "" {
				write(t, dir, map[string]string{ConfigFile: base})
			}
			got := loadProblems(t, dir)
			if !strings.Contains(got, tt.want) {
				t.Errorf("problems do not contain\n  %s\ngot:\n%s", tt.want, got)
			}
			if base == "" {
				base = "limits:\n"
			}
			write(t, dir, map[string]string{ConfigFile: base + "  " + tt.raise + "\n"})
			if got := loadProblems(t, dir); strings.Contains(got, "limit") {
				t.Errorf("with %s, problems:\n%s", tt.raise, got)
			}
		})
	}
}

// TestCedarExpressionDepthIsFixed loads policies and a when: condition
// whose expression trees are deeper than cedarscan.ExpressionDepth:
// refused at the token that goes too deep, with a message that says the
// limit is fixed and what to write instead, whatever cedargate.yaml says.
func TestCedarExpressionDepthIsFixed(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"a chain", map[string]string{"policies/chain.cedar": "permit (principal, action, resource)\nwhen { true" + strings.Repeat(" && true", 5000) + " };\n"},
			"policies/chain.cedar:2:32773: Cedar expression deeper than 4096 levels of operators and brackets (a chain such as a || b || ..., a.b.c..., or !!!...) (a fixed limit: Cedar's parser recurses on each level; split the expression, or list values in a set: resource in [...])"},
		{"unary operators", map[string]string{"policies/not.cedar": "permit (principal, action, resource)\nwhen { " + strings.Repeat("!", 5000) + "true };\n"},
			"policies/not.cedar:2:4103: Cedar expression deeper than 4096 levels of operators and brackets"},
		{"when: condition", map[string]string{"identities/p.yaml": "kind: AccessProfile\nname: p\npermissions:\n  - actions: [read]\n    resources: [\"*\"]\n    when: \"context" + strings.Repeat(".a", 5000) + "\"\n"},
			`identities/p.yaml:6:11: AccessProfile "p": Cedar expression deeper than 4096 levels of operators and brackets`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.files)
			write(t, dir, map[string]string{ConfigFile: "limits:\n  cedar_depth: 1024\n  policy_size: 1MiB\n"})
			if got := loadProblems(t, dir); !strings.Contains(got, tt.want) {
				t.Errorf("problems do not contain\n  %s\ngot:\n%s", tt.want, got)
			}
		})
	}
}

// loadProblems loads dir and returns its problems, with the view's for a
// repository whose files load.
func loadProblems(t *testing.T, dir string) string {
	t.Helper()
	r, err := Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	problems := r.Problems
	if problems.Errors() == 0 {
		_, vp := r.View("")
		problems.Append(vp)
	}
	return problems.String()
}

// TestConfigIsReadUnderDefaultLimits checks that cedargate.yaml cannot
// raise the limits for itself, and says so.
func TestConfigIsReadUnderDefaultLimits(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{ConfigFile: "limits:\n  yaml_depth: 1000\nname: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n"})
	got := loadProblems(t, dir)
	want := "cedargate.yaml:3:70: YAML nested deeper than 64 levels (limit yaml_depth: 64, which applies to cedargate.yaml itself and cannot be raised)"
	if !strings.Contains(got, want) {
		t.Errorf("problems do not contain\n  %s\ngot:\n%s", want, got)
	}
}

func TestLimitSettings(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{ConfigFile: `limits:
  file_size: 8MiB
  repository_size: 1GiB
  yaml_depth: 100
  yaml_nodes: 5000
  yaml_path_length: 2048
  repository_nodes: 123456
  json_depth: 10
  policy_size: 1000
  cedar_depth: 20
`})
	r, err := Load(t.Context(), dir)
	if err != nil || len(r.Problems) > 0 {
		t.Fatal(err, r.Problems)
	}
	want := Limits{FileSize: 8 << 20, RepositorySize: 1 << 30, YAMLDepth: 100, YAMLNodes: 5000, YAMLPathLength: 2048,
		RepositoryNodes: 123456, JSONDepth: 10, PolicySize: 1000, CedarDepth: 20}
	if r.Config.Limits != want {
		t.Errorf("limits = %+v\nwant     %+v", r.Config.Limits, want)
	}

	write(t, dir, map[string]string{ConfigFile: `limits:
  file_size: 4 MB
  yaml_depth: -1
  json_depht: 10
  cedar_depth: lots
`})
	got := loadProblems(t, dir)
	for _, w := range []string{
		`cedargate.yaml:2:14: limits: file_size: "4 MB" is not a size (examples: 4MiB, 512KiB, 65536)`,
		`cedargate.yaml:3:15: limits: yaml_depth must be at least 1 and at most 1024, its ceiling: no repository may set more`,
		`cedargate.yaml:4:3: limits: unknown field "json_depht" (did you mean "json_depth"?)`,
		`cedargate.yaml:5:16: limits: cedar_depth: "lots" is not a whole number`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("problems do not contain\n  %s\ngot:\n%s", w, got)
		}
	}
}

// TestLimitCeilings sets each limit above its ceiling, which
// cedargate.yaml (a file of the repository it limits) must not be able to
// pass: an error at the value's line and column names the ceiling, and
// the limit keeps its default. At the ceiling it is accepted.
func TestLimitCeilings(t *testing.T) {
	ceil, def := LimitCeilings(), DefaultLimits()
	for _, s := range limitSettings {
		if s.get(&def) > s.get(&ceil) {
			t.Errorf("the default of %s, %s, is above its ceiling, %s", s.key, def.Value(s.key), ceil.Value(s.key))
		}
	}
	for _, key := range LimitKeys() {
		t.Run(key, func(t *testing.T) {
			above := "2147483647"
			if key == "file_size" || key == "repository_size" {
				above = "8192GiB"
			}
			dir := t.TempDir()
			write(t, dir, map[string]string{ConfigFile: "limits:\n  " + key + ": " + above + "\n"})
			r, err := Load(t.Context(), dir)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("cedargate.yaml:2:%d: limits: %s must be at least 1 and at most %s, its ceiling: no repository may set more",
				len(key)+5, key, ceil.Value(key))
			if got := r.Problems.String(); !strings.Contains(got, want) {
				t.Errorf("problems do not contain\n  %s\ngot:\n%s", want, got)
			}
			if got, def := r.Config.Limits.Value(key), DefaultLimits().Value(key); got != def {
				t.Errorf("%s = %s after the error, want the default %s", key, got, def)
			}
			write(t, dir, map[string]string{ConfigFile: "limits:\n  " + key + ": " + ceil.Value(key) + "\n"})
			if r, err = Load(t.Context(), dir); err != nil || len(r.Problems) > 0 {
				t.Fatalf("at the ceiling: %v %v", err, r.Problems)
			}
			if got := r.Config.Limits.Value(key); got != ceil.Value(key) {
				t.Errorf("%s = %s, want the ceiling %s", key, got, ceil.Value(key))
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"65536": 65536, "512KiB": 512 << 10, "4 MiB": 4 << 20, "1GiB": 1 << 30, "10B": 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, err := ParseSize(FormatSize(want)); err != nil || back != want {
			t.Errorf("FormatSize(%d) = %q does not parse back", want, FormatSize(want))
		}
	}
	for _, in := range []string{"", "4MB", "-1", "x", "9999999999GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

// TestWalkReadsOnlyWhatItLists guards the walk: files of other extensions
// and hidden files are not read, so they cost nothing of the limits.
func TestWalkReadsOnlyWhatItLists(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"identities/README.md":    strings.Repeat("x", 5<<20),
		"identities/.hidden.yaml": "[[[",
		"identities/a.yaml":       "kind: User\nname: a\n",
	})
	if got := loadProblems(t, dir); got != "" {
		t.Errorf("problems: %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "identities/README.md")); err != nil {
		t.Fatal(err)
	}
}
