package access

import (
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/pdp/engine"
)

// Diff returns how access changes from bundle from to bundle to, both
// judged at instant at: gained are the entries of to that from does not
// have, or has as conditional where to allows, or has with other
// conditions; lost the entries of from that to does not have in the same
// way (allow → conditional is lost). A triple whose conditions change is
// in both. Both lists are sorted like a Table's.
//
// Only triples a change can reach are compared, a region at a time, by
// walking both bundles in step; nothing else is held. A policy that
// differs (by id, Cedar or window) reaches the triples its scope covers,
// on the side where it is; an entity that differs reaches the triples
// whose principal or resource is it or in it, on either side. A change
// to the actions, or to an entity's attributes when some condition reads
// attributes of an entity other than the request's principal and
// resource (principal.manager.level), reaches every triple.
func Diff(from, to *Analyzer, at time.Time) (gained, lost []Entry, err error) {
	if at.IsZero() {
		at = time.Now()
	}
	regions := reach(from, to)
	seen := map[tripleKey]bool{}
	for _, rg := range regions {
		compare(from.eachIn(rg, at), to.eachIn(rg, at), func(before, after *Entry) {
			e := after
			if e == nil {
				e = before
			}
			k := tripleKey{e.Principal, e.Action, e.Resource}
			if seen[k] {
				return
			}
			seen[k] = true
			if after != nil && (before == nil || moreAccess(*after, *before)) {
				gained = append(gained, *after)
			}
			if before != nil && (after == nil || moreAccess(*before, *after)) {
				lost = append(lost, *before)
			}
		})
	}
	sortEntries(gained)
	sortEntries(lost)
	return gained, lost, nil
}

// compare walks two sorted entry streams in step and calls differ for
// each triple they do not give the same access, with the entry of each
// side (nil where a side has none).
func compare(from, to iter.Seq[Entry], differ func(before, after *Entry)) {
	nextF, stopF := iter.Pull(from)
	defer stopF()
	nextT, stopT := iter.Pull(to)
	defer stopT()
	f, okF := nextF()
	t, okT := nextT()
	for okF || okT {
		c := 0
		switch {
		case !okF:
			c = 1
		case !okT:
			c = -1
		default:
			c = compareEntries(f, t)
		}
		switch {
		case c < 0:
			differ(&f, nil)
			f, okF = nextF()
		case c > 0:
			differ(nil, &t)
			t, okT = nextT()
		default:
			if moreAccess(f, t) || moreAccess(t, f) {
				differ(&f, &t)
			}
			f, okF = nextF()
			t, okT = nextT()
		}
	}
}

func compareEntries(x, y Entry) int {
	if c := compareUID(x.Principal, y.Principal); c != 0 {
		return c
	}
	if c := compareUID(x.Action, y.Action); c != 0 {
		return c
	}
	return compareUID(x.Resource, y.Resource)
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

func sortEntries(es []Entry) { slices.SortFunc(es, compareEntries) }

// reach returns the regions of triples a change from from to to can
// reach (see Diff).
func reach(from, to *Analyzer) []region {
	if !slices.EqualFunc(from.actions, to.actions, sameAction) {
		return []region{{}}
	}
	var out []region
	for _, x := range []struct{ a, other *Analyzer }{{from, to}, {to, from}} {
		for i := range x.a.info {
			if j, ok := x.other.policyIndex(x.a.info[i].ID); ok && x.a.samePolicy(int32(i), x.other, j) {
				continue
			}
			rg := region{principals: x.a.uids(x.a.covered(int32(i), engine.PrincipalDim)),
				resources: x.a.uids(x.a.covered(int32(i), engine.ResourceDim)), actions: []types.EntityUID{}}
			for k := range x.a.actions {
				if x.a.an.ScopeMatches(int32(i), engine.ActionDim, x.a.actions[k].uid) {
					rg.actions = append(rg.actions, x.a.actions[k].uid)
				}
			}
			out = append(out, rg)
		}
	}
	// Entities that differ: the triples of everything in them, as
	// principal or as resource, on either side.
	deep := from.readsOtherEntities() || to.readsOtherEntities()
	var in []types.EntityUID
	changed := func(uid types.EntityUID) bool {
		if deep || from.isAction(uid) || to.isAction(uid) {
			return true
		}
		in = append(in, from.uids(from.descendants(uid))...)
		in = append(in, to.uids(to.descendants(uid))...)
		return false
	}
	for e := range from.snap.Entities() {
		if o, ok := to.snap.Entity(e.UID); (!ok || !o.Equal(e)) && changed(e.UID) {
			return []region{{}}
		}
	}
	for e := range to.snap.Entities() {
		if !from.snap.HasEntity(e.UID) && changed(e.UID) {
			return []region{{}}
		}
	}
	if len(in) > 0 {
		out = append(out, region{principals: in}, region{resources: in})
	}
	return out
}

// uids returns the UIDs of entities (indexes).
func (a *Analyzer) uids(entities []int32) []types.EntityUID {
	out := make([]types.EntityUID, len(entities))
	for k, i := range entities {
		out[k] = a.all[i]
	}
	return out
}

// policyIndex returns the index of the policy with id (an analysis's
// policies are sorted by id).
func (a *Analyzer) policyIndex(id string) (int32, bool) {
	i, ok := slices.BinarySearchFunc(a.info, id, func(p engine.PolicyInfo, id string) int { return strings.Compare(p.ID, id) })
	return int32(i), ok
}

// samePolicy reports whether policy i of a and policy j of other decide
// alike: the same Cedar and validity window and, for the policies of
// grants, the same grant (subject, parent and window).
func (a *Analyzer) samePolicy(i int32, other *Analyzer, j int32) bool {
	x, y := &a.info[i], &other.info[j]
	p, q := &a.policies[x.Policy], &other.policies[y.Policy]
	if p.Cedar != q.Cedar || !sameTime(p.NotBefore, q.NotBefore) || !sameTime(p.NotAfter, q.NotAfter) || (x.Grant < 0) != (y.Grant < 0) {
		return false
	}
	if x.Grant < 0 {
		return true
	}
	g, h := &a.grants[x.Grant], &other.grants[y.Grant]
	return g.Principal == h.Principal && g.Parent == h.Parent && g.Members == h.Members &&
		sameTime(g.NotBefore, h.NotBefore) && sameTime(g.NotAfter, h.NotAfter)
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
		for i := range int32(a.an.PolicyCount()) {
			for _, c := range a.info[i].AST.Conditions {
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
