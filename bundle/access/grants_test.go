package access_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/access"
	"github.com/cedargate/cedargate/bundle/compile"
)

// randomGrantBundle is randomBundle with grants as data: users and groups
// hold profiles through grants (some expired at diffAt, some not yet in
// force), and template policies name the profiles. The analysis names
// the grants, as Decide does.
func randomGrantBundle(t *testing.T, seed uint64) *bundle.Bundle {
	t.Helper()
	b, gen := randomBundleGen(seed)
	r := gen.r
	var em types.EntityMap
	if err := em.UnmarshalJSON(b.Entities); err != nil {
		t.Fatal(err)
	}
	var members []types.EntityUID
	for uid := range em {
		if uid.Type == "User" || uid.Type == "Group" {
			members = append(members, uid)
		}
	}
	slices.SortFunc(members, func(a, b types.EntityUID) int { return strings.Compare(a.String(), b.String()) })
	profiles := []types.EntityUID{types.NewEntityUID("Profile", "p0"), types.NewEntityUID("Profile", "p1")}
	for _, p := range profiles {
		em[p] = types.Entity{UID: p}
	}
	for k := range 1 + r.IntN(5) {
		m, p := members[r.IntN(len(members))], profiles[r.IntN(len(profiles))]
		g := bundle.Grant{ID: fmt.Sprintf("entitlement:g%d", k), Source: fmt.Sprintf("identities/g.yaml:%d:1", k+1), Origin: "Entitlement",
			Principal: bundle.UID{Type: string(m.Type), ID: string(m.ID)}, Parent: bundle.UID{Type: string(p.Type), ID: string(p.ID)},
			Members: m.Type == "Group"}
		switch r.IntN(4) {
		case 0:
			at := diffAt.Add(-time.Hour)
			g.NotAfter = &at
		case 1:
			at := diffAt.Add(time.Hour)
			g.NotBefore = &at
		case 2:
			at := diffAt.Add(time.Second)
			g.NotAfter = &at
		}
		b.Grants = append(b.Grants, g)
		e := em[m]
		e.Parents = types.NewEntityUIDSet(append(slices.Collect(e.Parents.All()), p)...)
		em[m] = e
	}
	for i := range 2 + r.IntN(3) {
		effect := "permit"
		if r.IntN(5) == 0 {
			effect = "forbid"
		}
		b.Policies = append(b.Policies, bundle.Policy{ID: fmt.Sprintf("t%d#%d", i%2, i), Source: "identities/profiles.yaml:1:1", Origin: "AccessProfile", Template: true,
			Cedar: fmt.Sprintf("%s (principal in %s, %s, %s)%s;", effect, profiles[r.IntN(len(profiles))], gen.actionScope(), gen.resourceScope(), gen.conditions())})
	}
	slices.SortFunc(b.Policies, func(x, y bundle.Policy) int { return strings.Compare(x.ID, y.ID) })
	slices.SortFunc(b.Grants, func(x, y bundle.Grant) int { return strings.Compare(x.ID, y.ID) })
	b.Manifest.FormatVersion = bundle.FormatVersion
	b.Entities = compile.EntitiesJSON(em)
	return b
}

// TestDifferentialWithGrants is TestDifferential on bundles with grants:
// every triple the analysis reports must be what Decide says, under
// every context, with the grants Decide names.
func TestDifferentialWithGrants(t *testing.T) {
	const repos = 300
	named := 0
	for seed := range uint64(repos) {
		b := randomGrantBundle(t, seed)
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
			var grants []string
			for _, g := range b.Grants {
				grants = append(grants, fmt.Sprintf("  %s %v -> %v %v %v", g.ID, g.Principal, g.Parent, g.NotBefore, g.NotAfter))
			}
			t.Fatalf("seed %d: engine and brute force disagree\npolicies:\n%s\ngrants:\n%s\nentities:\n%s\nengine:\n  %s\nbrute force:\n  %s",
				seed, policyList(b), strings.Join(grants, "\n"), b.Entities, strings.Join(got, "\n  "), strings.Join(keys(want), "\n  "))
		}
		for _, e := range table.Entries {
			for _, p := range e.Policies {
				if strings.HasPrefix(p.ID, "entitlement:") {
					named++
					if !strings.HasPrefix(p.Source, "identities/g.yaml:") {
						t.Fatalf("seed %d: %s names grant %s at %s, not at the grant", seed, key(e), p.ID, p.Source)
					}
				}
			}
		}
		checkQueries(t, seed, a, table)
	}
	if named < repos {
		t.Fatalf("weak test: %d entries name a grant over %d bundles", named, repos)
	}
	t.Logf("%d bundles: %d entries name a grant", repos, named)
}
