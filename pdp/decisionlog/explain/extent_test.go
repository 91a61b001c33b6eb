package explain

import (
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle/diag"
)

func TestPolicyExtent(t *testing.T) {
	tests := []struct {
		name        string
		text        string
		start, next diag.Position // next.Line 0: none
		first, last int
	}{
		{name: "the last policy, trailing comments and blank lines left out",
			text:  "// doc\npermit (\n  principal, action, resource\n);\n\n// the end\n",
			start: diag.Position{Line: 2, Col: 1}, first: 1, last: 4},
		{name: "up to the next policy's comment",
			text:  "permit (principal, action, resource);\n\n// doc of the next\n@id(\"x\")\nforbid (principal, action, resource);\n",
			start: diag.Position{Line: 1, Col: 1}, next: diag.Position{Line: 4, Col: 1}, first: 1, last: 1},
		{name: "a comment inside the policy is kept",
			text:  "permit (principal, action, resource)\nwhen {\n  // why\n  true\n};\nforbid (principal, action, resource);\n",
			start: diag.Position{Line: 1, Col: 1}, next: diag.Position{Line: 6, Col: 1}, first: 1, last: 5},
		{name: "the next policy starts on the line this one ends",
			text:  "permit (principal, action, resource)\nwhen { true }; forbid (principal, action, resource);\n",
			start: diag.Position{Line: 1, Col: 1}, next: diag.Position{Line: 2, Col: 16}, first: 1, last: 2},
		{name: "two policies on one line",
			text:  "permit (principal, action, resource); forbid (principal, action, resource);\n",
			start: diag.Position{Line: 1, Col: 1}, next: diag.Position{Line: 1, Col: 39}, first: 1, last: 1},
		{name: "a policy after another on its line has no comment of its own",
			text:  "// of the first\npermit (principal, action, resource); forbid (principal,\n action, resource);\n",
			start: diag.Position{Line: 2, Col: 39}, first: 2, last: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := strings.Split(strings.TrimSuffix(tt.text, "\n"), "\n")
			next := tt.next
			if next.Line == 0 {
				next = diag.Position{Line: len(lines) + 1, Col: 1}
			}
			first, last := policyExtent(lines, tt.start, next)
			if first != tt.first || last != tt.last {
				t.Fatalf("lines %d-%d, want %d-%d", first, last, tt.first, tt.last)
			}
		})
	}
}

func TestDocumentLines(t *testing.T) {
	const file = `# the file
kind: User
name: a

# about b
---
# b is a group
kind: Group
name: b
attributes:
  note: |
    --- not a marker: indented
# trailing
...
---
kind: User
name: c
`
	lines := strings.Split(strings.TrimSuffix(file, "\n"), "\n")
	tests := []struct {
		name        string
		line        int
		first, last int
	}{
		{"the first document, with the file's comment above it", 2, 1, 3},
		{"a document with its comment, up to the end marker", 8, 7, 12},
		{"the last document", 16, 16, 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, last := documentLines("", lines, tt.line)
			if first != tt.first || last != tt.last {
				t.Fatalf("lines %d-%d, want %d-%d", first, last, tt.first, tt.last)
			}
		})
	}
}
