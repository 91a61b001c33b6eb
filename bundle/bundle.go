package bundle

import (
	"fmt"
	"time"
)

// FormatVersion is the version of the bundle layout this package writes and
// the only one it reads.
const FormatVersion = 1

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
	// AuthZEN is the repository's AuthZEN mapping, nil when it writes
	// none (see AuthZENFile).
	AuthZEN *AuthZEN
	// Digest identifies the content: "sha256:" and the hex SHA-256 of the
	// SHA256SUMS listing of the bundle's files. Encode and Decode set it.
	Digest string
	// Signature is the detached ed25519 signature over Digest, or nil.
	Signature *Signature
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
	// EarliestExpiry is the first instant at which a time-bound policy of
	// the bundle starts or stops applying; nil when none is time-bound.
	EarliestExpiry *time.Time `json:"earliest_expiry,omitempty"`
}

// Counts summarises what a bundle holds.
type Counts struct {
	Entities int `json:"entities"`
	Policies int `json:"policies"`
	// Grants counts the policies generated from entitlements and
	// exception grants.
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
}

// ActiveAt reports whether the policy's validity window contains t.
func (p *Policy) ActiveAt(t time.Time) bool {
	if p.NotBefore != nil && t.Before(*p.NotBefore) {
		return false
	}
	return p.NotAfter == nil || t.Before(*p.NotAfter)
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
