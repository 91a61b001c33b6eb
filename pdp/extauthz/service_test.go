package extauthz_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/pdp/extauthz"
)

// outcome is what a test expects from Check.
type outcome struct {
	code     codes.Code // the CheckResponse status
	http     typev3.StatusCode
	decision string // dynamic metadata "decision"
	// principal, action, resource and policies are checked when set.
	principal, action, resource string
	policies                    []string
}

// expect checks a CheckResponse against want.
func expect(t *testing.T, resp *authv3.CheckResponse, err error, want outcome) {
	t.Helper()
	if err != nil {
		t.Fatalf("Check failed: %v", err)
	}
	if got := codes.Code(resp.GetStatus().GetCode()); got != want.code {
		t.Errorf("status = %v (%q), want %v", got, resp.GetStatus().GetMessage(), want.code)
	}
	switch want.code {
	case codes.OK:
		if resp.GetOkResponse() == nil {
			t.Errorf("no ok_response: %v", resp)
		}
	default:
		if got := resp.GetDeniedResponse().GetStatus().GetCode(); got != want.http {
			t.Errorf("denied HTTP status = %v, want %v", got, want.http)
		}
	}
	md := resp.GetDynamicMetadata().GetFields()
	if got := md["decision"].GetStringValue(); got != want.decision {
		t.Errorf("metadata decision = %q, want %q (metadata %v)", got, want.decision, md)
	}
	for key, w := range map[string]string{"principal": want.principal, "action": want.action, "resource": want.resource} {
		if w != "" && md[key].GetStringValue() != w {
			t.Errorf("metadata %s = %q, want %q", key, md[key].GetStringValue(), w)
		}
	}
	if want.policies != nil {
		var got []string
		for _, v := range md["policies"].GetListValue().GetValues() {
			got = append(got, v.GetStringValue())
		}
		if !slices.Equal(got, want.policies) {
			t.Errorf("metadata policies = %q, want %q", got, want.policies)
		}
	}
	if want.decision == "allow" || want.decision == "deny" {
		if md["decision_id"].GetStringValue() == "" || md["revision"].GetStringValue() != revision {
			t.Errorf("metadata lacks the decision id or revision: %v", md)
		}
	}
}

func allowed(principal, action, resource string, policies ...string) outcome {
	return outcome{code: codes.OK, decision: "allow", principal: principal, action: action, resource: resource, policies: policies}
}

func denied(principal, action, resource string, policies ...string) outcome {
	if policies == nil {
		policies = []string{}
	}
	return outcome{code: codes.PermissionDenied, http: typev3.StatusCode_Forbidden, decision: "deny",
		principal: principal, action: action, resource: resource, policies: policies}
}

var refused = outcome{code: codes.PermissionDenied, http: typev3.StatusCode_Forbidden, decision: "refused"}

var invalid = outcome{code: codes.InvalidArgument, http: typev3.StatusCode_BadRequest, decision: "invalid"}

const (
	paymentsAPISA = `Acme::ServiceAccount::"payments-api-prod"`
	settlementSA  = `Acme::ServiceAccount::"settlement-worker-prod"`
	readAction    = `Acme::Action::"read"`
	writeAction   = `Acme::Action::"write"`
	ledgerService = `Acme::Service::"ledger"`
)

// TestDecisions sends Envoy-shaped requests to a PDP serving examples/acme
// with the default mapping and checks each answer and that every decision
// is in the decision log with the bundle's revision.
func TestDecisions(t *testing.T) {
	p := startPDP(t, newStore(t, true), extauthz.Config{Namespace: "Acme"})
	tests := []struct {
		name string
		req  request
		want outcome
	}{
		{"workload allowed by its SPIFFE id", request{method: "POST", path: "/v1/entries", source: paymentsAPI},
			allowed(paymentsAPISA, writeAction, ledgerService, "entitlement:ServiceAccount/payments-api-prod:ledger-client#0")},
		{"workload allowed through its group", request{source: settlementWorker},
			allowed(settlementSA, readAction, ledgerService, "entitlement:Group/payments-workloads:ledger-reader#0")},
		{"denied by a forbid", request{method: "POST", source: paymentsAPI, sourceIP: "203.0.113.50"},
			denied(paymentsAPISA, writeAction, ledgerService, "ledger-writes-from-corp-network")},
		{"IPv4-mapped source address is judged as IPv4", request{method: "POST", source: paymentsAPI, sourceIP: "::ffff:10.20.8.15"},
			allowed(paymentsAPISA, writeAction, ledgerService, "entitlement:ServiceAccount/payments-api-prod:ledger-client#0")},
		{"denied when no policy applies", request{method: "DELETE", source: settlementWorker},
			denied(settlementSA, writeAction, ledgerService)},
		{"unknown workload is decided and denied", request{source: strangerWorkload},
			denied(`Acme::Unknown::"`+strangerWorkload+`"`, readAction, ledgerService)},
		{"caller without identity is decided and denied", request{},
			denied(`Acme::Unknown::""`, readAction, ledgerService)},
		{"principal header is ignored unless enabled",
			request{source: settlementWorker, headers: map[string]string{"x-cedargate-principal": `Acme::User::"priya.raman"`}},
			allowed(settlementSA, readAction, ledgerService, "entitlement:Group/payments-workloads:ledger-reader#0")},
		{"host names the resource without port, case or trailing dot", request{host: "CHECKOUT-WEB.:443", source: settlementWorker},
			denied(settlementSA, readAction, `Acme::Service::"checkout-web"`)},
	}
	ids := make([]string, len(tests))
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.check(t, envoyRequest(tc.req))
			expect(t, resp, err, tc.want)
			ids[i] = resp.GetDynamicMetadata().GetFields()["decision_id"].GetStringValue()
		})
	}

	lines := p.decisions(t)
	if len(lines) != len(tests) {
		t.Fatalf("decision log has %d lines, want %d: %+v", len(lines), len(tests), lines)
	}
	for i, l := range lines {
		want := tests[i].want
		if l.DecisionID != ids[i] || l.Decision != want.decision || l.Principal != want.principal ||
			l.Action != want.action || l.Resource != want.resource || !slices.Equal(l.Policies, want.policies) {
			t.Errorf("decision log line %d = %+v, want id %s and %+v", i, l, ids[i], want)
		}
		if l.Bundle.Revision != revision || l.Bundle.Environment != "prod" {
			t.Errorf("decision log line %d: bundle %+v, want revision %s in prod", i, l.Bundle, revision)
		}
	}
}

// TestMethods checks the default method → action map, and that a method
// outside it is refused without a decision.
func TestMethods(t *testing.T) {
	p := startPDP(t, newStore(t, true), extauthz.Config{Namespace: "Acme"})
	for _, tc := range []struct {
		method string
		want   outcome
	}{
		{"GET", allowed(paymentsAPISA, readAction, ledgerService)},
		{"HEAD", allowed(paymentsAPISA, readAction, ledgerService)},
		{"POST", allowed(paymentsAPISA, writeAction, ledgerService)},
		{"PUT", allowed(paymentsAPISA, writeAction, ledgerService)},
		{"PATCH", allowed(paymentsAPISA, writeAction, ledgerService)},
		{"DELETE", allowed(paymentsAPISA, writeAction, ledgerService)},
		{"OPTIONS", refused},
		{"TRACE", refused},
		{"PROPFIND", refused},
		{"get", refused}, // methods are case-sensitive (RFC 9110)
	} {
		t.Run(tc.method, func(t *testing.T) {
			resp, err := p.check(t, envoyRequest(request{method: tc.method, source: paymentsAPI}))
			expect(t, resp, err, tc.want)
		})
	}
	// Refusals are not decisions: only the six mapped methods are logged.
	if lines := p.decisions(t); len(lines) != 6 {
		t.Errorf("decision log has %d lines, want 6", len(lines))
	}
}

// TestConfiguredMapping runs a PDP with every option changed from its
// default.
func TestConfiguredMapping(t *testing.T) {
	p := startPDP(t, newStore(t, true), extauthz.Config{
		Namespace: "Acme",
		Principal: extauthz.PrincipalConfig{Header: "X-Cedargate-Principal", Unknown: extauthz.UnknownDeny},
		Actions:   map[string]string{"get": "read", "POST": `Acme::Action::"deploy"`},
		Resource:  extauthz.ResourceConfig{StripSuffixes: []string{".payments.svc.cluster.local"}},
		Response:  extauthz.ResponseConfig{DecisionHeader: "x-cedargate-decision"},
	})
	tests := []struct {
		name string
		req  request
		want outcome
	}{
		{"header principal wins over the SPIFFE id",
			request{source: settlementWorker, headers: map[string]string{"x-cedargate-principal": `Acme::User::"priya.raman"`}},
			denied(`Acme::User::"priya.raman"`, readAction, ledgerService)},
		{"unknown header principal refused", request{headers: map[string]string{"x-cedargate-principal": `Acme::User::"mallory"`}}, refused},
		{"malformed header principal", request{headers: map[string]string{"x-cedargate-principal": "mallory"}}, invalid},
		{"unknown workload refused", request{source: strangerWorkload}, refused},
		{"no identity refused", request{}, refused},
		// Which policies deny depends on the day (the holiday change
		// freeze forbids prod deploys), so they are not checked.
		{"configured action", request{method: "POST", host: "ledger.payments.svc.cluster.local", source: paymentsAPI},
			outcome{code: codes.PermissionDenied, http: typev3.StatusCode_Forbidden, decision: "deny",
				principal: paymentsAPISA, action: `Acme::Action::"deploy"`, resource: ledgerService}},
		{"suffix stripped", request{host: "ledger.payments.svc.cluster.local:8443", source: settlementWorker},
			allowed(settlementSA, readAction, ledgerService)},
		{"methods not configured are refused", request{method: "PUT", source: paymentsAPI}, refused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.check(t, envoyRequest(tc.req))
			expect(t, resp, err, tc.want)
			id := resp.GetDynamicMetadata().GetFields()["decision_id"].GetStringValue()
			var hdrs []string
			if ok := resp.GetOkResponse(); ok != nil {
				for _, h := range append(ok.GetHeaders(), ok.GetResponseHeadersToAdd()...) {
					hdrs = append(hdrs, h.GetHeader().GetKey()+"="+h.GetHeader().GetValue())
				}
				if want := []string{"x-cedargate-decision=" + id, "x-cedargate-decision=" + id}; !slices.Equal(hdrs, want) {
					t.Errorf("allow headers = %q, want %q", hdrs, want)
				}
			} else if tc.want.decision == "deny" {
				for _, h := range resp.GetDeniedResponse().GetHeaders() {
					hdrs = append(hdrs, h.GetHeader().GetKey()+"="+h.GetHeader().GetValue())
				}
				if !slices.Contains(hdrs, "x-cedargate-decision="+id) {
					t.Errorf("deny headers = %q, want the decision id %s", hdrs, id)
				}
			}
		})
	}
}

// TestContextReachesPolicies serves a variant of examples/acme whose
// policies read the HTTP context (as docs/envoy.md shows) and checks that
// path and allow-listed headers decide.
func TestContextReachesPolicies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "examples", "acme"))); err != nil {
		t.Fatal(err)
	}
	schema := filepath.Join(dir, "schema.cedarschema")
	data, err := os.ReadFile(schema)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "    mfa?: Bool,\n") {
		t.Fatal("examples/acme's context type changed; update this test")
	}
	data = []byte(strings.Replace(string(data), "    mfa?: Bool,\n",
		"    mfa?: Bool,\n    method?: String, path?: String, query?: String, host?: String,\n    headers?: { \"x-tenant\"?: String },\n", 1))
	if err := os.WriteFile(schema, data, 0o644); err != nil {
		t.Fatal(err)
	}
	policies := `@id("no-admin-through-the-mesh")
forbid (principal, action, resource == Acme::Service::"ledger")
when { context has path && context.path like "/admin/*" };

@id("blocked-tenant")
forbid (principal, action, resource)
when { context has headers && context.headers has "x-tenant" && context.headers["x-tenant"] == "blocked" };
`
	if err := os.WriteFile(filepath.Join(dir, "policies", "http.cedar"), []byte(policies), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := build.Build(t.Context(), dir, build.Options{Env: "prod", Now: refNow, Revision: revision})
	if err != nil {
		t.Fatal(err)
	}
	p := startPDP(t, storeWith(t, out.Archive, true), extauthz.Config{Namespace: "Acme", Context: extauthz.ContextConfig{Headers: []string{"x-tenant"}}})
	for _, tc := range []struct {
		name string
		req  request
		want outcome
	}{
		{"ordinary path", request{path: "/v1/balances?at=now", source: settlementWorker}, allowed(settlementSA, readAction, ledgerService)},
		{"admin path", request{path: "/admin/users?all", source: settlementWorker},
			denied(settlementSA, readAction, ledgerService, "no-admin-through-the-mesh")},
		{"blocked tenant header", request{source: settlementWorker, headers: map[string]string{"x-tenant": "blocked"}},
			denied(settlementSA, readAction, ledgerService, "blocked-tenant")},
		{"other tenant", request{source: settlementWorker, headers: map[string]string{"x-tenant": "acme"}},
			allowed(settlementSA, readAction, ledgerService)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.check(t, envoyRequest(tc.req))
			expect(t, resp, err, tc.want)
		})
	}
}

// TestResourceFromDestination names the resource after the destination
// workload, as a sidecar in front of that workload sees it.
func TestResourceFromDestination(t *testing.T) {
	p := startPDP(t, newStore(t, true), extauthz.Config{Namespace: "Acme", Resource: extauthz.ResourceConfig{From: extauthz.ResourceFromDestination}})
	resp, err := p.check(t, envoyRequest(request{source: settlementWorker, destination: ledgerWorkload}))
	expect(t, resp, err, denied(settlementSA, readAction, `Acme::ServiceAccount::"ledger-prod"`))
	resp, err = p.check(t, envoyRequest(request{source: settlementWorker, destination: strangerWorkload}))
	expect(t, resp, err, denied(settlementSA, readAction, `Acme::Unknown::"`+strangerWorkload+`"`))
	resp, err = p.check(t, envoyRequest(request{source: settlementWorker}))
	expect(t, resp, err, invalid)
}

// TestMalformed sends requests Envoy would not, or that a client made
// oversized, and expects INVALID_ARGUMENT with a 400 in the CheckResponse:
// in-band, so that failure_mode_allow can never let them through.
func TestMalformed(t *testing.T) {
	p := startPDP(t, newStore(t, true), extauthz.Config{
		Namespace: "Acme",
		Principal: extauthz.PrincipalConfig{Header: "x-user"},
		Context:   extauthz.ContextConfig{Headers: []string{"x-tenant"}},
	})
	long := func(n int) string { return strings.Repeat("a", n) }
	edit := func(f func(*authv3.CheckRequest)) *authv3.CheckRequest {
		req := envoyRequest(request{source: paymentsAPI})
		f(req)
		return req
	}
	http := func(req *authv3.CheckRequest) *authv3.AttributeContext_HttpRequest {
		return req.GetAttributes().GetRequest().GetHttp()
	}
	tests := []struct {
		name  string
		req   *authv3.CheckRequest
		field string
	}{
		{"empty request", &authv3.CheckRequest{}, "attributes: required"},
		{"no HTTP request", edit(func(r *authv3.CheckRequest) { r.Attributes.Request = nil }), "attributes.request.http: required"},
		{"no method", edit(func(r *authv3.CheckRequest) { http(r).Method = "" }), "attributes.request.http.method: required"},
		{"method not a token", edit(func(r *authv3.CheckRequest) { http(r).Method = "GE T" }), "attributes.request.http.method"},
		{"no path", edit(func(r *authv3.CheckRequest) { http(r).Path = "" }), "attributes.request.http.path: required"},
		{"absolute-form path", edit(func(r *authv3.CheckRequest) { http(r).Path = "http://ledger/x" }), "attributes.request.http.path"},
		{"control character in path", edit(func(r *authv3.CheckRequest) { http(r).Path = "/a\x00b" }), "attributes.request.http.path"},
		{"no host", edit(func(r *authv3.CheckRequest) { http(r).Host = "" }), "attributes.request.http.host: required"},
		{"bad host", edit(func(r *authv3.CheckRequest) { http(r).Host = `ledger"` }), "attributes.request.http.host"},
		{"bad port", edit(func(r *authv3.CheckRequest) { http(r).Host = "ledger:http" }), "attributes.request.http.host"},
		{"no source address", edit(func(r *authv3.CheckRequest) { r.Attributes.Source.Address = nil }), "attributes.source.address.socket_address.address: required"},
		{"source address not an IP", edit(func(r *authv3.CheckRequest) {
			r.Attributes.Source.Address.GetSocketAddress().Address = "ledger.local"
		}), "attributes.source.address.socket_address.address"},

		{"oversized path", edit(func(r *authv3.CheckRequest) { http(r).Path = "/" + long(extauthz.DefaultMaxPathBytes) }), "attributes.request.http.path: 8193 bytes"},
		{"oversized host", edit(func(r *authv3.CheckRequest) { http(r).Host = long(extauthz.DefaultMaxHostBytes + 1) }), "attributes.request.http.host: 513 bytes"},
		{"oversized source principal", edit(func(r *authv3.CheckRequest) {
			r.Attributes.Source.Principal = "spiffe://acme.example/" + long(extauthz.DefaultMaxPrincipalBytes)
		}), "attributes.source.principal: 2070 bytes"},
		{"oversized allow-listed header", edit(func(r *authv3.CheckRequest) { http(r).Headers["x-tenant"] = long(extauthz.DefaultMaxHeaderBytes + 1) }),
			`attributes.request.http.headers["x-tenant"]: 8193 bytes`},
		{"oversized principal header", edit(func(r *authv3.CheckRequest) { http(r).Headers["x-user"] = `Acme::User::"` + long(3000) + `"` }),
			`attributes.request.http.headers["x-user"]: 3014 bytes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.check(t, tc.req)
			expect(t, resp, err, invalid)
			if msg := resp.GetStatus().GetMessage(); !strings.HasPrefix(msg, tc.field) {
				t.Errorf("status message %q does not start with %q", msg, tc.field)
			}
			if body := resp.GetDeniedResponse().GetBody(); strings.Contains(body, "attributes") {
				t.Errorf("the client sees the reason: %q", body)
			}
		})
	}
	if lines := p.decisions(t); len(lines) != 0 {
		t.Errorf("refused requests reached the decision log: %+v", lines)
	}
}

// TestNoBundle checks that the PDP fails closed without a bundle: the RPC
// fails with UNAVAILABLE (Envoy then applies failure_mode_allow: false)
// and health reports NOT_SERVING; once a bundle is rolled out, the same
// PDP serves.
func TestNoBundle(t *testing.T) {
	st := newStore(t, false)
	p := startPDP(t, st, extauthz.Config{Namespace: "Acme"})
	req := envoyRequest(request{source: settlementWorker})
	if resp, err := p.check(t, req); status.Code(err) != codes.Unavailable {
		t.Fatalf("Check without a bundle = %v, %v; want UNAVAILABLE", resp, err)
	}
	// A malformed request is not judged before a bundle is active either:
	// nothing is answered without a bundle.
	if _, err := p.check(t, &authv3.CheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("malformed Check without a bundle: %v; want UNAVAILABLE", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	watch, err := p.health.Watch(ctx, &healthpb.HealthCheckRequest{Service: "envoy.service.auth.v3.Authorization"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := watch.Recv()
	if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health without a bundle = %v, %v; want NOT_SERVING", first, err)
	}
	activateBundle(t, st)
	// The watcher sees the rollout; wait for health to say so.
	for {
		u, err := watch.Recv()
		if err != nil {
			t.Fatalf("waiting for SERVING: %v", err)
		}
		if u.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
	}
	resp, err := p.check(t, req)
	expect(t, resp, err, allowed(settlementSA, readAction, ledgerService))
}
