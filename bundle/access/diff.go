package access

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
)

// Diff returns how access changes from bundle from to bundle to, both
// judged at instant at: gained are the entries of to that from does not
// have, or has as conditional where to allows, or has with other
// conditions; lost the entries of from that to does not have in the same
// way (allow → conditional is lost). A triple whose conditions change is
// in both. Both lists are sorted like a Table's.
//
// Only triples a change can reach are compared: those of the principals
// or resources that changed policies cover (whichever side is smaller)
// and of the entities that changed, with their descendants. A change to
// the actions, or to an entity's attributes when some condition reads
// attributes of an entity other than the request's principal and
// resource, compares every triple.
func Diff(from, to *Analyzer, at time.Time) (gained, lost []Entry, err error) {
	if at.IsZero() {
		at = time.Now()
	}
	var principals, resources map[types.EntityUID]bool
	full := !slices.EqualFunc(from.actions, to.actions, sameAction)
	if !full {
		principals, resources, full = affected(from, to, at)
	}
	var before, after map[tripleKey]Entry
	if full {
		before, after = map[tripleKey]Entry{}, map[tripleKey]Entry{}
		for _, x := range []struct {
			a   *Analyzer
			out map[tripleKey]Entry
		}{{from, before}, {to, after}} {
			t, err := x.a.Query(Query{At: at})
			if err != nil {
				return nil, nil, err
			}
			collect(x.out, t.Entries)
		}
	} else {
		before, after = map[tripleKey]Entry{}, map[tripleKey]Entry{}
		queries := make([]Query, 0, len(principals)+len(resources))
		for _, p := range sortedUIDs(principals) {
			queries = append(queries, Query{Principal: p, At: at})
		}
		for _, r := range sortedUIDs(resources) {
			queries = append(queries, Query{Resource: r, At: at})
		}
		for _, q := range queries {
			for _, x := range []struct {
				a   *Analyzer
				out map[tripleKey]Entry
			}{{from, before}, {to, after}} {
				t, err := x.a.Query(q)
				if err != nil {
					return nil, nil, err
				}
				collect(x.out, t.Entries)
			}
		}
	}
	for k, e := range after {
		if b, ok := before[k]; !ok || moreAccess(e, b) {
			gained = append(gained, e)
		}
	}
	for k, e := range before {
		if a, ok := after[k]; !ok || moreAccess(e, a) {
			lost = append(lost, e)
		}
	}
	sortEntries(gained)
	sortEntries(lost)
	return gained, lost, nil
}

func sameAction(a, b action) bool {
	return a.uid == b.uid && a.any == b.any && slices.Equal(a.principals, b.principals) && slices.Equal(a.resources, b.resources)
}

// moreAccess reports whether e gives what other does not: allow where
// other is conditional, or other conditions.
func moreAccess(e, other Entry) bool {
	if e.Access != other.Access {
		return e.Access == Allow
	}
	return e.Access == Conditional && !slices.Equal(e.Conditions, other.Conditions)
}

type tripleKey struct{ p, a, r types.EntityUID }

func collect(m map[tripleKey]Entry, entries []Entry) {
	for _, e := range entries {
		m[tripleKey{e.Principal, e.Action, e.Resource}] = e
	}
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(x, y Entry) int {
		if c := compareUID(x.Principal, y.Principal); c != 0 {
			return c
		}
		if c := compareUID(x.Action, y.Action); c != 0 {
			return c
		}
		return compareUID(x.Resource, y.Resource)
	})
}

func sortedUIDs(m map[types.EntityUID]bool) []types.EntityUID {
	return slices.SortedFunc(maps.Keys(m), compareUID)
}

// affected returns the principals and resources whose triples a change
// from from to to can reach, or full when it cannot tell.
func affected(from, to *Analyzer, at time.Time) (principals, resources map[types.EntityUID]bool, full bool) {
	principals, resources = map[types.EntityUID]bool{}, map[types.EntityUID]bool{}
	// Policies that differ, on either side: the side of each they cover
	// that has fewer entities.
	for _, x := range []struct{ a, other *Analyzer }{{from, to}, {to, from}} {
		w := x.a.newWalk(Query{}, at)
		for i := range x.a.policies {
			p := &x.a.policies[i]
			if j, ok := x.other.policyIndex(p.ID); ok && samePolicy(p, &x.other.policies[j]) {
				continue
			}
			ps := w.side(int32(i), engine.PrincipalDim, types.EntityUID{})
			rs := w.side(int32(i), engine.ResourceDim, types.EntityUID{})
			if len(ps) <= len(rs) {
				addAll(principals, ps)
			} else {
				addAll(resources, rs)
			}
		}
	}
	// Entities that differ: their triples and those of everything in
	// them, on either side.
	deep := from.readsOtherEntities() || to.readsOtherEntities()
	wf, wt := from.newWalk(Query{}, at), to.newWalk(Query{}, at)
	changed := func(uid types.EntityUID) bool {
		if deep || from.isAction(uid) || to.isAction(uid) {
			return true
		}
		addAll(principals, wf.descendants(uid))
		addAll(principals, wt.descendants(uid))
		addAll(resources, wf.descendants(uid))
		addAll(resources, wt.descendants(uid))
		return false
	}
	for e := range from.snap.Entities() {
		if o, ok := to.snap.Entity(e.UID); (!ok || !o.Equal(e)) && changed(e.UID) {
			return nil, nil, true
		}
	}
	for e := range to.snap.Entities() {
		if !from.snap.HasEntity(e.UID) && changed(e.UID) {
			return nil, nil, true
		}
	}
	return principals, resources, false
}

func addAll(m map[types.EntityUID]bool, uids []types.EntityUID) {
	for _, u := range uids {
		m[u] = true
	}
}

// policyIndex returns the index of the policy with id (bundle policies
// are sorted by id).
func (a *Analyzer) policyIndex(id string) (int, bool) {
	return slices.BinarySearchFunc(a.policies, id, func(p bundle.Policy, id string) int { return strings.Compare(p.ID, id) })
}

// samePolicy reports whether two policies decide alike: the same Cedar
// and validity window.
func samePolicy(p, q *bundle.Policy) bool {
	return p.Cedar == q.Cedar && sameTime(p.NotBefore, q.NotBefore) && sameTime(p.NotAfter, q.NotAfter)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// isAction reports whether uid is an action (of type Action in some
// namespace).
func (a *Analyzer) isAction(uid types.EntityUID) bool {
	return uid.Type == "Action" || strings.HasSuffix(string(uid.Type), "::Action")
}

// readsOtherEntities reports whether some condition reads an attribute
// or tag of something other than the request's principal, action,
// resource or context themselves (principal.manager.level): a change to
// any entity's attributes may then change any triple.
func (a *Analyzer) readsOtherEntities() bool {
	a.deepOnce.Do(func() {
		for i := range int32(a.snap.PolicyCount()) {
			for _, c := range a.snap.Policy(i).AST.Conditions {
				expast.Inspect(expast.NewNode(c.Body), func(n expast.IsNode) bool {
					var left expast.IsNode
					switch v := n.(type) {
					case expast.NodeTypeAccess:
						left = v.Arg
					case expast.NodeTypeHas:
						left = v.Arg
					case expast.NodeTypeGetTag:
						left = v.Left
					case expast.NodeTypeHasTag:
						left = v.Left
					default:
						return !a.deep
					}
					if _, ok := left.(expast.NodeTypeVariable); !ok {
						a.deep = true
					}
					return !a.deep
				})
			}
		}
	})
	return a.deep
}
