package access

import (
	"slices"
	"testing"
)

func TestClausePositions(t *testing.T) {
	src := []byte(`// when { this is a comment }
@id("when-unless")
permit (principal, action == Action::"when", resource)
when { principal.name == "unless; when" && [1, 2].contains(1) }
  unless { context.when };
forbid (principal, action, resource) when { true };
`)
	if got, want := clausePositions(src, 2, 1), []string{"4:1", "5:3"}; !slices.Equal(got, want) {
		t.Fatalf("first policy: %v, want %v", got, want)
	}
	if got, want := clausePositions(src, 6, 1), []string{"6:38"}; !slices.Equal(got, want) {
		t.Fatalf("second policy: %v, want %v", got, want)
	}
	if path, line, col, ok := splitSource("policies/a:b.cedar:12:3"); !ok || path != "policies/a:b.cedar" || line != 12 || col != 3 {
		t.Fatalf("splitSource: %q %d %d %v", path, line, col, ok)
	}
}
