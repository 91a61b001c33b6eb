package access_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/access"
	"github.com/cedargate/cedargate/pdp/engine"
)

// TestCandidatesHoldEveryAllowedTriple checks the candidates searches
// decide against brute force on the differential test's random bundles:
// whatever the context, every triple Decide allows has its principal among
// the principal candidates for its action and resource, its resource among
// the resource candidates for its principal and action, and its action
// among the candidate actions for its principal and resource; and so for
// a principal the bundle does not define. Attributes cannot matter:
// candidates are found by scope alone.
func TestCandidatesHoldEveryAllowedTriple(t *testing.T) {
	const repos = 150
	stranger := types.NewEntityUID("User", "stranger")
	var checked, narrowed int
	for seed := range uint64(repos) {
		b := randomBundle(seed)
		a, err := access.New(b)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		snap, err := engine.New(b)
		if err != nil {
			t.Fatal(err)
		}
		principals := append(slices.Clone(a.Entities()), stranger)
		for _, p := range principals {
			for _, act := range a.Actions() {
				resources := a.Candidates(engine.ResourceDim, "Doc", p, act, diffAt)
				resources = append(resources, a.Candidates(engine.ResourceDim, "Folder", p, act, diffAt)...)
				for _, r := range a.Entities() {
					if r.Type != "Doc" && r.Type != "Folder" {
						continue
					}
					allowed := false
					for _, c := range contexts(4) {
						if snap.Decide(&engine.Request{Principal: p, Action: act, Resource: r, Context: c, Time: diffAt}).Allow {
							allowed = true
							break
						}
					}
					inResources := slices.Contains(resources, r)
					if !allowed {
						if !inResources {
							narrowed++
						}
						continue
					}
					checked++
					if !inResources {
						t.Fatalf("seed %d: %s %s %s is allowed, but %s is not a resource candidate %v\npolicies:\n%s", seed, p, act, r, r, resources, policyList(b))
					}
					if p != stranger && !slices.Contains(a.Candidates(engine.PrincipalDim, p.Type, r, act, diffAt), p) {
						t.Fatalf("seed %d: %s %s %s is allowed, but %s is not a principal candidate\npolicies:\n%s", seed, p, act, r, p, policyList(b))
					}
					if acts := a.CandidateActions(p, r, diffAt); !slices.Contains(acts, act) {
						t.Fatalf("seed %d: %s %s %s is allowed, but %s is not among the candidate actions %v\npolicies:\n%s", seed, p, act, r, act, acts, policyList(b))
					}
				}
			}
		}
	}
	// Candidates must be found, and must leave out something, or the test
	// shows little.
	if checked < repos || narrowed < repos {
		t.Fatalf("weak test: %d allowed triples checked, %d denied triples left out of the candidates", checked, narrowed)
	}
	t.Logf("%d bundles: %d allowed triples among the candidates, %d denied triples not candidates", repos, checked, narrowed)
}

// TestCandidatesOfAnUnknownTypeAreNone checks that a type no bundle
// entity has has no candidates, and that candidates are sorted and of the
// type asked for.
func TestCandidatesOfAnUnknownTypeAreNone(t *testing.T) {
	b := randomBundle(7)
	a, err := access.New(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, act := range a.Actions() {
		for _, r := range a.Entities() {
			if got := a.Candidates(engine.PrincipalDim, "Spaceship", r, act, diffAt); len(got) != 0 {
				t.Fatalf("candidates of an unknown type: %v", got)
			}
			got := a.Candidates(engine.PrincipalDim, "User", r, act, diffAt)
			if !slices.IsSortedFunc(got, func(x, y types.EntityUID) int { return strings.Compare(x.String(), y.String()) }) {
				t.Fatalf("candidates not sorted: %v", got)
			}
			for _, u := range got {
				if u.Type != "User" {
					t.Fatalf("candidate %s is not a User", u)
				}
			}
		}
	}
}
