package extauthz

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
)

// UnknownType is the entity type, in the configured namespace, of a
// caller or destination the bundle does not know, with the SPIFFE id as
// the entity id (empty when the connection carried no identity). It is
// deliberately not ServiceAccount: a policy written for "every service
// account" must not admit a workload nobody registered.
const UnknownType = "Unknown"

// maxMethodBytes bounds the method: the longest registered HTTP method
// (UPDATEREDIRECTREF) has 17 bytes.
const maxMethodBytes = 32

// Mapper turns a CheckRequest into a Cedar request, as a [Config] says.
// It is immutable and safe for concurrent use.
type Mapper struct {
	ns              string // "Acme::" or ""
	actions         map[string]types.EntityUID
	principalHeader string
	denyUnknown     bool
	fromDestination bool
	resourceType    types.EntityType
	unknownType     types.EntityType
	suffixes        []string // each with its leading dot: ".svc.cluster.local"
	headers         []string
	decisionHeader  string
	lim             Limits
}

// NewMapper checks cfg and compiles it. Every problem is reported, not
// only the first.
func NewMapper(cfg Config) (*Mapper, error) {
	cfg = cfg.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	m := &Mapper{lim: cfg.Limits, actions: make(map[string]types.EntityUID, len(cfg.Actions))}
	if cfg.Namespace != "" {
		if _, err := types.NewPath(cfg.Namespace); err != nil {
			bad("namespace %q is not a Cedar namespace (for example Acme or Acme::Payments)", cfg.Namespace)
		}
		m.ns = cfg.Namespace + "::"
	}
	m.unknownType = types.EntityType(m.ns + UnknownType)

	if len(cfg.Actions) == 0 {
		bad("actions: maps no method, so every request would be refused")
	}
	for method, action := range cfg.Actions {
		up := strings.ToUpper(method)
		if !isToken(up) || len(up) > maxMethodBytes {
			bad("actions: %q is not an HTTP method", method)
			continue
		}
		if _, dup := m.actions[up]; dup {
			bad("actions: method %s is listed twice", up)
			continue
		}
		uid, err := m.actionUID(action)
		if err != nil {
			bad("actions: %s: %v", up, err)
			continue
		}
		m.actions[up] = uid
	}

	switch cfg.Principal.Unknown {
	case UnknownDecide:
	case UnknownDeny:
		m.denyUnknown = true
	default:
		bad("principal.unknown must be %s or %s, not %q", UnknownDecide, UnknownDeny, cfg.Principal.Unknown)
	}
	if cfg.Principal.Header != "" {
		h, err := headerName("principal.header", cfg.Principal.Header)
		if err != nil {
			errs = append(errs, err)
		}
		m.principalHeader = h
	}

	switch cfg.Resource.From {
	case ResourceFromHost:
	case ResourceFromDestination:
		m.fromDestination = true
	default:
		bad("resource.from must be %s or %s, not %q", ResourceFromHost, ResourceFromDestination, cfg.Resource.From)
	}
	if _, err := types.NewEntityType(cfg.Resource.Type); err != nil {
		bad("resource.type %q is not a Cedar entity type", cfg.Resource.Type)
	}
	m.resourceType = types.EntityType(m.ns + cfg.Resource.Type)
	for _, s := range cfg.Resource.StripSuffixes {
		s = strings.ToLower(s)
		if s == "" || !validHostChars(s) {
			bad("resource.strip_suffixes: %q is not a host suffix", s)
			continue
		}
		// Stored with one leading dot, whether or not the configuration
		// wrote it, so that host matches at a label boundary without
		// rebuilding the suffix per request.
		m.suffixes = append(m.suffixes, "."+strings.TrimPrefix(s, "."))
	}

	for _, h := range cfg.Context.Headers {
		n, err := headerName("context.headers", h)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if n == m.principalHeader {
			bad("context.headers: %q is the principal header; it is the principal already", h)
			continue
		}
		if !slices.Contains(m.headers, n) {
			m.headers = append(m.headers, n)
		}
	}

	if cfg.Response.DecisionHeader != "" {
		h, err := headerName("response.decision_header", cfg.Response.DecisionHeader)
		if err != nil {
			errs = append(errs, err)
		}
		m.decisionHeader = h
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid extauthz configuration: %w", err)
	}
	return m, nil
}

// actionUID resolves an action from the configuration: an id in the
// namespace's Action type, or a full UID.
func (m *Mapper) actionUID(s string) (types.EntityUID, error) {
	if strings.Contains(s, "::") {
		return repo.ParseEntityUID(s)
	}
	if s == "" {
		return types.EntityUID{}, errors.New("empty action")
	}
	return types.NewEntityUID(types.EntityType(m.ns+"Action"), types.String(s)), nil
}

// refusal is a request the adapter denies without asking Cedar: a method
// no action is mapped to, or an unknown principal under UnknownDeny. It is
// not a decision, so it is not in the decision log.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

// fieldError is the error of a malformed CheckRequest field; the path uses
// the CheckRequest's proto field names.
func fieldError(field, format string, args ...any) *wire.FieldError {
	return &wire.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Field paths of what the mapper reads.
const (
	fHTTP        = "attributes.request.http"
	fMethod      = fHTTP + ".method"
	fPath        = fHTTP + ".path"
	fHost        = fHTTP + ".host"
	fSourceAddr  = "attributes.source.address.socket_address.address"
	fSourcePrinc = "attributes.source.principal"
	fDestPrinc   = "attributes.destination.principal"
)

// Build maps req to a Cedar request decided against snap at instant now.
// A malformed or oversized request fails with a *wire.FieldError naming
// the CheckRequest field; a request the configuration refuses fails with
// an error for which IsRefusal is true.
func (m *Mapper) Build(snap *engine.Snapshot, req *authv3.CheckRequest, now time.Time) (*engine.Request, error) {
	attrs := req.GetAttributes()
	if attrs == nil {
		return nil, fieldError("attributes", "required")
	}
	http := attrs.GetRequest().GetHttp()
	if http == nil {
		return nil, fieldError(fHTTP, "required: the PDP answers Envoy's HTTP ext_authz filter")
	}

	method := http.GetMethod()
	switch {
	case method == "":
		return nil, fieldError(fMethod, "required")
	case len(method) > maxMethodBytes || !isToken(method):
		return nil, fieldError(fMethod, "%s is not an HTTP method", wire.Quote(method))
	}
	path, query, err := m.splitTarget(http.GetPath())
	if err != nil {
		return nil, err
	}
	host, err := m.host(http.GetHost())
	if err != nil {
		return nil, err
	}
	srcIP, err := sourceIP(attrs.GetSource().GetAddress().GetSocketAddress().GetAddress())
	if err != nil {
		return nil, err
	}
	hdrs := headerReader{http}
	ctx := types.RecordMap{
		"source_ip": srcIP,
		"now":       types.NewDatetime(now),
		"method":    types.String(method),
		"path":      types.String(path),
		"query":     types.String(query),
		"host":      types.String(host),
	}
	if len(m.headers) > 0 {
		rec := make(types.RecordMap, len(m.headers))
		for _, name := range m.headers {
			v, ok, err := hdrs.get(name, m.lim.MaxHeaderBytes)
			if err != nil {
				return nil, err
			}
			if ok {
				rec[types.String(name)] = types.String(v)
			}
		}
		ctx["headers"] = types.NewRecord(rec)
	}

	principal, err := m.principal(snap, attrs.GetSource().GetPrincipal(), hdrs)
	if err != nil {
		return nil, err
	}
	resource, err := m.resource(snap, host, attrs.GetDestination().GetPrincipal())
	if err != nil {
		return nil, err
	}
	action, ok := m.actions[method]
	if !ok {
		return nil, &refusal{"method " + wire.Quote(method) + " is not mapped to an action"}
	}
	return &engine.Request{Principal: principal, Action: action, Resource: resource, Context: types.NewRecord(ctx)}, nil
}

// IsRefusal reports whether err, from Build, refuses the request by
// configuration (403 without a decision) rather than as malformed.
func IsRefusal(err error) bool {
	var r *refusal
	return errors.As(err, &r)
}

// principal resolves the caller: the principal header when it is enabled
// and present, else the source's SPIFFE id.
func (m *Mapper) principal(snap *engine.Snapshot, spiffeID string, hdrs headerReader) (types.EntityUID, error) {
	if m.principalHeader != "" {
		v, ok, err := hdrs.get(m.principalHeader, m.lim.MaxPrincipalBytes)
		if err != nil {
			return types.EntityUID{}, err
		}
		if ok {
			uid, err := repo.ParseEntityUID(v)
			if err != nil {
				return types.EntityUID{}, fieldError(headerPath(m.principalHeader), "%s is not a Cedar entity UID (want Type::\"id\")", wire.Quote(v))
			}
			if !snap.HasEntity(uid) && m.denyUnknown {
				return types.EntityUID{}, &refusal{"principal " + wire.Quote(uid.String()) + " is not in the bundle"}
			}
			return uid, nil
		}
	}
	if len(spiffeID) > m.lim.MaxPrincipalBytes {
		return types.EntityUID{}, fieldError(fSourcePrinc, "%d bytes, more than the limit of %d", len(spiffeID), m.lim.MaxPrincipalBytes)
	}
	if spiffeID != "" {
		if uid, ok := snap.BySPIFFEID(spiffeID); ok {
			return uid, nil
		}
	}
	if m.denyUnknown {
		if spiffeID == "" {
			return types.EntityUID{}, &refusal{"the caller has no identity (no mTLS client certificate)"}
		}
		return types.EntityUID{}, &refusal{"no bundle entity has spiffe_id " + wire.Quote(spiffeID)}
	}
	return types.NewEntityUID(m.unknownType, types.String(spiffeID)), nil
}

// resource resolves what is accessed: the host as a resource of the
// configured type, or the destination workload.
func (m *Mapper) resource(snap *engine.Snapshot, host, destID string) (types.EntityUID, error) {
	if !m.fromDestination {
		return types.NewEntityUID(m.resourceType, types.String(host)), nil
	}
	switch {
	case destID == "":
		return types.EntityUID{}, fieldError(fDestPrinc, "required: resource.from is destination, so Envoy must terminate mTLS for the workload")
	case len(destID) > m.lim.MaxPrincipalBytes:
		return types.EntityUID{}, fieldError(fDestPrinc, "%d bytes, more than the limit of %d", len(destID), m.lim.MaxPrincipalBytes)
	}
	if uid, ok := snap.BySPIFFEID(destID); ok {
		return uid, nil
	}
	return types.NewEntityUID(m.unknownType, types.String(destID)), nil
}

// DecisionHeader is the configured decision id header, or "".
func (m *Mapper) DecisionHeader() string { return m.decisionHeader }
