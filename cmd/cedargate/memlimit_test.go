package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// TestLimitMemory sets the runtime's memory limit from a provider's as
// serve does from the container's, and leaves it to an operator's
// GOMEMLIMIT or AUTOMEMLIMIT=off.
func TestLimitMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	const gib = 1 << 30
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct {
		name, gomemlimit, automemlimit string
		provider                       memlimit.Provider
		want                           int64
	}{
		{"a tenth is left to the runtime", "", "", memlimit.Limit(gib), gib * 9 / 10},
		{"AUTOMEMLIMIT sets the ratio", "", "0.5", memlimit.Limit(gib), gib / 2},
		{"no limit, none set", "", "", func() (uint64, error) { return 0, memlimit.ErrNoLimit }, math.MaxInt64},
		{"outside a cgroup, none set", "", "", func() (uint64, error) { return 0, memlimit.ErrNoCgroup }, math.MaxInt64},
		{"GOMEMLIMIT wins", "500MiB", "", memlimit.Limit(gib), math.MaxInt64},
		{"AUTOMEMLIMIT=off", "", "off", memlimit.Limit(gib), math.MaxInt64},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The runtime reads GOMEMLIMIT when the process starts: here
			// the limit stays what it was, unlimited.
			debug.SetMemoryLimit(math.MaxInt64)
			t.Setenv("GOMEMLIMIT", tt.gomemlimit)
			t.Setenv("AUTOMEMLIMIT", tt.automemlimit)
			if tt.automemlimit == "" {
				// Set but empty is not a ratio; t.Setenv restores it.
				_ = os.Unsetenv("AUTOMEMLIMIT")
			}
			limitMemory(log, tt.provider)
			if got := debug.SetMemoryLimit(-1); got != tt.want {
				t.Fatalf("memory limit %d, want %d", got, tt.want)
			}
		})
	}
}

// TestBuildLimitsMemory runs `cedargate build` on examples/acme in a
// container whose memory limit is 1 GiB: the build sets the runtime's
// limit to 90% of it, as serve does, and still builds.
func TestBuildLimitsMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("AUTOMEMLIMIT", "")
	_ = os.Unsetenv("AUTOMEMLIMIT")
	const gib = 1 << 30
	ctx := withContainerLimit(context.Background(), memlimit.Limit(gib))
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"build", filepath.Join("..", "..", "examples", "acme"), "--env", "prod",
		"--store", filepath.Join(t.TempDir(), "store"), "--now", "2026-11-23", "--revision", "r1"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("build: exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	if got := debug.SetMemoryLimit(-1); got != gib*9/10 {
		t.Fatalf("memory limit %d, want %d", got, gib*9/10)
	}
	if strings.Contains(stderr.String(), "memory limit") {
		t.Errorf("build logged the limit it set: %q", stderr.String())
	}
}
