package access

import (
	"strconv"
	"strings"

	"github.com/cedargate/cedargate/bundle/repo"
)

// LocateConditions points each condition of a hand-written policy at its
// clause, the path:line:column of its `when` or `unless` keyword, instead
// of at the policy, reading the policy files the bundle was compiled from
// (a bundle records where each policy starts, not its clauses). A policy
// whose file is not among files, or whose text there does not have the
// clause, keeps its policy's position; so do grants, whose conditions
// come from an access profile. Call it before querying.
func (a *Analyzer) LocateConditions(files []*repo.File) {
	byPath := make(map[string][]byte, len(files))
	for _, f := range files {
		byPath[f.Path] = f.Data
	}
	for i := range a.judged {
		j := &a.judged[i]
		if len(j.dynamic) == 0 {
			continue
		}
		path, line, col, ok := splitSource(a.refs[i].Source)
		src, found := byPath[path]
		if !ok || !found {
			continue
		}
		clauses := clausePositions(src, line, col)
		for k := range j.dynamic {
			if c := j.dynamic[k].clause; c < len(clauses) {
				j.dynamic[k].Source = path + ":" + clauses[c]
			}
		}
	}
}

// ClauseSources returns the path:line:column of each `when` and `unless`
// clause, in order, of the policy that starts at source (path:line:column)
// in one of files; nil when its file is not among them.
func ClauseSources(files []*repo.File, source string) []string {
	path, line, col, ok := splitSource(source)
	if !ok {
		return nil
	}
	for _, f := range files {
		if f.Path == path {
			clauses := clausePositions(f.Data, line, col)
			for i, c := range clauses {
				clauses[i] = path + ":" + c
			}
			return clauses
		}
	}
	return nil
}

// splitSource parses "path:line:column".
func splitSource(s string) (path string, line, col int, ok bool) {
	rest, c, ok1 := cutLast(s)
	path, l, ok2 := cutLast(rest)
	line, err1 := strconv.Atoi(l)
	col, err2 := strconv.Atoi(c)
	return path, line, col, ok1 && ok2 && err1 == nil && err2 == nil
}

func cutLast(s string) (string, string, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// clausePositions returns "line:column" of each `when` and `unless` of the
// policy that starts at line:col of src, in order: the keywords outside
// parentheses, brackets, braces, strings and comments, before the
// policy's closing semicolon.
func clausePositions(src []byte, line, col int) []string {
	off, l, c := 0, 1, 1
	for off < len(src) && (l < line || (l == line && c < col)) {
		if src[off] == '\n' {
			l, c = l+1, 1
		} else {
			c++
		}
		off++
	}
	var out []string
	depth := 0
	advance := func(n int) {
		for range n {
			if off < len(src) && src[off] == '\n' {
				l, c = l+1, 1
			} else {
				c++
			}
			off++
		}
	}
	for off < len(src) {
		ch := src[off]
		switch {
		case ch == '"':
			advance(1)
			for off < len(src) && src[off] != '"' {
				if src[off] == '\\' {
					advance(1)
				}
				advance(1)
			}
			advance(1)
		case ch == '/' && off+1 < len(src) && src[off+1] == '/':
			for off < len(src) && src[off] != '\n' {
				advance(1)
			}
		case ch == '(' || ch == '[' || ch == '{':
			depth++
			advance(1)
		case ch == ')' || ch == ']' || ch == '}':
			depth--
			advance(1)
		case ch == ';' && depth == 0:
			return out
		case ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z':
			end := off
			for end < len(src) && (src[end] == '_' || src[end] >= 'a' && src[end] <= 'z' || src[end] >= 'A' && src[end] <= 'Z' || src[end] >= '0' && src[end] <= '9') {
				end++
			}
			if word := string(src[off:end]); depth == 0 && (word == "when" || word == "unless") {
				out = append(out, strconv.Itoa(l)+":"+strconv.Itoa(c))
			}
			advance(end - off)
		default:
			advance(1)
		}
	}
	return out
}
