package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/internal/atomicfile"
)

// errCrash is what an injected fault returns.
var errCrash = errors.New("injected crash")

// crasher fails the n-th filesystem step of a store and every step after
// it, as if the process had died there: nothing after that instant
// reaches the disk. The lock is not a filesystem step (the kernel releases
// a dead process's lock), so it keeps working.
type crasher struct {
	n     int
	steps []string
	dead  bool
}

func (c *crasher) hook(step atomicfile.Step, path string) error {
	c.steps = append(c.steps, fmt.Sprintf("%s %s", step, filepath.Base(path)))
	if c.dead || len(c.steps) == c.n {
		c.dead = true
		return errCrash
	}
	return nil
}

// legacyStore writes a store of the old format as the old code left it
// after a crash between its two writes: active.json names r2, whose
// activation never reached history.json.
func legacyStore(t *testing.T, dir string) {
	t.Helper()
	s := newStoreAt(t, dir, "r1", "r2", "r3")
	for _, f := range []string{StateFile} {
		if err := os.Remove(filepath.Join(s.dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	p1, p2 := pointerOf(t, s, "r1"), pointerOf(t, s, "r2")
	writeJSON(t, filepath.Join(dir, LegacyHistoryFile), []Activation{{Pointer: p1, Time: t0, Action: ActionBuild, User: "old"}})
	writeJSON(t, filepath.Join(dir, LegacyActiveFile), Activation{Pointer: p2, Time: t0.Add(1), Action: ActionBuild, Previous: "r1", User: "old"})
}

// TestCrashAtEveryStep runs the store operations behind `build
// --activate` (Create, Put, Activate), `rollout` (Open, Activate) and
// `rollback` (Open, Rollback), crashing at their first filesystem step,
// then their second, and so on until one runs to the end. After each
// crash the store must open (which tidies it), hold no temporary file,
// have the old or the new revision active with a history that agrees,
// verify clean, and roll back to the revision before the active one.
func TestCrashAtEveryStep(t *testing.T) {
	r4 := archive(t, "r4", "prod", "permit (principal, action, resource);")
	// buildActivate is what `build --activate` does to the store.
	buildActivate := func(dir string, files atomicfile.Writer) error {
		s, err := create(ctx, dir, "prod", files)
		if err != nil {
			return err
		}
		if _, err := s.Put(ctx, r4); err != nil {
			return err
		}
		_, err = s.Activate(ctx, "r4", ActionBuild, t0)
		return err
	}
	// rollout and rollback are what those commands do to the store.
	rollout := func(dir string, files atomicfile.Writer) error {
		s, err := open(ctx, dir, files)
		if err != nil {
			return err
		}
		_, err = s.Activate(ctx, "r3", ActionRollout, t0)
		return err
	}
	rollback := func(dir string, files atomicfile.Writer) error {
		s, err := open(ctx, dir, files)
		if err != nil {
			return err
		}
		_, err = s.Rollback(ctx, t0)
		return err
	}
	twoActivations := func(t *testing.T, dir string) {
		s := newStoreAt(t, dir, "r1", "r2", "r3")
		for _, rev := range []string{"r1", "r2"} {
			if _, err := s.Activate(ctx, rev, ActionBuild, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		// op is the operation, with every filesystem step going through
		// files.
		op func(dir string, files atomicfile.Writer) error
		// reopen is how the next command opens the store.
		reopen func(dir string) (*Store, error)
		// old and next are the active revisions before and after.
		old, next string
	}{
		{
			name:   "build --activate into a new store",
			setup:  func(*testing.T, string) {},
			op:     buildActivate,
			reopen: func(dir string) (*Store, error) { return Create(ctx, dir, "prod") },
			old:    "", next: "r4",
		},
		{
			name:   "build --activate",
			setup:  twoActivations,
			op:     buildActivate,
			reopen: func(dir string) (*Store, error) { return Create(ctx, dir, "prod") },
			old:    "r2", next: "r4",
		},
		{
			name:   "rollout",
			setup:  twoActivations,
			op:     rollout,
			reopen: reopenWriter,
			old:    "r2", next: "r3",
		},
		{
			name:   "rollback",
			setup:  twoActivations,
			op:     rollback,
			reopen: reopenWriter,
			old:    "r2", next: "r1",
		},
		{
			name:   "rollout into a store of the old format",
			setup:  legacyStore,
			op:     rollout,
			reopen: reopenWriter,
			old:    "r2", next: "r3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The history before, as the store reads it: the old-format
			// store's lost activation is already put back.
			before := func() []Activation {
				dir := filepath.Join(t.TempDir(), "store")
				tt.setup(t, dir)
				if _, err := os.Stat(dir); err != nil {
					return nil
				}
				s, err := OpenReadOnly(dir)
				if err != nil {
					t.Fatal(err)
				}
				h, err := s.History()
				if err != nil {
					t.Fatal(err)
				}
				return h
			}()
			kinds := map[atomicfile.Step]bool{}
			outcomes := map[string]int{}
			for n := 1; ; n++ {
				dir := filepath.Join(t.TempDir(), "store")
				tt.setup(t, dir)
				c := &crasher{n: n}
				err := tt.op(dir, atomicfile.Writer{Hook: c.hook})
				if err != nil && !errors.Is(err, errCrash) {
					t.Fatalf("crash at step %d: the operation failed otherwise: %v", n, err)
				}
				if !c.dead {
					if err != nil {
						t.Fatalf("step %d: error without a crash: %v", n, err)
					}
					t.Logf("%d filesystem steps: %s", n-1, strings.Join(c.steps, ", "))
					break
				}
				step := c.steps[n-1]
				kinds[atomicfile.Step(strings.Fields(step)[0])] = true
				active := checkAfterCrash(t, fmt.Sprintf("crash at step %d (%s)", n, step), dir, tt.reopen, before, tt.old, tt.next)
				outcomes[active]++
			}
			for _, k := range []atomicfile.Step{atomicfile.StepCreate, atomicfile.StepWrite, atomicfile.StepSync, atomicfile.StepRename, atomicfile.StepSyncDir} {
				if !kinds[k] {
					t.Errorf("no crash was injected at a %s step", k)
				}
			}
			if outcomes[tt.old] == 0 || outcomes[tt.next] == 0 {
				t.Errorf("outcomes %v: want crashes leaving the old revision (%q) and the new one (%q)", outcomes, tt.old, tt.next)
			}
		})
	}
}

// checkAfterCrash opens the store as the next command would and checks it
// is whole; it returns the active revision.
func checkAfterCrash(t *testing.T, what, dir string, reopen func(string) (*Store, error), before []Activation, old, next string) string {
	t.Helper()
	s, err := reopen(dir)
	if err != nil {
		t.Fatalf("%s: the store does not open: %v", what, err)
	}
	for _, d := range []string{dir, filepath.Join(dir, BundlesDir)} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if atomicfile.IsTemp(e.Name()) {
				t.Errorf("%s: %s survived the next open", what, filepath.Join(d, e.Name()))
			}
		}
	}
	active := ""
	p, err := s.Active()
	switch {
	case err == nil:
		active = p.Revision
	case !errors.Is(err, ErrNoActive):
		t.Fatalf("%s: Active: %v", what, err)
	}
	h, err := s.History()
	if err != nil {
		t.Fatalf("%s: History: %v", what, err)
	}
	switch active {
	case old:
		if !slices.EqualFunc(h, before, sameActivation) {
			t.Errorf("%s: %s still active, but the history changed: %v, was %v", what, old, h, before)
		}
	case next:
		if len(h) != len(before)+1 || h[0].Pointer != p || h[0].Previous != old || !slices.EqualFunc(h[1:], before, sameActivation) {
			t.Errorf("%s: %s active, but the history does not end with its activation after %q: %v", what, next, old, h)
		}
	default:
		t.Fatalf("%s: active is %q, want %q or %q", what, active, old, next)
	}
	rep, err := s.Verify(ctx, nil)
	if err != nil || len(rep.Problems) > 0 {
		t.Errorf("%s: verify: %v %v", what, rep.Problems, err)
	}
	// Rollback goes to the revision active before, or has none.
	want := ""
	if len(h) > 0 {
		want = h[0].Previous
	}
	a, err := s.Rollback(ctx, t0)
	switch {
	case want == "" && err == nil:
		t.Errorf("%s: rollback succeeded with nothing before %q", what, active)
	case want != "" && (err != nil || a.Revision != want):
		t.Errorf("%s: rollback = %v %v, want %s", what, a.Revision, err, want)
	}
	return active
}

// reopenWriter opens the store as rollout and rollback do.
func reopenWriter(dir string) (*Store, error) { return Open(ctx, dir) }
