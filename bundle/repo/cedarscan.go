package repo

import (
	"unicode/utf8"

	"github.com/cedargate/cedargate/bundle/diag"
)

// cedar-go's parsers recurse once per bracket and per if-then-else with no
// bound: a policy of a million "(" overflows the goroutine stack, a fatal
// error no recover can catch. So Cedar text is scanned first, with constant
// memory per nesting level, and refused beyond limits.cedar_depth; each
// policy's text is also bounded (limits.policy_size), which bounds how long
// a chain of operators (a && b && ...) can make the tree. Its tokens count
// as values of the repository (limits.repository_nodes): a parsed policy
// holds about as much per token as a parsed YAML file per value.

// cedarText says what a piece of Cedar text is.
type cedarText int

const (
	cedarPolicies  cedarText = iota // a file of policies, each ending in ';'
	cedarCondition                  // one when: condition of an access profile
	cedarSchema                     // the schema, where < > nest types too
)

type cedarScanner struct {
	file string
	src  []byte
	lim  Limits
	b    *budget
	kind cedarText
	// at, when set, is where every problem is reported: the position of a
	// condition in its YAML file, whose text has no lines of its own.
	at        *diag.Position
	line      int
	lineStart int
	diags     diag.List
}

// scanCedar checks the nesting depth of Cedar text and, for policies and
// conditions, the size of each policy, and returns every breach. Its
// tokens are charged to b.
func scanCedar(file string, src []byte, b *budget, kind cedarText, at *diag.Position) diag.List {
	s := &cedarScanner{file: file, src: src, lim: b.Limits, b: b, kind: kind, at: at, line: 1}
	s.scan()
	return s.diags
}

func (s *cedarScanner) pos(off int) diag.Position {
	if s.at != nil {
		return *s.at
	}
	return diag.Position{File: s.file, Line: s.line, Col: utf8.RuneCount(s.src[s.lineStart:off]) + 1}
}

func (s *cedarScanner) scan() {
	// ifs[i] counts the if-then-else open at bracket level i: each nests
	// the expressions that follow it at that level, up to the next ',' or
	// the level's closing bracket.
	ifs := []int{0}
	depth := 0
	start := -1 // where the current policy starts
	var startPos diag.Position
	reported := false
	endPolicy := func(end int) {
		if start >= 0 && s.kind != cedarSchema && end-start > s.lim.PolicySize {
			what := "policy"
			if s.kind == cedarCondition {
				what = "condition"
			}
			s.diags.Add(limitError(startPos, s.lim, "policy_size", "%s is %d bytes long, more than %d", what, end-start, s.lim.PolicySize))
		}
		ifs, depth, start, reported = ifs[:1], 0, -1, false
		ifs[0] = 0
	}
	nest := func(i int) {
		if depth > s.lim.CedarDepth && !reported {
			reported = true
			s.diags.Add(limitError(s.pos(i), s.lim, "cedar_depth", "Cedar expression nested deeper than %d levels (brackets and if-then-else)", s.lim.CedarDepth))
		}
	}
	for i := 0; i < len(s.src); {
		c := s.src[i]
		if c == '\n' {
			i++
			s.line, s.lineStart = s.line+1, i
			continue
		}
		if c == ' ' || c == '\t' || c == '\r' {
			i++
			continue
		}
		if c == '/' && i+1 < len(s.src) && s.src[i+1] == '/' {
			for i < len(s.src) && s.src[i] != '\n' {
				i++
			}
			continue
		}
		if start < 0 {
			start, startPos = i, s.pos(i)
		}
		if s.b.nodes++; s.b.nodes > s.lim.RepositoryNodes {
			s.diags.Add(limitError(s.pos(i), s.lim, "repository_nodes", repositoryNodesMsg, s.lim.RepositoryNodes))
			return
		}
		switch {
		case c == '"':
			i = s.skipString(i)
			continue
		case c == '(' || c == '[' || c == '{' || s.kind == cedarSchema && c == '<':
			depth++
			ifs = append(ifs, 0)
			nest(i)
		case c == ')' || c == ']' || c == '}' || s.kind == cedarSchema && c == '>':
			if len(ifs) > 1 {
				depth -= 1 + ifs[len(ifs)-1]
				ifs = ifs[:len(ifs)-1]
			}
		case c == ',':
			depth -= ifs[len(ifs)-1]
			ifs[len(ifs)-1] = 0
		case c == ';' && len(ifs) == 1 && s.kind != cedarSchema:
			endPolicy(i + 1)
		case isIdentStart(c):
			j := i
			for j < len(s.src) && isIdentByte(s.src[j]) {
				j++
			}
			if s.kind != cedarSchema && string(s.src[i:j]) == "if" {
				depth++
				ifs[len(ifs)-1]++
				nest(i)
			}
			i = j
			continue
		}
		i++
	}
	endPolicy(len(s.src))
}

// skipString returns the offset after the string literal at i, which may
// hold escaped quotes and span lines.
func (s *cedarScanner) skipString(i int) int {
	for i++; i < len(s.src); i++ {
		switch s.src[i] {
		case '\\':
			i++
			if i < len(s.src) && s.src[i] == '\n' {
				s.line, s.lineStart = s.line+1, i+1
			}
		case '\n':
			s.line, s.lineStart = s.line+1, i+1
		case '"':
			return i + 1
		}
	}
	return i
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentByte(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// checkCondition checks a when: condition written at pos against the
// limits on Cedar text, before anything parses it.
func checkCondition(pos diag.Position, when string, lim Limits) diag.List {
	// The condition is a value of its YAML file, counted there.
	b := &budget{Limits: lim}
	return scanCedar(pos.File, []byte(when), b, cedarCondition, &pos)
}
