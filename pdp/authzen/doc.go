// Package authzen serves the OpenID AuthZEN Authorization API 1.0 over
// HTTP from the PDP (`cedargate serve --http-listen`), beside its gRPC API,
// so that API gateways, identity providers and services in any language
// ask cedargate for decisions the standard way.
//
// A [Handler] answers the specification's endpoints at their default
// paths:
//
//   - POST /access/v1/evaluation: one decision;
//   - POST /access/v1/evaluations: many, with the top-level subject,
//     action, resource and context as defaults of each, and the three
//     evaluation semantics (execute_all, deny_on_first_deny,
//     permit_on_first_permit);
//   - POST /access/v1/search/{subject,resource,action}: who or what is
//     allowed, paginated with opaque tokens (see search.go);
//   - GET /.well-known/authzen-configuration: the PDP metadata.
//
// Decisions are made exactly as the gRPC Authorize call makes them,
// through pdp.Server.Begin: against one snapshot of the active bundle per
// request, counted in the same metrics, written to the same decision log
// with "frontend":"authzen" and the caller's mTLS identity.
//
// How AuthZEN's types, actions and properties become a Cedar request is
// identity code: the `authzen:` section of cedargate.yaml, compiled into
// the bundle (bundle.AuthZEN) and resolved against the bundle when it is
// activated (model.go). Without one, an AuthZEN type names the entity type
// of the same name (user is User, service_account ServiceAccount) and an
// action name the action of that id. Subject and resource properties
// become attributes laid over the bundle's entity for the request (its
// parents are never changed: engine.MergeAttributes); action properties
// and the context become the Cedar context; values are converted by the
// schema (convert.go). A type or action the mapping does not resolve is a
// 400 for an evaluation and an empty result for a search, never an allow.
//
// Requests are held to the HTTP rules of the specification: a JSON body
// (Content-Type application/json, I-JSON: UTF-8, unique member names),
// unknown members ignored, X-Request-ID echoed, errors as a JSON object
// {"error": {"status", "message"}} with 400 for a request the caller got
// wrong, 401 (with WWW-Authenticate) without a valid bearer token when
// tokens are configured, 503 when no bundle is active, 500 when something
// failed inside. Every body is bounded (Options.MaxBodyBytes) before it is
// parsed, and every value in it by the gRPC API's limits (wire.Limits).
// docs/authzen.md is the user's guide.
package authzen
