package repo

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cedargate/cedargate/bundle/diag"
)

// checkUTF8 reports the first byte of data that is not UTF-8. Every file of
// a repository must be UTF-8 text: the parsers would otherwise replace
// such bytes with U+FFFD, and the bundle would no longer say what the
// source says.
func checkUTF8(file string, data []byte) *diag.Diagnostic {
	if utf8.Valid(data) {
		return nil
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return &diag.Diagnostic{Pos: diag.Position{File: file, Line: line, Col: col},
				Message: fmt.Sprintf("invalid UTF-8 (byte 0x%02x): files must be UTF-8 text", data[i])}
		}
		i += size
		col++
		if r == '\n' {
			line, col = line+1, 1
		}
	}
	return nil
}

// badIdentRune returns the first rune of s that has no place in a name that
// becomes a Cedar entity id or a policy id: control characters (NUL, escape
// sequences) and invisible format characters (bidirectional overrides,
// zero-width spaces), which would make two different ids look the same or
// rewrite a terminal that shows them.
func badIdentRune(s string) (rune, bool) {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return r, true
		}
	}
	return 0, false
}

// CheckIdent returns an error when s, a name that becomes a Cedar entity
// id or a policy id, holds a control or invisible format character.
func CheckIdent(s string) error {
	if r, bad := badIdentRune(s); bad {
		return fmt.Errorf("must not contain control or invisible characters (found U+%04X)", r)
	}
	return nil
}

// maxExcerpt bounds the text of a repository file quoted in one message.
const maxExcerpt = 400

// Excerpt renders text taken from a repository file (a token a parser
// quotes in its error, say) for a message: one line, at most about 400
// bytes, with line breaks and other control characters escaped, so that a
// message never shows more than one line of the repository's text.
func Excerpt(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxExcerpt {
			b.WriteString("...")
			break
		}
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
