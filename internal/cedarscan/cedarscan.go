// Package cedarscan checks Cedar text, before anything parses it, for what
// would make cedar-go recurse without bound.
//
// cedar-go's parsers recurse once per bracket, per if-then-else and per
// unary operator, and its policy trees nest once per operator of a chain
// (a && b && c is And(And(a, b), c)), which the parser, the conversions
// and the evaluator all walk recursively. Nothing bounds that depth, and
// a goroutine whose stack passes 1 GB dies with a fatal error that no
// recover can catch: measured, 400,000 nested "(" or a chain of 1,000,000
// "&& true" in one policy, and at a tenth of that the stack already costs
// hundreds of megabytes. So the text is scanned first, in one pass with
// memory proportional to its bracket depth, and refused beyond limits.
//
// Both sides use it: bundle/repo when it loads a repository (under the
// repository's limits: settings) and bundle.Decode when it reads a bundle
// (under the ceilings below, since a bundle carries no limits of its own
// and arrives from a store anyone with write access can fill).
package cedarscan

import (
	"strconv"
	"unicode/utf8"
)

// Ceilings: the most any repository may set and what every bundle read is
// held to, so that whatever a build accepts a PDP serves, and nothing
// else reaches cedar-go.
const (
	// MaxDepth is the ceiling of the nesting depth (brackets and
	// if-then-else, Limits.Depth). At this depth cedar-go's parser takes
	// about 2 MiB of stack and 16 ms; real policies nest a handful of
	// levels.
	MaxDepth = 1024
	// ExpressionDepth bounds, for every token, the operators that enclose
	// it plus its nesting depth: a bound on the depth of the expression
	// tree cedar-go builds, whatever the mix of brackets, chains
	// (a || b || ...), member accesses (a.b.c) and unary operators
	// (!!!a). It is fixed, never configured: at this depth the parser
	// takes about 8 MiB of stack; a chain of 65,536 unary "!" (a 64 KiB
	// policy) took 130 MiB and 3.4 s, one of 1,000,000 "&& true" crashed
	// the process. A real condition chains tens of operators; a long
	// allowlist is a set (resource in [...]), whose elements do not chain.
	ExpressionDepth = 4096
	// MaxPolicySize is the ceiling of the size of one policy's text, in
	// bytes (Limits.PolicySize). Parsing a policy of this size takes about
	// 200 MiB and 2.3 s at worst (a flat list of one-digit numbers).
	MaxPolicySize = 1 << 20
)

// Kind says what a piece of Cedar text is.
type Kind int

const (
	// Policies is a file of policies, each ending in ';'.
	Policies Kind = iota
	// Condition is one when: condition of an access profile.
	Condition
	// Schema is a schema, where < > nest types too and nothing chains.
	Schema
)

// Limits bound a scan.
type Limits struct {
	// Depth bounds the nesting of brackets and if-then-else.
	Depth int
	// PolicySize bounds the text of one policy or condition, in bytes;
	// zero means unbounded. It does not apply to a schema.
	PolicySize int
	// Tokens bounds the tokens counted into the scan's counter (see
	// Scan); zero means unbounded.
	Tokens int
}

// ReadLimits are the limits of text read from a bundle: the ceilings.
func ReadLimits() Limits { return Limits{Depth: MaxDepth, PolicySize: MaxPolicySize} }

// Limit names which bound a Problem breaks.
type Limit int

const (
	// TooDeep is a breach of Limits.Depth, at the bracket or "if" that
	// goes one level too deep.
	TooDeep Limit = iota
	// TooChained is a breach of ExpressionDepth, at the token that goes
	// one level too deep.
	TooChained
	// TooLarge is a breach of Limits.PolicySize, at the policy's first
	// token; Problem.Size is its length.
	TooLarge
	// TooManyTokens is a breach of Limits.Tokens, at the first token
	// beyond it; the scan stops there.
	TooManyTokens
)

// Pos is a position in the scanned text.
type Pos struct {
	// Offset is the byte offset, from 0.
	Offset int
	// Line and Col count from 1; Col counts characters (runes).
	Line, Col int
}

// Problem is one breach of a limit.
type Problem struct {
	Limit Limit
	Pos   Pos
	// Size is the policy's length in bytes, for TooLarge.
	Size int
}

// Describe says what went beyond which value, for a message: "policy is
// 72051 bytes long, more than 65536". Callers add where and how to raise
// the limit.
func (p Problem) Describe(kind Kind, lim Limits) string {
	switch p.Limit {
	case TooDeep:
		return "Cedar expression nested deeper than " + strconv.Itoa(lim.Depth) + " levels (brackets and if-then-else)"
	case TooChained:
		return "Cedar expression deeper than " + strconv.Itoa(ExpressionDepth) +
			" levels of operators and brackets (a chain such as a || b || ..., a.b.c..., or !!!...)"
	case TooLarge:
		what := "policy"
		if kind == Condition {
			what = "condition"
		}
		return what + " is " + strconv.Itoa(p.Size) + " bytes long, more than " + strconv.Itoa(lim.PolicySize)
	}
	return "more than " + strconv.Itoa(lim.Tokens) + " Cedar tokens"
}

// Scan checks src and returns every breach, at most one of each limit per
// policy. Each token it reads is added to *tokens, when tokens is not
// nil, and checked against lim.Tokens: callers that bound what several
// texts hold together share one counter.
func Scan[T string | []byte](src T, kind Kind, lim Limits, tokens *int) []Problem {
	s := scanner[T]{src: src, kind: kind, lim: lim, tokens: tokens, line: 1}
	s.scan()
	return s.problems
}

type scanner[T string | []byte] struct {
	src       T
	kind      Kind
	lim       Limits
	tokens    *int
	line      int
	lineStart int
	problems  []Problem
}

func (s *scanner[T]) pos(off int) Pos {
	return Pos{Offset: off, Line: s.line, Col: utf8.RuneCountInString(string(s.src[s.lineStart:off])) + 1}
}

// level is one open bracket (or the top level of a policy).
type level struct {
	// ifs counts the if-then-else open at this level: each nests the
	// expressions that follow it at this level, up to the next ',' or the
	// level's closing bracket.
	ifs int
	// ops counts the operators met at this level since its start or its
	// last ',': each may put what follows it one level deeper in the
	// tree, so together they bound how deep the tree below this level
	// goes.
	ops int
}

func (s *scanner[T]) scan() {
	levels := []level{{}}
	// excess counts the brackets open beyond the ones levels records:
	// past the depth limit, which has then been reported, a bracket needs
	// no level of its own, so that memory stays bounded by the limit
	// however deep the text goes. What opens inside them is charged to
	// the deepest recorded level.
	excess := 0
	depth := 0 // brackets and ifs open
	ops := 0   // the ops of every open level
	start := -1
	var startLine, startLineStart int
	deep, chained := false, false
	endPolicy := func(end int) {
		if start >= 0 && s.kind != Schema && s.lim.PolicySize > 0 && end-start > s.lim.PolicySize {
			line, ls := s.line, s.lineStart
			s.line, s.lineStart = startLine, startLineStart
			s.problems = append(s.problems, Problem{Limit: TooLarge, Pos: s.pos(start), Size: end - start})
			s.line, s.lineStart = line, ls
		}
		levels, excess, depth, ops, start, deep, chained = levels[:1], 0, 0, 0, -1, false, false
		levels[0] = level{}
	}
	nest := func(i int) {
		if depth > s.lim.Depth && !deep {
			deep = true
			s.problems = append(s.problems, Problem{Limit: TooDeep, Pos: s.pos(i)})
		}
		// Brackets beyond the depth limit are reported as such, once.
		if depth+ops > ExpressionDepth && !chained && !deep {
			chained = true
			s.problems = append(s.problems, Problem{Limit: TooChained, Pos: s.pos(i)})
		}
	}
	op := func(i int) {
		if s.kind == Schema {
			return
		}
		levels[len(levels)-1].ops++
		ops++
		nest(i)
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
			start, startLine, startLineStart = i, s.line, s.lineStart
		}
		if s.tokens != nil {
			if *s.tokens++; s.lim.Tokens > 0 && *s.tokens > s.lim.Tokens {
				s.problems = append(s.problems, Problem{Limit: TooManyTokens, Pos: s.pos(i)})
				return
			}
		}
		switch {
		case c == '"':
			i = s.skipString(i)
			continue
		case c == '(' || c == '[' || c == '{' || s.kind == Schema && c == '<':
			depth++
			if deep {
				excess++
			} else {
				levels = append(levels, level{})
			}
			nest(i)
		case c == ')' || c == ']' || c == '}' || s.kind == Schema && c == '>':
			if excess > 0 {
				excess--
				depth--
			} else if len(levels) > 1 {
				top := levels[len(levels)-1]
				depth -= 1 + top.ifs
				ops -= top.ops
				levels = levels[:len(levels)-1]
			}
		case c == ',':
			top := &levels[len(levels)-1]
			depth -= top.ifs
			ops -= top.ops
			top.ifs, top.ops = 0, 0
		case c == ';' && len(levels) == 1 && excess == 0 && s.kind != Schema:
			endPolicy(i + 1)
		case isOperator(c):
			// Two-character operators (&& || == != <= >=) count once.
			if i+1 < len(s.src) && isPair(c, s.src[i+1]) {
				op(i)
				i += 2
				continue
			}
			op(i)
		case isIdentStart(c):
			j := i
			for j < len(s.src) && isIdentByte(s.src[j]) {
				j++
			}
			if s.kind != Schema {
				switch string(s.src[i:j]) {
				case "if":
					depth++
					levels[len(levels)-1].ifs++
					nest(i)
				case "in", "has", "like", "is":
					op(i)
				}
			}
			i = j
			continue
		}
		i++
	}
	endPolicy(len(s.src))
}

// isOperator reports whether c starts an operator whose operands cedar-go
// nests: the binary and unary operators and member access.
func isOperator(c byte) bool {
	switch c {
	case '|', '&', '=', '!', '<', '>', '+', '-', '*', '.':
		return true
	}
	return false
}

func isPair(c, d byte) bool {
	switch {
	case c == '|' || c == '&':
		return d == c
	case c == '=' || c == '!' || c == '<' || c == '>':
		return d == '='
	}
	return false
}

// skipString returns the offset after the string literal at i, which may
// hold escaped quotes and span lines.
func (s *scanner[T]) skipString(i int) int {
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
