package authzen

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
)

// The endpoints, at the specification's default paths.
const (
	EvaluationPath     = "/access/v1/evaluation"
	EvaluationsPath    = "/access/v1/evaluations"
	SearchSubjectPath  = "/access/v1/search/subject"
	SearchResourcePath = "/access/v1/search/resource"
	SearchActionPath   = "/access/v1/search/action"
	MetadataPath       = "/.well-known/authzen-configuration"
)

// FrontendName is how the decision log names the AuthZEN API
// ("frontend":"authzen").
const FrontendName = "authzen"

// Defaults of the Options fields.
const (
	// DefaultPageSize is how many results a search page has when the
	// request gives no page.limit.
	DefaultPageSize = 100
	// MaxPageSize bounds page.limit; a larger one is taken as this.
	MaxPageSize = 1000
	// DefaultMaxSearchDecisions bounds the candidates one search request
	// decides; past it the page ends early, with a next_token, however few
	// results it holds.
	DefaultMaxSearchDecisions = 10_000
)

// Options configure the handler.
type Options struct {
	// Limits bound each request, as for the gRPC API: MaxDepth, MaxValues,
	// MaxSetElements and MaxStringBytes each evaluation's properties and
	// context, MaxBatch the evaluations of one request. Zero fields take
	// wire's defaults.
	Limits wire.Limits
	// MaxBodyBytes bounds a request body; default
	// pdp.DefaultMaxRecvMsgBytes, the gRPC API's message limit.
	MaxBodyBytes int64
	// Tokens, when set, are the bearer tokens that callers of the access
	// endpoints must present (Authorization: Bearer <token>); any of them
	// will do, so that a token can be rotated. The metadata document stays
	// public: it holds only the endpoints' URLs.
	Tokens []string
	// BaseURL, when set, is the PDP's identifier, policy_decision_point in
	// the metadata (https://pdp.example.com), and the base of its
	// endpoints' URLs; otherwise it is derived from each request (its
	// scheme and Host).
	BaseURL string
	// MaxSearchDecisions bounds the candidates a search request decides;
	// default DefaultMaxSearchDecisions.
	MaxSearchDecisions int
	// Logger receives refusals (at debug level: callers cause them at any
	// rate) and internal errors; default slog.Default().
	Logger *slog.Logger
}

// Handler serves the AuthZEN Authorization API 1.0 over HTTP from a PDP:
// it is an http.Handler.
type Handler struct {
	srv      *pdp.Server
	key      pdp.PreparedKey
	lim      wire.Limits
	maxBody  int64
	tokens   [][sha256.Size]byte
	baseURL  string
	maxSteps int
	log      *slog.Logger
	requests *prometheus.CounterVec
	mode     engine.EntityMode
}

var _ http.Handler = (*Handler)(nil)

// New returns the handler serving the API from srv. It must be called
// while srv is being built (from pdp.Options.HTTP), since it registers
// what it derives from each bundle (the mapping, the effective-access
// index) to be built at activation. Its metrics are served with the PDP's.
func New(srv *pdp.Server, opts Options) (*Handler, error) {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = pdp.DefaultMaxRecvMsgBytes
	}
	if opts.MaxSearchDecisions <= 0 {
		opts.MaxSearchDecisions = DefaultMaxSearchDecisions
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	base := strings.TrimSuffix(opts.BaseURL, "/")
	if base != "" && !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
		return nil, fmt.Errorf("authzen base URL %q must start with https:// (or http:// for tests)", opts.BaseURL)
	}
	if strings.ContainsAny(base, "?#") {
		return nil, fmt.Errorf("authzen base URL %q must have no query or fragment", opts.BaseURL)
	}
	h := &Handler{srv: srv, lim: wire.Limits{}, maxBody: opts.MaxBodyBytes, baseURL: base,
		maxSteps: opts.MaxSearchDecisions, log: opts.Logger, mode: engine.MergeAttributes}
	h.lim = limitsWithDefaults(opts.Limits)
	for _, t := range opts.Tokens {
		if t == "" {
			return nil, errors.New("authzen: an empty bearer token")
		}
		h.tokens = append(h.tokens, sha256.Sum256([]byte(t)))
	}
	h.key = srv.Prepare(func(b *bundle.Bundle, snap *engine.Snapshot) (any, error) { return newModel(b, snap) })
	h.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cedargate_authzen_requests_total",
		Help: "AuthZEN API requests answered, by endpoint (evaluation, evaluations, search_subject, search_resource, search_action, metadata, other) and HTTP status code.",
	}, []string{"endpoint", "code"})
	if err := srv.Registerer().Register(h.requests); err != nil {
		return nil, fmt.Errorf("authzen metrics: %w", err)
	}
	return h, nil
}

// HTTP returns a function for pdp.Options.HTTP that serves the API with
// opts on the PDP's HTTP listener.
func HTTP(opts Options) func(*pdp.Server) (http.Handler, error) {
	return func(s *pdp.Server) (http.Handler, error) { return New(s, opts) }
}

// limitsWithDefaults fills the zero fields of lim with wire's defaults.
func limitsWithDefaults(lim wire.Limits) wire.Limits {
	def := wire.DefaultLimits()
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&lim.MaxEntities, def.MaxEntities)
	set(&lim.MaxDepth, def.MaxDepth)
	set(&lim.MaxValues, def.MaxValues)
	set(&lim.MaxSetElements, def.MaxSetElements)
	set(&lim.MaxStringBytes, def.MaxStringBytes)
	set(&lim.MaxBatch, def.MaxBatch)
	return lim
}

// endpoint is one of the API's endpoints.
type endpoint struct {
	name  string
	serve func(h *Handler, w http.ResponseWriter, r *http.Request, body []byte) (int, error)
}

var endpoints = map[string]endpoint{
	EvaluationPath:     {"evaluation", (*Handler).evaluation},
	EvaluationsPath:    {"evaluations", (*Handler).evaluations},
	SearchSubjectPath:  {"search_subject", (*Handler).searchSubject},
	SearchResourcePath: {"search_resource", (*Handler).searchResource},
	SearchActionPath:   {"search_action", (*Handler).searchAction},
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The specification: a request's X-Request-ID is echoed in its
	// response, whatever the response.
	if id := r.Header.Get("X-Request-ID"); id != "" {
		w.Header().Set("X-Request-ID", id)
	}
	if r.URL.Path == MetadataPath {
		h.count("metadata", h.metadata(w, r))
		return
	}
	ep, ok := endpoints[r.URL.Path]
	if !ok {
		h.count("other", h.fail(w, r, &httpError{http.StatusNotFound, "no such endpoint: the AuthZEN API is at " + EvaluationPath + ", " +
			EvaluationsPath + ", /access/v1/search/{subject,resource,action} and " + MetadataPath}))
		return
	}
	h.count(ep.name, h.serve(w, r, ep))
}

// serve answers a request to an access endpoint.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, ep endpoint) int {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.fail(w, r, &httpError{http.StatusMethodNotAllowed, "use POST"})
	}
	if e := h.authenticate(w, r); e != nil {
		return h.fail(w, r, e)
	}
	if e := checkContentType(r); e != nil {
		return h.fail(w, r, e)
	}
	buf, e := readBody(r, h.maxBody)
	if e != nil {
		return h.fail(w, r, e)
	}
	defer putBody(buf)
	code, err := ep.serve(h, w, r, buf.Bytes())
	if err != nil {
		return h.fail(w, r, err)
	}
	return code
}

// authenticate checks the bearer token when tokens are configured. The
// comparison takes the same time whatever the token sent (it compares
// digests of equal length, each in constant time).
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) *httpError {
	if len(h.tokens) == 0 {
		return nil
	}
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cedargate"`)
		return &httpError{http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token>"}
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match := 0
	for i := range h.tokens {
		match |= subtle.ConstantTimeCompare(sum[:], h.tokens[i][:])
	}
	if match != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cedargate", error="invalid_token"`)
		return &httpError{http.StatusUnauthorized, "the bearer token is not valid"}
	}
	return nil
}

// begin starts a call against the served bundle: the decisions it makes
// are the AuthZEN front end's, with the caller its TLS connection proves.
func (h *Handler) begin(r *http.Request) (*pdp.Batch, *model, error) {
	b, err := h.srv.Begin(r.Context(), pdp.Frontend{Name: FrontendName, Caller: pdp.TLSCaller(r.TLS), EntityMode: &h.mode})
	if err != nil {
		return nil, nil, err
	}
	return b, b.Prepared(h.key).(*model), nil
}

// converter returns a converter for one evaluation against m.
func (h *Handler) converter(m *model) *converter {
	return &converter{conv: m.conv, lim: h.lim, drop: m.drop, entityType: m.resolveType}
}

// errorBody is the body of an error response: a JSON object holding the
// message, shaped as the specification's per-evaluation errors.
type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// fail answers err and returns the status code. A request the caller got
// wrong is 400 (or the status its *httpError says) with the reason; no
// active bundle or a decision log that cannot take the decisions is 503;
// anything else is 500 with a fixed message, the cause logged.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) int {
	code, msg := http.StatusInternalServerError, "internal error: no decision was made"
	var he *httpError
	var fe *wire.FieldError
	switch {
	case errors.As(err, &he):
		code, msg = he.status, he.msg
	case errors.As(err, &fe):
		code, msg = http.StatusBadRequest, fe.Error()
	case status.Code(err) == codes.Unavailable:
		code, msg = http.StatusServiceUnavailable, status.Convert(err).Message()
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		code, msg = http.StatusServiceUnavailable, "the request was cancelled before it was answered"
	default:
		h.log.Error("authzen: no decision", "path", r.URL.Path, "error", err.Error())
	}
	if code < 500 {
		h.log.Debug("authzen: request refused", "path", r.URL.Path, "status", code, "reason", msg)
	}
	body, _ := json.Marshal(errorBody{errorJSON{Status: code, Message: msg}})
	writeJSON(w, code, body)
	return code
}

// jsonContentType is the Content-Type of every answer, shared: net/http
// only reads header values.
var jsonContentType = []string{"application/json"}

// writeJSON writes a JSON response, body and a line break, so that
// answers printed one after another (curl) stay one per line. net/http
// sets Content-Length, or chunks a large body.
func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

// count counts an answered request.
func (h *Handler) count(endpoint string, code int) {
	h.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
}
