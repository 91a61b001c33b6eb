// Package inventory reads identities from live directories, read-only, so
// that they can be compared with identity code (cedargate drift) or
// written as identity code (cedargate import). Each directory is read by a
// Source of its own, in a sub-package (scim, kubernetes, awsiam), into the
// same shape: a Snapshot of Objects.
//
// Sources bound what they read: every source documents its page size,
// response size and timeouts, and fails with an error naming the source,
// the request or file and what was wrong, never with a partial snapshot.
package inventory

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Kind is the kind of a live object, named as the identity kinds of code
// are where one corresponds.
type Kind string

// The kinds of live objects.
const (
	// User is a person's account (a SCIM User, an IAM user that a person
	// holds).
	User Kind = "User"
	// Group is a set of accounts (a SCIM Group, an IAM group).
	Group Kind = "Group"
	// ServiceAccount is a non-human identity (a Kubernetes
	// ServiceAccount, an IAM role or an IAM user used by software).
	ServiceAccount Kind = "ServiceAccount"
	// Binding grants a role to subjects (a Kubernetes RoleBinding or
	// ClusterRoleBinding, an IAM policy attachment).
	Binding Kind = "Binding"
)

// Object is one live object.
type Object struct {
	// Kind is what the object is.
	Kind Kind
	// ID is the directory's own identifier (a SCIM id, a Kubernetes uid,
	// an ARN); findings name it so an operator can find the object.
	ID string
	// Key is the value that matches the object with identity code under
	// the source's default mapping: a SCIM userName or group displayName,
	// a Kubernetes "namespace/name", an ARN.
	Key string
	// Name is a short name suggested for identity code (the part of the
	// key that is a valid identity name).
	Name string
	// DisplayName is a human-readable name, when the directory has one.
	DisplayName string
	// Active is false for an account the directory marks disabled.
	Active bool
	// Attributes are further fields by name (email, namespace, path),
	// as text; which of them are compared is the mapping's business.
	Attributes map[string]string
	// Members are the keys of a group's members, or a binding's subjects.
	Members []string
	// Groups are the keys of the groups an account belongs to, when the
	// directory lists them on the account rather than on the group.
	Groups []string
	// Roles are the keys of roles or policies a binding grants or an
	// account holds directly.
	Roles []string
	// Credentials are the account's long-lived credentials (access keys,
	// passwords); empty when the source does not report them.
	Credentials []Credential
	// Created is when the directory created the object; zero if unknown.
	Created time.Time
	// Origin says where in the input the object was read (a URL, or a
	// file with a JSON path or CSV line), for error messages.
	Origin string
}

// Credential is a long-lived secret of an account.
type Credential struct {
	// ID identifies the credential (an access key id); never the secret.
	ID string
	// Type is what it is: "access-key", "password", "token".
	Type string
	// Active is false for a credential the directory has disabled.
	Active bool
	// Created is when it was issued or last rotated.
	Created time.Time
	// LastUsed is when it was last used; zero if never or unknown
	// (UsedKnown says which).
	LastUsed time.Time
	// UsedKnown is true when the source reports last use.
	UsedKnown bool
}

// Snapshot is what one source read at one instant.
type Snapshot struct {
	// Source is the source's name as given on the command line (scim,
	// kubernetes, awsiam, or a name the mapping declares).
	Source string
	// Read is when the source was read.
	Read time.Time
	// Objects are sorted by Kind, then Key.
	Objects []Object
}

// Source reads one live directory.
type Source interface {
	// Read reads the whole directory. It returns an error, and no
	// snapshot, when any part cannot be read: a report built on part of a
	// directory would call everything else drift.
	Read(ctx context.Context) (*Snapshot, error)
}

// NewSnapshot returns a snapshot of objs read from source at read, with
// the objects sorted by Kind, then Key, then ID, so that reports and
// imported files do not depend on the order a directory answers in.
func NewSnapshot(source string, read time.Time, objs []Object) *Snapshot {
	slices.SortFunc(objs, func(a, b Object) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key), cmp.Compare(a.ID, b.ID))
	})
	return &Snapshot{Source: source, Read: read, Objects: objs}
}

// IdentityName makes s a valid identity name (docs/identity-format.md: no
// '/', ':', '#', quotes, white space, control or invisible characters) by
// replacing each such rune with '-'. Sources use it for Object.Name, and
// import for the names it writes.
func IdentityName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '/', r == ':', r == '#', r == '"', r == '\'', r == '`',
			unicode.IsSpace(r), unicode.IsControl(r), unicode.Is(unicode.Cf, r), !unicode.IsPrint(r):
			return '-'
		}
		return r
	}, s)
}
