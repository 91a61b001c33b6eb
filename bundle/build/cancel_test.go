package build

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// countdown is a context that is done from its n-th check on: Err returns
// nil n times, then context.Canceled. It stops a build at each of its
// checks in turn, deterministically, as a signal arriving at that instant
// would.
type countdown struct {
	context.Context
	mu     sync.Mutex
	left   int
	done   chan struct{}
	closed bool
}

func newCountdown(n int) *countdown {
	return &countdown{Context: context.Background(), left: n, done: make(chan struct{})}
}

func (c *countdown) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left > 0 {
		c.left--
		return nil
	}
	if !c.closed {
		c.closed = true
		close(c.done)
	}
	return context.Canceled
}

func (c *countdown) Done() <-chan struct{} { return c.done }

// TestCancellationStopsAtEveryCheck cancels build, lint and test at each of
// their cancellation checks in turn (files read, phases, environments,
// decision tests) and requires each to stop there with ctx's error and no
// result, until one runs past its last check and succeeds.
func TestCancellationStopsAtEveryCheck(t *testing.T) {
	dir := scaffold(t)
	files := 0
	for _, sub := range []string{"identities", "policies", "entities", "tests"} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		files += len(entries)
	}
	ops := map[string]func(ctx context.Context) (any, error){
		"build": func(ctx context.Context) (any, error) {
			return Build(ctx, dir, Options{Env: "prod", Now: refNow, CompilerVersion: "test"})
		},
		"lint": func(ctx context.Context) (any, error) { return Lint(ctx, dir, "", refNow) },
		"test": func(ctx context.Context) (any, error) { return Test(ctx, dir, "", refNow) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			for n := 0; ; n++ {
				if n > 1000 {
					t.Fatal("still cancelled after 1000 checks")
				}
				out, err := op(newCountdown(n))
				if err == nil {
					// A check before each file read is the least that
					// stops promptly.
					if n < files {
						t.Errorf("%s checks for cancellation %d times, want one per file (%d) at least", name, n, files)
					}
					t.Logf("%s: %d cancellation checks", name, n)
					break
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("cancelled at check %d: %v, want context.Canceled", n, err)
				}
				if o, ok := out.(*Output); ok && o != nil {
					t.Fatalf("cancelled at check %d, yet a bundle was built", n)
				}
			}
		})
	}
}
