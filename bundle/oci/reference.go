package oci

import (
	"errors"
	"fmt"
	"strings"

	"oras.land/oras-go/v2/registry"
)

// Scheme starts every registry reference on the command line.
const Scheme = "oci://"

// Reference names a repository of a registry and, for a channel, a tag:
// oci://HOST[:PORT]/REPOSITORY[:TAG].
type Reference struct {
	// Registry is the host and optional port, e.g. "registry.example.com"
	// or "127.0.0.1:5000".
	Registry string
	// Repository is the repository's path, e.g. "acme/policy".
	Repository string
	// Tag is the channel's tag ("prod"); empty for a repository alone.
	Tag string
}

// IsReference reports whether s names a registry (starts with oci://)
// rather than a local store.
func IsReference(s string) bool { return strings.HasPrefix(s, Scheme) }

// ParseReference reads oci://HOST/REPOSITORY[:TAG]. A digest (@sha256:…)
// is refused: a channel is a tag, and a revision's artifact is found by its
// revision.
func ParseReference(s string) (Reference, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return Reference{}, fmt.Errorf("%q is not a registry reference: write oci://HOST/REPOSITORY[:CHANNEL]", s)
	}
	if strings.Contains(rest, "@") {
		return Reference{}, fmt.Errorf("%q names a digest: name the repository, and the channel by its tag (oci://HOST/REPOSITORY:CHANNEL)", s)
	}
	if !strings.Contains(rest, "/") {
		return Reference{}, fmt.Errorf("%q names no repository: write oci://HOST/REPOSITORY[:CHANNEL]", s)
	}
	ref, err := registry.ParseReference(rest)
	if err != nil {
		return Reference{}, fmt.Errorf("%q is not a valid registry reference: %w", s, unwrapAll(err))
	}
	return Reference{Registry: ref.Registry, Repository: ref.Repository, Tag: ref.Reference}, nil
}

// unwrapAll drops oras's "invalid reference:" prefix chain down to its
// last cause, which says what is wrong.
func unwrapAll(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// ParseChannel reads oci://HOST/REPOSITORY:CHANNEL, which must name a
// channel (see ValidChannel).
func ParseChannel(s string) (Reference, error) {
	ref, err := ParseReference(s)
	if err != nil {
		return ref, err
	}
	if ref.Tag == "" {
		return ref, fmt.Errorf("%q names no channel: write oci://HOST/REPOSITORY:CHANNEL, e.g. :prod", s)
	}
	if err := ValidChannel(ref.Tag); err != nil {
		return ref, fmt.Errorf("%q: %w", s, err)
	}
	return ref, nil
}

// ParseRepository reads oci://HOST/REPOSITORY, which must name no tag:
// push tags each artifact by its revision itself.
func ParseRepository(s string) (Reference, error) {
	ref, err := ParseReference(s)
	if err != nil {
		return ref, err
	}
	if ref.Tag != "" {
		return ref, fmt.Errorf("%q names tag %q: name the repository alone (oci://%s/%s); each bundle is tagged by its revision", s, ref.Tag, ref.Registry, ref.Repository)
	}
	return ref, nil
}

// String writes the reference as ParseReference reads it.
func (r Reference) String() string {
	s := Scheme + r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	return s
}

// WithTag returns the reference with another tag.
func (r Reference) WithTag(tag string) Reference {
	r.Tag = tag
	return r
}

// oras is the reference in oras's form, HOST/REPOSITORY[:TAG].
func (r Reference) oras() string {
	return strings.TrimPrefix(r.String(), Scheme)
}
