package dectest

import (
	"cmp"
	"slices"
	"strings"

	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/bundle/diag"
)

// Coverage says which of an environment's policies and grants the decision
// tests exercise. A policy is exercised when it is a determining policy of
// some case's decision in that environment: a permit that allowed, a forbid
// that denied. A policy whose scope matched a request but that never
// decided one is not exercised: no test would fail if it were deleted or
// its condition inverted. The forbids cedargate generates for expired
// service accounts are not counted: nobody writes them.
type Coverage struct {
	Env string
	// Total counts the hand-written policies and the policies generated
	// from grants (entitlements and exceptions) in the environment.
	Total int
	// Exercised counts those that determined at least one decision.
	Exercised int
	// Unexercised lists the others, sorted by position, then id.
	Unexercised []Unexercised
}

// Unexercised is a policy or grant no test case exercises.
type Unexercised struct {
	ID string
	// Origin is "policy", "Entitlement" or "Exception" (see
	// bundle.Policy.Origin).
	Origin string
	// Pos is where the policy or grant is written.
	Pos diag.Position
}

// Percent is the share of exercised policies, 0 to 100; an environment
// without policies counts as fully covered, since no test can be missing.
func (c Coverage) Percent() float64 {
	if c.Total == 0 {
		return 100
	}
	return 100 * float64(c.Exercised) / float64(c.Total)
}

// cover computes the coverage of res's policies by cases.
func cover(res *compile.Result, cases []Case) Coverage {
	determined := map[string]bool{}
	for _, c := range cases {
		for _, p := range c.Policies {
			determined[p.ID] = true
		}
	}
	cov := Coverage{Env: res.Env}
	// The policies decisions name (one per grant and profile policy, not
	// the templates the bundle holds), sorted by id; positions order the
	// list as a reader walks the files.
	for _, p := range res.Logical() {
		if p.Origin == compile.OriginExpiry {
			continue
		}
		cov.Total++
		if determined[p.ID] {
			cov.Exercised++
			continue
		}
		cov.Unexercised = append(cov.Unexercised, Unexercised{ID: p.ID, Origin: p.Origin, Pos: p.Pos})
	}
	sortUnexercised(cov.Unexercised)
	return cov
}

func sortUnexercised(u []Unexercised) {
	slices.SortFunc(u, func(a, b Unexercised) int {
		return cmp.Or(a.Pos.Compare(b.Pos), strings.Compare(a.ID, b.ID))
	})
}
