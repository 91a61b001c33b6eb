package engine

import (
	"bytes"
	"io"
	"strings"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/go-json-experiment/json/jsontext"
)

// Decoding entities dominates building a snapshot of a large bundle, and
// cedar-go's decoder (types.Entity.UnmarshalJSON) goes through reflection,
// intermediate maps and slices for every entity, parent and attribute. The
// entityDecoder below reads the form bundles hold, the one cedar-go's
// MarshalJSON writes, token by token into the same values. It takes no
// decision of its own: whatever is outside that form (an escaped or
// malformed uid, an extension value, a reserved "__" key, an unknown
// member, a number that is not a plain integer, an error of any kind) makes
// it report false, and the caller decodes that entity with cedar-go, which
// gives the exact value or error. TestEntityDecoderAgreesWithCedar and
// FuzzEntityDecoder hold it to that.

// maxFastDepth bounds the nesting of attribute values the entityDecoder
// follows; deeper values are left to cedar-go.
const maxFastDepth = 32

// entityDecoder decodes entities in cedar-go's canonical JSON form. One
// decoder is used by one goroutine at a time.
type entityDecoder struct {
	r   bytes.Reader
	dec *jsontext.Decoder
	// types caches parsed entity type names: a bundle has few types and
	// millions of references to them.
	types map[string]types.EntityType
}

func newEntityDecoder() *entityDecoder {
	d := &entityDecoder{types: map[string]types.EntityType{}}
	d.dec = jsontext.NewDecoder(&d.r)
	return d
}

// decode decodes raw, one JSON entity, into e and reports whether it could;
// when it reports false, e holds nothing useful.
func (d *entityDecoder) decode(raw []byte, e *types.Entity) bool {
	d.r.Reset(raw)
	d.dec.Reset(&d.r)
	if !d.delim('{') {
		return false
	}
	var seen uint8
	for d.dec.PeekKind() == '"' {
		name, err := d.dec.ReadValue()
		if err != nil {
			return false
		}
		var bit uint8
		ok := false
		switch string(name) {
		case `"uid"`:
			bit = 1
			e.UID, ok = d.uid()
		case `"parents"`:
			bit = 2
			e.Parents, ok = d.parents()
		case `"attrs"`:
			bit = 4
			e.Attributes, ok = d.topRecord()
		case `"tags"`:
			bit = 8
			e.Tags, ok = d.topRecord()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	if !d.delim('}') || seen&7 != 7 {
		return false
	}
	_, err := d.dec.ReadToken()
	return err == io.EOF
}

// delim reads the delimiter k ('{', '}', '[' or ']') if it comes next.
func (d *entityDecoder) delim(k jsontext.Kind) bool {
	if d.dec.PeekKind() != k {
		return false
	}
	_, err := d.dec.ReadToken()
	return err == nil
}

// str reads a string value.
func (d *entityDecoder) str() (string, bool) {
	if d.dec.PeekKind() != '"' {
		return "", false
	}
	tok, err := d.dec.ReadToken()
	if err != nil {
		return "", false
	}
	return tok.String(), true
}

// uid reads {"type": T, "id": I}, nothing more.
func (d *entityDecoder) uid() (types.EntityUID, bool) {
	if !d.delim('{') {
		return types.EntityUID{}, false
	}
	var typ, id string
	var seen uint8
	for d.dec.PeekKind() == '"' {
		name, err := d.dec.ReadValue()
		if err != nil {
			return types.EntityUID{}, false
		}
		var bit uint8
		var ok bool
		switch string(name) {
		case `"type"`:
			bit = 1
			typ, ok = d.str()
		case `"id"`:
			bit = 2
			id, ok = d.str()
		}
		if !ok || seen&bit != 0 {
			return types.EntityUID{}, false
		}
		seen |= bit
	}
	if !d.delim('}') || seen != 3 {
		return types.EntityUID{}, false
	}
	t, ok := d.entityType(typ)
	return types.NewEntityUID(t, types.String(id)), ok
}

func (d *entityDecoder) entityType(s string) (types.EntityType, bool) {
	if t, ok := d.types[s]; ok {
		return t, true
	}
	t, err := types.NewEntityType(s)
	if err != nil {
		return "", false
	}
	d.types[s] = t
	return t, true
}

func (d *entityDecoder) parents() (types.EntityUIDSet, bool) {
	if !d.delim('[') {
		return types.EntityUIDSet{}, false
	}
	var uids []types.EntityUID
	for d.dec.PeekKind() == '{' {
		u, ok := d.uid()
		if !ok {
			return types.EntityUIDSet{}, false
		}
		uids = append(uids, u)
	}
	if !d.delim(']') {
		return types.EntityUIDSet{}, false
	}
	return types.NewEntityUIDSet(uids...), true
}

// topRecord reads an entity's attrs or tags: as cedar-go's
// Record.UnmarshalJSON, an empty object is the zero Record.
func (d *entityDecoder) topRecord() (types.Record, bool) {
	if !d.delim('{') {
		return types.Record{}, false
	}
	m, ok := d.members(0, "", false)
	if !ok || len(m) == 0 {
		return types.Record{}, ok
	}
	return types.NewRecord(m), true
}

// members reads the rest of an object whose '{' has been read, and whose
// first name too when hasFirst. Reserved names ("__entity", "__extn" and
// others starting so) are left to cedar-go.
func (d *entityDecoder) members(depth int, first string, hasFirst bool) (types.RecordMap, bool) {
	m := types.RecordMap{}
	name, ok := first, hasFirst
	for {
		if !ok {
			if d.dec.PeekKind() != '"' {
				break
			}
			if name, ok = d.str(); !ok {
				return nil, false
			}
		}
		if strings.HasPrefix(name, "__") {
			return nil, false
		}
		v, valid := d.value(depth + 1)
		if !valid {
			return nil, false
		}
		m[types.String(name)] = v
		ok = false
	}
	return m, d.delim('}')
}

// value reads an attribute value as cedar-go's schemaless decoding does.
func (d *entityDecoder) value(depth int) (types.Value, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	switch d.dec.PeekKind() {
	case '"':
		s, ok := d.str()
		return types.String(s), ok
	case 't', 'f':
		tok, err := d.dec.ReadToken()
		if err != nil {
			return nil, false
		}
		return types.Boolean(tok.Bool()), true
	case '0':
		tok, err := d.dec.ReadToken()
		if err != nil {
			return nil, false
		}
		n, err := tok.Int()
		if err != nil || (n == 0 && tok.String() == "-0") {
			return nil, false
		}
		return types.Long(n), true
	case '[':
		d.delim('[')
		var vals []types.Value
		for d.dec.PeekKind() != ']' {
			v, ok := d.value(depth + 1)
			if !ok {
				return nil, false
			}
			vals = append(vals, v)
		}
		if !d.delim(']') {
			return nil, false
		}
		return types.NewSet(vals...), true
	case '{':
		d.delim('{')
		var first string
		hasFirst := d.dec.PeekKind() == '"'
		if hasFirst {
			var ok bool
			if first, ok = d.str(); !ok {
				return nil, false
			}
		}
		if hasFirst && first == "__entity" {
			// {"__entity": {"type": T, "id": I}}, nothing more.
			u, ok := d.uid()
			if !ok || !d.delim('}') {
				return nil, false
			}
			return u, true
		}
		m, ok := d.members(depth, first, hasFirst)
		if !ok {
			return nil, false
		}
		return types.NewRecord(m), true
	}
	return nil, false
}

// rawEntity is an entity of a bundle as the store's loader first reads
// it: slices of the bundle's JSON, nothing decoded, so that nothing is
// allocated per entity. An entity outside the canonical form is decoded
// whole instead (full), or failed to decode (err).
type rawEntity struct {
	typ, id []byte
	// parents share a buffer of the reading goroutine.
	parents []rawUID
	// attrs and tags are JSON objects; tags is nil when absent.
	attrs, tags []byte
	full        *types.Entity
	err         error
}

// rawUID is an entity uid as slices of the bundle's JSON.
type rawUID struct{ typ, id []byte }

// decodeRaw reads raw, one JSON entity, into e, appending its parents to
// uids, or to a new block once uids is full (e.parents is the part of
// the returned buffer that holds them),
// and reports whether it could: raw must be in the canonical form
// decode takes, with strings free of escapes. It checks the JSON's
// syntax and shape only; types, and attribute values, are checked when
// the loader interns and decodes them.
func (d *entityDecoder) decodeRaw(raw []byte, e *rawEntity, uids []rawUID) ([]rawUID, bool) {
	d.r.Reset(raw)
	d.dec.Reset(&d.r)
	start := len(uids)
	if !d.delim('{') {
		return uids[:start], false
	}
	var seen uint8
	for d.dec.PeekKind() == '"' {
		name, err := d.dec.ReadValue()
		if err != nil {
			return uids[:start], false
		}
		var bit uint8
		ok := false
		switch string(name) {
		case `"uid"`:
			bit = 1
			var u rawUID
			u, ok = d.rawUID(raw)
			e.typ, e.id = u.typ, u.id
		case `"parents"`:
			bit = 2
			if ok = d.delim('['); ok {
				for ok && d.dec.PeekKind() == '{' {
					var u rawUID
					u, ok = d.rawUID(raw)
					if len(uids) == cap(uids) {
						uids, start = newUIDBlock(uids[start:]), 0
					}
					uids = append(uids, u)
				}
				ok = ok && d.delim(']')
			}
		case `"attrs"`:
			bit = 4
			e.attrs, ok = d.rawObject(raw)
		case `"tags"`:
			bit = 8
			e.tags, ok = d.rawObject(raw)
		}
		if !ok || seen&bit != 0 {
			return uids[:start], false
		}
		seen |= bit
	}
	if !d.delim('}') || seen&7 != 7 {
		return uids[:start], false
	}
	if _, err := d.dec.ReadToken(); err != io.EOF {
		return uids[:start], false
	}
	e.parents = uids[start:len(uids):len(uids)]
	return uids, true
}

// uidBlock is how many parents a block of decodeRaw's buffer holds.
const uidBlock = 4096

// newUIDBlock returns a new block for decodeRaw's buffer holding the
// current entity's parents so far, cur. The entities read before keep
// theirs in the old block: growing one buffer instead copied every
// parent of a million entities over and over.
func newUIDBlock(cur []rawUID) []rawUID {
	return append(make([]rawUID, 0, max(uidBlock, 2*len(cur))), cur...)
}

// rawValue reads the next value and returns it as a slice of raw.
func (d *entityDecoder) rawValue(raw []byte) ([]byte, bool) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, false
	}
	end := d.dec.InputOffset()
	return raw[end-int64(len(v)) : end], true
}

// rawObject reads a JSON object.
func (d *entityDecoder) rawObject(raw []byte) ([]byte, bool) {
	if d.dec.PeekKind() != '{' {
		return nil, false
	}
	return d.rawValue(raw)
}

// rawString reads a string without escapes and returns its content.
func (d *entityDecoder) rawString(raw []byte) ([]byte, bool) {
	if d.dec.PeekKind() != '"' {
		return nil, false
	}
	v, ok := d.rawValue(raw)
	if !ok || bytes.IndexByte(v, '\\') >= 0 {
		return nil, false
	}
	return v[1 : len(v)-1], true
}

// rawUID reads {"type": T, "id": I}, nothing more.
func (d *entityDecoder) rawUID(raw []byte) (rawUID, bool) {
	var u rawUID
	if !d.delim('{') {
		return u, false
	}
	var seen uint8
	for d.dec.PeekKind() == '"' {
		name, err := d.dec.ReadValue()
		if err != nil {
			return u, false
		}
		var bit uint8
		var ok bool
		switch string(name) {
		case `"type"`:
			bit = 1
			u.typ, ok = d.rawString(raw)
		case `"id"`:
			bit = 2
			u.id, ok = d.rawString(raw)
		}
		if !ok || seen&bit != 0 {
			return u, false
		}
		seen |= bit
	}
	return u, d.delim('}') && seen == 3
}

// record decodes raw, a JSON object, as cedar-go decodes an entity's
// attrs or tags: with the fast path where it can, with cedar-go where it
// declines.
func (d *entityDecoder) record(raw []byte) (types.Record, error) {
	d.r.Reset(raw)
	d.dec.Reset(&d.r)
	if r, ok := d.topRecord(); ok {
		if _, err := d.dec.ReadToken(); err == io.EOF {
			return r, nil
		}
	}
	var r types.Record
	err := r.UnmarshalJSON(raw)
	return r, err
}
