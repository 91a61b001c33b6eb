package repo

import (
	"fmt"
	"time"

	"github.com/cedargate/cedargate/bundle/diag"
)

// Kind is the kind of an identity object, the value of its `kind:` field.
type Kind string

// The identity kinds of DESIGN.md.
const (
	KindUser           Kind = "User"
	KindServiceAccount Kind = "ServiceAccount"
	KindGroup          Kind = "Group"
	KindTeam           Kind = "Team"
	KindResource       Kind = "Resource"
	KindAccessProfile  Kind = "AccessProfile"
	KindEntitlement    Kind = "Entitlement"
	KindException      Kind = "Exception"
)

// Kinds lists every kind, in the order the documentation presents them.
// It returns a new slice, so no caller can change another's.
func Kinds() []Kind {
	return []Kind{KindUser, KindServiceAccount, KindGroup, KindTeam, KindResource, KindAccessProfile, KindEntitlement, KindException}
}

// Meta is what every identity object has.
type Meta struct {
	Kind Kind
	// Name is the object's name: the Cedar entity id for principals,
	// groups, teams and resources. Entitlements and exceptions may leave it
	// empty; Key then derives one from the subject and profile.
	Name        string
	Description string
	// Environments lists the environments the object exists in; nil means
	// all of them.
	Environments []string
	// Pos is where the object's YAML document starts.
	Pos diag.Position
	// fields records where each field's value is, for messages that point
	// at the exact line.
	fields map[string]diag.Position
	// display names an unnamed Entitlement or Exception in messages and
	// keys: "subject:profile" for grants, "rule:subject" for waivers.
	display string
}

// FieldPos returns the position of field's value, or of the object when the
// field is absent.
func (m *Meta) FieldPos(field string) diag.Position {
	if p, ok := m.fields[field]; ok {
		return p
	}
	return m.Pos
}

// Label names the object in messages: `ServiceAccount "ledger-bot"`.
func (m *Meta) Label() string {
	return fmt.Sprintf("%s %q", m.Kind, m.ident())
}

func (m *Meta) ident() string {
	if m.Name == "" {
		return m.display
	}
	return m.Name
}

// Key is the object's reference, "Kind/name", that Exception subjects
// use to waive a guardrail for it. An unnamed Entitlement is
// "Entitlement/<subject>:<profile>", an unnamed waiver
// "Exception/<rule>:<subject>".
func (m *Meta) Key() string {
	return string(m.Kind) + "/" + m.ident()
}

// Attrs are attribute values as written, converted to Cedar later against
// the schema.
type Attrs map[string]*Value

// Value is an attribute value as written in YAML, with its position.
type Value struct {
	n   *node
	env string
}

// Pos is where the value is written.
func (v *Value) Pos() diag.Position { return v.n.pos }

// User is a person.
type User struct {
	Meta
	Groups     []Token
	Attributes Attrs
}

// ServiceAccount is a non-human identity: a workload, a job, a bot, an API
// key holder.
type ServiceAccount struct {
	Meta
	// Owner names the Team or User accountable for the account.
	Owner string
	// Expires is when the account stops being valid; nil when not written.
	Expires    *time.Time
	Groups     []Token
	SPIFFEIDs  []Token
	Credential *Credential
	Review     *Review
	Attributes Attrs
}

// Credential describes how a ServiceAccount authenticates and how often its
// secret is rotated.
type Credential struct {
	Type        string
	Rotation    time.Duration // zero when not written
	LastRotated *time.Time
}

// Review records the periodic access review of a ServiceAccount.
type Review struct {
	Cadence    time.Duration // zero when not written
	LastReview *time.Time
}

// Group is a set of principals; groups nest through Groups (parents).
type Group struct {
	Meta
	Groups     []Token
	Attributes Attrs
}

// Team is an owning unit; its members are users or service accounts.
type Team struct {
	Meta
	Members []Token
}

// Resource is something access is granted to.
type Resource struct {
	Meta
	// Type is the Cedar entity type, qualified with the repository
	// namespace when written without one.
	Type       string
	Parents    []Token
	Attributes Attrs
}

// AccessProfile is a named set of permissions.
type AccessProfile struct {
	Meta
	Permissions []Permission
}

// Permission lets some actions on some resources, optionally when a Cedar
// condition holds.
type Permission struct {
	Pos       diag.Position
	Actions   []Token
	Resources []Token
	// When is a Cedar expression, or empty.
	When    string
	WhenPos diag.Position
	// WhenText is where the condition's first character is in the file,
	// when the file holds the condition as it is, on one line; zero
	// otherwise (a block scalar, escapes, ${env}).
	WhenText diag.Position
}

// Token is a string written in a list, with its position.
type Token struct {
	Text string
	Pos  diag.Position
}

// Entitlement grants an access profile to a principal or group.
type Entitlement struct {
	Meta
	Subject    string
	Profile    string
	ApprovedBy string
	Expires    *time.Time
	Ticket     string
	Reason     string
}

// Exception is a time-bound, approved break-glass grant (Subject and
// Profile) or guardrail waiver (Rule, optionally limited to Subject).
type Exception struct {
	Meta
	Subject    string
	Rule       string
	Profile    string
	Expires    *time.Time
	ApprovedBy string
	Reason     string
	Ticket     string
}

// IsGrant reports whether the exception grants access rather than waiving a
// guardrail.
func (e *Exception) IsGrant() bool { return e.Profile != "" }

// GrantKey is the name a grant is known by in generated policy ids and
// messages: its own name when it has one, otherwise subject and profile.
func GrantKey(name, subject, profile string) string {
	if name != "" {
		return name
	}
	return subject + ":" + profile
}
