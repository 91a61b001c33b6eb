package authzen

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/cedargate/cedargate/pdp/cedarjson"
	"github.com/cedargate/cedargate/pdp/wire"
)

// This file turns the JSON of AuthZEN properties and contexts into Cedar
// values, directed by the schema: in one pass over each value, counting it
// against the request's limits as it goes (the gRPC API's limits: depth,
// values, set elements, string bytes). Strings the schema types as an
// extension or an entity are converted by pdp/cedarjson, so that
// "10.1.2.3" becomes an ipaddr and "User/alice" an entity reference
// exactly as everywhere else; Cedar's JSON escapes ({"__extn": …},
// {"__entity": …}) work too. A JSON shape the schema does not expect is
// read as what it is and left to Cedar (or request validation) to judge.
//
// An attribute the schema types as an entity takes the entity's id as a
// string (in the attribute's type: "owner": "bob" with owner: User is
// User::"bob"), a Cedar UID (Acme::User::"bob"), or {"type": …, "id": …}
// with an AuthZEN type the mapping knows or a Cedar type.

// converter converts the values of one evaluation; its budget of values is
// the evaluation's.
type converter struct {
	conv   *cedarjson.Converter
	lim    wire.Limits
	values int
	// drop leaves out members the schema does not declare, of records
	// whose type the schema declares.
	drop bool
	// entityType resolves an AuthZEN type through the mapping, for
	// entity references written {"type": "user", "id": "bob"}.
	entityType func(string) (types.EntityType, bool)
	// path is where the value being read is, rendered only for an error.
	path []segment
}

// segment is one step of a path: a member name, or an index when key is
// not set.
type segment struct {
	key   string
	index int
	isKey bool
}

// render writes the path as callers write it: subject.properties.role,
// context["source ip"], resource.properties.tags[2].
func render(path []segment) string {
	var b strings.Builder
	for _, s := range path {
		if !s.isKey {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
			continue
		}
		if isIdent(s.key) {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
			continue
		}
		b.WriteString("[" + wire.Quote(s.key) + "]")
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (c *converter) push(key string) { c.path = append(c.path, segment{key: key, isKey: true}) }
func (c *converter) pushIndex(i int) { c.path = append(c.path, segment{index: i}) }
func (c *converter) pop()            { c.path = c.path[:len(c.path)-1] }

// fail is an error about the value at the current path.
func (c *converter) fail(format string, args ...any) *wire.FieldError {
	return &wire.FieldError{Field: render(c.path), Reason: fmt.Sprintf(format, args...)}
}

// errNull is what value returns for a JSON null, which has no Cedar value:
// a record member that is null is left out (I-JSON and AuthZEN: a null
// member is an absent one), a null anywhere else is refused.
var errNull = &wire.FieldError{Reason: "null"}

// members converts raw, a JSON object (AuthZEN properties or a context),
// into the members of a Cedar record, added to into. shape is the record
// type the schema declares for it; declared says whether the schema
// declares one at all. The caller has pushed the object's path.
func (c *converter) members(raw jsontext.Value, shape resolved.RecordType, declared bool, into types.RecordMap) error {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return c.fail("must be a JSON object")
	}
	for dec.PeekKind() != '}' {
		name, err := c.name(dec)
		if err != nil {
			return err
		}
		attr, known := shape[types.String(name)]
		if declared && !known && c.drop {
			if err := dec.SkipValue(); err != nil {
				return c.fail("%v", err)
			}
			continue
		}
		c.push(name)
		v, err := c.value(dec, attr.Type, 1)
		c.pop()
		switch {
		case err == errNull:
			continue
		case err != nil:
			return err
		}
		into[types.String(name)] = v
	}
	return nil
}

// name reads an object member's name, bounded like any string.
func (c *converter) name(dec *jsontext.Decoder) (string, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return "", c.fail("%v", err)
	}
	name := tok.String()
	if len(name) > c.lim.MaxStringBytes {
		return "", c.fail("a member name of %d bytes, more than the limit of %d", len(name), c.lim.MaxStringBytes)
	}
	return name, nil
}

// value reads the next JSON value of dec as a Cedar value of type t (nil:
// whatever the JSON says) at depth (an attribute or context entry is at
// depth 1).
func (c *converter) value(dec *jsontext.Decoder, t resolved.IsType, depth int) (types.Value, error) {
	if depth > c.lim.MaxDepth {
		return nil, c.fail("nested deeper than the limit of %d levels", c.lim.MaxDepth)
	}
	if c.values++; c.values > c.lim.MaxValues {
		return nil, c.fail("the evaluation holds more than the limit of %d values", c.lim.MaxValues)
	}
	switch dec.PeekKind() {
	case 'n':
		_, _ = dec.ReadToken()
		return nil, errNull
	case 't', 'f':
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, c.fail("%v", err)
		}
		return types.Boolean(tok.Bool()), nil
	case '0':
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, c.fail("%v", err)
		}
		return c.number(raw, t)
	case '"':
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, c.fail("%v", err)
		}
		return c.str(raw, t)
	case '[':
		return c.set(dec, t, depth)
	case '{':
		return c.record(dec, t, depth)
	}
	_, err := dec.ReadToken()
	return nil, c.fail("not a JSON value: %v", err)
}

// number reads a JSON number: a Cedar Long, or a decimal where the schema
// says so. Cedar has no floating point.
func (c *converter) number(raw jsontext.Value, t resolved.IsType) (types.Value, error) {
	text := string(raw)
	if ext, ok := t.(resolved.ExtensionType); ok && ext == "decimal" {
		d, err := types.ParseDecimal(text)
		if err != nil {
			return nil, c.fail("%s is not a decimal (at most 4 digits after the point)", text)
		}
		return d, nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		if strings.ContainsAny(text, ".eE") {
			return nil, c.fail("%s is not an integer: Cedar numbers are whole (a decimal attribute takes \"1.5\")", text)
		}
		return nil, c.fail("%s is out of the range of a Cedar Long", text)
	}
	return types.Long(n), nil
}

// str reads a JSON string: an extension value or an entity reference
// where the schema types it so, a Cedar string otherwise.
func (c *converter) str(raw jsontext.Value, t resolved.IsType) (types.Value, error) {
	// The unquoted string is never longer than the quoted one.
	if len(raw)-2 > c.lim.MaxStringBytes {
		if s, err := jsontext.AppendUnquote(nil, raw); err == nil && len(s) > c.lim.MaxStringBytes {
			return nil, c.fail("a string of %d bytes, more than the limit of %d", len(s), c.lim.MaxStringBytes)
		}
	}
	if _, ok := t.(resolved.ExtensionType); ok {
		return c.cedarJSON(raw, t)
	}
	s, err := jsontext.AppendUnquote(nil, raw)
	if err != nil {
		return nil, c.fail("%v", err)
	}
	if et, ok := t.(resolved.EntityType); ok {
		if bytes.HasSuffix(s, []byte(`"`)) && bytes.Contains(s, []byte(`::"`)) {
			return c.cedarJSON(raw, t)
		}
		// AuthZEN ids often hold a slash (documents/123): a string is
		// always an id here, never cedarjson's short Type/id form.
		return types.NewEntityUID(types.EntityType(et), types.String(s)), nil
	}
	return types.String(s), nil
}

// cedarJSON converts raw, a whole JSON value, with pdp/cedarjson.
func (c *converter) cedarJSON(raw []byte, t resolved.IsType) (types.Value, error) {
	v, err := c.conv.Value("", raw, t)
	if err != nil {
		reason := err.Error()
		if ce, ok := err.(*cedarjson.Error); ok {
			reason = ce.Reason
		}
		return nil, c.fail("%s", reason)
	}
	return v, nil
}

// set reads a JSON array as a Cedar set.
func (c *converter) set(dec *jsontext.Decoder, t resolved.IsType, depth int) (types.Value, error) {
	var elem resolved.IsType
	if st, ok := t.(resolved.SetType); ok {
		elem = st.Element
	}
	_, _ = dec.ReadToken()
	var vs []types.Value
	for i := 0; dec.PeekKind() != ']'; i++ {
		if i >= c.lim.MaxSetElements {
			return nil, c.fail("an array of more than the limit of %d elements", c.lim.MaxSetElements)
		}
		c.pushIndex(i)
		v, err := c.value(dec, elem, depth+1)
		if err == errNull {
			err = c.fail("null is not a Cedar value: leave the element out")
		}
		c.pop()
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, c.fail("%v", err)
	}
	return types.NewSet(vs...), nil
}

// record reads a JSON object as a Cedar record, or, where the schema
// types it as an entity ({"type": …, "id": …}) or it is a Cedar JSON
// escape ({"__extn": …}, {"__entity": …}), as the value it stands for.
func (c *converter) record(dec *jsontext.Decoder, t resolved.IsType, depth int) (types.Value, error) {
	if _, ok := t.(resolved.EntityType); ok {
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, c.fail("%v", err)
		}
		return c.reference(raw, t)
	}
	shape, _ := t.(resolved.RecordType)
	_, _ = dec.ReadToken()
	m := types.RecordMap{}
	for first := true; dec.PeekKind() != '}'; first = false {
		name, err := c.name(dec)
		if err != nil {
			return nil, err
		}
		if first && (name == "__extn" || name == "__entity") {
			return c.escape(dec, name, t)
		}
		c.push(name)
		v, err := c.value(dec, shape[types.String(name)].Type, depth+1)
		c.pop()
		switch {
		case err == errNull:
			continue
		case err != nil:
			return nil, err
		}
		m[types.String(name)] = v
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, c.fail("%v", err)
	}
	return types.NewRecord(m), nil
}

// reference reads {"type": …, "id": …} where the schema expects an
// entity: the type is an AuthZEN type the mapping resolves, or a Cedar
// type; anything else is Cedar JSON.
func (c *converter) reference(raw jsontext.Value, t resolved.IsType) (types.Value, error) {
	var ref struct {
		Type *string `json:"type"`
		ID   *string `json:"id"`
	}
	if json.Unmarshal(raw, &ref) == nil && ref.Type != nil && ref.ID != nil && c.entityType != nil {
		if et, ok := c.entityType(*ref.Type); ok {
			return types.NewEntityUID(et, types.String(*ref.ID)), nil
		}
	}
	return c.cedarJSON(raw, t)
}

// escape reads the rest of a Cedar JSON escape whose only member, name,
// has been read: {"__extn": {"fn": …, "arg": …}} or {"__entity": {"type":
// …, "id": …}}.
func (c *converter) escape(dec *jsontext.Decoder, name string, t resolved.IsType) (types.Value, error) {
	inner, err := dec.ReadValue()
	if err != nil {
		return nil, c.fail("%v", err)
	}
	if dec.PeekKind() != '}' {
		return nil, c.fail("a Cedar JSON escape (%s) has no other members", name)
	}
	_, _ = dec.ReadToken()
	raw := make([]byte, 0, len(name)+len(inner)+5)
	raw = append(append(append(append(raw, `{"`...), name...), `":`...), inner...)
	return c.cedarJSON(append(raw, '}'), t)
}
