package wire

import (
	"maps"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/pdp/engine"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// DecodeRequest validates req and converts it to an engine request, or
// returns a [*FieldError] naming the first offending field, e.g.
// `principal.type: required`. lim bounds what the request may carry; its
// zero fields take their defaults. The result's Time is zero: the engine
// decides at the instant it evaluates.
//
// The same request always gets the same error, although proto maps have
// no order: a refused request is checked again visiting map keys in order,
// so that a caller who fixes one field sees the next one reliably.
func DecodeRequest(req *cedargatev1.AuthorizeRequest, lim Limits) (*engine.Request, error) {
	lim = lim.withDefaults()
	r, fe := decodeRequest(req, lim)
	if fe != nil {
		return nil, fe.exported()
	}
	return r, nil
}

// DecodeBatch validates and converts every request of a BatchAuthorize
// call. It is all or nothing, as the API promises: if any request is
// malformed, it returns no requests and an error naming that request by
// index, e.g. `requests[3].resource.type: required`. More than
// lim.MaxBatch requests is an error naming `requests`. An empty batch
// gives no requests and no error.
func DecodeBatch(req *cedargatev1.BatchAuthorizeRequest, lim Limits) ([]*engine.Request, error) {
	lim = lim.withDefaults()
	reqs := req.GetRequests()
	if len(reqs) > lim.MaxBatch {
		return nil, &FieldError{Field: "requests", Reason: strconv.Itoa(len(reqs)) +
			" requests, more than the limit of " + strconv.Itoa(lim.MaxBatch)}
	}
	out := make([]*engine.Request, len(reqs))
	for i, r := range reqs {
		dr, fe := decodeRequest(r, lim)
		if fe != nil {
			return nil, fe.under(".requests" + indexPath(i)).exported()
		}
		out[i] = dr
	}
	return out, nil
}

// DecodeEntityRef validates ref and converts it to an entity UID. Paths in
// its errors are relative to ref: `type: required`.
func DecodeEntityRef(ref *cedargatev1.EntityRef, lim Limits) (types.EntityUID, error) {
	return decodeWith(lim, func(d *decoder) (types.EntityUID, *FieldError) { return d.entityRef(ref) })
}

// DecodeValue validates v and converts it to a Cedar value, v being at
// depth 1 for lim.MaxDepth. Paths in its errors are relative to v:
// `record["b"].set[2]: value has no kind set`.
func DecodeValue(v *cedargatev1.Value, lim Limits) (types.Value, error) {
	return decodeWith(lim, func(d *decoder) (types.Value, *FieldError) { return d.value(v, 1) })
}

// DecodeRecord validates a map of Values (a context, attributes or tags)
// and converts it to a Cedar record. Paths in its errors start with the
// key: `["src_ip"].extension.arg: ...`.
func DecodeRecord(m map[string]*cedargatev1.Value, lim Limits) (types.Record, error) {
	return decodeWith(lim, func(d *decoder) (types.Record, *FieldError) { return d.record(m, 1) })
}

// DecodeEntity validates e and converts it to a Cedar entity. Paths in its
// errors are relative to e: `attrs["owner"].entity.type: required`.
func DecodeEntity(e *cedargatev1.Entity, lim Limits) (types.Entity, error) {
	return decodeWith(lim, func(d *decoder) (types.Entity, *FieldError) { return d.entity(e) })
}

// decodeWith runs a decoder for the exported helpers, with the ordered
// second pass on error that DecodeRequest describes. DecodeRequest does
// not use it: calling through a func value moves the decoder to the heap.
func decodeWith[T any](lim Limits, f func(*decoder) (T, *FieldError)) (T, error) {
	lim = lim.withDefaults()
	d := decoder{lim: lim}
	v, fe := f(&d)
	if fe == nil {
		return v, nil
	}
	sd := decoder{lim: lim, sorted: true}
	if _, fe2 := f(&sd); fe2 != nil {
		fe = fe2
	}
	var zero T
	return zero, fe.exported()
}

// decodeRequest decodes one request, with the ordered second pass on
// error.
func decodeRequest(req *cedargatev1.AuthorizeRequest, lim Limits) (*engine.Request, *FieldError) {
	d := decoder{lim: lim, maps: mapPool.Get().(*recordMaps)}
	r, fe := d.request(req)
	mapPool.Put(d.maps)
	if fe == nil {
		return r, nil
	}
	sd := decoder{lim: lim, sorted: true}
	if _, fe2 := sd.request(req); fe2 != nil {
		fe = fe2
	}
	return nil, fe
}

// decoder converts one request. Paths in the errors its methods return
// are relative to the method's argument and start with "." or "[" (or are
// empty), so that each caller only prefixes its own segment.
type decoder struct {
	lim Limits
	// values counts the Values and parents decoded so far, against
	// lim.MaxValues.
	values int
	// sorted visits map entries in key order, for a deterministic error.
	sorted bool
	// maps are scratch maps for records, or nil.
	maps *recordMaps
}

// recordMaps are scratch maps a decoder fills and hands to
// types.NewRecord, which copies them: reusing them saves a map per
// record, the largest allocation of a typical request.
type recordMaps struct{ free []types.RecordMap }

var mapPool = sync.Pool{New: func() any { return &recordMaps{} }}

// maxPooledEntries bounds the maps kept for reuse, so that one huge
// request does not pin its maps' memory.
const maxPooledEntries = 64

// takeMap returns an empty map for n entries.
func (d *decoder) takeMap(n int) types.RecordMap {
	if d.maps != nil && n <= maxPooledEntries {
		if k := len(d.maps.free); k > 0 {
			m := d.maps.free[k-1]
			d.maps.free = d.maps.free[:k-1]
			return m
		}
	}
	return make(types.RecordMap, n)
}

// putMap returns m, no longer referenced, for reuse.
func (d *decoder) putMap(m types.RecordMap) {
	if d.maps != nil && len(m) <= maxPooledEntries {
		clear(m)
		d.maps.free = append(d.maps.free, m)
	}
}

func (d *decoder) request(req *cedargatev1.AuthorizeRequest) (*engine.Request, *FieldError) {
	if req == nil {
		return nil, &FieldError{Reason: "request is missing"}
	}
	p, fe := d.entityRef(req.Principal)
	if fe != nil {
		return nil, fe.under(".principal")
	}
	a, fe := d.entityRef(req.Action)
	if fe != nil {
		return nil, fe.under(".action")
	}
	r, fe := d.entityRef(req.Resource)
	if fe != nil {
		return nil, fe.under(".resource")
	}
	ctx, fe := d.record(req.Context, 1)
	if fe != nil {
		return nil, fe.under(".context")
	}
	ents, fe := d.entities(req.Entities)
	if fe != nil {
		return nil, fe.under(".entities")
	}
	return &engine.Request{Principal: p, Action: a, Resource: r, Context: ctx, Entities: ents}, nil
}

// count charges one Value or parent against lim.MaxValues.
func (d *decoder) count() *FieldError {
	d.values++
	if d.values > d.lim.MaxValues {
		return &FieldError{Reason: "the request holds more than " + strconv.Itoa(d.lim.MaxValues) +
			" values (Values at any depth and entity parents)"}
	}
	return nil
}

func (d *decoder) entityRef(r *cedargatev1.EntityRef) (types.EntityUID, *FieldError) {
	if r == nil {
		return types.EntityUID{}, required()
	}
	// The length first: the name check scans the string.
	if len(r.Type) > d.lim.MaxStringBytes {
		return types.EntityUID{}, tooLong(len(r.Type), d.lim.MaxStringBytes).under(".type")
	}
	if fe := entityType(r.Type); fe != nil {
		return types.EntityUID{}, fe.under(".type")
	}
	if len(r.Id) > d.lim.MaxStringBytes {
		return types.EntityUID{}, tooLong(len(r.Id), d.lim.MaxStringBytes).under(".id")
	}
	if !utf8.ValidString(r.Id) {
		return types.EntityUID{}, notUTF8().under(".id")
	}
	return types.EntityUID{Type: types.EntityType(r.Type), ID: types.String(r.Id)}, nil
}

// noKind is the error of a Value with no case of its oneof set.
func noKind() *FieldError { return &FieldError{Reason: "value has no kind set"} }

// value decodes v, which is at the given depth.
func (d *decoder) value(v *cedargatev1.Value, depth int) (types.Value, *FieldError) {
	if fe := d.count(); fe != nil {
		return nil, fe
	}
	if v == nil {
		return nil, noKind()
	}
	if depth > d.lim.MaxDepth {
		return nil, &FieldError{Reason: "nested deeper than " + strconv.Itoa(d.lim.MaxDepth) + " levels"}
	}
	// A case holding a nil wrapper cannot come from proto.Unmarshal, but
	// can from a message built in-process; it counts as no case.
	switch k := v.Kind.(type) {
	case *cedargatev1.Value_Boolean:
		if k != nil {
			return types.Boolean(k.Boolean), nil
		}
	case *cedargatev1.Value_Long:
		if k != nil {
			return types.Long(k.Long), nil
		}
	case *cedargatev1.Value_String_:
		if k != nil {
			if len(k.String_) > d.lim.MaxStringBytes {
				return nil, tooLong(len(k.String_), d.lim.MaxStringBytes).under(".string")
			}
			if !utf8.ValidString(k.String_) {
				return nil, notUTF8().under(".string")
			}
			return types.String(k.String_), nil
		}
	case *cedargatev1.Value_Set:
		if k != nil {
			s, fe := d.set(k.Set.GetValues(), depth)
			if fe != nil {
				return nil, fe.under(".set")
			}
			return s, nil
		}
	case *cedargatev1.Value_Record:
		if k != nil {
			r, fe := d.record(k.Record.GetValues(), depth+1)
			if fe != nil {
				return nil, fe.under(".record")
			}
			return r, nil
		}
	case *cedargatev1.Value_Entity:
		if k != nil {
			uid, fe := d.entityRef(k.Entity)
			if fe != nil {
				return nil, fe.under(".entity")
			}
			return uid, nil
		}
	case *cedargatev1.Value_Extension:
		if k != nil {
			x, fe := d.extension(k.Extension)
			if fe != nil {
				return nil, fe.under(".extension")
			}
			return x, nil
		}
	}
	return nil, noKind()
}

// set decodes the elements of a set at depth.
func (d *decoder) set(elems []*cedargatev1.Value, depth int) (types.Set, *FieldError) {
	if len(elems) > d.lim.MaxSetElements {
		return types.Set{}, &FieldError{Reason: strconv.Itoa(len(elems)) + " elements, more than the limit of " +
			strconv.Itoa(d.lim.MaxSetElements)}
	}
	// NewSet copies the elements into its own map, so small sets are
	// gathered on the stack.
	var buf [8]types.Value
	vals := buf[:0]
	for i, e := range elems {
		v, fe := d.value(e, depth+1)
		if fe != nil {
			return types.Set{}, fe.under(indexPath(i))
		}
		vals = append(vals, v)
	}
	return types.NewSet(vals...), nil
}

// record decodes a map of Values whose entries are at depth.
func (d *decoder) record(m map[string]*cedargatev1.Value, depth int) (types.Record, *FieldError) {
	if len(m) == 0 {
		return types.Record{}, nil
	}
	rm := d.takeMap(len(m))
	defer d.putMap(rm)
	if d.sorted {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if fe := d.entry(rm, k, m[k], depth); fe != nil {
				return types.Record{}, fe
			}
		}
	} else {
		for k, v := range m {
			if fe := d.entry(rm, k, v, depth); fe != nil {
				return types.Record{}, fe
			}
		}
	}
	// NewRecord copies rm, which can therefore be reused.
	return types.NewRecord(rm), nil
}

// entry decodes one map entry into rm.
func (d *decoder) entry(rm types.RecordMap, k string, v *cedargatev1.Value, depth int) *FieldError {
	if len(k) > d.lim.MaxStringBytes {
		return &FieldError{Field: keyPath(k), Reason: "key of " + strconv.Itoa(len(k)) +
			" bytes, more than the limit of " + strconv.Itoa(d.lim.MaxStringBytes)}
	}
	if !utf8.ValidString(k) {
		return &FieldError{Field: keyPath(k), Reason: "key is not valid UTF-8"}
	}
	val, fe := d.value(v, depth)
	if fe != nil {
		return fe.under(keyPath(k))
	}
	rm[types.String(k)] = val
	return nil
}
