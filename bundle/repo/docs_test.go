package repo

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// TestDocsListEveryLimit keeps the documentation in step with Limits: the
// table of docs/guardrails.md and the example of docs/identity-format.md
// give every key of `limits:` with its default, and nothing else, and the
// table gives each one's ceiling.
func TestDocsListEveryLimit(t *testing.T) {
	read := func(doc string) string {
		data, err := os.ReadFile(filepath.Join("..", "..", "docs", doc))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	def := DefaultLimits()
	for _, doc := range []struct {
		name string
		row  *regexp.Regexp
	}{
		{"guardrails.md", regexp.MustCompile("(?m)^\\| `limits\\.([a-z_]+)` \\| `([^`]+)` \\|")},
		{"identity-format.md", regexp.MustCompile(`(?m)^  ([a-z_]+): \S+ +# default (\S+)$`)},
	} {
		found := map[string]string{}
		for _, m := range doc.row.FindAllStringSubmatch(read(doc.name), -1) {
			found[m[1]] = m[2]
		}
		for _, k := range LimitKeys() {
			if got, ok := found[k]; !ok {
				t.Errorf("%s does not give limits.%s", doc.name, k)
			} else if got != def.Value(k) {
				t.Errorf("%s gives limits.%s the default %s, the code %s", doc.name, k, got, def.Value(k))
			}
		}
		for k := range found {
			// The example in identity-format.md holds other settings too.
			if doc.name == "guardrails.md" && !slices.Contains(LimitKeys(), k) {
				t.Errorf("%s documents limits.%s, which is no limit", doc.name, k)
			}
		}
	}
	ceilings := LimitCeilings()
	found := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `limits\\.([a-z_]+)` \\| `[^`]+` \\| `([^`]+)` \\|").FindAllStringSubmatch(read("guardrails.md"), -1) {
		found[m[1]] = m[2]
	}
	for _, k := range LimitKeys() {
		if got := found[k]; got != ceilings.Value(k) {
			t.Errorf("guardrails.md gives limits.%s the ceiling %q, the code %s", k, got, ceilings.Value(k))
		}
	}
}
