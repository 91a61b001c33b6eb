package wire_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/cedar-policy/cedar-go/types"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// checkBody decodes body with DecodeRequestBody and, when it takes the
// body, the general way (proto.Unmarshal, then DecodeRequest), which must
// then accept it too and give the same request. It returns whether
// DecodeRequestBody took the body.
func checkBody(t *testing.T, body []byte, lim wire.Limits) bool {
	t.Helper()
	fast, ok := wire.DecodeRequestBody(body, lim)
	if !ok {
		if fast != nil {
			t.Fatalf("declined with a request: %+v", fast)
		}
		return false
	}
	var msg cedargatev1.AuthorizeRequest
	if err := proto.Unmarshal(body, &msg); err != nil {
		t.Fatalf("taken, but proto.Unmarshal refuses it: %v (body %x)", err, body)
	}
	slow, err := wire.DecodeRequest(&msg, lim)
	if err != nil {
		t.Fatalf("taken, but DecodeRequest refuses it: %v (body %x)", err, body)
	}
	sameRequest(t, fast, slow, body)
	return true
}

func sameRequest(t *testing.T, fast, slow *engine.Request, body []byte) {
	t.Helper()
	if fast.Principal != slow.Principal || fast.Action != slow.Action || fast.Resource != slow.Resource ||
		!fast.Context.Equal(slow.Context) || fast.Context.Len() != slow.Context.Len() ||
		len(fast.Entities) != 0 || fast.Entities != nil != (slow.Entities != nil) ||
		fast.EntityMode != slow.EntityMode || !fast.Time.Equal(slow.Time) {
		t.Fatalf("body %x:\nDecodeRequestBody: %+v\ngeneral way:       %+v", body, fast, slow)
	}
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeRequestBodyTakes checks the shapes DecodeRequestBody is for:
// it takes them, and decodes them as the general way does.
func TestDecodeRequestBodyTakes(t *testing.T) {
	for name, req := range map[string]*cedargatev1.AuthorizeRequest{
		"typical":    typicalRequest(),
		"no context": {Principal: ref("A::User", "alice"), Action: ref("A::Action", "read"), Resource: ref("A::Doc", "d")},
		"empty ids":  {Principal: ref("A::User", ""), Action: ref("Action", ""), Resource: ref("A", "")},
		"every scalar kind": {
			Principal: ref("A::User", "ünï"), Action: ref("A::Action", "read"), Resource: ref("A::Doc", "d"),
			Context: map[string]*cedargatev1.Value{
				"t": boolean(true), "f": boolean(false), "zero": long(0), "neg": long(-1), "min": long(-1 << 63),
				"max": long(1<<63 - 1), "s": str(""), "u": str("ünï ✓"), "e": entityValue("A::User", "bob"),
				"ip": ext("ip", "10.0.0.0/8"), "ip6": ext("ip", "::1"), "dec": ext("decimal", "-12.3456"),
				"dt": ext("datetime", "2024-10-15"), "du": ext("duration", "1h30m"), "": str("empty key"),
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			if !checkBody(t, marshal(t, req), wire.Limits{}) {
				t.Fatal("DecodeRequestBody declined it")
			}
		})
	}
}

// TestDecodeRequestBodyUIDsOwnTheirStrings decodes a body whose context
// holds a long string: the context's strings may share the body's copy,
// but the uids, which the decision log keeps until it writes them, must
// not, or a queued entry would keep the whole body alive.
func TestDecodeRequestBodyUIDsOwnTheirStrings(t *testing.T) {
	long := strings.Repeat("x", 64<<10)
	body := marshal(t, &cedargatev1.AuthorizeRequest{
		Principal: ref("A::User", "alice"), Action: ref("A::Action", "read"), Resource: ref("A::Doc", "d"),
		Context: map[string]*cedargatev1.Value{"note": str(long)},
	})
	req, ok := wire.DecodeRequestBody(body, wire.Limits{})
	if !ok {
		t.Fatal("DecodeRequestBody declined it")
	}
	v, _ := req.Context.Get("note")
	note := string(v.(types.String))
	// The body's copy spans the context's string, len(body) bytes at most
	// on either side of it.
	lo := uintptr(unsafe.Pointer(unsafe.StringData(note))) - uintptr(len(body))
	hi := lo + 2*uintptr(len(body))
	for _, s := range []string{string(req.Principal.Type), string(req.Principal.ID), string(req.Action.Type),
		string(req.Action.ID), string(req.Resource.Type), string(req.Resource.ID)} {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); p >= lo && p < hi {
			t.Fatalf("uid string %q lies within the body's copy", s)
		}
	}
	if req.Principal.ID != "alice" || req.Resource.Type != "A::Doc" || req.Action.ID != "read" {
		t.Fatalf("uids %v %v %v", req.Principal, req.Action, req.Resource)
	}
}

// TestDecodeRequestBodyDeclines checks what DecodeRequestBody leaves to
// the general way: every shape it does not read, every malformed body and
// every request DecodeRequest refuses.
func TestDecodeRequestBodyDeclines(t *testing.T) {
	typical := marshal(t, typicalRequest())
	withField := func(num protowire.Number, typ protowire.Type, payload []byte) []byte {
		b := append([]byte{}, typical...)
		b = protowire.AppendTag(b, num, typ)
		if typ == protowire.BytesType {
			return protowire.AppendBytes(b, payload)
		}
		return protowire.AppendVarint(b, 1)
	}
	entry := func(key string, value []byte) []byte {
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, key)
		if value != nil {
			e = protowire.AppendTag(e, 2, protowire.BytesType)
			e = protowire.AppendBytes(e, value)
		}
		return withField(4, protowire.BytesType, e)
	}
	twoCases := protowire.AppendVarint(protowire.AppendTag(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1), 2, protowire.VarintType), 5)
	many := map[string]*cedargatev1.Value{}
	for i := range 17 {
		many[strconv.Itoa(i)] = long(int64(i))
	}
	base := func(f func(r *cedargatev1.AuthorizeRequest)) []byte {
		r := typicalRequest()
		f(r)
		return marshal(t, r)
	}
	for name, tc := range map[string]struct {
		body []byte
		lim  wire.Limits
	}{
		"empty body":        {body: nil},
		"no principal":      {body: base(func(r *cedargatev1.AuthorizeRequest) { r.Principal = nil })},
		"empty action type": {body: base(func(r *cedargatev1.AuthorizeRequest) { r.Action.Type = "" })},
		"bad type name":     {body: base(func(r *cedargatev1.AuthorizeRequest) { r.Resource.Type = "A::" })},
		"entities":          {body: marshal(t, withEntities(typicalRequest(), 1))},
		"set in context":    {body: base(func(r *cedargatev1.AuthorizeRequest) { r.Context["s"] = set(long(1)) })},
		"record in context": {body: base(func(r *cedargatev1.AuthorizeRequest) { r.Context["r"] = record(nil) })},
		"value without kind": {body: base(func(r *cedargatev1.AuthorizeRequest) {
			r.Context["x"] = &cedargatev1.Value{}
		})},
		"bad extension":     {body: base(func(r *cedargatev1.AuthorizeRequest) { r.Context["x"] = ext("ip", "nope") })},
		"unknown extension": {body: base(func(r *cedargatev1.AuthorizeRequest) { r.Context["x"] = ext("regex", "a") })},
		"bad entity value":  {body: base(func(r *cedargatev1.AuthorizeRequest) { r.Context["x"] = entityValue("", "a") })},
		"17 entries":        {body: base(func(r *cedargatev1.AuthorizeRequest) { r.Context = many })},
		"long id":           {body: typical, lim: wire.Limits{MaxStringBytes: 5}},
		"too many values":   {body: typical, lim: wire.Limits{MaxValues: 4}},
		"principal twice":   {body: withField(1, protowire.BytesType, marshal(t, ref("A::User", "x")))},
		"unknown field":     {body: withField(9, protowire.VarintType, nil)},
		"wrong wire type":   {body: withField(2, protowire.VarintType, nil)},
		"repeated key":      {body: entry("mfa", marshal(t, boolean(false)))},
		"entry no value":    {body: entry("x", nil)},
		"two cases":         {body: entry("x", twoCases)},
		"bool of 2":         {body: entry("x", protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 2))},
		"id not UTF-8":      {body: withField(3, protowire.BytesType, []byte("\x0a\x01A\x12\x02\xff\xfe"))},
		"truncated":         {body: typical[:len(typical)-1]},
		"huge length":       {body: withField(1, protowire.BytesType, nil)[:len(typical)+1]},
		"bad varint":        {body: append(append([]byte{}, typical...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)},
		"field zero":        {body: append(append([]byte{}, typical...), 0x02, 0x00)},
	} {
		t.Run(name, func(t *testing.T) {
			if checkBody(t, tc.body, tc.lim) {
				t.Fatal("DecodeRequestBody took it")
			}
		})
	}
}

// TestDecodeRequestBodyCorpus runs the request fuzz corpus (hand-made
// encodings a literal cannot express) through checkBody.
func TestDecodeRequestBodyCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzRequest")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		body := corpusBytes(t, string(data))
		t.Run(f.Name(), func(t *testing.T) { checkBody(t, body, wire.Limits{}) })
	}
}

// corpusBytes reads the []byte of a "go test fuzz v1" file.
func corpusBytes(t *testing.T, file string) []byte {
	t.Helper()
	_, lit, ok := strings.Cut(file, "[]byte(")
	if !ok {
		t.Fatalf("not a []byte corpus file: %q", file)
	}
	s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

// FuzzDecodeRequestBody checks, for any bytes, that DecodeRequestBody
// either declines them or decodes them exactly as the general way does.
func FuzzDecodeRequestBody(f *testing.F) {
	f.Add(marshal(f, typicalRequest()))
	f.Add(marshal(f, withEntities(typicalRequest(), 1)))
	f.Add(marshal(f, &cedargatev1.AuthorizeRequest{Principal: ref("A", "a"), Action: ref("A", "b"), Resource: ref("A", "c"),
		Context: map[string]*cedargatev1.Value{"e": entityValue("A", "x"), "s": str("v"), "n": long(-3), "d": ext("duration", "1d")}}))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkBody(t, body, wire.Limits{})
	})
}

// BenchmarkDecodeRequestBody compares the server's two ways from a
// typical body to an engine request.
func BenchmarkDecodeRequestBody(b *testing.B) {
	body := marshal(b, typicalRequest())
	b.Run("body", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := wire.DecodeRequestBody(body, wire.Limits{}); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("unmarshal+decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var msg cedargatev1.AuthorizeRequest
			if err := proto.Unmarshal(body, &msg); err != nil {
				b.Fatal(err)
			}
			if _, err := wire.DecodeRequest(&msg, wire.Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
