// Package scim reads Users and Groups from a SCIM 2.0 directory (RFC 7643
// and RFC 7644), the provisioning API of the common identity providers,
// into an inventory.Snapshot: live, over HTTPS with a bearer token
// (Server), or from a ListResponse saved as JSON (File).
//
// Every read is bounded (Options): the page size asked for, a timeout per
// request, the size of one response body and the number of objects in
// all. Paging follows startIndex and count until totalResults, and stops
// with an error when the server pages in a loop (an empty page before
// totalResults, a totalResults that changes, a startIndex that does not
// advance, ids seen before). Any error ends the read with no snapshot: a
// drift report built on part of a directory would call the rest drift.
//
// Mapping: a SCIM User becomes an inventory.User keyed by userName, a
// Group an inventory.Group keyed by displayName whose Members are the
// member users' userNames (member groups' displayNames for nested
// groups). A member id the read did not return (a member outside the
// directory's answer, or of a type not read) stays in Members as its id
// and is listed in the group's "unresolved_members" attribute, so that
// drift reports it rather than the read failing on a directory that is
// merely being edited.
package scim

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// SourceName is the name a SCIM snapshot carries unless Options.Name says
// otherwise; it selects the default SCIM mapping of identity code.
const SourceName = "scim"

// Default limits, chosen for directories of up to about a million
// accounts: a 100-resource page is what most providers serve by default
// (and cap at), 16 MiB holds a page of users with many attributes many
// times over, and 30 seconds per request allows for a slow provider
// without hanging a scheduled drift job.
const (
	// DefaultPageSize is the count asked for on each request.
	DefaultPageSize = 100
	// DefaultTimeout bounds each request.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBody bounds one response body or file: 16 MiB.
	DefaultMaxBody = 16 << 20
	// DefaultMaxObjects bounds the Users and Groups of one read.
	DefaultMaxObjects = 1_000_000
)

// Options bound a read. Zero values select the defaults.
type Options struct {
	// Name is the snapshot's source name; SourceName when empty.
	Name string
	// PageSize is the count asked for on each request; DefaultPageSize
	// when zero. A server may return fewer.
	PageSize int
	// Timeout bounds each HTTP request, headers and body; DefaultTimeout
	// when zero.
	Timeout time.Duration
	// MaxBody bounds one response body or file, in bytes; DefaultMaxBody
	// when zero. A larger body is refused, not truncated.
	MaxBody int64
	// MaxObjects bounds the Users and Groups read in all; DefaultMaxObjects
	// when zero.
	MaxObjects int
	// Client sends the requests; a client with no overall timeout of its
	// own when nil (Timeout applies per request). Tests pass the client of
	// an httptest TLS server.
	Client *http.Client
	// Now returns the time recorded as the snapshot's Read; time.Now when
	// nil.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = SourceName
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxObjects <= 0 {
		o.MaxObjects = DefaultMaxObjects
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// TokenFromFile reads a bearer token from path (a mounted secret, say),
// without the surrounding white space. The error names the file, never its
// content.
func TokenFromFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("scim: reading bearer token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("scim: bearer token file %s is empty", path)
	}
	return tok, nil
}

// TokenFromEnv reads a bearer token from the environment variable name.
// The error names the variable, never its value.
func TokenFromEnv(name string) (string, error) {
	tok := strings.TrimSpace(os.Getenv(name))
	if tok == "" {
		return "", fmt.Errorf("scim: environment variable %s holding the bearer token is unset or empty", name)
	}
	return tok, nil
}
