package review_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/access/review"
	"github.com/cedargate/cedargate/bundle/build"
	goldenpkg "github.com/cedargate/cedargate/internal/golden"
)

// at is the instant the testdata repository is judged at.
var at = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// demo reviews testdata/repo, compiled with a fixed revision so the
// goldens do not depend on the commit the tests run at.
func demo(t *testing.T) *review.Report {
	t.Helper()
	c, err := build.Compile(context.Background(), filepath.Join("testdata", "repo"), "prod", "golden")
	if err != nil {
		t.Fatal(err)
	}
	r, err := review.New(context.Background(), c, at)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden compares got with testdata/name (see golden.Check).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenpkg.Check(t, filepath.Join("testdata", name), got)
}

// TestGolden renders the demo repository's review in each format and
// compares it with the file people read; a second rendering of a second
// review must give the same bytes.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer, *review.Report) error
	}{
		{"report.html", func(b *bytes.Buffer, r *review.Report) error { return review.WriteHTML(b, r) }},
		{"report.csv", func(b *bytes.Buffer, r *review.Report) error { return review.WriteCSV(b, r) }},
		{"report.json", func(b *bytes.Buffer, r *review.Report) error { return review.WriteJSON(b, r) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var first, second bytes.Buffer
			if err := tc.write(&first, demo(t)); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(&second, demo(t)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.Bytes(), second.Bytes()) {
				t.Fatal("two reviews of the same repository at the same instant differ")
			}
			golden(t, tc.name, first.Bytes())
		})
	}
}

// TestRiskAndPlacement checks what the goldens show, so a regenerated
// golden cannot quietly lose it: who is in which section, how risky each
// is and why, riskiest first.
func TestRiskAndPlacement(t *testing.T) {
	r := demo(t)
	type row struct{ team, name, risk string }
	var got []row
	for _, s := range r.Sections {
		for _, id := range s.Identities {
			got = append(got, row{s.Team, id.Kind + "/" + id.Name, string(id.Risk)})
		}
	}
	want := []row{
		// No team: an ownerless account (nhi-owner-missing) and a user in
		// no team whose grant expired.
		{"", "ServiceAccount/orphan-sync", "error"},
		{"", "User/jordan", "expiring"},
		// Rotation overdue; an expiring break-glass grant; all well.
		{"payments", "ServiceAccount/billing-bot", "overdue"},
		{"payments", "User/maria", "expiring"},
		{"payments", "ServiceAccount/ledger", "ok"},
		// Owned by lucas, so platform's: its waiver expired; then an
		// overdue review.
		{"platform", "ServiceAccount/migrator", "error"},
		{"platform", "ServiceAccount/reports-job", "overdue"},
		{"platform", "User/lucas", "ok"},
		{"security", "User/bob", "ok"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sections:\n got %v\nwant %v", got, want)
	}
	if s := r.Summary; s.Identities != 9 || s.Users != 4 || s.ServiceAccounts != 5 || s.Errors != 2 || s.OverdueReviews != 1 || s.OverdueRotations != 1 {
		t.Errorf("summary %+v", s)
	}
	// The profile granted to nobody is about no identity.
	if len(r.OtherFindings) != 1 || r.OtherFindings[0].Rule != "orphan-object" {
		t.Errorf("other findings: %+v", r.OtherFindings)
	}
	find := func(name string) review.Identity {
		for _, s := range r.Sections {
			for _, id := range s.Identities {
				if id.Name == name {
					return id
				}
			}
		}
		t.Fatalf("no identity %s", name)
		return review.Identity{}
	}
	if id := find("reports-job"); id.Review.Status != review.StatusOverdue || id.ExpiryStatus != review.StatusExpiring {
		t.Errorf("reports-job: review %+v, expiry %s", id.Review, id.ExpiryStatus)
	}
	if id := find("billing-bot"); id.Credential.Status != review.StatusOverdue || id.Credential.Due.Format(time.DateOnly) != "2026-10-01" {
		t.Errorf("billing-bot: credential %+v", id.Credential)
	}
	if id := find("lucas"); len(id.Entitlements) != 1 || id.Entitlements[0].Via != "Team/platform" {
		t.Errorf("lucas's entitlements: %+v", id.Entitlements)
	}
	if id := find("migrator"); id.Owner != "User/lucas" || len(id.Exceptions) != 1 || id.Exceptions[0].Status != review.StatusExpired {
		t.Errorf("migrator: owner %s, exceptions %+v", id.Owner, id.Exceptions)
	}
	// maria reads services only with MFA: conditional, with the
	// condition's text.
	if id := find("maria"); id.Access.Conditional == 0 {
		t.Errorf("maria: no conditional access: %+v", id.Access)
	}
}
