// Package guardrail checks an identity repository against the rules that
// keep access safe: every non-human identity has a known owner, an expiry
// and fresh credentials, grants are approved and bounded in time, nothing
// grants everything, production identities stay out of other environments.
//
// Each rule has a stable name, reports at path:line:column, and has a
// severity (error by default) that cedargate.yaml can lower to warning or
// off. The only way to waive a rule for one object is an Exception in the
// repository: versioned, approved and time-bound. There is no inline
// suppression.
package guardrail

import "slices"

// Rule is a guardrail.
type Rule struct {
	Name string
	// Summary says in one sentence what the rule demands.
	Summary string
}

// The rule names, stable across releases.
const (
	NHIOwnerMissing           = "nhi-owner-missing"
	NHIOwnerUnknown           = "nhi-owner-unknown"
	NHIExpiryMissing          = "nhi-expiry-missing"
	NHILifetimeTooLong        = "nhi-lifetime-too-long"
	NHIExpired                = "nhi-expired"
	CredentialRotationOverdue = "credential-rotation-overdue"
	CredentialRotationTooSlow = "credential-rotation-too-slow"
	ReviewOverdue             = "review-overdue"
	EntitlementExpired        = "entitlement-expired"
	ExpiringSoon              = "expiring-soon"
	EntitlementUnapproved     = "entitlement-unapproved"
	JustificationMissing      = "justification-missing"
	ExceptionUnbounded        = "exception-unbounded"
	BroadGrant                = "broad-grant"
	UnknownEntity             = "unknown-entity"
	EnvironmentCrossover      = "environment-crossover"
	SharedIdentity            = "shared-identity"
	OrphanObject              = "orphan-object"
)

// Rules lists every guardrail, in the order the documentation presents
// them. It returns a new slice, so no caller can change another's.
func Rules() []Rule { return slices.Clone(rules) }

var rules = []Rule{
	{NHIOwnerMissing, "every ServiceAccount names an owner"},
	{NHIOwnerUnknown, "a ServiceAccount's owner is a Team or User of the repository"},
	{NHIExpiryMissing, "every ServiceAccount has an expiry"},
	{NHILifetimeTooLong, "a ServiceAccount expires within guardrails.nhi_max_lifetime (default 365d)"},
	{NHIExpired, "no expired ServiceAccount is left in the code (it is denied everything already)"},
	{CredentialRotationOverdue, "a credential was rotated within its rotation cadence"},
	{CredentialRotationTooSlow, "a credential's rotation cadence is at most guardrails.credential_max_rotation (default 90d)"},
	{ReviewOverdue, "a ServiceAccount was reviewed within its review cadence (default guardrails.review_cadence, 90d)"},
	{EntitlementExpired, "no expired Entitlement or exception grant is left in the code"},
	{ExpiringSoon, "a ServiceAccount, grant or Exception about to expire (within guardrails.expiry_warning, default 14d) is renewed or let go on purpose (a warning by default)"},
	{EntitlementUnapproved, "every grant is approved by a User who is not its subject nor a member of it"},
	{JustificationMissing, "every grant and Exception has the fields guardrails.require lists (ticket, reason)"},
	{ExceptionUnbounded, "every Exception has an expiry within guardrails.exception_max_duration (default 30d), an approver and a reason"},
	{BroadGrant, "no policy or access profile permits any principal, any action or any resource, unless an Exception waives it"},
	{UnknownEntity, "every entity a hand-written policy or an access profile's condition names exists in some environment"},
	{EnvironmentCrossover, "no ServiceAccount or SPIFFE id is present both in production and in another environment"},
	{SharedIdentity, "a ServiceAccount serves one workload SPIFFE id, and a SPIFFE id belongs to one ServiceAccount"},
	{OrphanObject, "no group without members, no profile granted to nobody, no grant to an unknown subject, no waiver that waives nothing"},
}

// defaultSeverity holds the severity of the rules that are not errors
// unless cedargate.yaml says so.
var defaultSeverity = map[string]string{ExpiringSoon: "warning"}

// DefaultSeverity returns the severity of rule name where
// guardrails.severity does not set one: "error", or "warning" for rules
// that only give notice.
func DefaultSeverity(name string) string {
	if s, ok := defaultSeverity[name]; ok {
		return s
	}
	return "error"
}

// Known reports whether name is a rule.
func Known(name string) bool {
	for _, r := range rules {
		if r.Name == name {
			return true
		}
	}
	return false
}
