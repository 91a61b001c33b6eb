package wire_test

import (
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cedargate/cedargate/pdp/wire"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// typicalRequest is a service-to-service check as a sidecar sends it: the
// three uids and a context of five entries, among them an ip and a
// datetime.
func typicalRequest() *cedargatev1.AuthorizeRequest {
	return &cedargatev1.AuthorizeRequest{
		Principal: ref("Acme::ServiceAccount", "ledger-bot"),
		Action:    ref("Acme::Action", "read"),
		Resource:  ref("Acme::Service", "payments-api"),
		Context: map[string]*cedargatev1.Value{
			"src_ip":     ext("ip", "10.1.2.3"),
			"now":        ext("datetime", "2024-10-15T11:35:00Z"),
			"mfa":        boolean(true),
			"method":     str("GET"),
			"request_kb": long(12),
		},
	}
}

// withEntities adds n request entities, each a document with a few
// attributes and two parents.
func withEntities(req *cedargatev1.AuthorizeRequest, n int) *cedargatev1.AuthorizeRequest {
	for i := range n {
		id := "d" + strconv.Itoa(i)
		req.Entities = append(req.Entities, &cedargatev1.Entity{
			Uid: ref("Acme::Doc", id),
			Attrs: map[string]*cedargatev1.Value{
				"owner":      entityValue("Acme::User", "alice"),
				"classified": boolean(i%2 == 0),
				"labels":     set(str("finance"), str("q3")),
				"size":       long(int64(1000 * i)),
			},
			Parents: []*cedargatev1.EntityRef{ref("Acme::Folder", "f"+strconv.Itoa(i%3)), ref("Acme::Tenant", "t1")},
		})
	}
	return req
}

// BenchmarkDecodeRequest measures the server's request path after gRPC has
// unmarshalled the message.
func BenchmarkDecodeRequest(b *testing.B) {
	for _, bc := range []struct {
		name string
		req  *cedargatev1.AuthorizeRequest
	}{
		{"typical", typicalRequest()},
		{"entities=10", withEntities(typicalRequest(), 10)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// Decode what arrives off the wire, not the literal: unmarshalled
			// maps and strings are what the server sees.
			data, err := proto.Marshal(bc.req)
			if err != nil {
				b.Fatal(err)
			}
			var req cedargatev1.AuthorizeRequest
			if err := proto.Unmarshal(data, &req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := wire.DecodeRequest(&req, wire.Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeWorstSets measures requests at the default limits whose
// sets are as large as allowed: ordinary elements, and elements chosen to
// collide in cedar-go's Set (Longs 0..499 and decimals 0.0000..0.0499
// hash alike), which is what DefaultMaxSetElements bounds.
func BenchmarkDecodeWorstSets(b *testing.B) {
	for _, colliding := range []bool{false, true} {
		b.Run("colliding="+strconv.FormatBool(colliding), func(b *testing.B) {
			req := typicalRequest()
			req.Context = map[string]*cedargatev1.Value{}
			for i := range 9 {
				var vs []*cedargatev1.Value
				for j := range wire.DefaultMaxSetElements / 2 {
					vs = append(vs, long(int64(j)))
					if colliding {
						vs = append(vs, ext("decimal", "0."+strconv.Itoa(10000 + j)[1:]))
					} else {
						vs = append(vs, long(int64(j+wire.DefaultMaxSetElements)))
					}
				}
				req.Context[strconv.Itoa(i)] = set(vs...)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := wire.DecodeRequest(req, wire.Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
