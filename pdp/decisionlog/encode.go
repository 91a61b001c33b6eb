package decisionlog

import (
	"strconv"
	"unicode/utf8"

	"github.com/cedar-policy/cedar-go/types"
)

// timeLayout is RFC 3339 with a fixed nine-digit fraction. Unlike
// time.RFC3339Nano it keeps trailing zeros, so every timestamp has the same
// width and lines sort lexically by time.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

const hexDigits = "0123456789abcdef"

// appendEntry appends e to b as one JSON line, newline included.
//
// It is written by hand rather than with encoding/json because the writer
// encodes every decision: reflection and per-entry allocations would make the
// log the PDP's main source of garbage. With a reused b it does not allocate,
// except for entity ids that need Cedar escaping (see appendUID).
func appendEntry(b []byte, e *Entry) []byte {
	b = append(b, `{"decision_id":`...)
	b = appendString(b, e.DecisionID)
	b = append(b, `,"time":"`...)
	b = e.Time.UTC().AppendFormat(b, timeLayout)
	b = append(b, `","principal":`...)
	b = appendUID(b, e.Principal)
	b = append(b, `,"action":`...)
	b = appendUID(b, e.Action)
	b = append(b, `,"resource":`...)
	b = appendUID(b, e.Resource)
	if e.Allow {
		b = append(b, `,"decision":"allow","policies":[`...)
	} else {
		b = append(b, `,"decision":"deny","policies":[`...)
	}
	for i, p := range e.Policies {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p)
	}
	b = append(b, `],"errors":[`...)
	for i, er := range e.Errors {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"policy_id":`...)
		b = appendString(b, er.PolicyID)
		b = append(b, `,"message":`...)
		b = appendString(b, er.Message)
		b = append(b, '}')
	}
	b = append(b, `],"bundle":{"revision":`...)
	b = appendString(b, e.Bundle.Revision)
	b = append(b, `,"digest":`...)
	b = appendString(b, e.Bundle.Digest)
	b = append(b, `,"environment":`...)
	b = appendString(b, e.Bundle.Environment)
	b = append(b, `},"latency_us":`...)
	b = strconv.AppendInt(b, e.Latency.Microseconds(), 10)
	if e.Caller != "" {
		b = append(b, `,"caller":`...)
		b = appendString(b, e.Caller)
	}
	if e.Frontend != "" {
		b = append(b, `,"frontend":`...)
		b = appendString(b, e.Frontend)
	}
	return append(b, "}\n"...)
}

// appendUID appends uid as the JSON string of its Cedar text form, the same
// text types.EntityUID.String returns.
//
// String allocates, so ids that Cedar leaves unescaped (printable ASCII other
// than quotes and backslash — in practice user names, UUIDs, paths) are
// written directly; only other ids pay for String, whose escaping rules
// (Rust's escape_debug, with Unicode tables) are not worth duplicating.
func appendUID(b []byte, uid types.EntityUID) []byte {
	id := string(uid.ID)
	if !isPlainID(id) {
		return appendString(b, uid.String())
	}
	b = append(b, '"')
	b = appendStringBody(b, string(uid.Type))
	b = append(b, `::\"`...)
	b = append(b, id...)
	return append(b, `\""`...)
}

// isPlainID reports whether Cedar's escaping leaves id unchanged and JSON
// needs no escaping either.
func isPlainID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '\'' {
			return false
		}
	}
	return true
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendStringBody(b, s)
	return append(b, '"')
}

// appendStringBody appends s escaped for use inside a JSON string. Whatever
// s holds, the result is valid JSON on a single line: control characters are
// escaped, invalid UTF-8 becomes \ufffd (one per bad byte, as encoding/json
// does), and U+2028/U+2029 are escaped because JavaScript treats them as line
// terminators. HTML characters are left alone: the log is not HTML.
func appendStringBody(b []byte, s string) []byte {
	start := 0 // s[start:i] is pending: needs no escaping
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}
