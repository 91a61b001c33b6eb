package authzen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// This file reads request bodies: the content type the specification
// requires, a bound on the size read before anything is parsed, and
// I-JSON (UTF-8, unique member names, one object), with errors a caller
// can act on. Members the specification does not define are ignored.

// httpError is a request refused as a whole, with its status code and a
// message for the caller (nothing internal).
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) *httpError {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// checkContentType requires a JSON body, as the specification does:
// application/json, with a UTF-8 charset if any.
func checkContentType(r *http.Request) *httpError {
	ct := r.Header.Get("Content-Type")
	switch ct {
	case "application/json":
		return nil
	case "":
		return badRequest("Content-Type must be application/json, and the request has none")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return badRequest("Content-Type must be application/json, not %s", quoteHeader(ct))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return badRequest("a JSON body is UTF-8, not %s", quoteHeader(cs))
	}
	return nil
}

// quoteHeader quotes a header value for a message, shortened.
func quoteHeader(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

// bodies pools the buffers bodies are read into.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads r's body into a pooled buffer, which the caller returns
// with putBody, refusing more than max bytes (before reading them, when
// the request declares its length) and an empty body.
func readBody(r *http.Request, max int64) (*bytes.Buffer, *httpError) {
	if r.ContentLength > max {
		return nil, badRequest("request body of %d bytes, more than the limit of %d", r.ContentLength, max)
	}
	buf := bodies.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
	switch {
	case err != nil:
		putBody(buf)
		return nil, badRequest("reading the request body: %v", err)
	case int64(buf.Len()) > max:
		putBody(buf)
		return nil, badRequest("request body of more than the limit of %d bytes", max)
	case buf.Len() == 0:
		putBody(buf)
		return nil, badRequest("the request body is empty: send a JSON object")
	}
	return buf, nil
}

// putBody returns a body buffer to the pool, unless a large body made it
// large: the pool should not keep megabytes per idle buffer.
func putBody(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 {
		bodies.Put(buf)
	}
}

// decode reads body, a JSON object, into v. Its errors say where the body
// is wrong: at which byte for a syntax error, at which member for a value
// of the wrong type.
func decode(body []byte, v any) *httpError {
	if k := firstByte(body); k != '{' {
		if k == 0 {
			return badRequest("the request body is empty: send a JSON object")
		}
		if k == '[' || k == '"' || k == 't' || k == 'f' || k == 'n' || k == '-' || (k >= '0' && k <= '9') {
			return badRequest("the request body must be a JSON object")
		}
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		where := ""
		if p := fieldOf(se.JSONPointer); p != "" {
			where = " in " + p
		}
		return badRequest("the request body is not valid JSON: %v at byte %d%s", describeSyntax(se.Err), se.ByteOffset, where)
	}
	var me *json.SemanticError
	if errors.As(err, &me) {
		field := fieldOf(me.JSONPointer)
		if field == "" {
			return badRequest("the request body must be a JSON object")
		}
		return badRequest("%s: must be %s, not %s", field, goKind(me.GoType), jsonKind(me.JSONKind))
	}
	return badRequest("the request body does not read: %v", err)
}

// firstByte is the first byte of body that is not white space, 0 if none.
func firstByte(body []byte) byte {
	for _, c := range body {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// describeSyntax is a syntax error without the package's prefix.
func describeSyntax(err error) string {
	if err == nil {
		return "unexpected input"
	}
	return strings.TrimPrefix(err.Error(), "jsontext: ")
}

// fieldOf renders a JSON pointer as the request's field names:
// /evaluations/1/action/name → evaluations[1].action.name.
func fieldOf(p jsontext.Pointer) string {
	var path []segment
	for tok := range p.Tokens() {
		if n, err := strconv.Atoi(tok); err == nil && n >= 0 && tok == strconv.Itoa(n) {
			path = append(path, segment{index: n})
			continue
		}
		path = append(path, segment{key: tok, isKey: true})
	}
	return render(path)
}

// goKind names what a Go type holds, as the caller sees it.
func goKind(t reflect.Type) string {
	if t == nil {
		return "another JSON value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		if t == reflect.TypeFor[jsontext.Value]() {
			return "a JSON value"
		}
		return "an array"
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Bool:
		return "a boolean"
	}
	return "another JSON value"
}

// jsonKind names a JSON kind.
func jsonKind(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{', '}':
		return "an object"
	case '[', ']':
		return "an array"
	}
	return "that value"
}
