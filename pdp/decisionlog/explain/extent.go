package explain

import (
	"strings"

	"github.com/cedargate/cedargate/bundle/diag"
)

// The compiler records where a policy or an identity object starts, not
// where it ends; these find the end from the text, as a reader would.

// policyExtent returns the lines of the hand-written policy that starts
// at start, the next policy of its file starting at next (line len+1 when
// none does), with the comment lines right above it, which describe it.
// Cedar allows only white space and // comments between policies, so the
// policy ends at the last line before next that holds anything else, or
// on next's own line when the next policy starts after something on it
// ("}; permit (").
func policyExtent(lines []string, start, next diag.Position) (int, int) {
	first := start.Line
	if !textBefore(lines, start) {
		for first > 1 && strings.HasPrefix(strings.TrimSpace(lines[first-2]), "//") {
			first--
		}
	}
	if textBefore(lines, next) {
		return first, next.Line
	}
	last := next.Line - 1
	for last > start.Line && cedarFiller(lines[last-1]) {
		last--
	}
	return first, max(start.Line, last)
}

// textBefore reports whether anything but white space precedes pos on its
// line.
func textBefore(lines []string, pos diag.Position) bool {
	if pos.Line > len(lines) || pos.Col <= 1 {
		return false
	}
	before := []rune(lines[pos.Line-1])
	return strings.TrimSpace(string(before[:min(pos.Col-1, len(before))])) != ""
}

// cedarFiller reports whether a line of Cedar holds only white space or a
// comment.
func cedarFiller(s string) bool {
	t := strings.TrimSpace(s)
	return t == "" || strings.HasPrefix(t, "//")
}

// documentLines returns the lines of the YAML document whose content
// starts at line: the comment lines right above it (they describe the
// object), down to the next document marker or the end of the file, less
// the blank and comment lines before that marker (they describe the next
// one). A marker cannot occur inside a document's content: YAML forbids
// "---" and "..." at the start of a line there.
func documentLines(_ string, lines []string, line int) (int, int) {
	first := line
	for first > 1 && yamlComment(lines[first-2]) {
		first--
	}
	last := line
	for last < len(lines) && !docMarker(lines[last]) {
		last++
	}
	for last > line && (yamlComment(lines[last-1]) || strings.TrimSpace(lines[last-1]) == "") {
		last--
	}
	return first, last
}

func yamlComment(s string) bool {
	return strings.HasPrefix(strings.TrimSpace(s), "#")
}

// docMarker reports whether a line starts or ends a YAML document.
func docMarker(s string) bool {
	for _, m := range []string{"---", "..."} {
		if rest, ok := strings.CutPrefix(s, m); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return true
		}
	}
	return false
}
