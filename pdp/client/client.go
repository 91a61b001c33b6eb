// Package client is the Go client of a cedargate PDP: it sends Cedar
// requests, written with cedar-go's types, over gRPC and returns the
// decision. Any failure to get an answer is an error, and a caller must
// then deny: the client never turns a failure into an allow.
//
//	conn, _ := grpc.NewClient("pdp:9191", grpc.WithTransportCredentials(creds))
//	c := client.New(conn)
//	d, err := c.Authorize(ctx, client.Request{
//		Principal: types.NewEntityUID("Acme::User", "alice"),
//		Action:    types.NewEntityUID("Acme::Action", "read"),
//		Resource:  types.NewEntityUID("Acme::Database", "ledger"),
//	})
//	if err != nil || !d.Allow { deny }
package client

import (
	"context"
	"fmt"

	"github.com/cedar-policy/cedar-go/types"
	"google.golang.org/grpc"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/cedarjson"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// Client calls a PDP. It is safe for concurrent use.
type Client struct {
	authz pb.AuthorizationServiceClient
	admin pb.AdminServiceClient
}

// New returns a client using conn, which the caller owns and closes.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{authz: pb.NewAuthorizationServiceClient(conn), admin: pb.NewAdminServiceClient(conn)}
}

// Request is one authorization request in cedar-go's types.
type Request struct {
	Principal, Action, Resource types.EntityUID
	// Context is the request context; the zero Record is empty.
	Context types.Record
	// Entities are request-scoped entities: for this request only they
	// replace bundle entities with the same uid.
	Entities []types.Entity
}

// Decision is the PDP's answer.
type Decision struct {
	engine.Decision
	// ID is the decision id, as in the PDP's decision log.
	ID string
	// Bundle is the bundle that decided.
	Bundle bundle.Ref
}

// Authorize asks the PDP to decide r.
func (c *Client) Authorize(ctx context.Context, r Request, opts ...grpc.CallOption) (Decision, error) {
	req, err := encode(r)
	if err != nil {
		return Decision{}, err
	}
	resp, err := c.authz.Authorize(ctx, req, opts...)
	if err != nil {
		return Decision{}, err
	}
	return decode(resp), nil
}

// BatchAuthorize asks the PDP to decide every request against the same
// bundle; the decisions are in the order of the requests.
func (c *Client) BatchAuthorize(ctx context.Context, rs []Request, opts ...grpc.CallOption) ([]Decision, error) {
	req := &pb.BatchAuthorizeRequest{Requests: make([]*pb.AuthorizeRequest, len(rs))}
	for i, r := range rs {
		var err error
		if req.Requests[i], err = encode(r); err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
	}
	resp, err := c.authz.BatchAuthorize(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	if len(resp.GetResponses()) != len(rs) {
		return nil, fmt.Errorf("PDP answered %d of %d requests", len(resp.GetResponses()), len(rs))
	}
	out := make([]Decision, len(rs))
	for i, r := range resp.GetResponses() {
		out[i] = decode(r)
	}
	return out, nil
}

// Status returns what the PDP serves.
func (c *Client) Status(ctx context.Context, opts ...grpc.CallOption) (*pb.GetStatusResponse, error) {
	return c.admin.GetStatus(ctx, &pb.GetStatusRequest{}, opts...)
}

// Schema is the schema of the bundle a PDP serves.
type Schema struct {
	// Bundle is the bundle whose schema this is.
	Bundle bundle.Ref
	// Text is the schema in Cedar's schema format; empty when the bundle
	// has none.
	Text string
}

// Schema returns the schema of the bundle the PDP serves.
func (c *Client) Schema(ctx context.Context, opts ...grpc.CallOption) (Schema, error) {
	resp, err := c.admin.GetSchema(ctx, &pb.GetSchemaRequest{}, opts...)
	if err != nil {
		return Schema{}, err
	}
	b := resp.GetBundle()
	return Schema{Bundle: bundle.Ref{Revision: b.GetRevision(), Digest: b.GetDigest(), Environment: b.GetEnvironment()}, Text: resp.GetSchema()}, nil
}

// Converter returns a converter of request JSON (context, entities, UIDs
// in the short form User/alice) by the schema of the bundle the PDP
// serves, for callers that take requests as JSON:
//
//	conv, err := c.Converter(ctx)
//	r.Principal, err = conv.UID("User/alice")
//	r.Context, err = conv.Context(r.Action, []byte(`{"source_ip": "10.1.1.1"}`))
//
// The converter reflects the bundle active at the call; a service that
// keeps one should refresh it when the revision its decisions report
// changes.
func (c *Client) Converter(ctx context.Context, opts ...grpc.CallOption) (*cedarjson.Converter, bundle.Ref, error) {
	s, err := c.Schema(ctx, opts...)
	if err != nil {
		return nil, bundle.Ref{}, err
	}
	conv, err := cedarjson.NewFromSchemaText([]byte(s.Text), "")
	if err != nil {
		return nil, s.Bundle, fmt.Errorf("the schema of bundle %s: %w", s.Bundle.Revision, err)
	}
	return conv, s.Bundle, nil
}

func encode(r Request) (*pb.AuthorizeRequest, error) {
	return wire.EncodeRequest(&engine.Request{Principal: r.Principal, Action: r.Action, Resource: r.Resource, Context: r.Context, Entities: r.Entities})
}

func decode(resp *pb.AuthorizeResponse) Decision {
	b := resp.GetBundle()
	return Decision{
		Decision: wire.DecodeResponse(resp),
		ID:       resp.GetDecisionId(),
		Bundle:   bundle.Ref{Revision: b.GetRevision(), Digest: b.GetDigest(), Environment: b.GetEnvironment()},
	}
}
