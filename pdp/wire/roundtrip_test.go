package wire_test

import (
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	"google.golang.org/protobuf/proto"

	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// mustIP and friends parse test literals with cedar-go's parsers.
func mustIP(t *testing.T, s string) types.IPAddr {
	t.Helper()
	v, err := types.ParseIPAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustDecimal(t *testing.T, s string) types.Decimal {
	t.Helper()
	v, err := types.ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustDatetime(t *testing.T, s string) types.Datetime {
	t.Helper()
	v, err := types.ParseDatetime(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustDuration(t *testing.T, s string) types.Duration {
	t.Helper()
	v, err := types.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// overTheWire marshals m and unmarshals it into a fresh message, as gRPC
// does between a client and the server.
func overTheWire[M proto.Message](t testing.TB, m M, fresh M) M {
	t.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(data, fresh); err != nil {
		t.Fatal(err)
	}
	return fresh
}

// TestValueRoundTrip encodes values of every kind, sends them over the
// wire and decodes them: the result must equal the original.
func TestValueRoundTrip(t *testing.T) {
	// A 4in6 address in hex is one that cedar-go parses but whose String
	// it does not parse back.
	mapped := types.IPAddr(netip.PrefixFrom(netip.MustParseAddr("::ffff:a00:1"), 128))
	tests := []struct {
		name string
		v    types.Value
	}{
		{"true", types.True},
		{"false", types.False},
		{"long zero", types.Long(0)},
		{"long max", types.Long(math.MaxInt64)},
		{"long min", types.Long(math.MinInt64)},
		{"empty string", types.String("")},
		{"string", types.String("ledger-bot")},
		{"unicode string", types.String("Grüße, 世界 \u0000 \U0001F600")},
		{"empty set", types.NewSet()},
		{"set", types.NewSet(types.Long(1), types.String("a"), types.True)},
		{"set of sets", types.NewSet(types.NewSet(types.Long(1)), types.NewSet(), types.NewSet(types.Long(1), types.Long(2)))},
		{"empty record", types.Record{}},
		{"record", types.NewRecord(types.RecordMap{"a": types.Long(1), "": types.String("empty key"), "with space": types.False})},
		{"nested record", types.NewRecord(types.RecordMap{"r": types.NewRecord(types.RecordMap{"s": types.NewSet(types.NewRecord(nil))})})},
		{"entity", types.NewEntityUID("Acme::Service", "payments-api")},
		{"entity with empty id", types.NewEntityUID("User", "")},
		{"entity with odd id", types.NewEntityUID("A::B::C", `a::"b"\ c`)},
		{"ipv4", mustIP(t, "10.1.2.3")},
		{"ipv4 range", mustIP(t, "10.0.0.0/8")},
		{"ipv4 range with host bits", mustIP(t, "10.1.2.3/8")},
		{"ipv4 /32", mustIP(t, "10.1.2.3/32")},
		{"ipv6", mustIP(t, "2001:db8::1")},
		{"ipv6 range", mustIP(t, "2001:db8::/32")},
		{"ipv6 loopback", mustIP(t, "::1")},
		{"ipv4-compatible ipv6", mustIP(t, "::a00:1")},
		{"ipv4-mapped ipv6 in hex", mustIP(t, "::ffff:a00:1")},
		{"ipv4-mapped ipv6 range in hex", mustIP(t, "::ffff:a00:0/104")},
		{"ipv4-mapped ipv6 built in Go", mapped},
		{"decimal", mustDecimal(t, "12.3456")},
		{"negative decimal", mustDecimal(t, "-0.5")},
		{"decimal max", mustDecimal(t, "922337203685477.5807")},
		{"decimal min", mustDecimal(t, "-922337203685477.5808")},
		{"date", mustDatetime(t, "2024-10-15")},
		{"datetime with offset", mustDatetime(t, "2024-10-15T11:35:00.123+0130")},
		{"datetime before 1970", mustDatetime(t, "1969-12-31T23:59:59.999Z")},
		{"datetime in year 0", mustDatetime(t, "0000-01-01")},
		{"datetime with expanded year", mustDatetime(t, "+000012024-10-15")},
		{"datetime BCE", mustDatetime(t, "-000000001-01-01")},
		{"datetime max", types.NewDatetimeFromMillis(math.MaxInt64)},
		{"datetime lowest parsable", types.NewDatetimeFromMillis(math.MinInt64 + 24*3600*1000)},
		{"datetime from Go", types.NewDatetime(time.Date(2025, 3, 1, 8, 0, 0, 7e6, time.UTC))},
		{"duration", mustDuration(t, "1d2h3m4s5ms")},
		{"zero duration", mustDuration(t, "0ms")},
		{"negative duration", mustDuration(t, "-1ms")},
		{"duration max", types.NewDurationFromMillis(math.MaxInt64)},
		// cedar-go before v1.9.2 wrote math.MinInt64 milliseconds as "-";
		// it now has a text form that parses back to it.
		{"duration min", types.NewDurationFromMillis(math.MinInt64)},
		{"duration min + 1", types.NewDurationFromMillis(math.MinInt64 + 1)},
		{"everything together", types.NewRecord(types.RecordMap{
			"set": types.NewSet(mustIP(t, "::1"), mustDecimal(t, "1.5"), mustDatetime(t, "2024-01-01"), mustDuration(t, "1h"),
				types.NewEntityUID("User", "alice"), types.NewRecord(types.RecordMap{"x": types.Long(-7)})),
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pv, err := wire.EncodeValue(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := wire.DecodeValue(overTheWire(t, pv, &cedargatev1.Value{}), wire.Limits{})
			if err != nil {
				t.Fatalf("decoding %v: %v", pv, err)
			}
			if !got.Equal(tt.v) {
				t.Fatalf("got %v, want %v (wire form %v)", got, tt.v, pv)
			}
		})
	}
}

// TestEntityAndRequestRoundTrip does the same for entities and whole
// requests.
func TestEntityAndRequestRoundTrip(t *testing.T) {
	doc := types.Entity{
		UID:        types.NewEntityUID("Acme::Doc", "d1"),
		Parents:    types.NewEntityUIDSet(types.NewEntityUID("Acme::Folder", "f"), types.NewEntityUID("Acme::Tenant", "")),
		Attributes: types.NewRecord(types.RecordMap{"owner": types.NewEntityUID("Acme::User", "alice"), "size": types.Long(3)}),
		Tags:       types.NewRecord(types.RecordMap{"env": types.String("prod")}),
	}
	bare := types.Entity{UID: types.NewEntityUID("Acme::Folder", "f")}
	for _, e := range []types.Entity{doc, bare} {
		pe, err := wire.EncodeEntity(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.DecodeEntity(overTheWire(t, pe, &cedargatev1.Entity{}), wire.Limits{})
		if err != nil || !got.Equal(e) {
			t.Errorf("entity: got %v, %v; want %v", got, err, e)
		}
	}
	req := &engine.Request{
		Principal: types.NewEntityUID("Acme::User", "alice"),
		Action:    types.NewEntityUID("Acme::Action", "read"),
		Resource:  doc.UID,
		Context:   types.NewRecord(types.RecordMap{"src_ip": mustIP(t, "10.0.0.1"), "now": mustDatetime(t, "2024-10-15")}),
		Entities:  []types.Entity{doc, bare},
		Time:      time.Now(),
	}
	pr, err := wire.EncodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.DecodeRequest(overTheWire(t, pr, &cedargatev1.AuthorizeRequest{}), wire.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !requestsEqual(got, req) {
		t.Errorf("request: got %+v, want %+v", got, req)
	}
	if !got.Time.IsZero() {
		t.Errorf("time crossed the wire: %v", got.Time)
	}
}

// requestsEqual compares what crosses the wire of two requests.
func requestsEqual(a, b *engine.Request) bool {
	if a.Principal != b.Principal || a.Action != b.Action || a.Resource != b.Resource ||
		!a.Context.Equal(b.Context) || len(a.Entities) != len(b.Entities) {
		return false
	}
	for i := range a.Entities {
		if !a.Entities[i].Equal(b.Entities[i]) {
			return false
		}
	}
	return true
}

// TestEncodeRefuses checks that values without an exact wire form are
// refused, with the path inside the value, rather than approximated.
func TestEncodeRefuses(t *testing.T) {
	tests := []struct {
		name   string
		v      types.Value
		field  string
		reason string
	}{
		{"string not UTF-8", types.String("a\xff"), "string", "not valid UTF-8"},
		{"nil", nil, "", "nil value"},
		{"entity type not a Cedar name", types.NewEntityUID("if", "x"), "entity.type", `"if" is a reserved word`},
		{"entity with empty type", types.EntityUID{ID: "x"}, "entity.type", "required"},
		{"entity id not UTF-8", types.NewEntityUID("User", "\xff"), "entity.id", "not valid UTF-8"},
		{"record key not UTF-8", types.NewRecord(types.RecordMap{"ok": types.True, "\xfe": types.True}), `record["\xfe"]`, "key is not valid UTF-8"},
		{"bad value inside a set", types.NewSet(types.String("ok"), types.String("\xff")), "set[1].string", "not valid UTF-8"},
		{"bad value inside a record", types.NewRecord(types.RecordMap{"r": types.NewRecord(types.RecordMap{"s": types.String("\xff")})}),
			`record["r"].record["s"].string`, "not valid UTF-8"},
		// cedar-go's minDatetime is one day later than the int64 range it
		// can hold, so the first day of that range has no parsable text.
		{"datetime min", types.NewDatetimeFromMillis(math.MinInt64), "extension",
			`datetime value "-292275055-05-16T16:47:04.192Z" has no text form that cedar-go parses back to it`},
		{"zero IPAddr", types.IPAddr{}, "extension", `ip value "invalid IP/-1" has no text form`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.EncodeValue(tt.v)
			if got != nil {
				t.Errorf("got %v along with the error", got)
			}
			checkFieldError(t, err, tt.field, tt.reason)
		})
	}
	_, err := wire.EncodeRequest(&engine.Request{Principal: types.NewEntityUID("User", "a"), Action: types.NewEntityUID("Action", "r"),
		Resource: types.NewEntityUID("Doc", "d"), Entities: []types.Entity{{UID: types.NewEntityUID("Doc", "d"),
			Parents: types.NewEntityUIDSet(types.NewEntityUID("Folder", "a"), types.NewEntityUID("Folder::", "b"))}}})
	checkFieldError(t, err, "entities[0].parents[1].type", "segment 2 is empty")
	_, err = wire.EncodeRequest(&engine.Request{Principal: types.NewEntityUID("User", "a")})
	checkFieldError(t, err, "action.type", "required")
	_, err = wire.EncodeEntityRef(types.NewEntityUID("Acme Corp", "x"))
	checkFieldError(t, err, "type", `holds ' '`)
}

// TestEncodeIsDeterministic checks that encoding the same value twice
// gives the same bytes, although cedar-go's sets and records iterate in
// random order.
func TestEncodeIsDeterministic(t *testing.T) {
	var elems []types.Value
	for _, s := range strings.Fields("q w e r t y u i o p a s d f g h j k l z x c v b n m") {
		elems = append(elems, types.String(s), types.NewEntityUID("G", types.String(s)))
	}
	e := types.Entity{UID: types.NewEntityUID("U", "u"), Attributes: types.NewRecord(types.RecordMap{"s": types.NewSet(elems...)})}
	var ps []types.EntityUID
	for _, v := range elems {
		if uid, ok := v.(types.EntityUID); ok {
			ps = append(ps, uid)
		}
	}
	e.Parents = types.NewEntityUIDSet(ps...)
	var first []byte
	for i := range 20 {
		pe, err := wire.EncodeEntity(e)
		if err != nil {
			t.Fatal(err)
		}
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(pe)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = data
		} else if string(data) != string(first) {
			t.Fatal("two encodings of the same entity differ")
		}
	}
}
