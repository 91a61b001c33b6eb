package repo

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
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
//
// The yaml tags name each field as identity files write it; the decoder
// reads fields by those names, and bundle/repo/idschema generates the JSON
// Schema of identity files from these types, tags and doc comments (a test
// there checks that the schema and the decoder know the same fields).
type Meta struct {
	// Kind is the object's kind.
	Kind Kind `yaml:"kind" schema:"required"`
	// Name is the object's name: the Cedar entity id for principals,
	// groups, teams and resources. Entitlements and exceptions may leave it
	// out; their Key is then made of the subject and profile.
	Name string `yaml:"name"`
	// Description says what the object is for, for people.
	Description string `yaml:"description"`
	// Environments are the environments the object exists in; when
	// absent (nil), all of them.
	Environments []string `yaml:"environments"`
	// Pos is where the object's YAML document starts.
	Pos diag.Position `yaml:"-"`
	// fields records where each field's value is, for messages that point
	// at the exact line, sorted by the name's number. A slice, not a map: a repository
	// of a million objects keeps one per object, and a map of a dozen
	// positions takes four times the room.
	fields []fieldPos
	// display names an unnamed Entitlement or Exception in messages and
	// keys: "subject:profile" for grants, "rule:subject" for waivers.
	display string
}

// FieldPos returns the position of field's value, or of the object when the
// field is absent.
func (m *Meta) FieldPos(field string) diag.Position {
	id, ok := fieldNames.lookup(field)
	if !ok {
		return m.Pos
	}
	if i, ok := slices.BinarySearchFunc(m.fields, id, func(f fieldPos, id uint32) int { return cmp.Compare(f.name, id) }); ok {
		return diag.Position{File: m.Pos.File, Line: int(m.fields[i].line), Col: int(m.fields[i].col)}
	}
	return m.Pos
}

// fieldPos is where a field's value is, in the object's file: 12 bytes,
// the field's name interned (see fieldNames).
type fieldPos struct {
	name      uint32
	line, col int32
}

// fieldNames interns the names of the fields objects record positions
// of: the decoder's own keys (a few dozen), never a key of the input.
var fieldNames = interner{ids: map[string]uint32{}}

// interner numbers strings, safe for concurrent use.
type interner struct {
	mu  sync.RWMutex
	ids map[string]uint32
}

// lookup returns s's number, if it has one.
func (in *interner) lookup(s string) (uint32, bool) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	id, ok := in.ids[s]
	return id, ok
}

// id returns s's number, numbering it when new.
func (in *interner) id(s string) uint32 {
	if id, ok := in.lookup(s); ok {
		return id
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	id, ok := in.ids[s]
	if !ok {
		id = uint32(len(in.ids))
		in.ids[s] = id
	}
	return id
}

// meta gives the Meta every object kind embeds.
func (m *Meta) meta() *Meta { return m }

// setFields records the positions of an object's fields (see Meta.fields).
func (m *Meta) setFields(pos map[string]diag.Position) {
	m.fields = make([]fieldPos, 0, len(pos))
	for name, p := range pos {
		m.fields = append(m.fields, fieldPos{name: fieldNames.id(name), line: int32(p.Line), col: int32(p.Col)})
	}
	slices.SortFunc(m.fields, func(a, b fieldPos) int { return cmp.Compare(a.name, b.name) })
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
// It holds the value rendered as JSON (see JSON), not its YAML tree: a
// tree takes several times the room, and every identity has attributes.
type Value struct {
	pos  diag.Position
	json string
	err  error
}

// newValue renders the YAML value n for env.
func newValue(n *node, env string) *Value {
	b, err := appendJSON(nil, n, env, 0)
	return &Value{pos: n.pos, json: string(b), err: err}
}

// Pos is where the value is written.
func (v *Value) Pos() diag.Position { return v.pos }

// User is a person.
type User struct {
	Meta
	// Groups are the groups the user belongs to.
	Groups []Token `yaml:"groups"`
	// SCIMUserName is the user's SCIM userName when it is neither the
	// user's name nor the name followed by @domain; cedargate drift
	// matches live SCIM users by it.
	SCIMUserName string `yaml:"scim_username"`
	// Attributes are the user's Cedar attributes, typed by the schema.
	Attributes Attrs `yaml:"attributes"`
}

// ServiceAccount is a non-human identity: a workload, a job, a bot, an API
// key holder.
type ServiceAccount struct {
	Meta
	// Owner names the Team or User accountable for the account.
	Owner string `yaml:"owner"`
	// Expires is when the account stops being valid; nil when not
	// written, which the guardrail nhi-expiry-missing refuses.
	Expires *time.Time `yaml:"expires"`
	// Groups are the groups the account belongs to.
	Groups []Token `yaml:"groups"`
	// SPIFFEIDs are the workload's SPIFFE ids (spiffe://…), by which
	// Envoy's ext_authz finds it.
	SPIFFEIDs []Token `yaml:"spiffe_id"`
	// Kubernetes are the Kubernetes ServiceAccounts ("namespace/name")
	// that run as this account; cedargate drift matches live ones by it.
	Kubernetes []Token `yaml:"kubernetes"`
	// AWSARN is the ARN of the IAM role or user that is this account;
	// cedargate drift matches live IAM objects by it.
	AWSARN string `yaml:"aws_arn"`
	// Credential is how the account authenticates and how often its
	// secret is rotated.
	Credential *Credential `yaml:"credential"`
	// Review is the periodic access review of the account.
	Review *Review `yaml:"review"`
	// Attributes are the account's Cedar attributes, typed by the schema.
	Attributes Attrs `yaml:"attributes"`
}

// Credential describes how a ServiceAccount authenticates and how often its
// secret is rotated.
type Credential struct {
	// Type is the kind of secret, e.g. x509-svid, api-key, password.
	Type string `yaml:"type" schema:"required"`
	// Rotation is how often the secret must be rotated; zero when not
	// written.
	Rotation time.Duration `yaml:"rotation"`
	// LastRotated is when the secret was last rotated.
	LastRotated *time.Time `yaml:"last_rotated"`
}

// Review records the periodic access review of a ServiceAccount.
type Review struct {
	// Cadence is how often the account's access must be reviewed; zero
	// when not written (the guardrail's default applies).
	Cadence time.Duration `yaml:"cadence"`
	// LastReview is when the access was last reviewed.
	LastReview *time.Time `yaml:"last_review"`
}

// Group is a set of principals; groups nest through Groups (parents).
type Group struct {
	Meta
	// Groups are the group's parent groups.
	Groups []Token `yaml:"groups"`
	// SCIMDisplayName is the group's SCIM displayName when it is not the
	// group's name (a displayName may hold spaces, a name may not);
	// cedargate drift matches live SCIM groups by it.
	SCIMDisplayName string `yaml:"scim_displayname"`
	// Attributes are the group's Cedar attributes, typed by the schema.
	Attributes Attrs `yaml:"attributes"`
}

// Team is an owning unit; its members are users or service accounts.
type Team struct {
	Meta
	// Members are the team's users and service accounts.
	Members []Token `yaml:"members"`
}

// Resource is something access is granted to.
type Resource struct {
	Meta
	// Type is the Cedar entity type, qualified with the repository
	// namespace when written without one.
	Type string `yaml:"type" schema:"required"`
	// Parents are the resources this one is in (Type/name, or a name of
	// the same type).
	Parents []Token `yaml:"parents"`
	// Attributes are the resource's Cedar attributes, typed by the schema.
	Attributes Attrs `yaml:"attributes"`
}

// AccessProfile is a named set of permissions.
type AccessProfile struct {
	Meta
	// Permissions are what the profile lets its holders do.
	Permissions []Permission `yaml:"permissions" schema:"required"`
}

// Permission lets some actions on some resources, optionally when a Cedar
// condition holds.
type Permission struct {
	Pos diag.Position `yaml:"-"`
	// Actions are action ids, or "*" for every action.
	Actions []Token `yaml:"actions" schema:"required"`
	// Resources are resources (Type/name, a name, Type/* for every
	// resource of a type) or "*" for every resource.
	Resources []Token `yaml:"resources" schema:"required"`
	// When is a Cedar expression, or empty.
	When    string        `yaml:"when"`
	WhenPos diag.Position `yaml:"-"`
	// WhenText is where the condition's first character is in the file,
	// when the file holds the condition as it is, on one line; zero
	// otherwise (a block scalar, escapes, ${env}).
	WhenText diag.Position `yaml:"-"`
}

// Token is a string written in a list, with its position.
type Token struct {
	Text string
	Pos  diag.Position
}

// Entitlement grants an access profile to a principal or group.
type Entitlement struct {
	Meta
	// Subject is the principal or group granted the profile (Kind/name).
	Subject string `yaml:"subject" schema:"required"`
	// Profile is the access profile granted (a name or AccessProfile/name).
	Profile string `yaml:"profile" schema:"required"`
	// ApprovedBy is who approved the grant.
	ApprovedBy string `yaml:"approved_by"`
	// Expires is when the grant stops granting, enforced at decision time.
	Expires *time.Time `yaml:"expires"`
	// Ticket is the change or request ticket of the grant.
	Ticket string `yaml:"ticket"`
	// Reason says why the grant is needed.
	Reason string `yaml:"reason"`
}

// Exception is a time-bound, approved break-glass grant (Subject and
// Profile) or guardrail waiver (Rule, optionally limited to Subject).
type Exception struct {
	Meta
	// Subject is the principal granted the profile, or the object a
	// guardrail waiver applies to (Kind/name).
	Subject string `yaml:"subject"`
	// Rule is the guardrail waived; empty for a break-glass grant.
	Rule string `yaml:"rule"`
	// Profile is the access profile a break-glass grant gives.
	Profile string `yaml:"profile"`
	// Expires is when the exception ends, enforced at decision time.
	Expires *time.Time `yaml:"expires"`
	// ApprovedBy is who approved the exception.
	ApprovedBy string `yaml:"approved_by"`
	// Reason says why the exception is needed.
	Reason string `yaml:"reason"`
	// Ticket is the incident or request ticket of the exception.
	Ticket string `yaml:"ticket"`
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
