package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/benchmarks/workload"
)

// TestMoveUsers checks that moveUsers moves one user in a hundred of
// those in exactly one group, to another group that exists, and changes
// nothing else.
func TestMoveUsers(t *testing.T) {
	ns := workload.Namespace
	var lines []string
	lines = append(lines, "[")
	for i := range 250 {
		switch {
		case i%50 == 7:
			// Two groups: never moved, nor counted.
			lines = append(lines, fmt.Sprintf(`{"uid":{"type":"%s::User","id":"u%03d"},"parents":[{"type":"%s::Group","id":"a"},{"type":"%s::Group","id":"b"}],"attrs":{},"tags":{}},`, ns, i, ns, ns))
		case i%50 == 9:
			lines = append(lines, fmt.Sprintf(`{"uid":{"type":"%s::ServiceAccount","id":"s%03d"},"parents":[{"type":"%s::Group","id":"g%d"}],"attrs":{},"tags":{}},`, ns, i, ns, i%7))
		default:
			lines = append(lines, fmt.Sprintf(`{"uid":{"type":"%s::User","id":"u%03d"},"parents":[{"type":"%s::Group","id":"g%d"},{"type":"%s::Team","id":"t"}],"attrs":{},"tags":{}},`, ns, i, ns, i%7, ns))
		}
	}
	lines = append(lines, "]")
	in := []byte(strings.Join(lines, "\n"))
	out, moved := moveUsers(bytes.Clone(in))
	// 250 lines, 10 of them not users in one group: 240 users, so 2 moved.
	if moved != 2 {
		t.Fatalf("moved %d users, want 2", moved)
	}
	got := strings.Split(string(out), "\n")
	if len(got) != len(lines) {
		t.Fatalf("%d lines, want %d", len(got), len(lines))
	}
	changed := 0
	for i := range lines {
		if got[i] == lines[i] {
			continue
		}
		changed++
		if !strings.Contains(lines[i], ns+"::User") || !strings.Contains(got[i], `,{"type":"`+ns+`::Team","id":"t"}]`) {
			t.Errorf("line %d changed unexpectedly:\n%s\n%s", i, lines[i], got[i])
		}
		if got[i][strings.Index(got[i], `"id":"g`)+6:] == lines[i][strings.Index(lines[i], `"id":"g`)+6:] {
			t.Errorf("line %d moved to its own group: %s", i, got[i])
		}
	}
	if changed != moved {
		t.Fatalf("%d lines changed, %d moves reported", changed, moved)
	}
}
