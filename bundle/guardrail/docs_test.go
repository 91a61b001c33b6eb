package guardrail_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle/guardrail"
)

// TestDocsCoverEveryRule keeps docs/guardrails.md in step with Rules: every
// rule has a section (### `rule-name`) under "The rules", in the order of
// Rules, with an example message that ends in the rule's name (printed
// as a warning for a rule that is one by default); and every such section
// names a rule.
func TestDocsCoverEveryRule(t *testing.T) {
	const doc = "docs/guardrails.md"
	data, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(doc)))
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile("^### `([^`]+)`$")
	var documented []string
	sections := map[string]string{}
	cur := ""
	for _, line := range strings.Split(string(data), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			cur = m[1]
			documented = append(documented, cur)
			continue
		}
		if strings.HasPrefix(line, "#") {
			cur = ""
		}
		if cur != "" {
			sections[cur] += line + "\n"
		}
	}
	var names []string
	for _, r := range guardrail.Rules() {
		names = append(names, r.Name)
		sec, ok := sections[r.Name]
		if !ok {
			t.Errorf("%s has no section for rule %s (a heading \"### `%s`\")", doc, r.Name, r.Name)
			continue
		}
		if !strings.Contains(sec, " ("+r.Name+")\n") {
			t.Errorf("%s: the section of %s shows no example message ending in (%s)", doc, r.Name, r.Name)
		}
		// A rule that is a warning by default says so, and shows it.
		if guardrail.DefaultSeverity(r.Name) == "warning" && !strings.Contains(sec, ": warning: ") {
			t.Errorf("%s: %s is a warning by default, but its section shows no message with \"warning: \"", doc, r.Name)
		}
	}
	for _, d := range documented {
		if !guardrail.Known(d) {
			t.Errorf("%s has a section for %q, which is not a rule", doc, d)
		}
	}
	if t.Failed() {
		return
	}
	if strings.Join(documented, " ") != strings.Join(names, " ") {
		t.Errorf("%s presents the rules in the order\n  %v\nwant the order of guardrail.Rules\n  %v", doc, documented, names)
	}
}
