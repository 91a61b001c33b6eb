package compile

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
)

// inputPos matches the "<file>:line:col" cedar-go puts in parse errors:
// "<input>" when it has no file name, the name otherwise.
var inputPos = regexp.MustCompile(`(?:<input>|[^\s:]+\.cedar(?:schema)?):(\d+):(\d+):?\s*`)

// parseError matches what remains of a cedar-go policy parse error once
// the position is cut out: `parser error: parse error at "tok": detail`.
var parseError = regexp.MustCompile(`^parser error: (?:parse error at\s*"((?:[^"\\]|\\.)*)":\s*)?(.*)$`)

// cedarError turns a cedar-go parse error into a diagnostic in file,
// offset by the line and column where the parsed text starts. src, when
// not empty, is the parsed text: a policy parse error is then worded for
// people and placed at the token it is about.
func cedarError(file, src string, base diag.Position, err error) diag.Diagnostic {
	msg := err.Error()
	pos := diag.Position{File: file, Line: base.Line, Col: base.Col}
	line, col := 0, 0
	if m := inputPos.FindStringSubmatchIndex(msg); m != nil {
		line, _ = strconv.Atoi(msg[m[2]:m[3]])
		col, _ = strconv.Atoi(msg[m[4]:m[5]])
		msg = msg[:m[0]] + msg[m[1]:]
	}
	if src != "" && line > 0 {
		if reworded, prev := reword(msg, tokenize(src, 0, 1, 1), line, col); reworded != "" {
			msg = reworded
			if prev.line > 0 {
				line, col = prev.line, prev.col
			}
		}
	}
	if line > 0 {
		// The base column shifts the first line only; it may be negative
		// when the parsed text has a prefix the user did not write.
		if line == 1 && base.Col != 0 {
			col += base.Col - 1
		}
		pos.Line = max(base.Line, 1) + line - 1
		pos.Col = col
	}
	// The message quotes the token it stopped at, which may span lines.
	return diag.Diagnostic{Pos: pos, Message: repo.Excerpt(msg)}
}

// reword rewrites a cedar-go policy parse error, reported at line:col of
// the text toks come from, in words for people. It returns "" when it
// does not know the message, and the token the message is about when that
// is not the one at line:col: cedar-go reports "exact got X want Y" at the
// token after X.
func reword(msg string, toks []tok, line, col int) (string, tok) {
	m := parseError.FindStringSubmatch(msg)
	if m == nil {
		if strings.Contains(msg, "literal not terminated") {
			return `string not terminated: add the closing "`, tok{}
		}
		return "", tok{}
	}
	at, detail := m[1], m[2]
	// cedar-go reads a token, then reports the one after it: the token
	// the message is about is the one before the position. At the end of
	// the text it reports the end, having read either the last token or
	// the end itself.
	var prev tok
	for _, t := range toks {
		if t.line < line || t.line == line && t.col < col {
			prev = t
		}
	}
	end := prev
	end.col += utf8.RuneCountInString(prev.text)
	if prev.line == 0 {
		return "", tok{}
	}
	if got, want, ok := strings.Cut(strings.TrimPrefix(detail, "exact got "), " want "); ok && strings.HasPrefix(detail, "exact got ") {
		got = strings.TrimSpace(got)
		switch {
		case want == ";" && got == "":
			return "expected `;` after the policy", end
		case got == "":
			return fmt.Sprintf("expected `%s`, found the end of the text", want), end
		case want == ";" && isIdent(got):
			hint := ""
			if s := repo.Suggest(got, []string{"when", "unless"}); s != "" {
				hint = fmt.Sprintf(" (did you mean `%s`?)", s)
			}
			return fmt.Sprintf("expected `when`, `unless` or `;` after the policy's scope, found `%s`%s", got, hint), prev
		case want == ";":
			return fmt.Sprintf("expected `;` after the policy, found `%s`", got), prev
		case want == "action" || want == "principal" || want == "resource":
			return fmt.Sprintf("expected `%s` in the policy's scope (principal, action, resource), found `%s`", want, got), prev
		}
		return fmt.Sprintf("expected `%s`, found `%s`", want, got), prev
	}
	if strings.HasPrefix(detail, "got ") && strings.HasSuffix(detail, " want ,") {
		// Reported at the token itself.
		if at == "" {
			return "expected `,` or the closing bracket, found the end of the text", end
		}
		return fmt.Sprintf("expected `,` or the closing bracket, found `%s`", at), tok{}
	}
	isName := prev.kind == tokIdent && !slices.Contains([]string{"principal", "action", "resource", "context", "true", "false", "if", "then", "else", "in", "has", "like", "is"}, prev.text)
	if at == "" && !(detail == "invalid primary" && isName) {
		return "the text ends early: " + strings.NewReplacer("expected ident", "expected a name", "invalid primary", "expected an expression").Replace(detail), end
	}
	found := "`" + prev.text + "`"
	switch {
	case detail == "invalid primary" && isName:
		return fmt.Sprintf("unknown name `%s`: an expression starts with principal, action, resource, context, a literal, an entity (Type::\"id\") or a function such as ip(...)", prev.text), prev
	case detail == "invalid primary":
		return "expected an expression, found " + found, prev
	case detail == "expected ident after dot":
		return "expected an attribute or method name after `.`, found " + found, prev
	case detail == "unexpected token":
		return "unexpected " + found, prev
	case strings.HasPrefix(detail, "unexpected effect: "):
		return "expected `permit` or `forbid`, found " + found, prev
	case detail == "expected ident" || detail == "expected ident or reserved keyword":
		return "expected a name, found " + found, prev
	}
	return detail + ", at " + found, prev
}

func isIdent(s string) bool {
	for i := range len(s) {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return s != ""
}
