package extauthz

import (
	"context"
	"errors"
	"log/slog"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/prometheus/client_golang/prometheus"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
)

// Decider decides a request exactly as the PDP's Authorize does: counted,
// logged, against one snapshot. [*pdp.Server] is the one that serves.
type Decider interface {
	Decide(ctx context.Context, build func(snap *engine.Snapshot, now time.Time) (*engine.Request, error)) (pdp.Result, error)
}

var _ Decider = (*pdp.Server)(nil)

// Service implements Envoy's envoy.service.auth.v3.Authorization on a
// Decider.
type Service struct {
	authv3.UnimplementedAuthorizationServer
	m   *Mapper
	d   Decider
	log *slog.Logger
	// refusals counts requests answered without a decision, by reason
	// (invalid: malformed or oversized; refused: not mapped), which the
	// decision metrics and log cannot show.
	refusals *prometheus.CounterVec
	// invalid and unmapped are refusals' two series, curried once so that
	// a refusal does not look its label up (and so that both series exist,
	// at zero, from the start).
	invalid, unmapped prometheus.Counter
}

var _ authv3.AuthorizationServer = (*Service)(nil)

// NewService returns the Check service that maps requests with m and
// decides them with d. log receives refusals (at debug level: a client can
// cause them at any rate) and internal errors.
func NewService(m *Mapper, d Decider, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	refusals := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cedargate_extauthz_refusals_total",
		Help: "ext_authz requests answered without a decision, by reason: invalid (malformed or oversized) or refused (not mapped).",
	}, []string{"reason"})
	return &Service{m: m, d: d, log: log, refusals: refusals,
		invalid:  refusals.WithLabelValues("invalid"),
		unmapped: refusals.WithLabelValues("refused"),
	}
}

// Extra returns a function for pdp.Options.Extra that registers the Check
// service on the PDP's gRPC server, deciding with that PDP, and its
// refusal counter on the PDP's metrics. The server reports the service's
// health ("envoy.service.auth.v3.Authorization") as SERVING exactly while
// a bundle is active.
func Extra(m *Mapper, log *slog.Logger) func(grpc.ServiceRegistrar, *pdp.Server) {
	return func(g grpc.ServiceRegistrar, s *pdp.Server) {
		svc := NewService(m, s, log)
		s.Registerer().MustRegister(svc.refusals)
		authv3.RegisterAuthorizationServer(g, svc)
	}
}

// MetadataNamespace is where Envoy files the dynamic metadata of a
// CheckResponse: access logs read it as
// %DYNAMIC_METADATA(envoy.filters.http.ext_authz:decision_id)%.
const MetadataNamespace = "envoy.filters.http.ext_authz"

// Check implements authv3.AuthorizationServer.
//
// The outcome travels in two ways, and which one is chosen is what makes
// the adapter fail closed. A decision, and a refusal of a request that is
// malformed, oversized or not mapped, is an OK RPC whose CheckResponse
// status is OK (allow), PERMISSION_DENIED (403) or INVALID_ARGUMENT (400):
// Envoy enforces it whatever failure_mode_allow says, so no client can
// turn its own bad request into a pass. When no decision can be made (no
// active bundle, an internal error, a deadline) the RPC itself fails with
// UNAVAILABLE, INTERNAL or DEADLINE_EXCEEDED; Envoy then applies
// failure_mode_allow (false: deny with status_on_error).
func (s *Service) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	var (
		built *engine.Request
		ref   bundle.Ref
	)
	res, err := s.d.Decide(ctx, func(snap *engine.Snapshot, now time.Time) (*engine.Request, error) {
		ref = snap.Ref()
		r, err := s.m.Build(snap, req, now)
		built = r
		return r, err
	})
	if err != nil {
		var fe *wire.FieldError
		switch {
		case errors.As(err, &fe):
			s.log.Debug("ext_authz: malformed request refused", "error", fe.Error(), "revision", ref.Revision)
			return s.refused(codes.InvalidArgument, typev3.StatusCode_BadRequest, "invalid", s.invalid, fe.Error(), ref), nil
		case IsRefusal(err):
			s.log.Debug("ext_authz: request refused", "reason", err.Error(), "revision", ref.Revision)
			return s.refused(codes.PermissionDenied, typev3.StatusCode_Forbidden, "refused", s.unmapped, err.Error(), ref), nil
		}
		st := wire.Status(err)
		if status.Code(st) == codes.Internal {
			s.log.Error("ext_authz: no decision", "error", err.Error())
		}
		return nil, st
	}
	return s.decided(res, built), nil
}

// decided is the CheckResponse of a Cedar decision.
func (s *Service) decided(res pdp.Result, req *engine.Request) *authv3.CheckResponse {
	word := "deny"
	if res.Allow {
		word = "allow"
	}
	policies := make([]any, len(res.Reasons))
	for i, r := range res.Reasons {
		policies[i] = r.ID
	}
	md := metadata(map[string]any{
		"decision":    word,
		"decision_id": res.ID,
		"revision":    res.Bundle.Revision,
		"digest":      res.Bundle.Digest,
		"environment": res.Bundle.Environment,
		"principal":   req.Principal.String(),
		"action":      req.Action.String(),
		"resource":    req.Resource.String(),
		"policies":    policies,
	})
	var idHeader []*corev3.HeaderValueOption
	if h := s.m.DecisionHeader(); h != "" {
		idHeader = []*corev3.HeaderValueOption{header(h, res.ID)}
	}
	if res.Allow {
		return &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
				Headers:              idHeader,
				ResponseHeadersToAdd: idHeader,
			}},
			DynamicMetadata: md,
		}
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied), Message: "denied by policy (decision " + res.ID + ")"},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden},
			Headers: append(idHeader, header("content-type", "text/plain; charset=utf-8")),
			Body:    "access denied\n",
		}},
		DynamicMetadata: md,
	}
}

// refused is the CheckResponse of a request refused without a decision.
// The reason goes to Envoy (status message and metadata, for its logs),
// never to the client: the client gets a bare 400 or 403. n is the
// refusals series of word, which it counts.
func (s *Service) refused(code codes.Code, httpCode typev3.StatusCode, word string, n prometheus.Counter, reason string, ref bundle.Ref) *authv3.CheckResponse {
	n.Inc()
	body := "access denied\n"
	if httpCode == typev3.StatusCode_BadRequest {
		body = "bad request\n"
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code), Message: reason},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: httpCode},
			Headers: []*corev3.HeaderValueOption{header("content-type", "text/plain; charset=utf-8")},
			Body:    body,
		}},
		DynamicMetadata: metadata(map[string]any{"decision": word, "reason": reason, "revision": ref.Revision}),
	}
}

// header is a header Envoy sets, replacing any value the client sent, so
// that a client cannot forge a decision id.
func header(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: key, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// metadata builds dynamic metadata from strings and lists of strings.
// structpb refuses only strings that are not UTF-8, and every string here
// is checked or escaped; should one slip through, Envoy gets no metadata
// rather than the PDP failing the request.
func metadata(m map[string]any) *structpb.Struct {
	st, err := structpb.NewStruct(m)
	if err != nil {
		return nil
	}
	return st
}
