package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Revision tags and channel tags live in separate namespaces of a
// repository's tags, so that pushing a revision can never move a channel:
//
//   - a revision R is tagged "rev-R" when that is a valid OCI tag (R has no
//     "+" and at most 124 characters);
//   - any other revision is tagged "revh-" and the hex SHA-256 of R, a
//     deterministic name anyone can compute; the artifact's annotations
//     hold R itself;
//   - a channel is any other valid tag: names starting with "rev-" or
//     "revh-" are refused.
//
// The two revision forms cannot collide: "revh-…" does not start with
// "rev-".
const (
	revisionTagPrefix       = "rev-"
	hashedRevisionTagPrefix = "revh-"
)

// tagRE is the OCI distribution specification's tag grammar.
var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// RevisionTag is the tag an artifact of revision rev is pushed under.
func RevisionTag(rev string) string {
	if tag := revisionTagPrefix + rev; tagRE.MatchString(tag) {
		return tag
	}
	sum := sha256.Sum256([]byte(rev))
	return hashedRevisionTagPrefix + hex.EncodeToString(sum[:])
}

// isRevisionTag reports whether tag is in the revisions' namespace.
func isRevisionTag(tag string) bool {
	return strings.HasPrefix(tag, revisionTagPrefix) || strings.HasPrefix(tag, hashedRevisionTagPrefix)
}

// ValidChannel checks that name can be a channel's tag: a valid OCI tag
// outside the revisions' namespace.
func ValidChannel(name string) error {
	if !tagRE.MatchString(name) {
		return fmt.Errorf("channel %q is not a valid tag: letters, digits and . _ -, not starting with . or -, at most 128 characters", name)
	}
	if isRevisionTag(name) {
		return fmt.Errorf("channel %q starts with %q or %q, which name revisions' artifacts: choose another name", name, revisionTagPrefix, hashedRevisionTagPrefix)
	}
	return nil
}
