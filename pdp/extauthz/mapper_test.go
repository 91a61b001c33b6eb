package extauthz

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
)

var acmeSnapshot = sync.OnceValues(func() (*engine.Snapshot, error) {
	out, err := build.Build(context.Background(), filepath.Join("..", "..", "examples", "acme"),
		build.Options{Env: "prod", Now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), Revision: "mapper-test"})
	if err != nil {
		return nil, err
	}
	return engine.New(out.Bundle)
})

func snapshot(t *testing.T) *engine.Snapshot {
	t.Helper()
	s, err := acmeSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mapper(t *testing.T, cfg Config) *Mapper {
	t.Helper()
	m, err := NewMapper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// httpRequest is a minimal CheckRequest from a workload over mTLS.
func httpRequest(path string, headers map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{
			Principal: "spiffe://acme.example/prod/ns/payments/sa/ledger",
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: "10.1.2.3", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 5000}}}},
		},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: path, Host: "Ledger:8080", Headers: headers,
		}},
	}}
}

// TestContext checks the Cedar request Build makes: the fixed context
// keys, and only the allow-listed headers, from either header encoding.
func TestContext(t *testing.T) {
	snap := snapshot(t)
	m := mapper(t, Config{Namespace: "Acme", Context: ContextConfig{Headers: []string{"X-Tenant", "x-absent", "x-tenant"}}})
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	want := `{"headers":{"x-tenant":"t1,t2"}, "host":"ledger", "method":"GET", "now":datetime("2026-11-23T12:00:00.000Z"), ` +
		`"path":"/v1/a%2Fb", "query":"x=1&y", "source_ip":ip("10.1.2.3")}`

	mapped := httpRequest("/v1/a%2Fb?x=1&y", map[string]string{"x-tenant": "t1,t2", "authorization": "Bearer t", "cookie": "s=1"})
	raw := httpRequest("/v1/a%2Fb?x=1&y", nil)
	raw.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "x-tenant", RawValue: []byte("t1")}, {Key: "authorization", RawValue: []byte("Bearer t")}, {Key: "X-Tenant", RawValue: []byte("t2")},
	}}
	for name, req := range map[string]*authv3.CheckRequest{"headers": mapped, "header_map": raw} {
		t.Run(name, func(t *testing.T) {
			r, err := m.Build(snap, req, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Context.String(); got != want {
				t.Errorf("context\n got %s\nwant %s", got, want)
			}
			if got := r.Principal.String(); got != `Acme::ServiceAccount::"ledger-prod"` {
				t.Errorf("principal = %s", got)
			}
			if got := r.Resource.String(); got != `Acme::Service::"ledger"` {
				t.Errorf("resource = %s", got)
			}
		})
	}

	// Without an allow-list there is no headers record at all.
	r, err := mapper(t, Config{Namespace: "Acme"}).Build(snap, mapped, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Context.Get("headers"); ok {
		t.Errorf("context has headers without an allow-list: %s", r.Context)
	}

	// A raw header value that is not UTF-8 is refused, not passed on.
	raw.Attributes.Request.Http.HeaderMap.Headers[0].RawValue = []byte{0xff}
	var fe *wire.FieldError
	if _, err := m.Build(snap, raw, now); !errors.As(err, &fe) || !strings.Contains(fe.Error(), "UTF-8") {
		t.Errorf("non-UTF-8 header: %v", err)
	}
}

// TestHost checks how a host names a resource.
func TestHost(t *testing.T) {
	m := mapper(t, Config{Resource: ResourceConfig{StripSuffixes: []string{".svc.cluster.local", ".Acme.Example"}}})
	for _, tc := range []struct{ in, want string }{
		{"ledger", "ledger"},
		{"ledger:8080", "ledger"},
		{"LEDGER.", "ledger"},
		{"ledger.:443", "ledger"},
		{"ledger.payments.svc.cluster.local", "ledger.payments"},
		{"ledger.payments.svc.cluster.local.:80", "ledger.payments"},
		{"api.acme.example", "api"},
		{"svc.cluster.local", "svc.cluster.local"},         // a suffix never removes the whole host
		{"evilsvc.cluster.local", "evilsvc.cluster.local"}, // nor part of a label
		{".svc.cluster.local", ".svc.cluster.local"},
		{"10.0.0.1:9000", "10.0.0.1"},
		{"[2001:DB8::0001]:443", "2001:db8::1"},
		{"[::1]", "::1"},
		{"ledger:", "ledger"},
		{"", ""},
		{":80", ""},
		{"led ger", ""},
		{`ledger"`, ""},
		{"ledger:80:80", ""},
		{"ledger:123456", ""},
		{"[::1", ""},
		{"[::1]x", ""},
		{"[10.0.0.1]", ""},
		{"[fe80::1%eth0]", ""},
		{"ledger%2e", ""},
		{"lédger", ""},
	} {
		got, err := m.host(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("host(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("host(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestNewMapperErrors checks that a bad configuration is refused with
// every problem named.
func TestNewMapperErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"credential headers", Config{Context: ContextConfig{Headers: []string{"Authorization", "cookie", "proxy-authorization"}}},
			[]string{`context.headers "Authorization" carries credentials`, `context.headers "cookie"`, `context.headers "proxy-authorization"`}},
		{"pseudo-header", Config{Context: ContextConfig{Headers: []string{":path"}}}, []string{"pseudo-headers are not allowed"}},
		{"principal header carries credentials", Config{Principal: PrincipalConfig{Header: "authorization"}}, []string{`principal.header "authorization" carries credentials`}},
		{"principal header allow-listed too", Config{Principal: PrincipalConfig{Header: "x-user"}, Context: ContextConfig{Headers: []string{"X-User"}}},
			[]string{"is the principal header"}},
		{"bad header name", Config{Response: ResponseConfig{DecisionHeader: "x id"}}, []string{`response.decision_header "x id" is not a valid HTTP header name`}},
		{"bad namespace", Config{Namespace: "Acme::"}, []string{`namespace "Acme::" is not a Cedar namespace`}},
		{"bad enums", Config{Principal: PrincipalConfig{Unknown: "allow"}, Resource: ResourceConfig{From: "sni"}},
			[]string{`principal.unknown must be decide or deny, not "allow"`, `resource.from must be host or destination, not "sni"`}},
		{"bad resource type", Config{Resource: ResourceConfig{Type: "1Service"}}, []string{`resource.type "1Service"`}},
		{"bad suffix", Config{Resource: ResourceConfig{StripSuffixes: []string{"", "*.local"}}}, []string{`resource.strip_suffixes: ""`, `resource.strip_suffixes: "*.local"`}},
		{"no actions", Config{Actions: map[string]string{}}, []string{"actions: maps no method"}},
		{"bad actions", Config{Actions: map[string]string{"GE T": "read", "POST": "", "PUT": `Acme::Action::read`}},
			[]string{`actions: "GE T" is not an HTTP method`, "actions: POST: empty action", `actions: PUT: "Acme::Action::read" is not a Cedar entity UID`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewMapper(tc.cfg)
			if err == nil {
				t.Fatal("NewMapper accepted the configuration")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
	// Two spellings of one method are one method listed twice.
	if _, err := NewMapper(Config{Actions: map[string]string{"GET": "read", "get": "read"}}); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate method: %v", err)
	}
}

// TestParseConfig reads the configuration the docs show, and refuses
// unknown fields so that a typo never keeps a default.
func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
namespace: Acme
principal:
  header: x-cedargate-principal
  unknown: deny
actions:
  GET: read
  POST: Acme::Action::"write"
resource:
  from: host
  type: Service
  strip_suffixes: [.payments.svc.cluster.local]
context:
  headers: [x-tenant]
response:
  decision_header: x-cedargate-decision-id
limits:
  max_path_bytes: 4096
`))
	if err != nil {
		t.Fatal(err)
	}
	m := mapper(t, cfg)
	if m.ns != "Acme::" || m.principalHeader != "x-cedargate-principal" || !m.denyUnknown || len(m.actions) != 2 ||
		m.actions["POST"] != types.NewEntityUID("Acme::Action", "write") || m.suffixes[0] != ".payments.svc.cluster.local" ||
		m.headers[0] != "x-tenant" || m.DecisionHeader() != "x-cedargate-decision-id" || m.lim.MaxPathBytes != 4096 ||
		m.lim.MaxHostBytes != DefaultMaxHostBytes {
		t.Errorf("mapper = %+v", m)
	}

	if _, err := ParseConfig([]byte("namespace: Acme\nprincipal:\n  headr: x-user\n")); err == nil || !strings.Contains(err.Error(), `unknown field "headr"`) {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := ParseConfig([]byte("namespace: Acme\nnamespace: Other\n")); err == nil {
		t.Error("duplicate key accepted")
	}
	if cfg, err := ParseConfig([]byte("\n# nothing\n")); err != nil || cfg.Namespace != "" {
		t.Errorf("empty file: %+v, %v", cfg, err)
	}
}
