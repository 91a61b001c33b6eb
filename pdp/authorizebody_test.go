package pdp

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// TestAuthorizeBodyCodec checks the server codec's two ways for an
// Authorize body: a typical body, in one buffer or split across several,
// is decoded straight into the engine request; a body with request
// entities goes into the message for DecodeRequest; an undecodable body
// is INVALID_ARGUMENT, as for every other method.
func TestAuthorizeBodyCodec(t *testing.T) {
	typical := &pb.AuthorizeRequest{
		Principal: &pb.EntityRef{Type: "App::User", Id: "alice"},
		Action:    &pb.EntityRef{Type: "App::Action", Id: "read"},
		Resource:  &pb.EntityRef{Type: "App::Doc", Id: "plan"},
		Context: map[string]*pb.Value{
			"mfa": {Kind: &pb.Value_Boolean{Boolean: true}},
			"ip":  {Kind: &pb.Value_Extension{Extension: &pb.Extension{Fn: "ip", Arg: "10.1.2.3"}}},
		},
	}
	body, err := proto.Marshal(typical)
	if err != nil {
		t.Fatal(err)
	}
	withEntities := proto.Clone(typical).(*pb.AuthorizeRequest)
	withEntities.Entities = []*pb.Entity{{Uid: &pb.EntityRef{Type: "App::Doc", Id: "draft"}}}
	entitiesBody, err := proto.Marshal(withEntities)
	if err != nil {
		t.Fatal(err)
	}
	want, err := wire.DecodeRequest(typical, wire.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	receive := func(t *testing.T, bufs ...[]byte) *authorizeBody {
		t.Helper()
		b := &authorizeBody{probe: probe{Message: new(pb.AuthorizeRequest)}}
		var data mem.BufferSlice
		for _, p := range bufs {
			data = append(data, mem.SliceBuffer(p))
		}
		if err := recvVia(func(v any) error { return newBodyCodec().Unmarshal(data, v) }, b); err != nil && b.err == nil {
			t.Fatalf("error %v not recorded", err)
		}
		return b
	}
	for name, bufs := range map[string][][]byte{
		"one buffer":    {body},
		"three buffers": {body[:5], body[5:11], body[11:]},
	} {
		t.Run(name, func(t *testing.T) {
			b := receive(t, bufs...)
			if b.err != nil || b.req == nil || b.start.IsZero() {
				t.Fatalf("not decoded straight: req %v, err %v, start %v", b.req, b.err, b.start)
			}
			if b.req.Principal != want.Principal || b.req.Action != want.Action || b.req.Resource != want.Resource ||
				!b.req.Context.Equal(want.Context) {
				t.Fatalf("decoded %+v, want %+v", b.req, want)
			}
			if proto.Size(b.Message) != 0 {
				t.Fatalf("message filled too: %v", b.Message)
			}
		})
	}
	t.Run("request entities", func(t *testing.T) {
		b := receive(t, entitiesBody)
		if b.err != nil || b.req != nil {
			t.Fatalf("req %v, err %v: want the general way", b.req, b.err)
		}
		if !proto.Equal(b.Message, withEntities) {
			t.Fatalf("message %v, want %v", b.Message, withEntities)
		}
	})
	t.Run("undecodable", func(t *testing.T) {
		b := receive(t, []byte{0x0a, 0x05, 0x01})
		if b.req != nil || status.Code(b.err) != codes.InvalidArgument {
			t.Fatalf("req %v, err %v: want INVALID_ARGUMENT", b.req, b.err)
		}
	})
}

// TestAuthorizationDesc checks that the registered service differs from
// the generated one only in Authorize's handler.
func TestAuthorizationDesc(t *testing.T) {
	gen, ours := pb.AuthorizationService_ServiceDesc, authorizationDesc()
	if ours.ServiceName != gen.ServiceName || len(ours.Methods) != len(gen.Methods) || len(ours.Streams) != len(gen.Streams) ||
		ours.Metadata != gen.Metadata {
		t.Fatalf("service changed: %+v", ours)
	}
	replaced := 0
	for i, m := range ours.Methods {
		if m.MethodName != gen.Methods[i].MethodName {
			t.Fatalf("method %d is %s, want %s", i, m.MethodName, gen.Methods[i].MethodName)
		}
		if m.MethodName == "Authorize" {
			replaced++
		}
	}
	if replaced != 1 {
		t.Fatalf("Authorize found %d times", replaced)
	}
	if &gen.Methods[0] == &ours.Methods[0] {
		t.Fatal("the generated descriptor's methods were modified in place")
	}
}
