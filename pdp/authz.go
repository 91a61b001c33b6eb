package pdp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cedargate/cedargate/pdp/decisionlog"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// errUnavailable is what callers get while no bundle is active: the PDP
// never guesses a decision.
var errUnavailable = status.Error(codes.Unavailable, "no active bundle: the PDP has not activated a bundle yet")

// errStale is what callers get while the bundle source has not been
// confirmed for longer than --max-staleness: the replica fails closed
// rather than decide with a bundle that may have been rolled back.
var errStale = status.Error(codes.Unavailable, "stale: the PDP has not confirmed its bundle source for longer than --max-staleness")

// authzService decides requests against the served snapshot.
type authzService struct {
	pb.UnimplementedAuthorizationServiceServer
	r       *reloader
	limits  wire.Limits
	metrics *metrics
	log     *decisionlog.Log // nil when decision logging is off
	// mustLog refuses to answer decisions the log refused (record).
	mustLog bool
	ids     *idSource
	// entityMode is what a request entity whose uid the bundle defines
	// does (Options.RequestEntities).
	entityMode engine.EntityMode
	// clock gives the decision instant; latency is measured on the
	// monotonic wall clock whatever it says.
	clock func() time.Time
}

// Authorize implements AuthorizationServiceServer.
func (a *authzService) Authorize(ctx context.Context, req *pb.AuthorizeRequest) (*pb.AuthorizeResponse, error) {
	return a.authorize(ctx, req, nil, time.Now())
}

// authorizeBody answers an Authorize call that the server's codec
// received (see authorizeBody): decoded already, or to decode from its
// message.
func (a *authzService) authorizeBody(ctx context.Context, b *authorizeBody) (*pb.AuthorizeResponse, error) {
	if b.req != nil {
		return a.authorize(ctx, nil, b.req, b.start)
	}
	return a.authorize(ctx, b.Message.(*pb.AuthorizeRequest), nil, time.Now())
}

// authorize decides one request: ereq, or else req once decoded. start
// is when the request was received.
func (a *authzService) authorize(ctx context.Context, req *pb.AuthorizeRequest, ereq *engine.Request, start time.Time) (*pb.AuthorizeResponse, error) {
	cur, err := a.admit(ctx)
	if err != nil {
		return nil, err
	}
	if ereq == nil {
		if ereq, err = wire.DecodeRequest(req, a.limits); err != nil {
			return nil, wire.Status(err)
		}
	}
	if err := a.prepare(cur, []*engine.Request{ereq}, "", a.clock()); err != nil {
		return nil, wire.Status(err)
	}
	d, id, e := a.decide(cur, ereq, start, a.caller(ctx))
	if err := a.record(ctx, e); err != nil {
		return nil, err
	}
	return wire.EncodeResponse(d, id, cur.wire), nil
}

// authorizationDesc is the AuthorizationService as the PDP registers it:
// Authorize receives through an authorizeBody, so that a typical body
// skips the generated message (see authorizeBody).
func authorizationDesc() *grpc.ServiceDesc {
	desc := pb.AuthorizationService_ServiceDesc
	desc.Methods = slices.Clone(desc.Methods)
	for i, m := range desc.Methods {
		if m.MethodName == "Authorize" {
			desc.Methods[i].Handler = authorizeHandler
		}
	}
	return &desc
}

// authorizeHandler is Authorize's method handler, as the generated one but
// for the message it receives into.
func authorizeHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	a := srv.(*authzService)
	in := &authorizeBody{probe: probe{Message: new(pb.AuthorizeRequest)}, lim: a.limits}
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return a.authorizeBody(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: pb.AuthorizationService_Authorize_FullMethodName}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return a.authorizeBody(ctx, req.(*authorizeBody))
	})
}

// BatchAuthorize implements AuthorizationServiceServer: every request of
// the batch is decided against the same snapshot, at the same instant, so
// the answers are consistent with each other even across a grant's expiry.
func (a *authzService) BatchAuthorize(ctx context.Context, req *pb.BatchAuthorizeRequest) (*pb.BatchAuthorizeResponse, error) {
	start := time.Now()
	cur, err := a.admit(ctx)
	if err != nil {
		return nil, err
	}
	reqs, err := wire.DecodeBatch(req, a.limits)
	if err != nil {
		return nil, wire.Status(err)
	}
	if err := a.prepare(cur, reqs, "requests", a.clock()); err != nil {
		return nil, wire.Status(err)
	}
	resp := &pb.BatchAuthorizeResponse{Bundle: cur.wire, Responses: make([]*pb.AuthorizeResponse, len(reqs))}
	caller := a.caller(ctx)
	var entries []decisionlog.Entry
	if a.log != nil {
		entries = make([]decisionlog.Entry, 0, len(reqs))
	}
	for i, r := range reqs {
		// A batch that outlives its deadline stops: the caller is gone,
		// and a partial batch is never returned. Its decisions made so
		// far are logged: they were made.
		if err := ctx.Err(); err != nil {
			_ = a.record(ctx, entries...)
			return nil, wire.Status(err)
		}
		d, id, e := a.decide(cur, r, start, caller)
		if a.log != nil {
			entries = append(entries, e)
		}
		resp.Responses[i] = wire.EncodeResponse(d, id, cur.wire)
	}
	// One Record for the whole batch: in sync mode it waits once.
	if err := a.record(ctx, entries...); err != nil {
		return nil, err
	}
	return resp, nil
}

// admit starts every decision, from any front end: it takes the served
// snapshot once (a reload during the request does not change what decides
// it) and fails closed when there is none or the caller has gone.
func (a *authzService) admit(ctx context.Context) (*served, error) {
	cur := a.r.current.Load()
	if cur == nil {
		return nil, errUnavailable
	}
	if a.r.health.stale.Load() {
		return nil, errStale
	}
	if err := ctx.Err(); err != nil {
		return nil, wire.Status(err)
	}
	return cur, nil
}

// prepare makes decoded requests ready to decide against cur: refused
// when a request entity shadows the bundle as the deployment's
// request-entity mode does not allow, checked against the schema when the
// server validates requests, and all given that mode and the decision
// instant now. field names the list the requests came in (for
// error paths such as requests[3].entities[0]), empty for one request.
func (a *authzService) prepare(cur *served, reqs []*engine.Request, field string, now time.Time) error {
	for i, r := range reqs {
		r.EntityMode = a.entityMode
		err := shadowing(cur.snap, r, a.entityMode)
		if err == nil {
			err = cur.check(r)
		}
		if err != nil {
			if field != "" {
				// Built only for a refused request: no fmt on the hot path.
				err.Field = strings.TrimSuffix(fmt.Sprintf("%s[%d].%s", field, i, err.Field), ".")
			}
			return err
		}
		r.Time = now
	}
	return nil
}

// decide decides one prepared request against cur and counts it. It
// returns the decision, its id and its decision log entry, with cur's
// revision (none when the log is off), for the caller to record before
// answering. start is when the request (for a batch, the whole batch) was
// received: the latency recorded is how long the caller has waited for
// this decision. caller is who made the request, as a.caller found it.
func (a *authzService) decide(cur *served, req *engine.Request, start time.Time, caller string) (engine.Decision, string, decisionlog.Entry) {
	d := cur.snap.Decide(req)
	id := a.ids.next()
	latency := time.Since(start)
	a.metrics.decided(&d)
	a.metrics.duration.Observe(latency.Seconds())
	if a.log == nil {
		return d, id, decisionlog.Entry{}
	}
	e := decisionlog.Entry{DecisionID: id, Time: req.Time, Principal: req.Principal, Action: req.Action, Resource: req.Resource,
		Allow: d.Allow, Bundle: cur.ref, Errors: d.Errors, Latency: latency, Caller: caller}
	if len(d.Reasons) > 0 {
		e.Policies = make([]string, len(d.Reasons))
		for i, r := range d.Reasons {
			e.Policies[i] = r.ID
		}
	}
	return d, id, e
}

// check validates a request against the schema when the server validates
// requests; the error's field is relative to the request. A request
// entity is checked as the decision will see it (merged into the bundle's
// in merge-attributes mode), so that sending only the attributes to add
// is valid.
func (s *served) check(req *engine.Request) *wire.FieldError {
	if s.validator == nil {
		return nil
	}
	err := s.validator.Request(types.Request{Principal: req.Principal, Action: req.Action, Resource: req.Resource, Context: req.Context})
	if err != nil {
		// The validator says only that the context is invalid; name the
		// field, as INVALID_ARGUMENT errors do. It checks the principal
		// and resource first, so their errors are left as they are.
		if fe := s.schema.CheckContext(req.Action, req.Context); fe != nil && strings.HasPrefix(err.Error(), "context ") {
			return &wire.FieldError{Field: fe.Path, Reason: fe.Reason}
		}
		return &wire.FieldError{Reason: "request does not match the schema: " + err.Error()}
	}
	for i, e := range req.Entities {
		if err := s.validator.Entity(s.snap.Layered(e, req.EntityMode)); err != nil {
			return &wire.FieldError{Field: fmt.Sprintf("entities[%d]", i), Reason: fmt.Sprintf("%s does not match the schema: %v", e.UID, err)}
		}
	}
	return nil
}

// idSource makes decision ids: a random prefix per process and a counter,
// rendered as 32 hex digits. Unique across replicas without coordination,
// and cheap on the request path (no crypto/rand per decision).
type idSource struct {
	prefix [8]byte
	n      atomic.Uint64
}

func newIDSource() *idSource {
	s := &idSource{}
	_, _ = rand.Read(s.prefix[:])
	return s
}

func (s *idSource) next() string {
	var b [16]byte
	copy(b[:8], s.prefix[:])
	binary.BigEndian.PutUint64(b[8:], s.n.Add(1))
	return hex.EncodeToString(b[:])
}
