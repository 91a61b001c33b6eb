// Package workload generates the identity repositories and request mixes
// of cedargate's benchmarks, deterministically: the same [Spec] always
// gives byte-identical files and the same requests, so results from
// different machines and days describe the same workload.
//
// A repository is written in cedargate's real format (cedargate.yaml, a
// schema, identities/**/*.yaml, hand-written policies, a decision test)
// and builds with `cedargate build --env prod --now <Spec.Now>`. Its
// shape:
//
//   - Users and ServiceAccounts (whose names carry ${env}), every one a
//     member of a Team and of one or two groups of the deepest group level;
//   - Groups nested Depth levels deep, each group below the roots with one
//     parent (a tenth with two, so the hierarchy is a DAG);
//   - Resources: services, databases, tables (inside a database), queues
//     and folders, with the attributes the policies read;
//   - AccessProfiles of one to three permissions, each naming resources
//     (a resource, everything in a database, or every resource of a type);
//   - Entitlements granting them to principals, teams and groups of every
//     level (every root group has at least one grant), some expiring, some
//     expired, some limited to the staging environment; break-glass
//     Exceptions;
//   - ten hand-written ABAC policies (contractors and customer data, MFA
//     for changes, network origin, a change freeze, risk scores, document
//     ownership and clearance).
//
// Request mixes ([Mix]) draw principals, actions and resources from that
// model: requests a grant allows, random ones that are mostly denied,
// requests whose principal reaches its grant through the whole group
// hierarchy, requests carrying request-scoped entities, and requests with
// a large context.
//
// The same model is exported for OPA ([Repo.OPAData], [OPAPolicy]) so that
// the peer comparison decides exactly the same RBAC question.
package workload
