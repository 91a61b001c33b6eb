package pdp

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
)

// This file makes a request body that is not a valid protobuf message the
// caller's error (INVALID_ARGUMENT) rather than the server's. grpc-go
// decodes a request before any interceptor runs, turns any error of the
// codec into INTERNAL ("grpc: failed to unmarshal the received message"),
// which says the PDP is broken and invites retries, and sends that status
// at once (a handler cannot change it afterwards). So the server gets a
// codec of its own (bodyCodec), and every service it registers (through
// bodyRegistrar) hands that codec a probe: the codec records a failure in
// the probe instead of returning it, and the handler's receive (recvVia)
// returns it as INVALID_ARGUMENT with a documented message, so that the
// half-decoded message is never used. Everything else is grpc's proto
// codec.

// maxReasonBytes bounds the decoder's reason in the message: protobuf's
// reasons are fixed texts ("cannot parse invalid wire-format data") that
// never quote the body, but the bound, and the replacement of anything
// unprintable, keep the trailer small and clean whatever a future decoder
// says.
const maxReasonBytes = 200

// bodyCodec is grpc's proto codec, except that an unmarshal failure into
// a probe is recorded in it. Forced on the PDP's server only
// (grpc.ForceServerCodecV2), so that it changes no other gRPC server or
// client in the process.
type bodyCodec struct{ encoding.CodecV2 }

func newBodyCodec() bodyCodec { return bodyCodec{encoding.GetCodecV2(protocodec.Name)} }

// Name is "proto": the codec handles the content-subtype grpc's does.
func (bodyCodec) Name() string { return protocodec.Name }

// Unmarshal decodes data into v as grpc's proto codec does. When v is a
// probe, a failure is recorded in it, as the INVALID_ARGUMENT status the
// handler answers with, instead of returned: recvVia, which made the
// probe, returns it.
func (c bodyCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if b, ok := v.(*authorizeBody); ok {
		return c.authorize(data, b)
	}
	p, ok := v.(*probe)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	return c.unmarshalProbe(data, p)
}

// unmarshalProbe decodes data into p's message, recording a failure in
// p.
func (c bodyCodec) unmarshalProbe(data mem.BufferSlice, p *probe) error {
	n := data.Len()
	if err := c.CodecV2.Unmarshal(data, p.Message); err != nil {
		p.err = invalidBody(p.Message, n, err)
	}
	return nil
}

// probe is a request message on its way through grpc's receive path: it
// is a proto.Message (the embedded one), so that anything else that sees
// it (grpc's binary log, another codec) sees the request, and it brings
// back the decoding error bodyCodec recorded.
type probe struct {
	proto.Message
	err error
}

// authorizeBody is an Authorize request on its way through grpc's receive
// path. bodyCodec decodes a typical body straight into an engine request
// (wire.DecodeRequestBody), which saves most of the objects, and so the
// CPU, that the generated message and its conversion cost; any other body
// goes the general way, into the probe's message, with the probe's error
// handling, and the handler converts it with wire.DecodeRequest. Either
// way the request, or the error, is the same.
type authorizeBody struct {
	probe
	lim wire.Limits
	// req is the decoded request when wire.DecodeRequestBody took the
	// body, and start when it began to decode it.
	req   *engine.Request
	start time.Time
}

// authorize decodes an Authorize body into b.
func (c bodyCodec) authorize(data mem.BufferSlice, b *authorizeBody) error {
	start := time.Now()
	var body []byte
	if len(data) == 1 {
		body = data[0].ReadOnlyData()
	} else {
		buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
		defer buf.Free()
		body = buf.ReadOnlyData()
	}
	// DecodeRequestBody copies what it keeps: body goes back to grpc's
	// pool once this returns.
	if req, ok := wire.DecodeRequestBody(body, b.lim); ok {
		b.req, b.start = req, start
		return nil
	}
	return c.unmarshalProbe(data, &b.probe)
}

// invalidBody is the status of a body of n bytes that does not decode
// into msg.
func invalidBody(msg proto.Message, n int, err error) error {
	// protobuf-go separates its "proto:" prefix with a space or, in some
	// builds, a no-break space (on purpose, so nobody matches its text):
	// cut either, so the message is the same whatever the build.
	reason := strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0")
	if len(reason) > maxReasonBytes {
		reason = reason[:maxReasonBytes] + "…"
	}
	reason = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, reason)
	return status.Error(codes.InvalidArgument, "request body is not a valid "+string(proto.MessageName(msg))+
		" protobuf message ("+strconv.Itoa(n)+" bytes): "+reason)
}

// recvVia receives a message into m with recv, through a probe, and
// returns the decoding error the probe brought back from bodyCodec, if
// any. A message that is not a proto.Message (no service of ours has one)
// is received as it is.
func recvVia(recv func(any) error, m any) error {
	if b, ok := m.(*authorizeBody); ok {
		if err := recv(b); err != nil {
			return err
		}
		return b.err
	}
	msg, ok := m.(proto.Message)
	if !ok {
		return recv(m)
	}
	p := probe{Message: msg}
	if err := recv(&p); err != nil {
		return err
	}
	return p.err
}

// bodyRegistrar registers services on the PDP's gRPC server with their
// handlers wrapped to receive through recvVia. It is what pdp.New and
// Options.Extra register on; reflection lists what it registered.
type bodyRegistrar struct{ *grpc.Server }

// RegisterService implements grpc.ServiceRegistrar.
func (r bodyRegistrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	r.Server.RegisterService(wrapDesc(desc), impl)
}

// wrapDesc returns a copy of desc whose handlers receive through
// recvVia.
func wrapDesc(desc *grpc.ServiceDesc) *grpc.ServiceDesc {
	out := *desc
	out.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		h := m.Handler
		m.Handler = func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			return h(srv, ctx, func(v any) error { return recvVia(dec, v) }, ic)
		}
		out.Methods[i] = m
	}
	out.Streams = make([]grpc.StreamDesc, len(desc.Streams))
	for i, s := range desc.Streams {
		h := s.Handler
		s.Handler = func(srv any, stream grpc.ServerStream) error { return h(srv, probeStream{stream}) }
		out.Streams[i] = s
	}
	return &out
}

// probeStream receives a stream's messages through recvVia.
type probeStream struct{ grpc.ServerStream }

// RecvMsg implements grpc.ServerStream.
func (s probeStream) RecvMsg(m any) error { return recvVia(s.ServerStream.RecvMsg, m) }
