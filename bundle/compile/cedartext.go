package compile

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// cedar-go's policy trees carry a position for the policy only, and its
// validator reports problems without one. To point at the expression a
// problem is about, compile reads the policy's text again: tokens with
// their positions, and the spans of the sub-expressions of each
// condition. This is not a second Cedar parser: it reads only text that
// cedar-go has already parsed, and whatever it cannot follow it leaves
// to the policy's own position.

// tokKind says what a token is.
type tokKind int

const (
	tokPunct tokKind = iota
	tokIdent
	tokString
	tokNumber
)

// tok is one Cedar token: its text as written, where it is in the source
// (byte offsets) and on its lines (1-based, columns in characters,
// counted from the position the text starts at).
type tok struct {
	kind      tokKind
	text      string
	off, end  int
	line, col int
}

// value is a string token's content, or the token's text.
func (t tok) value() string {
	if t.kind == tokString {
		if s, err := strconv.Unquote(t.text); err == nil {
			return s
		}
		return t.text[1 : len(t.text)-1]
	}
	return t.text
}

// tokenize splits src into tokens from byte offset from on, the first
// character being at line:col.
func tokenize(src string, from, line, col int) []tok {
	return tokenizeUntil(src, from, line, col, false)
}

// tokenizeUntil is tokenize, stopping after the first ';' outside
// brackets when policy is set: the end of the policy that starts at from.
func tokenizeUntil(src string, from, line, col int, policy bool) []tok {
	var out []tok
	depth := 0
	lineStart := from
	colBase := col // column of lineStart
	for i := from; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			i++
			line, lineStart, colBase = line+1, i, 1
			continue
		case c == ' ' || c == '\t' || c == '\r':
			i++
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		}
		t := tok{off: i, line: line, col: colBase + utf8.RuneCountInString(src[lineStart:i])}
		switch {
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(src))
			t.kind, i = tokString, j
			// A string may span lines; later tokens count from its end.
			for k := t.off; k < j; k++ {
				if src[k] == '\n' {
					line, lineStart, colBase = line+1, k+1, 1
				}
			}
		case isIdentByte(c) && !(c >= '0' && c <= '9'):
			for i < len(src) && isIdentByte(src[i]) {
				i++
			}
			t.kind = tokIdent
		case c >= '0' && c <= '9':
			for i < len(src) && src[i] >= '0' && src[i] <= '9' {
				i++
			}
			t.kind = tokNumber
		case i+1 < len(src) && isPair(src[i:i+2]):
			i += 2
		default:
			_, size := utf8.DecodeRuneInString(src[i:])
			i += size
		}
		t.end = i
		t.text = src[t.off:t.end]
		out = append(out, t)
		if policy {
			switch t.text {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
			case ";":
				if depth == 0 {
					return out
				}
			}
		}
	}
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isPair(s string) bool {
	switch s {
	case "::", "==", "!=", "<=", ">=", "&&", "||":
		return true
	}
	return false
}

// conditions returns the tokens of the bodies of a policy's when and
// unless clauses, in order, given the policy's tokens from its start; nil
// when the text does not read as expected.
func conditions(toks []tok) [][]tok {
	i := 0
	for i < len(toks) && toks[i].text == "@" { // @name("value")
		i += 2
		if i < len(toks) && toks[i].text == "(" {
			i += 3
		}
	}
	i++ // permit or forbid
	if i >= len(toks) || toks[i].text != "(" {
		return nil
	}
	end := closing(toks, i)
	if end < 0 {
		return nil
	}
	var out [][]tok
	for i = end + 1; i+1 < len(toks) && (toks[i].text == "when" || toks[i].text == "unless") && toks[i+1].text == "{"; {
		end := closing(toks, i+1)
		if end < 0 {
			return nil
		}
		out = append(out, toks[i+2:end])
		i = end + 1
	}
	return out
}

// closing returns the index of the bracket that closes the one at open, or
// -1.
func closing(toks []tok, open int) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		switch toks[i].text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// span is a sub-expression: tokens [from, to) of a condition.
type span struct{ from, to int }

// spans lists the sub-expressions of a condition's tokens, inner ones
// before the ones that hold them; nil when the tokens do not read as one
// Cedar expression. It follows Cedar's grammar only as far as finding
// where each operand starts and ends needs.
func spans(toks []tok) []span {
	p := &spanParser{toks: toks}
	p.expr()
	if p.failed || p.i != len(toks) {
		return nil
	}
	return p.out
}

type spanParser struct {
	toks   []tok
	i      int
	out    []span
	failed bool
}

func (p *spanParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].text
	}
	return ""
}

func (p *spanParser) want(s string) {
	if p.peek() != s {
		p.failed = true
		return
	}
	p.i++
}

func (p *spanParser) add(from int) { p.out = append(p.out, span{from, p.i}) }

func (p *spanParser) expr() {
	if p.failed {
		return
	}
	from := p.i
	if p.peek() == "if" {
		p.i++
		p.expr()
		p.want("then")
		p.expr()
		p.want("else")
		p.expr()
		p.add(from)
		return
	}
	p.binary(0)
}

// levels of binary operators, loosest first; level len(levels) is a
// unary expression.
var levels = [][]string{{"||"}, {"&&"}, {"==", "!=", "<", "<=", ">", ">=", "in", "has", "like", "is"}, {"+", "-"}, {"*"}}

func (p *spanParser) binary(level int) {
	if level == len(levels) {
		p.unary()
		return
	}
	from := p.i
	p.binary(level + 1)
	for !p.failed && slices.Contains(levels[level], p.peek()) {
		op := p.peek()
		p.i++
		switch op {
		case "has":
			p.i++ // an attribute name or string
			for p.peek() == "." {
				p.i += 2
			}
		case "like":
			p.i++ // a pattern
		case "is":
			p.path()
			if p.peek() == "in" {
				p.i++
				p.binary(level + 1)
			}
		default:
			p.binary(level + 1)
		}
		p.add(from)
	}
}

func (p *spanParser) unary() {
	from := p.i
	if p.peek() == "!" || p.peek() == "-" {
		p.i++
		p.unary()
		p.add(from)
		return
	}
	p.member()
}

func (p *spanParser) member() {
	from := p.i
	p.primary()
	for !p.failed {
		switch p.peek() {
		case ".":
			p.i += 2
			if p.peek() == "(" {
				p.list(")")
			}
		case "[":
			p.i += 3 // ["attr"]
		default:
			return
		}
		p.add(from)
	}
}

func (p *spanParser) primary() {
	if p.failed || p.i >= len(p.toks) {
		p.failed = true
		return
	}
	from := p.i
	t := p.toks[p.i]
	switch {
	case t.text == "(":
		p.i++
		p.expr()
		p.want(")")
	case t.text == "[":
		p.list("]")
	case t.text == "{":
		p.i++
		for !p.failed && p.peek() != "}" {
			p.i += 2 // key :
			p.expr()
			if p.peek() == "," {
				p.i++
			}
		}
		p.want("}")
	case t.kind == tokIdent:
		p.path()
		switch p.peek() {
		case "(":
			p.list(")")
		case "::":
			p.i += 2 // ::"id"
		}
	case t.kind == tokString || t.kind == tokNumber:
		p.i++
	default:
		p.failed = true
		return
	}
	p.add(from)
}

// path reads Name or Name::Name..., stopping before ::"id".
func (p *spanParser) path() {
	p.i++
	for p.peek() == "::" && p.i+1 < len(p.toks) && p.toks[p.i+1].kind == tokIdent {
		p.i += 2
	}
}

// list reads a bracketed, comma-separated list of expressions starting at
// its opening bracket.
func (p *spanParser) list(end string) {
	p.i++
	for !p.failed && p.peek() != end {
		p.expr()
		if p.peek() == "," {
			p.i++
		} else {
			break
		}
	}
	p.want(end)
}
