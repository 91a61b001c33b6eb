package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// watched is a store watch under test: its notifications and what it
// reported through onError.
type watched struct {
	changes <-chan struct{}
	reports chan string
}

func watch(t *testing.T, dir string) *watched {
	t.Helper()
	s, err := OpenForServing(dir)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w := &watched{reports: make(chan string, 100)}
	w.changes, err = s.Watch(wctx, func(err error) { w.reports <- err.Error() })
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// deadline bounds every wait on the real file system; a wait that passes
// it is a failure, not a timing measurement.
const deadline = 5 * time.Second

func (w *watched) notified(t *testing.T, what string) {
	t.Helper()
	select {
	case <-w.changes:
	case <-time.After(deadline):
		t.Fatalf("no change notification after %s", what)
	}
}

func (w *watched) reported(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case msg := <-w.reports:
			if strings.Contains(msg, want) {
				return
			}
		case <-timeout:
			t.Fatalf("the watch did not report %q", want)
		}
	}
}

func (w *watched) drain() {
	for {
		select {
		case <-w.changes:
		default:
			return
		}
	}
}

func TestWatchNotifiesActivations(t *testing.T) {
	s := newStore(t, "r1", "r2")
	w := watch(t, s.dir)
	for _, rev := range []string{"r1", "r2"} {
		w.drain()
		if _, err := s.Activate(ctx, rev, ActionRollout, t0); err != nil {
			t.Fatal(err)
		}
		w.notified(t, "rolling out "+rev)
	}
}

// TestWatchSurvivesTheDirectoryBeingReplaced replaces the watched store
// directory in the ways operators and sync tools do, and checks that the
// watch reports it, sends a notification once it watches the new one, and
// then sees the state file written in it.
func TestWatchSurvivesTheDirectoryBeingReplaced(t *testing.T) {
	tests := []struct {
		name string
		link bool
		// replace makes path name another directory in the same parent
		// and waits for the watch to follow; nothing is written in the
		// new directory after that.
		replace func(t *testing.T, w *watched, path string)
	}{
		{"removed and created again", false, func(t *testing.T, w *watched, path string) {
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			w.reported(t, "was removed or moved away")
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"moved away, another renamed into place", false, func(t *testing.T, w *watched, path string) {
			newStoreAt(t, path+".next", "r2")
			if err := os.Rename(path, path+".old"); err != nil {
				t.Fatal(err)
			}
			w.reported(t, "was removed or moved away")
			if err := os.Rename(path+".next", path); err != nil {
				t.Fatal(err)
			}
		}},
		{"a symbolic link swapped", true, func(t *testing.T, w *watched, path string) {
			newStoreAt(t, filepath.Join(filepath.Dir(path), "v2"), "r2")
			if err := os.Symlink("v2", path+".tmp"); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path+".tmp", path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			path := filepath.Join(parent, "store")
			newStoreAt(t, filepath.Join(parent, "v1"), "r1")
			if tt.link {
				if err := os.Symlink("v1", path); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Rename(filepath.Join(parent, "v1"), path); err != nil {
				t.Fatal(err)
			}
			w := watch(t, path)
			tt.replace(t, w, path)
			w.reported(t, "watch re-established")
			w.notified(t, "the watch was re-established")
			// Nothing was written in the new directory since it is
			// watched: the next notification comes from this activation.
			w.drain()
			s := newStoreAt(t, path, "r2")
			if _, err := s.Activate(ctx, "r2", ActionRollout, t0); err != nil {
				t.Fatal(err)
			}
			w.notified(t, "an activation in the new directory")
		})
	}
}

// TestWatchNotifiesRemoval removes the watched store directory: the watch
// reports it and sends a notification, so that a PDP reads its store at
// once, finds it gone and records its source failing, even with polling
// off (otherwise --max-staleness would never trip).
func TestWatchNotifiesRemoval(t *testing.T) {
	s := newStore(t, "r1")
	if _, err := s.Activate(ctx, "r1", ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	w := watch(t, s.dir)
	w.drain()
	if err := os.RemoveAll(s.dir); err != nil {
		t.Fatal(err)
	}
	w.reported(t, "was removed or moved away")
	w.notified(t, "the store directory was removed")
}

// TestWatchIsSetUpAgainWhenItCouldNotBe makes fsnotify.NewWatcher fail
// when the store directory comes back, as it fails for a process out of
// file descriptors or inotify instances: here by lowering the process's
// own RLIMIT_NOFILE below its open descriptors, a real EMFILE from
// inotify_init1. The watch says so, and once descriptors are available
// again it sets itself up on its backoff timer, with no event to prompt
// it, and sees the next activation.
func TestWatchIsSetUpAgainWhenItCouldNotBe(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "store")
	newStoreAt(t, path, "r1")
	w := watch(t, path)
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	w.reported(t, "was removed or moved away")

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 3 // stdin, stdout, stderr: no new descriptor can be opened
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	// No descriptor is needed to create a directory.
	if err := os.Mkdir(path, 0o755); err != nil {
		restore()
		t.Fatal(err)
	}
	w.reported(t, "is back but cannot be watched")
	restore()

	w.reported(t, "watch re-established")
	w.drain()
	s := newStoreAt(t, path, "r2")
	if _, err := s.Activate(ctx, "r2", ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	w.notified(t, "an activation once the watch was set up again")
}
