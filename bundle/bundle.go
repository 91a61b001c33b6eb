package bundle

import (
	"fmt"
	"time"
)

// FormatVersion is the version of the bundle layout this package writes.
// Version 2 added grants.json and template policies (grants as data, see
// Grant); Decode reads versions 1 and 2, and Encode writes either, as the
// manifest says.
const FormatVersion = 2

// MinFormatVersion is the oldest bundle layout this package reads: version
// 1, where every grant is a policy of its own.
const MinFormatVersion = 1

// Bundle is one environment of an identity repository at one revision,
// compiled to Cedar.
type Bundle struct {
	Manifest Manifest
	// Schema is the Cedar schema (human-readable syntax) the policies and
	// entities were validated against: the repository's schema merged with
	// the entity types cedargate generates. Empty when the repository has
	// no schema.
	Schema []byte
	// Entities is the Cedar JSON entity list, one entity per line, sorted by
	// entity UID.
	Entities []byte
	// Policies are sorted by ID.
	Policies []Policy
	// Grants are sorted by ID; a version 1 bundle has none.
	Grants []Grant
	// AuthZEN is the repository's AuthZEN mapping, nil when it writes
	// none (see AuthZENFile).
	AuthZEN *AuthZEN
	// Digest identifies the content: "sha256:" and the hex SHA-256 of the
	// SHA256SUMS listing of the bundle's files. Encode and Decode set it.
	Digest string
	// Signature is the detached ed25519 signature over Digest, or nil.
	Signature *Signature
	// Sums holds the SHA-256 of each of the bundle's files, by name, as
	// Decode checked them against SHA256SUMS; nil for a bundle not
	// decoded. The decision engine tells from them what a new bundle
	// shares with the one it serves.
	Sums map[string][32]byte
	// Sizes holds the size of each of the bundle's files, by name, as
	// Decode read them; nil for a bundle not decoded.
	Sizes map[string]int64
	// Held names the files that Decode found to be the very bytes its
	// EntityReader's owner holds decoded (see Holder): Decode did not
	// decode them, and their lists (Policies, Grants) are nil.
	Held map[string]bool
	// EntityReader is what read entities.json when Decode streamed it to
	// one (DecodeOptions.Entities); Entities is then nil.
	EntityReader EntityReader
}

// Manifest describes a bundle. Every field is derived from the source and
// the build options, never from the building machine's clock or file
// order, so two builds of the same source are byte-identical.
type Manifest struct {
	FormatVersion int `json:"format_version"`
	// Name is the repository's name from cedargate.yaml.
	Name string `json:"name,omitempty"`
	// Revision is the Git commit of the source (full hash), marked
	// "-dirty-<source digest prefix>" when built from a modified work tree,
	// or "src-<source digest prefix>" outside Git, unless overridden.
	Revision    string `json:"revision"`
	Environment string `json:"environment"`
	// SourceDigest is the SHA-256 over every input file, "sha256:<hex>".
	SourceDigest string `json:"source_digest"`
	// CompilerVersion is the cedargate version that built the bundle.
	CompilerVersion string `json:"compiler_version"`
	// BuildTime is the commit time of the revision (like SOURCE_DATE_EPOCH),
	// so that rebuilding later gives the same bytes; zero outside Git.
	BuildTime time.Time `json:"build_time"`
	Counts    Counts    `json:"counts"`
	// EarliestExpiry is the first instant at which a time-bound policy or
	// grant of the bundle starts or stops applying; nil when none is
	// time-bound.
	EarliestExpiry *time.Time `json:"earliest_expiry,omitempty"`
}

// Counts summarises what a bundle holds.
type Counts struct {
	Entities int `json:"entities"`
	Policies int `json:"policies"`
	// Grants counts the entitlement and exception grants (in a version 1
	// bundle, the policies generated from them).
	Grants int `json:"grants"`
}

// Policy is one Cedar policy of a bundle with the metadata cedargate adds.
type Policy struct {
	// ID is the policy's @id annotation, "<path>#<n>" for an unannotated
	// hand-written policy, or a generated id that names its identity object.
	ID string `json:"id"`
	// Source is where the policy comes from, "path:line:column".
	Source string `json:"source"`
	// Origin says which kind of object produced the policy: "policy" for
	// hand-written Cedar, or an identity kind ("Entitlement", "Exception",
	// "ServiceAccount").
	Origin string `json:"origin"`
	// NotBefore and NotAfter bound when the policy applies: it is
	// considered at a decision instant t only if NotBefore <= t < NotAfter.
	// Nil means unbounded. This is how expiring grants stop granting with
	// no rebuild: the decision engine skips the policy.
	NotBefore *time.Time `json:"not_before,omitempty"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
	// Cedar is the policy in Cedar's human-readable syntax.
	Cedar string `json:"cedar"`
	// Template marks a policy generated once for many grants: one per
	// resource selector of an access profile's permissions, or the one
	// forbid of every expired service account. Its principal scope is
	// `principal in P`, and the grants whose Parent is P make principals
	// members of P (see Grant). Decisions it determines name the grants
	// that made it apply, not the template: each as the grant's ID
	// followed by the "#<n>" that ends the template's ID, if it ends so,
	// at the grant's Source. So a decision stays traceable to the line of
	// identity code that allowed it, while the bundle holds one policy per
	// profile rather than one per grant.
	Template bool `json:"template,omitempty"`
}

// Grant is a membership that holds for a time: while [NotBefore,
// NotAfter) contains the decision instant, Principal has Parent as a
// parent (the entities list the edge; the decision engine hides it
// outside the window). It is how a bundle carries entitlements and
// exception grants as data: Parent is the AccessProfile entity that the
// profile's template policies name. A ServiceAccount's expiry is one too:
// from its expiry on, the account is a member of the set that the expiry
// template forbids everything.
type Grant struct {
	// ID names the grant, as a policy id names a policy
	// ("entitlement:Group/payments-engineers:payments-db-reader",
	// "expired:ServiceAccount/ledger-prod"); decisions name the grant
	// with it (see Policy.Template).
	ID string `json:"id"`
	// Source is where the grant is written, "path:line:column".
	Source string `json:"source"`
	// Origin is the identity kind the grant comes from: "Entitlement",
	// "Exception" or "ServiceAccount".
	Origin string `json:"origin"`
	// Principal is the member, Parent what it is a member of.
	Principal UID `json:"principal"`
	Parent    UID `json:"parent"`
	// Members is true when the grant reaches Principal's members too (a
	// Group or a Team), false for a grant to one user or account.
	// Membership in the entity graph decides either way; analyses show
	// the policies a grant stands for with `principal in` or
	// `principal ==` accordingly.
	Members bool `json:"members,omitempty"`
	// NotBefore and NotAfter bound when the membership holds, as
	// Policy's do; nil means unbounded.
	NotBefore *time.Time `json:"not_before,omitempty"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
}

// UID is a Cedar entity UID, as Cedar's JSON entity format writes one.
type UID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// ActiveAt reports whether the grant's validity window contains t.
func (g *Grant) ActiveAt(t time.Time) bool { return within(g.NotBefore, g.NotAfter, t) }

// ActiveAt reports whether the policy's validity window contains t.
func (p *Policy) ActiveAt(t time.Time) bool { return within(p.NotBefore, p.NotAfter, t) }

// within reports whether [notBefore, notAfter) contains t, nil bounds
// being open.
func within(notBefore, notAfter *time.Time, t time.Time) bool {
	if notBefore != nil && t.Before(*notBefore) {
		return false
	}
	return notAfter == nil || t.Before(*notAfter)
}

// Ref is the short identity of a bundle that decisions are recorded against.
type Ref struct {
	Revision    string `json:"revision"`
	Digest      string `json:"digest"`
	Environment string `json:"environment"`
}

// Ref returns the bundle's revision, digest and environment.
func (b *Bundle) Ref() Ref {
	return Ref{Revision: b.Manifest.Revision, Digest: b.Digest, Environment: b.Manifest.Environment}
}

// String renders a ref for logs and messages.
func (r Ref) String() string {
	return fmt.Sprintf("%s (%s, %s)", r.Revision, r.Environment, ShortDigest(r.Digest))
}

// ShortDigest abbreviates "sha256:<hex>" to its first 12 hex digits for
// people to read; machines compare full digests.
func ShortDigest(d string) string {
	const prefix = "sha256:"
	if len(d) > len(prefix)+12 {
		return d[len(prefix) : len(prefix)+12]
	}
	return d
}
