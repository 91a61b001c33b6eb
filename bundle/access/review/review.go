// Package review builds the access-review (attestation) report of one
// compiled environment: for each owning team, every identity (users and
// service accounts) with its owner, groups, entitlements, effective
// access, credential rotation, review status, the exceptions that apply to
// it and the guardrail findings about it, riskiest first, with a summary
// on top. It is what `cedargate review` prints, as a self-contained HTML
// page (html.go), CSV (csv.go) or JSON (the Report's own shape).
//
// The report is a value computed once ([New]) and rendered by each
// format, so the three always say the same thing. Everything is judged at
// one instant, the report's At, and sorted, so the same repository and
// instant give the same bytes.
package review

import (
	"time"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/access"
)

// ExpiringWithin is how close to its expiry an identity, grant or
// exception is reported as expiring soon: a month leaves an owner a
// review cycle to renew or remove it.
const ExpiringWithin = 30 * 24 * time.Hour

// Risk is how urgently an identity needs its owner's attention. Identities
// are listed by risk first, the most urgent first.
type Risk string

// The risks, most urgent first.
const (
	// RiskError: a guardrail finding of severity error is about the
	// identity or one of its grants.
	RiskError Risk = "error"
	// RiskOverdue: its access review or credential rotation is overdue,
	// or it has expired.
	RiskOverdue Risk = "overdue"
	// RiskExpiring: it, one of its grants or exceptions is expired or
	// expires within ExpiringWithin, or a warning is about it.
	RiskExpiring Risk = "expiring"
	// RiskOK: nothing needs attention.
	RiskOK Risk = "ok"
)

// rank orders risks, the most urgent first.
func (r Risk) rank() int {
	switch r {
	case RiskError:
		return 0
	case RiskOverdue:
		return 1
	case RiskExpiring:
		return 2
	}
	return 3
}

// Status is the state of something dated: a grant, an exception, an
// identity's expiry, a review or a rotation.
type Status string

// The statuses of dated things.
const (
	StatusOK       Status = "ok"
	StatusExpiring Status = "expiring"
	StatusExpired  Status = "expired"
	StatusOverdue  Status = "overdue"
	// StatusNever: a review or rotation that was never recorded.
	StatusNever Status = "never"
	// StatusAuto: a credential its issuer rotates (SPIFFE SVIDs).
	StatusAuto Status = "auto"
	// StatusNoExpiry: a grant or identity with no expiry written.
	StatusNoExpiry Status = "no-expiry"
)

// Report is the access review of one environment at one instant.
type Report struct {
	// Bundle names what was reviewed: revision, digest, environment.
	Bundle bundle.Ref `json:"bundle"`
	// At is the instant everything is judged at.
	At time.Time `json:"at"`
	// ExpiringWithin is ExpiringWithin, as "30d".
	ExpiringWithin string `json:"expiring_within"`
	// Summary counts the whole report; each section has its own counts.
	Summary Counts `json:"summary"`
	// Sections are the unowned section first (when any identity has no
	// team), then one per team by name.
	Sections []Section `json:"sections"`
	// OtherFindings are guardrail findings about no identity (a policy,
	// a profile, a group), sorted by position.
	OtherFindings []Finding `json:"other_findings"`
}

// Counts counts the identities of a section or report and what needs
// attention among them.
type Counts struct {
	Identities      int `json:"identities"`
	Users           int `json:"users"`
	ServiceAccounts int `json:"service_accounts"`
	// Errors counts identities with a guardrail error.
	Errors int `json:"errors"`
	// OverdueReviews and OverdueRotations count identities whose review
	// or credential rotation is overdue (or was never done).
	OverdueReviews   int `json:"overdue_reviews"`
	OverdueRotations int `json:"overdue_rotations"`
	// Expiring counts identities that, or whose grants or exceptions,
	// are expired or expire within ExpiringWithin.
	Expiring int `json:"expiring"`
}

// add counts id in c.
func (c *Counts) add(id *Identity) {
	c.Identities++
	if id.Kind == "User" {
		c.Users++
	} else {
		c.ServiceAccounts++
	}
	if id.errors() > 0 {
		c.Errors++
	}
	if id.Review != nil && id.Review.Status.late() {
		c.OverdueReviews++
	}
	if id.Credential != nil && id.Credential.Status.late() {
		c.OverdueRotations++
	}
	if id.expiring() {
		c.Expiring++
	}
}

// Section is one owning team's identities, or the unowned ones.
type Section struct {
	// Team is the owning team's name; empty for the unowned section.
	Team string `json:"team"`
	// Description is the team's description.
	Description string `json:"description"`
	Counts      Counts `json:"counts"`
	// Identities are sorted by risk, then kind and name.
	Identities []Identity `json:"identities"`
}

// Identity is one user or service account under review.
type Identity struct {
	// Kind is "User" or "ServiceAccount".
	Kind string `json:"kind"`
	Name string `json:"name"`
	// UID is the Cedar entity UID, e.g. Acme::User::"alice".
	UID         string `json:"uid"`
	Source      string `json:"source"`
	Description string `json:"description"`
	// Owner is a service account's owner as resolved (Team/x or User/x,
	// or as written when it resolves to nothing), or a user's first team
	// (Team/x); empty when there is none.
	Owner string `json:"owner"`
	// Teams are the teams the identity is a member of, Team/x.
	Teams []string `json:"teams"`
	// Groups are the groups it is in, directly or through other groups,
	// Group/x, sorted.
	Groups []string `json:"groups"`
	// Risk and the reasons for it, most urgent first.
	Risk    Risk     `json:"risk"`
	Reasons []string `json:"reasons"`
	// Expires is a service account's expiry; nil for users or when not
	// written (ExpiryStatus then says no-expiry).
	Expires      *time.Time  `json:"expires"`
	ExpiryStatus Status      `json:"expiry_status"`
	Credential   *Credential `json:"credential"`
	Review       *Review     `json:"review"`
	// Entitlements are the grants that apply to it, directly or through
	// a group or team, sorted by key.
	Entitlements []Grant `json:"entitlements"`
	// Exceptions are the break-glass grants and guardrail waivers that
	// name it or one of its groups, sorted by key.
	Exceptions []Exception `json:"exceptions"`
	// Access is its effective access at the report's instant.
	Access Access `json:"access"`
	// Findings are the guardrail findings about it or its grants.
	Findings []Finding `json:"findings"`
}

// errors counts the identity's error findings.
func (id *Identity) errors() int {
	n := 0
	for _, f := range id.Findings {
		if f.Severity == "error" {
			n++
		}
	}
	return n
}

// expiring reports whether the identity, or one of its grants or
// exceptions, is expired or expiring.
func (id *Identity) expiring() bool {
	if id.ExpiryStatus.ending() {
		return true
	}
	for _, g := range id.Entitlements {
		if g.Status.ending() {
			return true
		}
	}
	for _, e := range id.Exceptions {
		if e.Status.ending() {
			return true
		}
	}
	return false
}

// ending reports an expired or expiring status.
func (s Status) ending() bool { return s == StatusExpired || s == StatusExpiring }

// late reports an overdue or never done review or rotation.
func (s Status) late() bool { return s == StatusOverdue || s == StatusNever }

// Grant is an Entitlement that applies to an identity.
type Grant struct {
	// Key is the grant's name, or subject:profile when unnamed.
	Key     string `json:"key"`
	Profile string `json:"profile"`
	// Via is the group or team the grant reaches the identity through;
	// empty when granted to the identity itself.
	Via        string     `json:"via"`
	ApprovedBy string     `json:"approved_by"`
	Ticket     string     `json:"ticket"`
	Reason     string     `json:"reason"`
	Expires    *time.Time `json:"expires"`
	Status     Status     `json:"status"`
	Source     string     `json:"source"`
}

// Exception is a break-glass grant or a guardrail waiver that applies to
// an identity.
type Exception struct {
	Key string `json:"key"`
	// Type is "grant" (Profile set) or "waiver" (Rule set).
	Type       string     `json:"type"`
	Profile    string     `json:"profile"`
	Rule       string     `json:"rule"`
	Via        string     `json:"via"`
	ApprovedBy string     `json:"approved_by"`
	Ticket     string     `json:"ticket"`
	Reason     string     `json:"reason"`
	Expires    *time.Time `json:"expires"`
	Status     Status     `json:"status"`
	Source     string     `json:"source"`
}

// Credential is a service account's credential and its rotation.
type Credential struct {
	Type string `json:"type"`
	// Rotation is the cadence that applies (the account's, or
	// guardrails.credential_max_rotation), e.g. "30d".
	Rotation    string     `json:"rotation"`
	LastRotated *time.Time `json:"last_rotated"`
	// Due is when the next rotation is due; nil when never rotated or
	// rotated by its issuer.
	Due    *time.Time `json:"due"`
	Status Status     `json:"status"`
}

// Review is a service account's access review status.
type Review struct {
	// Cadence is the cadence that applies (the account's, or
	// guardrails.review_cadence), e.g. "90d".
	Cadence    string     `json:"cadence"`
	LastReview *time.Time `json:"last_review"`
	Due        *time.Time `json:"due"`
	Status     Status     `json:"status"`
}

// Access is an identity's effective access.
type Access struct {
	Total       int `json:"total"`
	Allow       int `json:"allow"`
	Conditional int `json:"conditional"`
	// Entries are the triples, sorted by action and resource, in the
	// shape `cedargate access --format json` prints.
	Entries []access.Entry `json:"entries"`
}

// Finding is a guardrail finding.
type Finding struct {
	// Severity is "error" or "warning".
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
	// Source is path:line:column.
	Source  string `json:"source"`
	Subject string `json:"subject"`
	Message string `json:"message"`
}
