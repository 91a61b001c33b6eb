package wire

import (
	"strings"
	"unicode/utf8"

	"github.com/cedar-policy/cedar-go/types"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/cedargate/cedargate/pdp/engine"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// Field numbers of the messages DecodeRequestBody reads (authorization.proto,
// types.proto).
const (
	reqPrincipal, reqAction, reqResource, reqContext = 1, 2, 3, 4
	entryKey, entryValue                             = 1, 2
	refType, refID                                   = 1, 2
	valBoolean, valLong, valString                   = 1, 2, 3
	valEntity, valExtension                          = 6, 7
	extFn, extArg                                    = 1, 2
	// maxBodyEntries is the most context entries DecodeRequestBody takes;
	// a larger context goes the general way.
	maxBodyEntries = 16
)

// DecodeRequestBody decodes the protobuf encoding of an AuthorizeRequest
// straight into an engine request, without the generated message in
// between: the body of a typical call (three uids and a context of
// scalars, entity references and extension values) costs one string copy
// and the record, where proto.Unmarshal and DecodeRequest make some fifty
// objects. It reads only that common, well-formed shape: it returns ok
// false, and nothing else, for any body it does not take (request
// entities, a set or record in the context, an unknown or repeated field,
// a field of the wrong wire type, invalid UTF-8, malformed encoding) and
// for any request DecodeRequest would refuse, so that the caller decodes
// that body the general way (proto.Unmarshal, then DecodeRequest), which
// gives the same request, or the error, as it always has. For a body it
// takes, the result is the one the general way gives.
//
// The context's strings share one copy of body, which the caller may
// reuse once it returns; the uids have a copy of their own (see ownUIDs).
func DecodeRequestBody(body []byte, lim Limits) (req *engine.Request, ok bool) {
	lim = lim.withDefaults()
	s := string(body)
	p := bodyParser{s: s}
	var principal, action, resource cedargatev1.EntityRef
	var seen [reqContext]bool
	var entries [maxBodyEntries]bodyEntry
	n := 0
	for p.more() {
		num, typ := p.tag()
		if typ != protowire.BytesType {
			return nil, false
		}
		msg := p.bytes()
		if p.bad {
			return nil, false
		}
		switch num {
		case reqPrincipal, reqAction, reqResource:
			// A message field given twice is merged by proto.Unmarshal:
			// the general way handles that.
			if seen[num-1] {
				return nil, false
			}
			seen[num-1] = true
			ref := &principal
			if num == reqAction {
				ref = &action
			} else if num == reqResource {
				ref = &resource
			}
			if !parseRef(msg, ref) {
				return nil, false
			}
		case reqContext:
			if n == maxBodyEntries || !parseEntry(msg, &entries[n]) {
				return nil, false
			}
			n++
		default:
			return nil, false
		}
	}
	if p.bad || !seen[reqPrincipal-1] || !seen[reqAction-1] || !seen[reqResource-1] {
		return nil, false
	}
	d := decoder{lim: lim}
	pu, fe := d.entityRef(&principal)
	if fe != nil {
		return nil, false
	}
	au, fe := d.entityRef(&action)
	if fe != nil {
		return nil, false
	}
	ru, fe := d.entityRef(&resource)
	if fe != nil {
		return nil, false
	}
	r := &engine.Request{Principal: pu, Action: au, Resource: ru}
	ownUIDs(&r.Principal, &r.Action, &r.Resource)
	if n == 0 {
		return r, true
	}
	d.maps = mapPool.Get().(*recordMaps)
	defer mapPool.Put(d.maps)
	rm := d.takeMap(n)
	defer d.putMap(rm)
	for i := range entries[:n] {
		e := &entries[i]
		// proto.Unmarshal keeps the last of two entries with one key, and
		// the general way counts only what is kept: leave that to it.
		if _, dup := rm[types.String(e.key)]; dup {
			return nil, false
		}
		v, ok := d.bodyValue(e)
		if !ok || len(e.key) > lim.MaxStringBytes {
			return nil, false
		}
		rm[types.String(e.key)] = v
	}
	// NewRecord copies rm, which can therefore be reused.
	r.Context = types.NewRecord(rm)
	return r, true
}

// bodyEntry is a context entry as the body holds it: its key, and its
// value's one case with that case's payload (the number of a bool or
// long, the text of a string, or the two strings of an entity reference
// or extension).
type bodyEntry struct {
	key  string
	kind protowire.Number
	num  uint64
	a, b string
}

// bodyValue is the Cedar value of e, or ok false where the general way
// would refuse it.
func (d *decoder) bodyValue(e *bodyEntry) (types.Value, bool) {
	if fe := d.count(); fe != nil {
		return nil, false
	}
	switch e.kind {
	case valBoolean:
		return types.Boolean(e.num != 0), true
	case valLong:
		return types.Long(int64(e.num)), true
	case valString:
		if len(e.a) > d.lim.MaxStringBytes {
			return nil, false
		}
		return types.String(e.a), true
	case valEntity:
		uid, fe := d.entityRef(&cedargatev1.EntityRef{Type: e.a, Id: e.b})
		return uid, fe == nil
	case valExtension:
		v, fe := d.extension(&cedargatev1.Extension{Fn: e.a, Arg: e.b})
		return v, fe == nil
	}
	return nil, false
}

// parseRef reads an EntityRef (or an Extension, whose two strings have
// the same numbers) into ref.
func parseRef(s string, ref *cedargatev1.EntityRef) bool {
	a, b, ok := parsePair(s)
	ref.Type, ref.Id = a, b
	return ok
}

// parsePair reads a message of two optional strings, fields 1 and 2, each
// at most once and valid UTF-8.
func parsePair(s string) (a, b string, ok bool) {
	p := bodyParser{s: s}
	var seen [2]bool
	for p.more() {
		num, typ := p.tag()
		if typ != protowire.BytesType || (num != 1 && num != 2) || seen[num-1] {
			return "", "", false
		}
		seen[num-1] = true
		v := p.bytes()
		if p.bad || !utf8.ValidString(v) {
			return "", "", false
		}
		if num == 1 {
			a = v
		} else {
			b = v
		}
	}
	return a, b, !p.bad
}

// parseEntry reads a context map entry: a key and a Value with one case
// set, of a kind DecodeRequestBody takes.
func parseEntry(s string, e *bodyEntry) bool {
	p := bodyParser{s: s}
	var seenKey, seenValue bool
	for p.more() {
		num, typ := p.tag()
		if typ != protowire.BytesType || p.bad {
			return false
		}
		v := p.bytes()
		if p.bad {
			return false
		}
		switch {
		case num == entryKey && !seenKey:
			if !utf8.ValidString(v) {
				return false
			}
			e.key, seenKey = v, true
		case num == entryValue && !seenValue:
			if !parseValue(v, e) {
				return false
			}
			seenValue = true
		default:
			return false
		}
	}
	// Without a key or a value, the entry means "" or a Value with no
	// case: the general way handles both.
	return !p.bad && seenKey && seenValue
}

// parseValue reads a Value with exactly one case set.
func parseValue(s string, e *bodyEntry) bool {
	p := bodyParser{s: s}
	if !p.more() {
		return false
	}
	num, typ := p.tag()
	switch {
	case p.bad:
		return false
	case (num == valBoolean || num == valLong) && typ == protowire.VarintType:
		e.kind, e.num = num, p.varint()
		if num == valBoolean && e.num > 1 {
			// proto.Unmarshal reads any non-zero varint as true; keep to
			// what encoders write.
			return false
		}
	case num == valString && typ == protowire.BytesType:
		e.kind, e.a = num, p.bytes()
		if !utf8.ValidString(e.a) {
			return false
		}
	case (num == valEntity || num == valExtension) && typ == protowire.BytesType:
		v := p.bytes()
		if p.bad {
			return false
		}
		a, b, ok := parsePair(v)
		if !ok {
			return false
		}
		e.kind, e.a, e.b = num, a, b
	default:
		return false
	}
	// A second case (proto.Unmarshal keeps the last) is left to the
	// general way.
	return !p.bad && !p.more()
}

// bodyParser reads protobuf fields from s, a string so that what it
// returns shares s's memory. bad is set at the first malformed field.
type bodyParser struct {
	s   string
	bad bool
}

func (p *bodyParser) more() bool { return !p.bad && len(p.s) > 0 }

func (p *bodyParser) tag() (protowire.Number, protowire.Type) {
	v, n := p.rawVarint()
	num, typ := protowire.DecodeTag(v)
	if n == 0 || num < protowire.MinValidNumber || num > protowire.MaxValidNumber {
		p.bad = true
	}
	return num, typ
}

func (p *bodyParser) varint() uint64 {
	v, _ := p.rawVarint()
	return v
}

// rawVarint reads a varint of at most ten bytes, as protowire does.
func (p *bodyParser) rawVarint() (uint64, int) {
	var v uint64
	for i := 0; i < len(p.s) && i < 10; i++ {
		c := p.s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if i == 9 && c > 1 {
				break
			}
			p.s = p.s[i+1:]
			return v, i + 1
		}
	}
	p.bad = true
	return 0, 0
}

// bytes reads a length-delimited payload.
func (p *bodyParser) bytes() string {
	n, k := p.rawVarint()
	if k == 0 || n > uint64(len(p.s)) {
		p.bad = true
		return ""
	}
	v := p.s[:n]
	p.s = p.s[n:]
	return v
}

// ownUIDs gives uids one copy of their own strings, in place of slices
// of the body's copy: the decision log keeps a decision's uids until it
// writes them, and an entry must not keep the whole body (up to the
// receive limit, several MiB) alive for three short strings.
func ownUIDs(uids ...*types.EntityUID) {
	n := 0
	for _, u := range uids {
		n += len(u.Type) + len(u.ID)
	}
	var b strings.Builder
	b.Grow(n)
	for _, u := range uids {
		b.WriteString(string(u.Type))
		b.WriteString(string(u.ID))
	}
	s := b.String()
	for _, u := range uids {
		t, id := s[:len(u.Type)], s[len(u.Type):len(u.Type)+len(u.ID)]
		s = s[len(t)+len(id):]
		u.Type, u.ID = types.EntityType(t), types.String(id)
	}
}
