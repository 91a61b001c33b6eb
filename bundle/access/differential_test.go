package access_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/access"
	"github.com/cedargate/cedargate/pdp/engine"
)

// The differential test checks the effective-access engine against
// brute force: on random small bundles (users in nested groups, documents
// in nested folders, permits and forbids with every scope form, with and
// without conditions on attributes, ancestry and the request context,
// validity windows), it decides every triple the schema allows with the
// PDP's own Decide under every request context the policies can tell
// apart. A triple allowed under all of them must be an allow entry with
// the permits that hold under all of them; one allowed under some must be
// conditional; one allowed under none must be absent. Each policy that
// reads the context reads its own attribute, so that contexts are
// independent, as the engine assumes.

const diffSchema = `entity Group in [Group];
entity User in [Group] { level?: Long };
entity Folder in [Folder];
entity Doc in [Folder] { tier?: String };
action read, write appliesTo { principal: [User], resource: [Doc, Folder], context: {} };
action admin appliesTo { principal: [User, Group], resource: [Folder], context: {} };
action audit;
`

var diffAt = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

type rgen struct {
	r                      *rand.Rand
	users, groups, folders []string
	docs                   []string
	ctxVars                int
	entityLines            []string
}

func (g *rgen) pick(l []string) string { return l[g.r.IntN(len(l))] }

func (g *rgen) entities() {
	n := func(prefix string, k int) []string {
		out := make([]string, k)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", prefix, i)
		}
		return out
	}
	g.groups, g.users = n("g", 2+g.r.IntN(4)), n("u", 2+g.r.IntN(5))
	g.folders, g.docs = n("f", 1+g.r.IntN(4)), n("d", 2+g.r.IntN(5))
	line := func(typ, id string, parents []string, ptyp string, attrs map[string]any) {
		ps := []map[string]string{}
		for _, p := range parents {
			ps = append(ps, map[string]string{"type": ptyp, "id": p})
		}
		b, _ := json.Marshal(map[string]any{"uid": map[string]string{"type": typ, "id": id}, "parents": ps, "attrs": attrs})
		g.entityLines = append(g.entityLines, string(b))
	}
	// Groups and folders nest only under earlier ones: no cycles.
	for i, id := range g.groups {
		var ps []string
		for j := range i {
			if g.r.IntN(3) == 0 {
				ps = append(ps, g.groups[j])
			}
		}
		line("Group", id, ps, "Group", map[string]any{})
	}
	for _, id := range g.users {
		var ps []string
		for _, gr := range g.groups {
			if g.r.IntN(3) == 0 {
				ps = append(ps, gr)
			}
		}
		attrs := map[string]any{}
		if g.r.IntN(4) > 0 {
			attrs["level"] = g.r.IntN(5)
		}
		line("User", id, ps, "Group", attrs)
	}
	for i, id := range g.folders {
		var ps []string
		if i > 0 && g.r.IntN(2) == 0 {
			ps = append(ps, g.folders[g.r.IntN(i)])
		}
		line("Folder", id, ps, "Folder", map[string]any{})
	}
	for _, id := range g.docs {
		var ps []string
		if g.r.IntN(4) > 0 {
			ps = append(ps, g.pick(g.folders))
		}
		attrs := map[string]any{}
		if g.r.IntN(4) > 0 {
			attrs["tier"] = g.pick([]string{"gold", "silver"})
		}
		line("Doc", id, ps, "Folder", attrs)
	}
}

func (g *rgen) principalScope() string {
	switch g.r.IntN(6) {
	case 0:
		return "principal"
	case 1:
		return fmt.Sprintf(`principal == User::"%s"`, g.pick(g.users))
	case 2:
		return fmt.Sprintf(`principal in Group::"%s"`, g.pick(g.groups))
	case 3:
		return "principal is User"
	case 4:
		return fmt.Sprintf(`principal is User in Group::"%s"`, g.pick(g.groups))
	}
	return fmt.Sprintf(`principal == Group::"%s"`, g.pick(g.groups))
}

func (g *rgen) actionScope() string {
	switch g.r.IntN(4) {
	case 0:
		return "action"
	case 1, 2:
		return fmt.Sprintf(`action == Action::"%s"`, g.pick([]string{"read", "write", "admin", "audit"}))
	}
	return `action in [Action::"read", Action::"admin"]`
}

func (g *rgen) resourceScope() string {
	switch g.r.IntN(5) {
	case 0:
		return "resource"
	case 1:
		return fmt.Sprintf(`resource == Doc::"%s"`, g.pick(g.docs))
	case 2:
		return fmt.Sprintf(`resource in Folder::"%s"`, g.pick(g.folders))
	case 3:
		return "resource is Doc"
	}
	return fmt.Sprintf(`resource is Doc in Folder::"%s"`, g.pick(g.folders))
}

// static is a condition that reads no context: attributes (which some
// entities lack, so it may fail to evaluate), ancestry, or a constant.
func (g *rgen) static() string {
	switch g.r.IntN(4) {
	case 0:
		return fmt.Sprintf("principal.level > %d", g.r.IntN(4))
	case 1:
		return fmt.Sprintf(`resource.tier == "%s"`, g.pick([]string{"gold", "silver"}))
	case 2:
		return fmt.Sprintf(`principal in Group::"%s"`, g.pick(g.groups))
	}
	return `resource has tier`
}

// dynamic reads a context attribute of its own.
func (g *rgen) dynamic() string {
	v := fmt.Sprintf("context.c%d", g.ctxVars)
	g.ctxVars++
	if g.r.IntN(2) == 0 {
		return "!" + v
	}
	return v
}

func (g *rgen) conditions() string {
	if g.ctxVars >= 4 {
		if g.r.IntN(2) == 0 {
			return ""
		}
		return fmt.Sprintf(" when { %s }", g.static())
	}
	switch g.r.IntN(6) {
	case 0, 1:
		return ""
	case 2:
		return fmt.Sprintf(" when { %s }", g.static())
	case 3:
		return fmt.Sprintf(" when { %s }", g.dynamic())
	case 4:
		return fmt.Sprintf(" when { %s && %s }", g.static(), g.dynamic())
	}
	return fmt.Sprintf(" unless { %s || %s }", g.static(), g.dynamic())
}

func randomBundle(seed uint64) *bundle.Bundle {
	b, _ := randomBundleGen(seed)
	return b
}

// randomBundleGen is randomBundle with the generator, to add more
// policies with context attributes of their own.
func randomBundleGen(seed uint64) (*bundle.Bundle, *rgen) {
	g := &rgen{r: rand.New(rand.NewPCG(seed, 99))}
	g.entities()
	b := &bundle.Bundle{Manifest: bundle.Manifest{Revision: fmt.Sprintf("seed-%d", seed), Environment: "dev"},
		Schema: []byte(diffSchema), Entities: []byte("[\n" + strings.Join(g.entityLines, ",\n") + "\n]\n")}
	for i := range 3 + g.r.IntN(6) {
		effect := "permit"
		if g.r.IntN(10) < 3 {
			effect = "forbid"
		}
		p := bundle.Policy{ID: fmt.Sprintf("p%02d", i), Source: fmt.Sprintf("policies/p.cedar:%d:1", i+1), Origin: "policy",
			Cedar: fmt.Sprintf("%s (%s, %s, %s)%s;", effect, g.principalScope(), g.actionScope(), g.resourceScope(), g.conditions())}
		switch g.r.IntN(5) {
		case 0: // expired before diffAt
			t := diffAt.Add(-time.Hour)
			p.NotAfter = &t
		case 1: // starts after diffAt
			t := diffAt.Add(time.Hour)
			p.NotBefore = &t
		case 2: // in force at diffAt, time-bound
			t := diffAt.Add(time.Second)
			p.NotAfter = &t
		}
		b.Policies = append(b.Policies, p)
	}
	return b, g
}

// contexts returns every assignment of the n context attributes.
func contexts(n int) []types.Record {
	var out []types.Record
	for mask := range 1 << n {
		m := types.RecordMap{}
		for i := range n {
			m[types.String(fmt.Sprintf("c%d", i))] = types.Boolean(mask&(1<<i) != 0)
		}
		out = append(out, types.NewRecord(m))
	}
	return out
}

// bruteForce decides every triple the schema allows under every context.
func bruteForce(t *testing.T, b *bundle.Bundle, a *access.Analyzer) []access.Entry {
	t.Helper()
	snap, err := engine.New(b)
	if err != nil {
		t.Fatal(err)
	}
	ctxs := contexts(4)
	type applies struct{ principals, resources []types.EntityType }
	schemaActions := map[string]applies{
		"read":  {[]types.EntityType{"User"}, []types.EntityType{"Doc", "Folder"}},
		"write": {[]types.EntityType{"User"}, []types.EntityType{"Doc", "Folder"}},
		"admin": {[]types.EntityType{"User", "Group"}, []types.EntityType{"Folder"}},
		"audit": {},
	}
	var out []access.Entry
	for _, p := range a.Entities() {
		for _, act := range a.Actions() {
			ap := schemaActions[string(act.ID)]
			if !slices.Contains(ap.principals, p.Type) {
				continue
			}
			for _, r := range a.Entities() {
				if !slices.Contains(ap.resources, r.Type) {
					continue
				}
				allowed := 0
				var always []access.PolicyRef
				for k, c := range ctxs {
					d := snap.Decide(&engine.Request{Principal: p, Action: act, Resource: r, Context: c, Time: diffAt})
					if !d.Allow {
						continue
					}
					allowed++
					var refs []access.PolicyRef
					for _, reason := range d.Reasons {
						refs = append(refs, access.PolicyRef{ID: reason.ID, Source: reason.Source})
					}
					if k == 0 || always != nil {
						always = intersect(always, refs, k == 0)
					}
				}
				switch {
				case allowed == len(ctxs):
					out = append(out, access.Entry{Principal: p, Action: act, Resource: r, Access: access.Allow, Policies: always})
				case allowed > 0:
					out = append(out, access.Entry{Principal: p, Action: act, Resource: r, Access: access.Conditional})
				}
			}
		}
	}
	return out
}

func intersect(acc, refs []access.PolicyRef, first bool) []access.PolicyRef {
	if first {
		return refs
	}
	return slices.DeleteFunc(acc, func(r access.PolicyRef) bool { return !slices.Contains(refs, r) })
}

// key names a triple and how it is allowed; for allow, by which policies.
func key(e access.Entry) string {
	k := fmt.Sprintf("%s %s %s %s", e.Principal, e.Action, e.Resource, e.Access)
	if e.Access == access.Allow {
		for _, p := range e.Policies {
			k += " " + p.ID
		}
	}
	return k
}

func keys(es []access.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = key(e)
	}
	return out
}

func TestDifferential(t *testing.T) {
	const repos = 300
	var allows, conditionals int
	for seed := range uint64(repos) {
		b := randomBundle(seed)
		a, err := access.New(b)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		want := bruteForce(t, b, a)
		table, err := a.Query(access.Query{At: diffAt})
		if err != nil {
			t.Fatal(err)
		}
		got := keys(table.Entries)
		if !slices.Equal(got, keys(want)) {
			t.Fatalf("seed %d: engine and brute force disagree\npolicies:\n%s\nentities:\n%s\nengine:\n  %s\nbrute force:\n  %s",
				seed, policyList(b), b.Entities, strings.Join(got, "\n  "), strings.Join(keys(want), "\n  "))
		}
		for _, e := range table.Entries {
			if e.Access == access.Conditional {
				conditionals++
				if len(e.Conditions) == 0 {
					t.Fatalf("seed %d: conditional entry without conditions: %s", seed, key(e))
				}
			} else {
				allows++
			}
		}
		checkQueries(t, seed, a, table)
	}
	// The random bundles must exercise both kinds, or the test shows
	// little.
	if allows < repos || conditionals < repos/4 {
		t.Fatalf("weak test: %d allow and %d conditional entries over %d bundles", allows, conditionals, repos)
	}
	t.Logf("%d bundles: %d allow, %d conditional entries", repos, allows, conditionals)
}

// checkQueries checks that a query that fixes a side answers what the
// whole table says about it.
func checkQueries(t *testing.T, seed uint64, a *access.Analyzer, table *access.Table) {
	t.Helper()
	for _, q := range []access.Query{{Principal: pickUID(table, 0)}, {Resource: pickUID(table, 2)}, {Action: pickUID(table, 1)}} {
		q.At = diffAt
		sub, err := a.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		var filtered []access.Entry
		for _, e := range table.Entries {
			if (q.Principal.IsZero() || e.Principal == q.Principal) && (q.Action.IsZero() || e.Action == q.Action) &&
				(q.Resource.IsZero() || e.Resource == q.Resource) {
				filtered = append(filtered, e)
			}
		}
		if !slices.Equal(keys(sub.Entries), keys(filtered)) {
			t.Fatalf("seed %d: query %+v:\n  %s\nwant\n  %s", seed, q,
				strings.Join(keys(sub.Entries), "\n  "), strings.Join(keys(filtered), "\n  "))
		}
	}
}

// pickUID returns the principal (0), action (1) or resource (2) of the
// table's middle entry, or a zero UID for an empty table.
func pickUID(t *access.Table, side int) types.EntityUID {
	if len(t.Entries) == 0 {
		return types.EntityUID{}
	}
	e := t.Entries[len(t.Entries)/2]
	return [3]types.EntityUID{e.Principal, e.Action, e.Resource}[side]
}

func policyList(b *bundle.Bundle) string {
	var sb strings.Builder
	for _, p := range b.Policies {
		fmt.Fprintf(&sb, "  %s %v %v: %s\n", p.ID, p.NotBefore, p.NotAfter, p.Cedar)
	}
	return sb.String()
}
