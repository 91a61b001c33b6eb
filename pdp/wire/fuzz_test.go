package wire_test

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cedargate/cedargate/pdp/wire"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// FuzzRequest feeds arbitrary bytes to the server's path: proto.Unmarshal
// into an AuthorizeRequest, then DecodeRequest. The decoder must never
// panic; a refusal must be a *FieldError that maps to INVALID_ARGUMENT and
// is the same every time; an accepted request must survive a round trip
// through the encoder and the wire unchanged, and is decided against a
// small bundle in every request-entity mode (see shadow_fuzz_test.go):
// entities that shadow the bundle are found exactly, and change nothing
// in the default mode.
//
// Besides the seeds below, testdata/fuzz/FuzzRequest holds hand-made wire
// encodings a Go literal cannot express: a map entry without a value, a
// oneof set twice (the last case wins), a repeated map key, a string that
// is not UTF-8 (proto.Unmarshal refuses it before the decoder runs).
func FuzzRequest(f *testing.F) {
	seeds := []*cedargatev1.AuthorizeRequest{
		typicalRequest(),
		withEntities(typicalRequest(), 2),
		{
			Principal: ref("A", ""), Action: ref("Action", "a"), Resource: ref("A::B", "r"),
			Context: map[string]*cedargatev1.Value{
				"d": ext("decimal", "-12.3456"), "du": ext("duration", "1d2h3m4s5ms"), "ip6": ext("ip", "::ffff:a00:1/120"),
				"dt": ext("datetime", "+000012024-10-15T11:35:00.123-0130"),
				"n":  nested(3, record(map[string]*cedargatev1.Value{"e": entityValue("G", "g"), "": set()})),
			},
			Entities: []*cedargatev1.Entity{{Uid: ref("A::B", "r"), Parents: []*cedargatev1.EntityRef{ref("G", "g"), ref("G", "g")},
				Tags: map[string]*cedargatev1.Value{"t": boolean(false)}}},
		},
		{Principal: ref("if", "x"), Action: ref("Action", "a"), Resource: ref("R", "r"), Context: map[string]*cedargatev1.Value{"x": ext("ip", "10.0.0.300")}},
	}
	seeds = append(seeds, shadowSeeds()...)
	for _, s := range seeds {
		data, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// Small limits, so that the fuzzer reaches every limit with short
	// inputs; strings stay above the 43 bytes of the longest canonical
	// extension text, which re-encoding may produce from a shorter one.
	lim := wire.Limits{MaxEntities: 8, MaxDepth: 6, MaxValues: 200, MaxStringBytes: 128}
	snap := shadowSnapshot(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var req cedargatev1.AuthorizeRequest
		if proto.Unmarshal(data, &req) != nil {
			return
		}
		got, err := wire.DecodeRequest(&req, lim)
		if err != nil {
			var fe *wire.FieldError
			if !errors.As(err, &fe) || fe.Reason == "" {
				t.Fatalf("refusal %v (%T) is not a *wire.FieldError with a reason", err, err)
			}
			if s, _ := status.FromError(wire.Status(err)); s.Code() != codes.InvalidArgument {
				t.Fatalf("refusal %v maps to %v", err, s.Code())
			}
			if _, again := wire.DecodeRequest(&req, lim); again == nil || again.Error() != err.Error() {
				t.Fatalf("refused with %q, then with %v", err, again)
			}
			return
		}
		if _, err := wire.DecodeRequest(&req, wire.Limits{}); err != nil {
			t.Fatalf("accepted under small limits, refused under the defaults: %v", err)
		}
		pr, err := wire.EncodeRequest(got)
		if err != nil {
			t.Fatalf("accepted request does not encode: %v", err)
		}
		back, err := wire.DecodeRequest(overTheWire(t, pr, &cedargatev1.AuthorizeRequest{}), lim)
		if err != nil {
			t.Fatalf("re-encoded request refused: %v", err)
		}
		if !requestsEqual(back, got) {
			t.Fatalf("round trip changed the request:\n got %+v\nwant %+v", back, got)
		}
		checkEntityModes(t, snap, got)
	})
}
