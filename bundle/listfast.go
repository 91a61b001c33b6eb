package bundle

import (
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// encoding/json unmarshals a grant by reflection, field by field, and
// allocates every string it meets: for a million identities' 400,000
// grants, three seconds of a processor and millions of strings, most of
// them copies of a few dozen (entity types, origins, profile names). So
// decodeList first reads an element as Encode writes it, by hand: an
// object of the known fields, each a plain string, boolean or UID, with no
// escapes beyond the simple ones. Anything else (null, a number where a
// string goes, an unknown field, a \u escape, invalid UTF-8) is left to
// encoding/json, which decides exactly as before, errors included. What
// the hand reader accepts, encoding/json reads to the same value.

// fastElement is a list element that can read its JSON by hand.
type fastElement interface {
	// readFast reads raw, one JSON value, into the element, which is
	// zero; it reports false, having perhaps set some fields, when raw is
	// not in the form it reads.
	readFast(raw []byte, in interner) bool
}

// interner shares the strings a list repeats.
type interner map[string]string

// string returns b as a string, the same one for equal bytes.
func (in interner) string(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}

func (g *Grant) readFast(raw []byte, in interner) bool {
	r := fastReader{b: raw}
	return r.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return r.str(&g.ID, nil)
		case "source":
			return r.str(&g.Source, nil)
		case "origin":
			return r.str(&g.Origin, in)
		case "principal":
			return r.uid(&g.Principal, in, false)
		case "parent":
			return r.uid(&g.Parent, in, true)
		case "members":
			return r.boolean(&g.Members)
		case "not_before":
			return r.time(&g.NotBefore)
		case "not_after":
			return r.time(&g.NotAfter)
		}
		return false
	}) && r.end()
}

func (p *Policy) readFast(raw []byte, in interner) bool {
	r := fastReader{b: raw}
	return r.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return r.str(&p.ID, nil)
		case "source":
			return r.str(&p.Source, nil)
		case "origin":
			return r.str(&p.Origin, in)
		case "cedar":
			return r.str(&p.Cedar, nil)
		case "template":
			return r.boolean(&p.Template)
		case "not_before":
			return r.time(&p.NotBefore)
		case "not_after":
			return r.time(&p.NotAfter)
		}
		return false
	}) && r.end()
}

// fastReader reads the JSON Encode writes, refusing (false) what it does
// not read exactly as encoding/json would.
type fastReader struct {
	b   []byte
	i   int
	buf []byte
	// escapes is set when the last string read had escapes: its content
	// is then in buf.
	escapes bool
}

func (r *fastReader) space() {
	for r.i < len(r.b) && (r.b[r.i] == ' ' || r.b[r.i] == '\n' || r.b[r.i] == '\t' || r.b[r.i] == '\r') {
		r.i++
	}
}

// next consumes c, after white space.
func (r *fastReader) next(c byte) bool {
	r.space()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// end reports whether nothing but white space is left.
func (r *fastReader) end() bool {
	r.space()
	return r.i == len(r.b)
}

// object reads an object, calling field for each member's key with the
// reader at its value.
func (r *fastReader) object(field func(key []byte) bool) bool {
	if !r.next('{') {
		return false
	}
	if r.next('}') {
		return true
	}
	for {
		key, ok := r.raw()
		// A key with escapes is encoding/json's: its bytes would be in
		// the buffer reading the value reuses.
		if !ok || r.escapes || !r.next(':') {
			return false
		}
		r.space()
		if !field(key) {
			return false
		}
		if r.next('}') {
			return true
		}
		if !r.next(',') {
			return false
		}
	}
}

// raw reads a string's content: with no escapes, a slice of the input;
// with simple ones, decoded into a buffer the next call reuses.
func (r *fastReader) raw() ([]byte, bool) {
	if !r.next('"') {
		return nil, false
	}
	r.escapes = false
	start := r.i
	for ; r.i < len(r.b); r.i++ {
		switch c := r.b[r.i]; {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			return s, utf8.Valid(s)
		case c == '\\':
			return r.escaped(start)
		case c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// escaped reads the rest of a string that has escapes, from start.
func (r *fastReader) escaped(start int) ([]byte, bool) {
	r.escapes = true
	r.buf = append(r.buf[:0], r.b[start:r.i]...)
	for ; r.i < len(r.b); r.i++ {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			return r.buf, utf8.Valid(r.buf)
		case c < 0x20:
			return nil, false
		case c != '\\':
			r.buf = append(r.buf, c)
			continue
		}
		if r.i++; r.i == len(r.b) {
			return nil, false
		}
		switch e := r.b[r.i]; e {
		case '"', '\\', '/':
			r.buf = append(r.buf, e)
		case 'n':
			r.buf = append(r.buf, '\n')
		case 't':
			r.buf = append(r.buf, '\t')
		case 'r':
			r.buf = append(r.buf, '\r')
		case 'b':
			r.buf = append(r.buf, '\b')
		case 'f':
			r.buf = append(r.buf, '\f')
		case 'u':
			// json.Marshal writes <, > and & as \u003c, \u003e and
			// \u0026, and policies are full of &&. A surrogate, half of
			// a pair or not, is encoding/json's.
			if len(r.b)-r.i < 5 {
				return nil, false
			}
			n, err := strconv.ParseUint(string(r.b[r.i+1:r.i+5]), 16, 16)
			if err != nil || utf16.IsSurrogate(rune(n)) {
				return nil, false
			}
			r.buf = utf8.AppendRune(r.buf, rune(n))
			r.i += 4
		default:
			return nil, false
		}
	}
	return nil, false
}

// str reads a string into dst, interned when in is not nil.
func (r *fastReader) str(dst *string, in interner) bool {
	b, ok := r.raw()
	if !ok {
		return false
	}
	if in != nil {
		*dst = in.string(b)
	} else {
		*dst = string(b)
	}
	return true
}

// uid reads a UID, its type interned, and its id too when internID.
func (r *fastReader) uid(dst *UID, in interner, internID bool) bool {
	idIn := in
	if !internID {
		idIn = nil
	}
	return r.object(func(key []byte) bool {
		switch string(key) {
		case "type":
			return r.str(&dst.Type, in)
		case "id":
			return r.str(&dst.ID, idIn)
		}
		return false
	})
}

func (r *fastReader) boolean(dst *bool) bool {
	for _, lit := range []struct {
		s string
		v bool
	}{{"true", true}, {"false", false}} {
		if len(r.b)-r.i >= len(lit.s) && string(r.b[r.i:r.i+len(lit.s)]) == lit.s {
			r.i += len(lit.s)
			*dst = lit.v
			return true
		}
	}
	return false
}

// time reads an instant as encoding/json does, with time.Time's own
// UnmarshalJSON.
func (r *fastReader) time(dst **time.Time) bool {
	r.space()
	start := r.i
	if _, ok := r.raw(); !ok {
		return false
	}
	t := new(time.Time)
	if t.UnmarshalJSON(r.b[start:r.i]) != nil {
		return false
	}
	*dst = t
	return true
}
