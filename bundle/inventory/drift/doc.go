// Package drift compares live directories (inventory snapshots) with the
// identity code of one environment and reports where they differ: live
// objects that code does not know, code objects that were never
// provisioned, group memberships and Kubernetes bindings that code does
// not grant, and live credentials that break what code says about them.
//
// The comparison uses each source's default mapping, chosen by the
// snapshot's source name (scim, kubernetes, awsiam); a mapping declared in
// cedargate.yaml is not built yet. It lives under bundle/inventory rather
// than bundle/drift because it reads nothing but snapshots and a
// repo.View.
//
// Findings come in a deterministic order (source, kind, live key, code
// object), so reports can be compared between runs. docs/drift.md explains
// each kind and how to fix it in code.
package drift
