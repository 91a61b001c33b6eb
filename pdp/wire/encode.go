package wire

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/pdp/engine"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// The encoders are for clients and tests, not the server's hot path, so
// they favour deterministic output (sorted set elements, keys and
// parents) over speed: the same value always encodes to the same bytes,
// and the same bad value always gets the same error.
//
// They check what the wire cannot carry exactly (strings that are not
// UTF-8, entity types that are not Cedar names, extension values without a
// text form cedar-go parses back), so that a client learns of it before
// sending; they do not apply Limits, which are the server's to enforce.

// EncodeEntityRef converts an entity UID to its wire form. It fails if
// the type is not a valid Cedar entity type or the id is not UTF-8, which
// the server would refuse.
func EncodeEntityRef(uid types.EntityUID) (*cedargatev1.EntityRef, error) {
	r, fe := encodeRef(uid)
	return r, fe.exported()
}

// EncodeValue converts a Cedar value to its wire form, exactly: decoding
// the result gives a value Equal to v. It fails, naming the path inside v
// (`record["when"].extension`), for a value with no exact wire form.
func EncodeValue(v types.Value) (*cedargatev1.Value, error) {
	pv, fe := encodeValue(v)
	return pv, fe.exported()
}

// EncodeRecord converts a Cedar record (a context, attributes or tags) to
// its wire form, exactly; the empty record gives a nil map.
func EncodeRecord(r types.Record) (map[string]*cedargatev1.Value, error) {
	m, fe := encodeRecord(r)
	return m, fe.exported()
}

// EncodeEntity converts a Cedar entity to its wire form, exactly, parents
// sorted by type and id.
func EncodeEntity(e types.Entity) (*cedargatev1.Entity, error) {
	pe, fe := encodeEntity(e)
	return pe, fe.exported()
}

// EncodeRequest converts an engine request to an AuthorizeRequest,
// exactly: DecodeRequest gives back an equal request, provided it is
// within the server's Limits. r.Time has no wire form and is dropped: the
// server decides at the instant it evaluates.
func EncodeRequest(r *engine.Request) (*cedargatev1.AuthorizeRequest, error) {
	out, fe := encodeRequest(r)
	return out, fe.exported()
}

func encodeRequest(r *engine.Request) (*cedargatev1.AuthorizeRequest, *FieldError) {
	if r == nil {
		return nil, &FieldError{Reason: "request is missing"}
	}
	var out cedargatev1.AuthorizeRequest
	var fe *FieldError
	if out.Principal, fe = encodeRef(r.Principal); fe != nil {
		return nil, fe.under(".principal")
	}
	if out.Action, fe = encodeRef(r.Action); fe != nil {
		return nil, fe.under(".action")
	}
	if out.Resource, fe = encodeRef(r.Resource); fe != nil {
		return nil, fe.under(".resource")
	}
	if out.Context, fe = encodeRecord(r.Context); fe != nil {
		return nil, fe.under(".context")
	}
	for i, e := range r.Entities {
		pe, fe := encodeEntity(e)
		if fe != nil {
			return nil, fe.under(".entities" + indexPath(i))
		}
		out.Entities = append(out.Entities, pe)
	}
	return &out, nil
}

func encodeRef(uid types.EntityUID) (*cedargatev1.EntityRef, *FieldError) {
	if fe := entityType(string(uid.Type)); fe != nil {
		return nil, fe.under(".type")
	}
	if !utf8.ValidString(string(uid.ID)) {
		return nil, notUTF8().under(".id")
	}
	return &cedargatev1.EntityRef{Type: string(uid.Type), Id: string(uid.ID)}, nil
}

func encodeValue(v types.Value) (*cedargatev1.Value, *FieldError) {
	switch v := v.(type) {
	case types.Boolean:
		return &cedargatev1.Value{Kind: &cedargatev1.Value_Boolean{Boolean: bool(v)}}, nil
	case types.Long:
		return &cedargatev1.Value{Kind: &cedargatev1.Value_Long{Long: int64(v)}}, nil
	case types.String:
		if !utf8.ValidString(string(v)) {
			return nil, notUTF8().under(".string")
		}
		return &cedargatev1.Value{Kind: &cedargatev1.Value_String_{String_: string(v)}}, nil
	case types.Set:
		list, fe := encodeSet(v)
		if fe != nil {
			return nil, fe.under(".set")
		}
		return &cedargatev1.Value{Kind: &cedargatev1.Value_Set{Set: &cedargatev1.ValueList{Values: list}}}, nil
	case types.Record:
		m, fe := encodeRecord(v)
		if fe != nil {
			return nil, fe.under(".record")
		}
		return &cedargatev1.Value{Kind: &cedargatev1.Value_Record{Record: &cedargatev1.ValueMap{Values: m}}}, nil
	case types.EntityUID:
		r, fe := encodeRef(v)
		if fe != nil {
			return nil, fe.under(".entity")
		}
		return &cedargatev1.Value{Kind: &cedargatev1.Value_Entity{Entity: r}}, nil
	case types.IPAddr, types.Decimal, types.Datetime, types.Duration:
		fn, arg, ok := extensionArg(v)
		if !ok {
			return nil, (&FieldError{Reason: fn + " value " + Quote(v.String()) +
				" has no text form that cedar-go parses back to it"}).under(".extension")
		}
		return &cedargatev1.Value{Kind: &cedargatev1.Value_Extension{Extension: &cedargatev1.Extension{Fn: fn, Arg: arg}}}, nil
	case nil:
		return nil, &FieldError{Reason: "nil value"}
	}
	// Unreachable: types.Value has an unexported method, so cedar-go's
	// types are all there is.
	return nil, &FieldError{Reason: "unsupported Cedar value " + Quote(v.String())}
}

// encodeSet encodes a set's elements in the order of their Cedar text.
func encodeSet(s types.Set) ([]*cedargatev1.Value, *FieldError) {
	type elem struct {
		text string
		v    types.Value
	}
	elems := make([]elem, 0, s.Len())
	for v := range s.All() {
		elems = append(elems, elem{string(v.MarshalCedar()), v})
	}
	slices.SortFunc(elems, func(a, b elem) int { return strings.Compare(a.text, b.text) })
	list := make([]*cedargatev1.Value, len(elems))
	for i, e := range elems {
		pv, fe := encodeValue(e.v)
		if fe != nil {
			return nil, fe.under(indexPath(i))
		}
		list[i] = pv
	}
	return list, nil
}

func encodeRecord(r types.Record) (map[string]*cedargatev1.Value, *FieldError) {
	if r.Len() == 0 {
		return nil, nil
	}
	m := make(map[string]*cedargatev1.Value, r.Len())
	for _, k := range slices.Sorted(r.Keys()) {
		if !utf8.ValidString(string(k)) {
			return nil, &FieldError{Field: keyPath(string(k)), Reason: "key is not valid UTF-8"}
		}
		v, _ := r.Get(k)
		pv, fe := encodeValue(v)
		if fe != nil {
			return nil, fe.under(keyPath(string(k)))
		}
		m[string(k)] = pv
	}
	return m, nil
}

func encodeEntity(e types.Entity) (*cedargatev1.Entity, *FieldError) {
	var out cedargatev1.Entity
	var fe *FieldError
	if out.Uid, fe = encodeRef(e.UID); fe != nil {
		return nil, fe.under(".uid")
	}
	if out.Attrs, fe = encodeRecord(e.Attributes); fe != nil {
		return nil, fe.under(".attrs")
	}
	parents := slices.SortedFunc(e.Parents.All(), func(a, b types.EntityUID) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID))
	})
	for i, p := range parents {
		r, fe := encodeRef(p)
		if fe != nil {
			return nil, fe.under(".parents" + indexPath(i))
		}
		out.Parents = append(out.Parents, r)
	}
	if out.Tags, fe = encodeRecord(e.Tags); fe != nil {
		return nil, fe.under(".tags")
	}
	return &out, nil
}
