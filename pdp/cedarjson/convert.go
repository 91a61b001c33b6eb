// Package cedarjson reads the JSON that people and services write for a
// Cedar request (its context, request-scoped entities and their
// attributes, entity UIDs) into cedar-go values, directed by a Cedar
// schema. Where the schema declares an `ipaddr`, `decimal`, `datetime` or
// `duration`, a plain JSON string ("10.1.2.3", "1.5", "2026-01-31",
// "1h30m") becomes that extension value; where it declares an entity, a
// string in the short form (User/alice, Acme::User/alice) or the Cedar
// form (Acme::User::"alice") becomes an entity reference; sets and records
// are converted element by element. Without a schema, or for a value the
// schema says nothing about, JSON is read as Cedar's JSON value format
// ({"__extn": …}, {"__entity": …}), so Cedar JSON always works.
//
// Every command and library that takes request JSON uses this package, so
// that `cedargate test`, `eval` and `check`, and Go services through
// pdp/client, read the same JSON the same way:
//
//	conv, err := cedarjson.NewFromSchemaText(schemaText, "")
//	ctx, err := conv.Context(action, []byte(`{"source_ip":"10.1.1.1"}`))
//
// Errors name the offending field by its path from the request
// (`context.source_ip: "x" is not an ipaddr …`) as an [*Error].
package cedarjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"
)

// Converter converts request JSON by one schema. The zero value and a
// Converter without a schema read Cedar JSON unchanged. It is safe for
// concurrent use.
type Converter struct {
	schema *resolved.Schema
	// namespace qualifies short entity types the schema does not declare
	// (User/alice → Acme::User::"alice"); empty leaves them as written.
	namespace string
}

// New returns a converter for s (nil: no schema). namespace qualifies the
// short types in UIDs that s does not resolve, as an identity repository's
// `namespace:` does; it may be empty.
func New(s *resolved.Schema, namespace string) *Converter {
	return &Converter{schema: s, namespace: namespace}
}

// NewFromSchemaText parses and resolves a schema in Cedar's human-readable
// schema format (a bundle's schema.cedarschema, or what the PDP's
// AdminService.GetSchema returns) and returns a converter for it. Empty
// text gives a converter without a schema.
func NewFromSchemaText(text []byte, namespace string) (*Converter, error) {
	if len(bytes.TrimSpace(text)) == 0 {
		return New(nil, namespace), nil
	}
	var s schema.Schema
	if err := s.UnmarshalCedar(text); err != nil {
		return nil, fmt.Errorf("parsing the schema: %w", err)
	}
	rs, err := s.Resolve()
	if err != nil {
		return nil, fmt.Errorf("resolving the schema: %w", err)
	}
	return New(rs, namespace), nil
}

// Schema returns the converter's schema; nil when it has none.
func (c *Converter) Schema() *resolved.Schema { return c.schema }

// Error is a value that does not convert or does not match the schema.
type Error struct {
	// Path is where the value is, from the request: `context.source_ip`,
	// `context.hosts[2]`, `entities[0].attrs.owner`.
	Path string
	// Reason says what is wrong with it.
	Reason string
}

// Error renders the error as "path: reason".
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

func errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// ContextType returns the context type the schema declares for action,
// and false when there is no schema or it does not declare the action.
func (c *Converter) ContextType(action types.EntityUID) (resolved.RecordType, bool) {
	if c.schema == nil {
		return nil, false
	}
	a, ok := c.schema.Actions[action]
	if !ok || a.AppliesTo == nil {
		return nil, false
	}
	return a.AppliesTo.Context, true
}

// Context converts raw, a JSON object, into the context of a request for
// action. Errors name the field from `context`.
func (c *Converter) Context(action types.EntityUID, raw []byte) (types.Record, error) {
	var t resolved.IsType
	if ct, ok := c.ContextType(action); ok {
		t = ct
	}
	v, err := c.convert("context", raw, t)
	if err != nil {
		return types.Record{}, err
	}
	rec, ok := v.(types.Record)
	if !ok {
		return types.Record{}, errorf("context", "must be a JSON object, not %s", kindOf(v))
	}
	return rec, nil
}

// Value converts raw, the JSON of one value, to the Cedar value of type t
// (nil: whatever the JSON says); path names the value in errors.
func (c *Converter) Value(path string, raw []byte, t resolved.IsType) (types.Value, error) {
	return c.convert(path, raw, t)
}

// Entities converts raw, a JSON array of entities in Cedar's JSON entity
// format ({"uid", "attrs", "parents", "tags"}), converting the attributes
// and tags of every entity whose type the schema declares. Errors name the
// field from `entities`: `entities[1].attrs.owner`.
func (c *Converter) Entities(raw []byte) ([]types.Entity, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errorf("entities", "must be a JSON array of entities: %v", err)
	}
	out := make([]types.Entity, 0, len(items))
	for i, item := range items {
		e, err := c.Entity(fmt.Sprintf("entities[%d]", i), item)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Entity converts one entity in Cedar's JSON entity format; path names it
// in errors.
func (c *Converter) Entity(path string, raw []byte) (types.Entity, error) {
	var e types.Entity
	if err := e.UnmarshalJSON(raw); err != nil {
		return e, errorf(path, "%v", err)
	}
	if c.schema == nil {
		return e, nil
	}
	def, ok := c.schema.Entities[e.UID.Type]
	if !ok {
		return e, nil
	}
	var parts struct {
		Attrs json.RawMessage `json:"attrs"`
		Tags  json.RawMessage `json:"tags"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return e, errorf(path, "%v", err)
	}
	v, err := c.convert(path+".attrs", parts.Attrs, def.Shape)
	if err != nil {
		return e, err
	}
	e.Attributes = v.(types.Record)
	if def.Tags != nil && len(parts.Tags) > 0 {
		var tags map[string]json.RawMessage
		if err := json.Unmarshal(parts.Tags, &tags); err != nil {
			return e, errorf(path+".tags", "must be a JSON object: %v", err)
		}
		m := types.RecordMap{}
		for _, k := range sortedKeys(tags) {
			tv, err := c.convert(join(path+".tags", k), tags[k], def.Tags)
			if err != nil {
				return e, err
			}
			m[types.String(k)] = tv
		}
		e.Tags = types.NewRecord(m)
	}
	return e, nil
}

// convert reads raw as a value of type t; a nil t, or a JSON shape t does
// not expect, is read as Cedar JSON and left for validation to judge.
func (c *Converter) convert(path string, raw []byte, t resolved.IsType) (types.Value, error) {
	raw = bytes.TrimSpace(raw)
	switch tt := t.(type) {
	case resolved.RecordType:
		var fields map[string]json.RawMessage
		if !isObject(raw) || isCedarEscape(raw) || json.Unmarshal(raw, &fields) != nil {
			break
		}
		m := make(types.RecordMap, len(fields))
		for _, k := range sortedKeys(fields) {
			var at resolved.IsType
			if a, ok := tt[types.String(k)]; ok {
				at = a.Type
			}
			v, err := c.convert(join(path, k), fields[k], at)
			if err != nil {
				return nil, err
			}
			m[types.String(k)] = v
		}
		return types.NewRecord(m), nil
	case resolved.SetType:
		var elems []json.RawMessage
		if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
			break
		}
		vs := make([]types.Value, len(elems))
		for i, e := range elems {
			v, err := c.convert(fmt.Sprintf("%s[%d]", path, i), e, tt.Element)
			if err != nil {
				return nil, err
			}
			vs[i] = v
		}
		return types.NewSet(vs...), nil
	case resolved.ExtensionType:
		var s string
		if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
			return parseExtension(path, s, tt)
		}
	case resolved.EntityType:
		var s string
		if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
			u, err := c.uid(s, false, types.EntityType(tt))
			if err != nil {
				return nil, &Error{Path: path, Reason: err.Error()}
			}
			return u, nil
		}
		// {"type": "Acme::User", "id": "alice"}: Cedar's implicit entity
		// form, which plain Cedar JSON reads as a record.
		var ref struct {
			Type *string `json:"type"`
			ID   *string `json:"id"`
		}
		if isObject(raw) && !isCedarEscape(raw) && json.Unmarshal(raw, &ref) == nil && ref.Type != nil && ref.ID != nil {
			return types.NewEntityUID(types.EntityType(*ref.Type), types.String(*ref.ID)), nil
		}
	}
	v, err := cedarValue(raw)
	if err != nil {
		return nil, &Error{Path: path, Reason: err.Error()}
	}
	return v, nil
}

// examples shows, per extension type, the strings it accepts.
var examples = map[resolved.ExtensionType]string{
	"ipaddr":   `an IPv4 or IPv6 address or CIDR range, e.g. "10.1.2.3" or "10.0.0.0/8"`,
	"decimal":  `a decimal with up to 4 digits after the point, e.g. "1.5"`,
	"datetime": `a date or RFC 3339 time, e.g. "2026-01-31" or "2026-01-31T09:00:00Z"`,
	"duration": `a duration such as "1h30m" or "2d" (units d, h, m, s, ms)`,
}

func parseExtension(path, s string, t resolved.ExtensionType) (types.Value, error) {
	var v types.Value
	var err error
	switch t {
	case "ipaddr":
		v, err = types.ParseIPAddr(s)
	case "decimal":
		v, err = types.ParseDecimal(s)
	case "datetime":
		v, err = types.ParseDatetime(s)
	case "duration":
		v, err = types.ParseDuration(s)
	default:
		return types.String(s), nil
	}
	if err != nil {
		return nil, errorf(path, "%q is not %s %s: write %s", s, article(string(t)), t, examples[t])
	}
	return v, nil
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// cedarValue reads raw in Cedar's JSON value format.
func cedarValue(raw []byte) (types.Value, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("no value")
	}
	// cedar-go reads Cedar JSON values as record attributes only.
	var rec types.Record
	wrapped := append(append([]byte(`{"v":`), raw...), '}')
	if err := rec.UnmarshalJSON(wrapped); err != nil {
		return nil, err
	}
	v, _ := rec.Get("v")
	return v, nil
}

func isObject(raw []byte) bool { return len(raw) > 0 && raw[0] == '{' }

// isCedarEscape reports whether raw is a Cedar JSON escape ({"__extn": …}
// or {"__entity": …}), which is a value, not a record.
func isCedarEscape(raw []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) != 1 {
		return false
	}
	_, extn := m["__extn"]
	_, ent := m["__entity"]
	return extn || ent
}

// join appends a record key to a path: `.key` for an identifier, `["k y"]`
// otherwise.
func join(path, key string) string {
	ident := key != ""
	for i, r := range key {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			ident = false
			break
		}
	}
	if ident {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return fmt.Sprintf("%s[%q]", path, key)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
