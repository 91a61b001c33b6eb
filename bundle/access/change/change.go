// Package change says what a change to an identity repository does: the
// access it gains and loses, with the policies and grants that cause it,
// and the identity objects it adds, removes or changes (owners, expiry,
// rotation, review, approvals, tickets, groups and members, permissions,
// exceptions). It is `cedargate diff`, reached from cmd/ by [Snapshot],
// [Compare] and one of the writers.
//
// Everything is compared by value, never by position: identity objects
// are matched by kind and name, access by (principal, action, resource),
// so moving objects between files or reordering them reports nothing.
//
// A revision is kept as a [Side]: its bundle, in its compact encoded form,
// and a summary of its identity objects, so that the repository and the
// compiler's output can be dropped before the next revision is compiled.
// Only one repository is ever in memory, and the effective-access
// indexes, larger than the bundles they read, are built once both
// revisions are compiled.
package change

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/access"
	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/repo"
)

// Side is what a comparison needs of one compiled revision.
type Side struct {
	env    string
	bundle *bundle.Bundle
	ids    identities
	// policies are the revision's policy files, for the position of
	// conditions (access.Analyzer.LocateConditions).
	policies []*repo.File
}

// Snapshot keeps what Compare needs of c: its bundle and a summary of its
// identity objects. It keeps no reference to c's repository or compiler
// output, so the caller can let them go.
func Snapshot(c *build.Compiled) (*Side, error) {
	ids, err := summarize(c.Result.View)
	if err != nil {
		return nil, err
	}
	return &Side{env: c.Env, bundle: c.Bundle, ids: ids, policies: c.Repo.Policies}, nil
}

// analyze indexes the side's bundle for access queries.
func (s *Side) analyze() (*access.Analyzer, error) {
	a, err := access.New(s.bundle)
	if err != nil {
		return nil, fmt.Errorf("revision %s: %w", s.bundle.Manifest.Revision, err)
	}
	a.LocateConditions(s.policies)
	return a, nil
}

// Revision names one side of a report.
type Revision struct {
	// Revision is the bundle revision: a commit's full hash, or for the
	// work tree what build names it ("<commit>-dirty-<digest>").
	Revision string `json:"revision"`
}

// Report is what changed from one revision to another. Its JSON is the
// shape docs/cli.md documents for `cedargate diff --format json`.
type Report struct {
	// Env is the environment compared.
	Env string `json:"-"`
	// At is the instant access was judged at.
	At   time.Time `json:"-"`
	From Revision  `json:"from"`
	To   Revision  `json:"to"`
	// Gained are the triples To allows that From does not, that turn
	// from conditional to allowed, or whose conditions change: To's
	// entries, sorted.
	Gained []access.Entry `json:"gained"`
	// Lost are the reverse: From's entries, sorted.
	Lost []access.Entry `json:"lost"`
	// Access pairs Gained and Lost by triple, sorted by principal,
	// action and resource, for the readers that group by principal.
	Access []AccessChange `json:"-"`
	// Identities are the identity objects added, removed or changed.
	Identities []IdentityChange `json:"identities"`
}

// AccessChange is how one triple's access changes.
type AccessChange struct {
	Principal, Action, Resource types.EntityUID
	// From and To are the triple's access at each revision; nil where
	// it has none.
	From, To *access.Entry
}

// Compare reports what changed from from to to, judging access at at.
func Compare(from, to *Side, at time.Time) (*Report, error) {
	// The two indexes are built at once: each reads only its bundle.
	var before, after *access.Analyzer
	var errBefore, errAfter error
	var wg sync.WaitGroup
	wg.Go(func() { before, errBefore = from.analyze() })
	after, errAfter = to.analyze()
	wg.Wait()
	if err := cmp.Or(errBefore, errAfter); err != nil {
		return nil, err
	}
	gained, lost, err := access.Diff(before, after, at)
	if err != nil {
		return nil, err
	}
	changes, err := pair(before, after, gained, lost, at)
	if err != nil {
		return nil, err
	}
	r := &Report{
		Env: to.env, At: at,
		From: Revision{from.bundle.Manifest.Revision}, To: Revision{to.bundle.Manifest.Revision},
		Gained: nonNil(gained), Lost: nonNil(lost), Access: changes,
		Identities: compareIdentities(from.ids, to.ids),
	}
	return r, nil
}

// triple identifies an entry's (principal, action, resource).
type triple struct{ p, a, r types.EntityUID }

// pair matches gained and lost entries of the same triple into one
// change each. A triple only gained (or only lost) may still have had
// (or keep) conditional access, which Diff does not repeat: it is looked
// up in the other revision, one triple at a time, which the index
// answers without a scan.
func pair(from, to *access.Analyzer, gained, lost []access.Entry, at time.Time) ([]AccessChange, error) {
	byTriple := make(map[triple]*AccessChange, len(gained)+len(lost))
	for i := range lost {
		e := &lost[i]
		byTriple[triple{e.Principal, e.Action, e.Resource}] = &AccessChange{Principal: e.Principal, Action: e.Action, Resource: e.Resource, From: e}
	}
	for i := range gained {
		e := &gained[i]
		k := triple{e.Principal, e.Action, e.Resource}
		if c, ok := byTriple[k]; ok {
			c.To = e
			continue
		}
		byTriple[k] = &AccessChange{Principal: e.Principal, Action: e.Action, Resource: e.Resource, To: e}
	}
	out := make([]AccessChange, 0, len(byTriple))
	for _, c := range byTriple {
		var err error
		switch {
		case c.From == nil:
			c.From, err = lookup(from, c, at)
		case c.To == nil:
			c.To, err = lookup(to, c, at)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b AccessChange) int {
		return cmp.Or(compareUID(a.Principal, b.Principal), compareUID(a.Action, b.Action), compareUID(a.Resource, b.Resource))
	})
	return out, nil
}

// lookup returns a's entry for c's triple, or nil when a does not allow it.
func lookup(a *access.Analyzer, c *AccessChange, at time.Time) (*access.Entry, error) {
	t, err := a.Query(access.Query{Principal: c.Principal, Action: c.Action, Resource: c.Resource, At: at})
	if err != nil {
		return nil, err
	}
	for i := range t.Entries {
		if e := &t.Entries[i]; e.Principal == c.Principal && e.Action == c.Action && e.Resource == c.Resource {
			return e, nil
		}
	}
	return nil, nil
}

// compareUID orders UIDs by type, then id.
func compareUID(a, b types.EntityUID) int {
	return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID))
}

// nonNil makes a nil list empty, so that JSON shows [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
