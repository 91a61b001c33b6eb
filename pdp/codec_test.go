package pdp_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/extauthz"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// rawCodec sends a []byte as the message body, whatever it holds, and
// receives the body as a []byte: a client that can send what no protobuf
// library would.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// TestUndecodableBodyIsInvalidArgument sends bodies that are not protobuf
// messages over real gRPC to every service a PDP serves, and checks that
// each is refused with INVALID_ARGUMENT and the documented message, which
// does not echo the body; and that the same services still answer
// well-formed requests on the same connection.
func TestUndecodableBodyIsInvalidArgument(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	m, err := extauthz.NewMapper(extauthz.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, st, func(o *pdp.Options) { o.Extra = extauthz.Extra(m, slog.New(slog.NewTextHandler(io.Discard, nil))) })

	// A principal whose id is not UTF-8: well-formed wire data that
	// proto.Unmarshal refuses; the marker must not come back.
	notUTF8 := []byte("\n\x15\n\nDocs::User\x12\x07SECRET\xff")
	tests := []struct {
		name    string
		method  string
		body    []byte
		message string
	}{
		{"truncated", "/cedargate.v1.AuthorizationService/Authorize", []byte{0x0a, 0xff},
			"request body is not a valid cedargate.v1.AuthorizeRequest protobuf message (2 bytes): cannot parse invalid wire-format data"},
		{"wrong wire type", "/cedargate.v1.AuthorizationService/Authorize", []byte{0x0d, 1, 2, 3},
			"request body is not a valid cedargate.v1.AuthorizeRequest protobuf message (4 bytes): cannot parse invalid wire-format data"},
		{"not UTF-8", "/cedargate.v1.AuthorizationService/Authorize", notUTF8,
			"request body is not a valid cedargate.v1.AuthorizeRequest protobuf message (23 bytes): string field contains invalid UTF-8"},
		{"batch", "/cedargate.v1.AuthorizationService/BatchAuthorize", []byte("\x0a\x05SECRET"),
			"request body is not a valid cedargate.v1.BatchAuthorizeRequest protobuf message (8 bytes): "},
		{"status", "/cedargate.v1.AdminService/GetStatus", []byte{0xff, 0xff, 0xff},
			"request body is not a valid cedargate.v1.GetStatusRequest protobuf message (3 bytes): "},
		{"health", "/grpc.health.v1.Health/Check", []byte{0x0a},
			"request body is not a valid grpc.health.v1.HealthCheckRequest protobuf message (1 bytes): "},
		{"ext_authz", "/envoy.service.auth.v3.Authorization/Check", []byte{0x0a, 0x80},
			"request body is not a valid envoy.service.auth.v3.CheckRequest protobuf message (2 bytes): "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out []byte
			err := h.conn.Invoke(context.Background(), tt.method, tt.body, &out, grpc.ForceCodecV2(rawCodec{}))
			s := status.Convert(err)
			if s.Code() != codes.InvalidArgument || !strings.HasPrefix(s.Message(), tt.message) {
				t.Fatalf("got %v: %q\nwant InvalidArgument: %q...", s.Code(), s.Message(), tt.message)
			}
			if strings.Contains(s.Message(), "SECRET") || strings.Contains(s.Message(), "\ufffd") {
				t.Fatalf("the message echoes the body: %q", s.Message())
			}
		})
	}

	// A stream: reflection receives through the same codec.
	stream, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil || len(resp.GetListServicesResponse().GetService()) < 5 {
		t.Fatalf("reflection: %v, %v", resp, err)
	}
	raw, err := h.conn.NewStream(context.Background(), &reflectionpb.ServerReflection_ServiceDesc.Streams[0],
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.SendMsg([]byte{0x22, 0x05, 'x'}); err != nil {
		t.Fatal(err)
	}
	var out []byte
	if err := raw.RecvMsg(&out); status.Code(err) != codes.InvalidArgument ||
		!strings.HasPrefix(status.Convert(err).Message(), "request body is not a valid grpc.reflection.v1.ServerReflectionRequest protobuf message") {
		t.Fatalf("garbage on the reflection stream: %v", err)
	}

	// Well-formed requests still decode, on the same connection.
	if d, err := h.client.Authorize(context.Background(), readPlan()); err != nil || !d.Allow {
		t.Fatalf("Authorize after garbage: %+v, %v", d, err)
	}
	if hs, err := healthpb.NewHealthClient(h.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil ||
		hs.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v", hs, err)
	}
	if _, err := authv3.NewAuthorizationClient(h.conn).Check(context.Background(), &authv3.CheckRequest{}); err != nil {
		t.Fatalf("ext_authz Check of an empty request is an OK RPC (a refusal in its status), got %v", err)
	}
	// And a body over the size limit is still RESOURCE_EXHAUSTED, before
	// any decoding.
	big := make([]byte, pdp.DefaultMaxRecvMsgBytes+1)
	var sink []byte
	err = h.conn.Invoke(context.Background(), "/cedargate.v1.AuthorizationService/Authorize", big, &sink, grpc.ForceCodecV2(rawCodec{}))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized body: %v", err)
	}
	// The body the table sends as "not UTF-8" is what the test means it
	// to be: valid wire data with an invalid string.
	var probe pb.AuthorizeRequest
	if err := (proto.UnmarshalOptions{}).Unmarshal(notUTF8, &probe); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("the not-UTF-8 body unmarshals with %v", err)
	}
}
