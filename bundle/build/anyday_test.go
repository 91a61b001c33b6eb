package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/repo"
)

// TestBuildsOnAnyDay builds every example under examples/ and a fresh
// `init` output for every environment, as `cedargate build` does (lint,
// guardrails, decision tests, compile), today and 400 days from today.
//
// This is the one test that reads the real clock, on purpose: what it
// guards against is an example or template whose dates rot with the
// calendar, which a pinned instant cannot see. Examples pass because their
// live dates are relative (relative_dates: true) and their time-dependent
// test cases set `at:`; an init output is dated by the day init runs, so
// it is made on the day it is built.
func TestBuildsOnAnyDay(t *testing.T) {
	examples, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "cedargate.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no example under examples/ (%v)", err)
	}
	today := time.Now()
	for _, day := range []struct {
		name string
		now  time.Time
	}{
		{"today", today},
		{"today+400d", today.AddDate(0, 0, 400)},
	} {
		t.Run(day.name, func(t *testing.T) {
			for _, cfg := range examples {
				dir := filepath.Dir(cfg)
				t.Run(filepath.Base(dir), func(t *testing.T) { buildEveryEnv(t, dir, day.now) })
			}
			t.Run("init", func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "repo")
				if err := Init(dir, InitOptions{Now: day.now}); err != nil {
					t.Fatal(err)
				}
				buildEveryEnv(t, dir, day.now)
			})
		})
	}
}

// buildEveryEnv builds dir at now for each of its environments and fails
// on any error, including a failed guardrail or decision test.
func buildEveryEnv(t *testing.T, dir string, now time.Time) {
	t.Helper()
	r, err := repo.Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	envs, err := environments(r, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range envs {
		out, err := Build(t.Context(), dir, Options{Env: env, Now: now, Revision: "anyday", CompilerVersion: "test"})
		if err != nil {
			t.Fatalf("%s at %s, --env %s: %v", dir, now.Format(time.DateOnly), env, err)
		}
		if out.Tests.Passed == 0 {
			t.Errorf("%s --env %s: no decision test ran", dir, env)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tests")); err != nil {
		t.Errorf("%s has no tests/: %v", dir, err)
	}
}

// TestCompileAtCountsRelativeDatesFromItsDay checks that the commands that
// judge access at an instant (access, diff, review) read relative dates
// from that instant's day: examples/acme compiled at its reference day has
// the expiries its README quotes, a day later each is a day later.
func TestCompileAtCountsRelativeDatesFromItsDay(t *testing.T) {
	dir := copyShuffled(t, filepath.Join("..", "..", "examples", "acme"))
	// The grant's policies share its window, which the bundle carries on
	// the grant.
	const id = "entitlement:Group/payments-engineers:payments-db-reader"
	for _, tt := range []struct {
		at, want string
	}{
		{"2026-11-23T12:00:00Z", "2027-05-31T00:00:00Z"},
		{"2026-11-24T00:00:00Z", "2027-06-01T00:00:00Z"},
	} {
		at, _ := time.Parse(time.RFC3339, tt.at)
		c, err := CompileWorkTreeAt(t.Context(), dir, "prod", at)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, g := range c.Bundle.Grants {
			if g.ID == id && g.NotAfter != nil {
				got = g.NotAfter.Format(time.RFC3339)
			}
		}
		if got != tt.want {
			t.Errorf("at %s: %s not_after %q, want %s", tt.at, id, got, tt.want)
		}
	}
}

// TestRelativeDatesNameTheDay checks that the day relative dates count
// from is part of the derived revision, so that one revision names one
// bundle: the same source built on two days gives two revisions, on two
// instants of one day one.
func TestRelativeDatesNameTheDay(t *testing.T) {
	dir := copyShuffled(t, filepath.Join("..", "..", "examples", "acme"))
	revs := map[string]bool{}
	for _, now := range []time.Time{refNow, refNow.Add(time.Hour), refNow.AddDate(0, 0, 1)} {
		out, err := Build(t.Context(), dir, Options{Env: "prod", Now: now, CompilerVersion: "test"})
		if err != nil {
			t.Fatal(err)
		}
		rev := out.Bundle.Manifest.Revision
		if want := "+" + now.Format("20060102"); !strings.HasSuffix(rev, want) {
			t.Errorf("built at %s: revision %s, want it to end with %s", now, rev, want)
		}
		revs[rev] = true
	}
	if len(revs) != 2 {
		t.Errorf("revisions %v, want one per day", revs)
	}
}
