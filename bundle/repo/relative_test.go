package repo

import (
	"strings"
	"testing"
	"time"
)

// TestRelativeDates checks that today±duration counts from 00:00 UTC of
// Repo.Now's day when cedargate.yaml allows it, and is an error at its
// position, saying how to allow it, when it does not.
func TestRelativeDates(t *testing.T) {
	account := "identities/a.yaml"
	files := func(config string) map[string]string {
		return map[string]string{
			"cedargate.yaml": config,
			account: `kind: ServiceAccount
name: deployer
expires: today+189d
review:
  last_review: today-1w1d
---
kind: User
name: alice
---
kind: Entitlement
subject: alice
profile: p
expires: today
---
kind: Entitlement
subject: alice
profile: q
expires: today+3x
`,
		}
	}
	day := func(s string) time.Time { t, _ := ParseTime(s); return t }

	t.Run("allowed", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, files("relative_dates: true\n"))
		r, err := Load(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		r.Now = time.Date(2026, 11, 23, 23, 59, 0, 0, time.FixedZone("UTC-1", -3600)) // 2026-11-24 00:59 UTC
		v, problems := r.View("")
		sa := v.ServiceAccounts[0]
		if got, want := *sa.Expires, day("2027-06-01"); !got.Equal(want) {
			t.Errorf("expires: today+189d = %s, want %s", got, want)
		}
		if got, want := *sa.Review.LastReview, day("2026-11-16"); !got.Equal(want) {
			t.Errorf("last_review: today-1w1d = %s, want %s", got, want)
		}
		if got, want := *v.Entitlements[0].Expires, day("2026-11-24"); !got.Equal(want) {
			t.Errorf("expires: today = %s, want %s", got, want)
		}
		if len(problems) != 1 || problems[0].Pos.Line != 18 ||
			!strings.Contains(problems[0].Message, `"today+3x" is not a relative date (today, today+90d, today-22d)`) {
			t.Errorf("problems = %v, want one for today+3x at line 18", problems)
		}
	})

	t.Run("refused by default", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, files(""))
		r, err := Load(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		_, problems := r.View("")
		if len(problems) != 4 {
			t.Fatalf("problems = %v, want one per relative date", problems)
		}
		p := problems[0]
		if p.Pos.File != account || p.Pos.Line != 3 || p.Pos.Col != 10 ||
			!strings.Contains(p.Message, `expires: "today+189d" is a relative date; write the day (2026-12-01), or set relative_dates: true in cedargate.yaml`) {
			t.Errorf("first problem = %v", p)
		}
	})

	t.Run("not a flag", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, map[string]string{"cedargate.yaml": "relative_dates: yes please\n"})
		r, err := Load(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Message, "relative_dates must be true or false") {
			t.Errorf("problems = %v", r.Problems)
		}
	})
}
