package extauthz

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
)

// Principal sources and unknown-principal policies, as the configuration
// file spells them.
const (
	// UnknownDecide lets Cedar decide for a principal the bundle does not
	// know: the request is decided (and logged) with a principal that has
	// no attributes and no parents, which only policies written for any
	// principal can allow.
	UnknownDecide = "decide"
	// UnknownDeny refuses a principal the bundle does not know with 403,
	// without asking Cedar; the refusal is not a decision and is not in
	// the decision log.
	UnknownDeny = "deny"

	// ResourceFromHost names the resource after the request's host.
	ResourceFromHost = "host"
	// ResourceFromDestination names the resource after the destination
	// workload's SPIFFE id (the local workload of a sidecar).
	ResourceFromDestination = "destination"
)

// Defaults of the Limits fields.
const (
	// DefaultMaxPathBytes bounds the request target (path and query).
	// Browsers and proxies rarely pass targets over 8 KiB; Envoy's own
	// limit on all headers together is 60 KiB.
	DefaultMaxPathBytes = 8 << 10
	// DefaultMaxHostBytes bounds the host with its port: a DNS name is at
	// most 253 bytes, so anything much longer is not a host.
	DefaultMaxHostBytes = 512
	// DefaultMaxHeaderBytes bounds the value of each allow-listed header.
	DefaultMaxHeaderBytes = 8 << 10
	// DefaultMaxPrincipalBytes bounds a SPIFFE id (the SPIFFE standard
	// caps them at 2048 bytes) and the principal header's UID.
	DefaultMaxPrincipalBytes = 2048
)

// Config is the mapping from Envoy's CheckRequest to a Cedar request, as
// read from the --extauthz-config file. The zero Config is usable: it maps
// to the empty namespace with the defaults documented on each field.
type Config struct {
	// Namespace is the Cedar namespace of the action, resource and
	// fallback principal types, e.g. "Acme". Empty means none.
	Namespace string `yaml:"namespace"`
	// Principal says who the caller is.
	Principal PrincipalConfig `yaml:"principal"`
	// Actions maps an HTTP method to an action id (read means
	// <Namespace>::Action::"read") or a full action UID. Methods are
	// matched exactly after upper-casing the keys; a request whose method
	// is not listed is refused with 403. Nil means DefaultActions; an
	// explicit map replaces the defaults entirely.
	Actions map[string]string `yaml:"actions"`
	// Resource says what is accessed.
	Resource ResourceConfig `yaml:"resource"`
	// Context says which request facts besides the fixed ones reach Cedar.
	Context ContextConfig `yaml:"context"`
	// Response shapes what Envoy gets back.
	Response ResponseConfig `yaml:"response"`
	// Limits bound what is taken from a request.
	Limits Limits `yaml:"limits"`
}

// PrincipalConfig says who the caller is.
type PrincipalConfig struct {
	// Header, when set, names a request header whose value is a Cedar
	// entity UID (Acme::User::"alice") put there by an authentication
	// filter in front of ext_authz. When the header is present it wins
	// over the source's SPIFFE id. Off by default because it trusts the
	// proxy: Envoy must remove the header from what clients send (see
	// docs/envoy.md), or any client can claim to be anyone.
	Header string `yaml:"header"`
	// Unknown is what happens when the principal is missing or not a
	// bundle entity: UnknownDecide (the default) or UnknownDeny.
	Unknown string `yaml:"unknown"`
}

// ResourceConfig says what is accessed.
type ResourceConfig struct {
	// From is ResourceFromHost (the default) or ResourceFromDestination.
	From string `yaml:"from"`
	// Type is the entity type of a host resource, in Namespace; default
	// "Service", so host ledger:8080 is <Namespace>::Service::"ledger".
	Type string `yaml:"type"`
	// StripSuffixes are removed from a host before it names the resource,
	// first match wins, so "ledger.payments.svc.cluster.local" can name
	// Service::"ledger". A suffix never removes the whole host.
	StripSuffixes []string `yaml:"strip_suffixes"`
}

// ContextConfig says which request headers reach Cedar.
type ContextConfig struct {
	// Headers are the request headers copied into context.headers, by
	// lower-case name. Only these: headers carry credentials, and a
	// credential in a Cedar context ends up in error messages and traces.
	// Authorization, Cookie and Proxy-Authorization are refused outright.
	Headers []string `yaml:"headers"`
}

// ResponseConfig shapes what Envoy gets back.
type ResponseConfig struct {
	// DecisionHeader, when set, names a header that carries the decision
	// id: added to the request sent upstream and to the response to the
	// client on allow, and to the 403 on deny, so that a client or
	// upstream can quote the decision to an operator. Envoy always gets
	// the id in dynamic metadata, for its access log.
	DecisionHeader string `yaml:"decision_header"`
}

// Limits bound what is taken from a CheckRequest. A request over a limit
// is refused with 400 (INVALID_ARGUMENT in the CheckResponse status).
// Zero fields take the Default* constants.
type Limits struct {
	// MaxPathBytes bounds the request target, path and query together.
	MaxPathBytes int `yaml:"max_path_bytes"`
	// MaxHostBytes bounds the host, port included.
	MaxHostBytes int `yaml:"max_host_bytes"`
	// MaxHeaderBytes bounds each allow-listed header's value.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxPrincipalBytes bounds the source and destination principals and
	// the principal header's value.
	MaxPrincipalBytes int `yaml:"max_principal_bytes"`
}

// DefaultActions is the method → action map used when Config.Actions is
// nil: safe methods read, the others write. OPTIONS, CONNECT, TRACE and
// extension methods are not mapped, so they are refused unless the
// configuration maps them.
func DefaultActions() map[string]string {
	return map[string]string{
		"GET": "read", "HEAD": "read",
		"POST": "write", "PUT": "write", "PATCH": "write", "DELETE": "write",
	}
}

// credentialHeaders are never copied into a context, even if allow-listed:
// they are bearer credentials.
var credentialHeaders = []string{"authorization", "cookie", "proxy-authorization"}

// LoadConfig reads a YAML configuration file. Unknown fields and duplicate
// keys are errors, so a typo does not silently keep a default.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses a YAML configuration. It does not validate the
// values; [NewMapper] does.
func ParseConfig(data []byte) (Config, error) {
	var cfg Config
	if len(bytes.TrimSpace(data)) == 0 {
		return cfg, nil
	}
	if err := yaml.UnmarshalWithOptions(data, &cfg, yaml.DisallowUnknownField()); err != nil {
		return Config{}, fmt.Errorf("invalid extauthz configuration:\n%s", yaml.FormatError(err, false, true))
	}
	return cfg, nil
}

// withDefaults fills the fields that are not set.
func (c Config) withDefaults() Config {
	if c.Actions == nil {
		c.Actions = DefaultActions()
	}
	if c.Principal.Unknown == "" {
		c.Principal.Unknown = UnknownDecide
	}
	if c.Resource.From == "" {
		c.Resource.From = ResourceFromHost
	}
	if c.Resource.Type == "" {
		c.Resource.Type = "Service"
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Limits.MaxPathBytes, DefaultMaxPathBytes)
	def(&c.Limits.MaxHostBytes, DefaultMaxHostBytes)
	def(&c.Limits.MaxHeaderBytes, DefaultMaxHeaderBytes)
	def(&c.Limits.MaxPrincipalBytes, DefaultMaxPrincipalBytes)
	return c
}

// headerName checks a header name from the configuration and returns it
// lower-cased, as Envoy sends header names.
func headerName(what, name string) (string, error) {
	n := strings.ToLower(name)
	switch {
	case strings.HasPrefix(n, ":"):
		return "", fmt.Errorf("%s %q: pseudo-headers are not allowed (method, path and host are in the context already)", what, name)
	case !isToken(n):
		return "", fmt.Errorf("%s %q is not a valid HTTP header name", what, name)
	case slices.Contains(credentialHeaders, n):
		return "", fmt.Errorf("%s %q carries credentials and is never passed to Cedar; authenticate with an Envoy filter and pass its result in another header", what, name)
	}
	return n, nil
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2):
// what header names and methods are made of.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
