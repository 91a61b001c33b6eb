package pdp

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestReadiness checks the fail-closed conditions: the first that blocks
// decides, each transition is applied and logged once with its reason,
// and a condition that changes with time alone is seen on update.
func TestReadiness(t *testing.T) {
	var logs bytes.Buffer
	var applied []bool
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	g := &readiness{log: slog.New(slog.NewTextHandler(&logs, nil)), apply: func(ok bool) { applied = append(applied, ok) },
		now: func() time.Time { return now }}
	active, deadline := false, now.Add(time.Minute)
	g.add("bundle", func(time.Time) string {
		if !active {
			return "no active bundle"
		}
		return ""
	})
	g.add("clock", func(at time.Time) string {
		if at.After(deadline) {
			return "too late"
		}
		return ""
	})
	steps := []struct {
		name       string
		change     func()
		serving    bool
		reason     string
		appliedLen int
	}{
		{"no bundle", func() {}, false, "no active bundle", 1},
		{"unchanged", func() {}, false, "no active bundle", 1},
		{"bundle arrives", func() { active = true }, true, "", 2},
		{"time passes", func() { now = deadline.Add(time.Second) }, false, "too late", 3},
		{"both block: the first gives the reason", func() { active = false }, false, "no active bundle", 4},
		{"clear again", func() { active, deadline = true, now.Add(time.Hour) }, true, "", 5},
	}
	for _, s := range steps {
		s.change()
		g.update()
		if ok, reason := g.state(); ok != s.serving || reason != s.reason {
			t.Fatalf("%s: state = %v %q, want %v %q", s.name, ok, reason, s.serving, s.reason)
		}
		if len(applied) != s.appliedLen || applied[len(applied)-1] != s.serving {
			t.Fatalf("%s: applied %v", s.name, applied)
		}
	}
	for _, want := range []string{
		`msg="health: NOT_SERVING" condition=bundle reason="no active bundle"`,
		`msg="health: NOT_SERVING" condition=clock reason="too late"`,
		`msg="health: SERVING"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "\n"); n != 5 {
		t.Errorf("%d log lines for 5 transitions:\n%s", n, logs.String())
	}
}

func TestReadinessInterval(t *testing.T) {
	for _, tc := range []struct{ maxStale, want time.Duration }{
		{0, time.Second},
		{time.Hour, time.Second},
		{2 * time.Second, 500 * time.Millisecond},
		{time.Millisecond, 10 * time.Millisecond},
	} {
		if got := readinessInterval(tc.maxStale); got != tc.want {
			t.Errorf("readinessInterval(%v) = %v, want %v", tc.maxStale, got, tc.want)
		}
	}
}
