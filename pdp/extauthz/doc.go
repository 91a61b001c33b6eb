// Package extauthz serves Envoy's external authorization API
// (envoy.service.auth.v3.Authorization/Check) on the PDP, so that an Envoy
// sidecar or gateway with the ext_authz HTTP filter enforces cedargate
// decisions in front of any HTTP service.
//
// A [Mapper], configured by a [Config], turns Envoy's CheckRequest into a
// Cedar request:
//
//   - principal: the ServiceAccount whose spiffe_id is the source
//     workload's SPIFFE id (attributes.source.principal, from mTLS), or,
//     only when enabled, the Cedar UID in a header set by an authentication
//     filter. A caller the bundle does not know becomes
//     <ns>::Unknown::"<spiffe id>" (decided like any other request, so
//     typically denied) or is refused, as configured;
//   - action: <ns>::Action::"read" for GET and HEAD, "write" for POST, PUT,
//     PATCH and DELETE, or as configured; other methods are refused;
//   - resource: <ns>::Service::"<host>" from the :authority without port, or
//     the destination workload by its SPIFFE id;
//   - context: source_ip (ipaddr), now (datetime), method, path, query and
//     host, and under headers only the request headers the configuration
//     allow-lists.
//
// [Service] decides the request with the PDP's Server.Decide, so an
// ext_authz decision is counted, logged with its bundle revision and made
// against one snapshot exactly like an Authorize call. Every value taken
// from the request is checked against [Limits] first.
//
// The answers: allow is an OK CheckResponse and deny is PERMISSION_DENIED
// with a 403; both decisions carry the decision id, revision and
// determining policies in dynamic metadata for Envoy's access log. A
// request refused without a decision is INVALID_ARGUMENT with a 400 when
// it is malformed or oversized, and PERMISSION_DENIED with a 403 when it
// is not mapped (a method no action is mapped to, or an unknown principal
// under principal.unknown: deny); its metadata carries only the decision
// (invalid or refused), the reason and the revision. When no decision can
// be made (no active bundle, an internal error) the RPC fails
// (UNAVAILABLE, INTERNAL), so Envoy applies failure_mode_allow, which must
// stay false. docs/envoy.md is the user's guide.
package extauthz
