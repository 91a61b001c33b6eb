package dectest_test

import (
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/dectest"
)

// TestCoverageCountsDeterminingPoliciesOnly runs the cases of
// testdata/coverage against policies that determine a decision, one whose
// condition is false and one that a forbid overrules: only the first kind
// is exercised, and every case's outcome is recorded.
func TestCoverageCountsDeterminingPoliciesOnly(t *testing.T) {
	rep, err := build.Test(t.Context(), "testdata/coverage", "", time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Coverage) != 1 {
		t.Fatalf("coverage %+v, want one environment", rep.Coverage)
	}
	c := rep.Coverage[0]
	if c.Total != 4 || c.Exercised != 2 || len(c.Unexercised) != 2 ||
		c.Unexercised[0].ID != "never" || c.Unexercised[0].Pos.String() != "policies/p.cedar:4:1" ||
		c.Unexercised[1].ID != "bob-overruled" || c.Unexercised[1].Pos.String() != "policies/p.cedar:7:1" {
		t.Errorf("coverage %+v, want 2 of 4, never and bob-overruled unexercised", c)
	}
	if p := c.Percent(); p != 50 {
		t.Errorf("percent %v, want 50", p)
	}
	if p := (dectest.Coverage{}).Percent(); p != 100 {
		t.Errorf("an environment without policies: %v%%, want 100", p)
	}

	type outcome struct {
		name, got string
		pass      bool
		policies  int
		problems  int
	}
	var got []outcome
	for _, k := range rep.Cases {
		got = append(got, outcome{k.Name, k.Got, k.Pass, len(k.Policies), len(k.Problems)})
	}
	want := []outcome{
		{"alice reads", "allow", true, 1, 0},
		{"bob is forbidden", "deny", true, 1, 0},
		{"bob is expected to read, wrongly", "deny", false, 1, 1},
		{"nobody", "", false, 0, 1},
	}
	if len(got) != len(want) {
		t.Fatalf("cases %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("case %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if rep.Passed != 2 || rep.Failed != 2 || len(rep.Problems) != 0 {
		t.Errorf("passed %d, failed %d, problems %v", rep.Passed, rep.Failed, rep.Problems)
	}
}
