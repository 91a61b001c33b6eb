package wire_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/pdp/wire"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// nested returns inner wrapped in n single-element sets.
func nested(n int, inner *cedargatev1.Value) *cedargatev1.Value {
	for range n {
		inner = set(inner)
	}
	return inner
}

// nestedRecords returns inner wrapped in n records of one key "r".
func nestedRecords(n int, inner *cedargatev1.Value) *cedargatev1.Value {
	for range n {
		inner = record(map[string]*cedargatev1.Value{"r": inner})
	}
	return inner
}

// docs returns n request entities Acme::Doc::"d<i>".
func docs(n int) []*cedargatev1.Entity {
	var out []*cedargatev1.Entity
	for i := range n {
		out = append(out, &cedargatev1.Entity{Uid: ref("Acme::Doc", "d"+strconv.Itoa(i))})
	}
	return out
}

// checkFieldError fails unless err is a *wire.FieldError with exactly the
// given field and a reason containing reason.
func checkFieldError(t *testing.T, err error, field, reason string) {
	t.Helper()
	var fe *wire.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("got error %v (%T), want a *wire.FieldError", err, err)
	}
	if fe.Field != field || !strings.Contains(fe.Reason, reason) {
		t.Fatalf("got %q, want field %q with a reason containing %q", err, field, reason)
	}
	if want := field + ": " + fe.Reason; field != "" && err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestDecodeRequestRefuses(t *testing.T) {
	huge := strings.Repeat("x", wire.DefaultMaxStringBytes+1)
	tests := []struct {
		name   string
		lim    wire.Limits
		edit   func(r *cedargatev1.AuthorizeRequest)
		field  string
		reason string
	}{
		// The three uids.
		{"nil principal", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Principal = nil }, "principal", "required"},
		{"nil action", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Action = nil }, "action", "required"},
		{"nil resource", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Resource = nil }, "resource", "required"},
		{"empty principal type", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Principal.Type = "" }, "principal.type", "required"},
		{"empty resource type", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Resource = ref("", "x") }, "resource.type", "required"},
		{"type with dash", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Principal.Type = "Acme-Corp::User" },
			"principal.type", `"Acme-Corp::User" is not a valid Cedar entity type: segment 1 "Acme-Corp" holds '-' at byte 4`},
		{"type starting with a digit", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Principal.Type = "9User" },
			"principal.type", `"9User" holds '9' at byte 0`},
		{"type with trailing ::", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Action.Type = "Acme::" },
			"action.type", "segment 2 is empty"},
		{"type with leading ::", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Action.Type = "::Action" },
			"action.type", "segment 1 is empty"},
		{"type with single colon", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Resource.Type = "Acme:Doc" },
			"resource.type", `holds ':'`},
		{"type with space", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Resource.Type = "Doc " },
			"resource.type", `holds ' '`},
		{"type with non-ASCII letter", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Resource.Type = "Dokümente" },
			"resource.type", `holds 'ü'`},
		{"type quoted as in Cedar", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Resource.Type = `Acme::Doc::"d1"` },
			"resource.type", `holds '"'`},
		{"reserved type", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Principal.Type = "if" },
			"principal.type", `"if" is a reserved word`},
		{"reserved namespace segment", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Principal.Type = "Acme::in::User" },
			"principal.type", `segment 2 "in" is a reserved word`},
		{"__cedar namespace", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Principal.Type = "__cedar::User" },
			"principal.type", `"__cedar" is a reserved word`},
		{"oversize type", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Principal.Type = "A" + huge },
			"principal.type", "65538 bytes, more than the limit of 65536"},
		{"oversize id", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Resource.Id = huge },
			"resource.id", "65537 bytes, more than the limit of 65536"},
		{"id over a custom limit", wire.Limits{MaxStringBytes: 32}, func(r *cedargatev1.AuthorizeRequest) { r.Resource.Id = strings.Repeat("7", 33) },
			"resource.id", "33 bytes, more than the limit of 32"},
		{"id not UTF-8", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Principal.Id = "\xff" },
			"principal.id", "not valid UTF-8"},

		// Values in the context.
		{"empty value", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context["a"] = &cedargatev1.Value{} },
			`context["a"]`, "value has no kind set"},
		{"nil map value", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context["a"] = nil },
			`context["a"]`, "value has no kind set"},
		{"nil oneof wrapper", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["a"] = &cedargatev1.Value{Kind: (*cedargatev1.Value_Long)(nil)}
		}, `context["a"]`, "value has no kind set"},
		{"empty value in a record", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["a"] = record(map[string]*cedargatev1.Value{"b": {}, "c": long(1)})
		}, `context["a"].record["b"]`, "value has no kind set"},
		{"empty value in a set", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["s"] = set(long(1), &cedargatev1.Value{}, long(2))
		}, `context["s"].set[1]`, "value has no kind set"},
		{"empty value deep inside", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["a"] = record(map[string]*cedargatev1.Value{"b": set(str("x"), record(map[string]*cedargatev1.Value{"c": nil}))})
		}, `context["a"].record["b"].set[1].record["c"]`, "value has no kind set"},
		{"entity value without ref", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["owner"] = &cedargatev1.Value{Kind: &cedargatev1.Value_Entity{}}
		}, `context["owner"].entity`, "required"},
		{"entity value with bad type", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["owner"] = entityValue("User!", "alice")
		}, `context["owner"].entity.type`, `holds '!'`},
		{"oversize string", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context["s"] = str(huge) },
			`context["s"].string`, "65537 bytes, more than the limit of 65536"},
		{"string not UTF-8", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context["s"] = str("a\xc0") },
			`context["s"].string`, "not valid UTF-8"},
		{"oversize key, shown shortened", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context[huge] = long(1) },
			`context["` + huge[:64] + `"…]`, "key of 65537 bytes, more than the limit of 65536"},
		{"key not UTF-8", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context["k\xff"] = long(1) },
			`context["k\xff"]`, "key is not valid UTF-8"},

		// Extensions: the constructor, then each constructor's argument.
		{"unknown extension", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context["x"] = ext("ipaddr", "10.0.0.1") },
			`context["x"].extension.fn`, `"ipaddr" is not a Cedar extension function; want ip, decimal, datetime or duration`},
		{"extension in upper case", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context["x"] = ext("IP", "10.0.0.1") },
			`context["x"].extension.fn`, `"IP" is not a Cedar extension function`},
		{"empty extension fn", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context["x"] = ext("", "10.0.0.1") },
			`context["x"].extension.fn`, "required"},
		{"nil extension", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["x"] = &cedargatev1.Value{Kind: &cedargatev1.Value_Extension{}}
		}, `context["x"].extension.fn`, "required"},
		{"oversize extension arg", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context["x"] = ext("ip", huge) },
			`context["x"].extension.arg`, "65537 bytes"},
	}
	for _, bad := range []struct{ fn, arg, reason string }{
		{"ip", "10.0.0.300", `"10.0.0.300" is not a valid ip (want an IPv4 or IPv6 address or CIDR range`},
		{"ip", "", `"" is not a valid ip`},
		{"ip", "10.0.0.0/33", `"10.0.0.0/33" is not a valid ip`},
		{"ip", "10.0.0.0/08", `"10.0.0.0/08" is not a valid ip`},
		{"ip", "010.0.0.1", `"010.0.0.1" is not a valid ip`},
		{"ip", "::ffff:10.0.0.1", `"::ffff:10.0.0.1" is not a valid ip`},
		{"ip", "fe80::1%eth0", `"fe80::1%eth0" is not a valid ip`},
		{"ip", " 10.0.0.1", `" 10.0.0.1" is not a valid ip`},
		{"ip", "localhost", `"localhost" is not a valid ip`},
		{"decimal", "1.23456", `"1.23456" is not a valid decimal (want an optional "-", digits, "." and 1 to 4 digits`},
		{"decimal", "+1.5", `"+1.5" is not a valid decimal`},
		{"decimal", "1", `"1" is not a valid decimal`},
		{"decimal", "1.", `"1." is not a valid decimal`},
		{"decimal", ".5", `".5" is not a valid decimal`},
		{"decimal", "1e3", `"1e3" is not a valid decimal`},
		{"decimal", "922337203685477.5808", `"922337203685477.5808" is not a valid decimal`},
		{"decimal", "", `"" is not a valid decimal`},
		{"datetime", "2024-02-30", `"2024-02-30" is not a valid datetime (invalid date; want e.g.`},
		{"datetime", "2024-10-15T25:00:00Z", `"2024-10-15T25:00:00Z" is not a valid datetime (hour is greater than 23;`},
		{"datetime", "2024-10-15T11:35:00", `"2024-10-15T11:35:00" is not a valid datetime (unexpected EOF;`},
		{"datetime", "2024-10-15 11:35:00Z", `"2024-10-15 11:35:00Z" is not a valid datetime (unexpected character`},
		{"datetime", "2024-10-15T11:35:60Z", `"2024-10-15T11:35:60Z" is not a valid datetime (second is greater than 59;`},
		{"datetime", "", `"" is not a valid datetime`},
		{"duration", "1h1d", `"1h1d" is not a valid duration (unexpected unit 'd'; want e.g.`},
		{"duration", "10", `"10" is not a valid duration (expected unit;`},
		{"duration", "1.5h", `"1.5h" is not a valid duration (unexpected character '.';`},
		{"duration", "+1h", `"+1h" is not a valid duration`},
		{"duration", "9223372036854775808ms", `is not a valid duration (overflow;`},
		{"duration", "", `"" is not a valid duration (string too short;`},
	} {
		tests = append(tests, struct {
			name   string
			lim    wire.Limits
			edit   func(r *cedargatev1.AuthorizeRequest)
			field  string
			reason string
		}{"bad " + bad.fn + " " + strconv.Quote(bad.arg), wire.Limits{},
			func(r *cedargatev1.AuthorizeRequest) { r.Context["src"] = ext(bad.fn, bad.arg) },
			`context["src"].extension.arg`, bad.reason})
	}
	tests = append(tests, []struct {
		name   string
		lim    wire.Limits
		edit   func(r *cedargatev1.AuthorizeRequest)
		field  string
		reason string
	}{
		// Limits on shape.
		{"sets nested too deep", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context["deep"] = nested(16, long(1)) },
			`context["deep"]` + strings.Repeat(".set[0]", 16), "nested deeper than 16 levels"},
		{"records nested too deep", wire.Limits{MaxDepth: 3}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["deep"] = nestedRecords(3, long(1))
		}, `context["deep"].record["r"].record["r"].record["r"]`, "nested deeper than 3 levels"},
		{"too deep in an attribute", wire.Limits{MaxDepth: 2}, func(r *cedargatev1.AuthorizeRequest) {
			r.Entities = []*cedargatev1.Entity{{Uid: ref("Doc", "d"), Attrs: map[string]*cedargatev1.Value{"a": nested(2, str("x"))}}}
		}, `entities[0].attrs["a"].set[0].set[0]`, "nested deeper than 2 levels"},
		{"too many entities", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Entities = docs(101) },
			"entities", "101 entities, more than the limit of 100"},
		{"too many entities for a custom limit", wire.Limits{MaxEntities: 2}, func(r *cedargatev1.AuthorizeRequest) { r.Entities = docs(3) },
			"entities", "3 entities, more than the limit of 2"},
		{"too many values in a set", wire.Limits{MaxValues: 10}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context = map[string]*cedargatev1.Value{"s": set(long(0), long(1), long(2), long(3), long(4), long(5), long(6), long(7), long(8), long(9), long(10))}
		}, `context["s"].set[9]`, "the request holds more than 10 values"},
		{"too many values over the default", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context = map[string]*cedargatev1.Value{}
			for i := range 10 {
				var vs []*cedargatev1.Value
				for j := range 1000 {
					vs = append(vs, long(int64(j)))
				}
				r.Context[strconv.Itoa(i)] = set(vs...)
			}
		}, `context["9"].set[990]`, "the request holds more than 10000 values"},
		{"too many set elements", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["s"] = record(map[string]*cedargatev1.Value{"t": set(make([]*cedargatev1.Value, 1001)...)})
		}, `context["s"].record["t"].set`, "1001 elements, more than the limit of 1000"},
		{"too many set elements for a custom limit", wire.Limits{MaxSetElements: 2}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["s"] = set(long(1), long(1), long(1))
		}, `context["s"].set`, "3 elements, more than the limit of 2"},
		{"too many parents", wire.Limits{MaxValues: 10}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context = nil
			var ps []*cedargatev1.EntityRef
			for i := range 20 {
				ps = append(ps, ref("Group", strconv.Itoa(i)))
			}
			r.Entities = []*cedargatev1.Entity{{Uid: ref("User", "u"), Parents: ps}}
		}, "entities[0].parents[10]", "the request holds more than 10 values"},

		// Request entities.
		{"nil entity", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Entities = append(docs(1), nil) },
			"entities[1]", "required"},
		{"entity without uid", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Entities = []*cedargatev1.Entity{{}} },
			"entities[0].uid", "required"},
		{"entity with empty type", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Entities = []*cedargatev1.Entity{{Uid: ref("", "d")}}
		}, "entities[0].uid.type", "required"},
		{"empty value in attrs", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Entities = []*cedargatev1.Entity{{Uid: ref("Doc", "d"), Attrs: map[string]*cedargatev1.Value{"owner": {}}}}
		}, `entities[0].attrs["owner"]`, "value has no kind set"},
		{"empty value in tags", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Entities = append(docs(2), &cedargatev1.Entity{Uid: ref("Doc", "t"), Tags: map[string]*cedargatev1.Value{"env": nil}})
		}, `entities[2].tags["env"]`, "value has no kind set"},
		{"bad parent", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Entities = []*cedargatev1.Entity{{Uid: ref("Doc", "d"), Parents: []*cedargatev1.EntityRef{ref("Folder", "f"), ref("Folder::", "g")}}}
		}, "entities[0].parents[1].type", "segment 2 is empty"},
		{"nil parent", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Entities = []*cedargatev1.Entity{{Uid: ref("Doc", "d"), Parents: []*cedargatev1.EntityRef{nil}}}
		}, "entities[0].parents[0]", "required"},
		{"duplicate entity", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Entities = docs(4)
			r.Entities[3].Uid = ref("Acme::Doc", "d1")
		}, "entities[3].uid", `duplicate of entities[1].uid (Acme::Doc::"d1")`},
		{"duplicate among many entities", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Entities = docs(40)
			r.Entities[33].Uid = ref("Acme::Doc", "d5")
			r.Entities[37].Uid = ref("Acme::Doc", "d2")
		}, "entities[33].uid", `duplicate of entities[5].uid (Acme::Doc::"d5")`},
		{"duplicate empty ids", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Entities = []*cedargatev1.Entity{{Uid: ref("Doc", "")}, {Uid: ref("Doc", "")}}
		}, "entities[1].uid", `duplicate of entities[0].uid (Doc::"")`},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := typicalRequest()
			tt.edit(req)
			got, err := wire.DecodeRequest(req, tt.lim)
			if got != nil {
				t.Errorf("got a request %+v along with the error", got)
			}
			checkFieldError(t, err, tt.field, tt.reason)
		})
	}
}

func TestDecodeRequestNil(t *testing.T) {
	_, err := wire.DecodeRequest(nil, wire.Limits{})
	checkFieldError(t, err, "", "request is missing")
}

// TestDecodeRequestErrorIsDeterministic checks that of several bad map
// entries the same one is reported every time, although proto maps, and
// so the first pass, visit them in random order.
func TestDecodeRequestErrorIsDeterministic(t *testing.T) {
	req := typicalRequest()
	for _, k := range []string{"q", "c", "x", "k", "b", "m"} {
		req.Context[k] = &cedargatev1.Value{}
	}
	for range 50 {
		_, err := wire.DecodeRequest(req, wire.Limits{})
		checkFieldError(t, err, `context["b"]`, "value has no kind set")
	}
}

// TestDecodeRequestAtLimits checks that each limit admits what it
// should: the limit itself is allowed, only beyond it is refused.
func TestDecodeRequestAtLimits(t *testing.T) {
	tests := []struct {
		name string
		lim  wire.Limits
		edit func(r *cedargatev1.AuthorizeRequest)
	}{
		{"depth 16", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context["deep"] = nested(15, long(1)) }},
		{"1000 set elements", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			var vs []*cedargatev1.Value
			for i := range 1000 {
				vs = append(vs, long(int64(i)))
			}
			r.Context["s"] = set(vs...)
		}},
		{"100 entities", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Entities = docs(100) }},
		{"string of 64 KiB", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["s"] = str(strings.Repeat("é", wire.DefaultMaxStringBytes/2))
		}},
		{"exactly MaxValues", wire.Limits{MaxValues: 6}, func(r *cedargatev1.AuthorizeRequest) {
			r.Context["s"] = set(long(1))
			r.Entities = []*cedargatev1.Entity{{Uid: ref("Doc", "d"), Parents: []*cedargatev1.EntityRef{ref("Folder", "f")}}}
			delete(r.Context, "mfa")
			delete(r.Context, "method")
		}},
		{"empty id", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Resource.Id = "" }},
		{"id of any characters", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Resource.Id = "a::\"b\" c\n€" }},
		{"underscore type", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Principal.Type = "_::__cedarish::A1" }},
		{"empty context", wire.Limits{}, func(r *cedargatev1.AuthorizeRequest) { r.Context = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := typicalRequest()
			tt.edit(req)
			if _, err := wire.DecodeRequest(req, tt.lim); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

// TestDecodeRequestValues checks what a request decodes to.
func TestDecodeRequestValues(t *testing.T) {
	req := withEntities(typicalRequest(), 1)
	req.Entities[0].Tags = map[string]*cedargatev1.Value{"env": str("prod")}
	got, err := wire.DecodeRequest(req, wire.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	mustParse := func(v types.Value, err error) types.Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	wantCtx := types.NewRecord(types.RecordMap{
		"src_ip":     mustParse(types.ParseIPAddr("10.1.2.3")),
		"now":        mustParse(types.ParseDatetime("2024-10-15T11:35:00Z")),
		"mfa":        types.True,
		"method":     types.String("GET"),
		"request_kb": types.Long(12),
	})
	if got.Principal != types.NewEntityUID("Acme::ServiceAccount", "ledger-bot") ||
		got.Action != types.NewEntityUID("Acme::Action", "read") ||
		got.Resource != types.NewEntityUID("Acme::Service", "payments-api") {
		t.Errorf("uids: got %v %v %v", got.Principal, got.Action, got.Resource)
	}
	if !got.Context.Equal(wantCtx) {
		t.Errorf("context: got %v, want %v", got.Context, wantCtx)
	}
	wantEnt := types.Entity{
		UID:     types.NewEntityUID("Acme::Doc", "d0"),
		Parents: types.NewEntityUIDSet(types.NewEntityUID("Acme::Folder", "f0"), types.NewEntityUID("Acme::Tenant", "t1")),
		Attributes: types.NewRecord(types.RecordMap{
			"owner": types.NewEntityUID("Acme::User", "alice"), "classified": types.True,
			"labels": types.NewSet(types.String("finance"), types.String("q3")), "size": types.Long(0),
		}),
		Tags: types.NewRecord(types.RecordMap{"env": types.String("prod")}),
	}
	if len(got.Entities) != 1 || !got.Entities[0].Equal(wantEnt) {
		t.Errorf("entities: got %v, want %v", got.Entities, wantEnt)
	}
	if !got.Time.IsZero() {
		t.Errorf("time: got %v, want zero", got.Time)
	}
}

func TestDecodeBatch(t *testing.T) {
	bad := typicalRequest()
	bad.Resource.Type = ""
	tests := []struct {
		name   string
		reqs   []*cedargatev1.AuthorizeRequest
		lim    wire.Limits
		field  string
		reason string
		n      int
	}{
		{name: "empty batch", reqs: nil, n: 0},
		{name: "three requests", reqs: []*cedargatev1.AuthorizeRequest{typicalRequest(), typicalRequest(), typicalRequest()}, n: 3},
		{name: "one malformed", reqs: []*cedargatev1.AuthorizeRequest{typicalRequest(), typicalRequest(), typicalRequest(), bad},
			field: "requests[3].resource.type", reason: "required"},
		{name: "nil request", reqs: []*cedargatev1.AuthorizeRequest{typicalRequest(), nil},
			field: "requests[1]", reason: "request is missing"},
		{name: "over the limit", reqs: make([]*cedargatev1.AuthorizeRequest, 101),
			field: "requests", reason: "101 requests, more than the limit of 100"},
		{name: "over a custom limit", reqs: make([]*cedargatev1.AuthorizeRequest, 3), lim: wire.Limits{MaxBatch: 2},
			field: "requests", reason: "3 requests, more than the limit of 2"},
		{name: "limits apply per request", lim: wire.Limits{MaxEntities: 2},
			reqs:  []*cedargatev1.AuthorizeRequest{withEntities(typicalRequest(), 2), withEntities(typicalRequest(), 3)},
			field: "requests[1].entities", reason: "3 entities, more than the limit of 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.DecodeBatch(&cedargatev1.BatchAuthorizeRequest{Requests: tt.reqs}, tt.lim)
			if tt.field == "" {
				if err != nil || len(got) != tt.n {
					t.Fatalf("got %d requests, error %v; want %d, no error", len(got), err, tt.n)
				}
				return
			}
			if got != nil {
				t.Errorf("got %d requests along with the error; the batch is all or nothing", len(got))
			}
			checkFieldError(t, err, tt.field, tt.reason)
		})
	}
}

// TestDecodeHelpers checks the paths of the smaller decoders, which are
// relative to their argument.
func TestDecodeHelpers(t *testing.T) {
	_, err := wire.DecodeEntityRef(ref("", "x"), wire.Limits{})
	checkFieldError(t, err, "type", "required")
	_, err = wire.DecodeValue(record(map[string]*cedargatev1.Value{"b": set(nil)}), wire.Limits{})
	checkFieldError(t, err, `record["b"].set[0]`, "value has no kind set")
	_, err = wire.DecodeValue(nil, wire.Limits{})
	checkFieldError(t, err, "", "value has no kind set")
	_, err = wire.DecodeRecord(map[string]*cedargatev1.Value{"src_ip": ext("ip", "x")}, wire.Limits{})
	checkFieldError(t, err, `["src_ip"].extension.arg`, `"x" is not a valid ip`)
	_, err = wire.DecodeEntity(&cedargatev1.Entity{Uid: ref("Doc", "d"), Attrs: map[string]*cedargatev1.Value{"owner": entityValue("", "a")}}, wire.Limits{})
	checkFieldError(t, err, `attrs["owner"].entity.type`, "required")
	v, err := wire.DecodeValue(ext("decimal", "-0.5"), wire.Limits{})
	if want, _ := types.ParseDecimal("-0.5"); err != nil || !want.Equal(v) {
		t.Errorf("decimal: got %v, %v; want %v", v, err, want)
	}
}
