package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestActiveContract pins what Active says to a PDP: ErrNoActive only for
// a readable store with nothing active (an empty directory included), a
// real error for a directory that is missing or unreadable or a state that
// is damaged.
func TestActiveContract(t *testing.T) {
	tests := []struct {
		name    string
		dir     func(t *testing.T) string
		want    string // revision, or "" for ErrNoActive
		wantErr string // substring of a real error
	}{
		{"an empty directory (a fresh volume)", func(t *testing.T) string { return t.TempDir() }, "", ""},
		{"a store with nothing active", func(t *testing.T) string { return newStore(t, "r1").dir }, "", ""},
		{"a store whose state file was lost", func(t *testing.T) string {
			s := newStore(t, "r1")
			mustRemove(t, filepath.Join(s.dir, StateFile))
			return s.dir
		}, "", ""},
		{"an active bundle", func(t *testing.T) string {
			s := newStore(t, "r1")
			if _, err := s.Activate(ctx, "r1", ActionRollout, t0); err != nil {
				t.Fatal(err)
			}
			return s.dir
		}, "r1", ""},
		{"an old-format store", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "store")
			legacyStore(t, dir)
			return dir
		}, "r2", ""},
		{"a missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "gone") }, "", "no such file or directory"},
		{"a file where the directory should be", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "", "not a directory"},
		{"an unreadable state file", func(t *testing.T) string {
			s := newStore(t, "r1")
			mustRemove(t, filepath.Join(s.dir, StateFile))
			// A directory cannot be read as a file, even by root.
			if err := os.Mkdir(filepath.Join(s.dir, StateFile), 0o755); err != nil {
				t.Fatal(err)
			}
			return s.dir
		}, "", "is a directory"},
		{"a damaged state file", func(t *testing.T) string {
			s := newStore(t, "r1")
			if err := os.WriteFile(filepath.Join(s.dir, StateFile), []byte(`{"format":1,"active":{"revi`), 0o644); err != nil {
				t.Fatal(err)
			}
			return s.dir
		}, "", "store repair"},
		{"a state file from a newer cedargate", func(t *testing.T) string {
			s := newStore(t, "r1")
			writeJSON(t, filepath.Join(s.dir, StateFile), map[string]any{"format": 99})
			return s.dir
		}, "", "newer cedargate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{dir: tt.dir(t)}
			p, err := s.Active()
			switch {
			case tt.wantErr != "":
				if err == nil || errors.Is(err, ErrNoActive) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Active = %v, %v; want an error containing %q", p, err, tt.wantErr)
				}
			case tt.want == "":
				if !errors.Is(err, ErrNoActive) {
					t.Fatalf("Active = %v, %v; want ErrNoActive", p, err)
				}
			default:
				if err != nil || p.Revision != tt.want {
					t.Fatalf("Active = %v, %v; want %s", p, err, tt.want)
				}
			}
		})
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// TestOldFormatIsReadThenMigrated checks that a store of the old format
// serves as it is, without being written to, and that the first writer
// moves it to the state file, putting back the activation the old format
// lost in a crash, so that rollback does not skip a revision.
func TestOldFormatIsReadThenMigrated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	legacyStore(t, dir)
	for name, openFn := range map[string]func(string) (*Store, error){"for serving": OpenForServing, "read-only": OpenReadOnly} {
		s, err := openFn(dir)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := s.Active(); err != nil || p.Revision != "r2" {
			t.Fatalf("%s: Active = %v, %v", name, p, err)
		}
		if _, err := os.Stat(filepath.Join(dir, StateFile)); !os.IsNotExist(err) {
			t.Fatalf("%s: opening wrote %s", name, StateFile)
		}
	}
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{LegacyActiveFile, LegacyHistoryFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the migration", f)
		}
	}
	h, err := s.History()
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Revision != "r2" || h[1].Revision != "r1" {
		t.Fatalf("history after migration = %+v, want r2 then r1", h)
	}
	if a, err := s.Rollback(ctx, t0); err != nil || a.Revision != "r1" {
		t.Fatalf("rollback after migration = %v, %v; want r1", a.Revision, err)
	}
}

// TestTemporaryFilesAreRemovedOnlyByWriters leaves temporary files as
// crashed writes would, and checks that opening to serve or to read keeps
// them (they could be a writer's file in flight) and that a writer's
// Open, which holds the lock, removes them.
func TestTemporaryFilesAreRemovedOnlyByWriters(t *testing.T) {
	s := newStore(t, "r1")
	temps := []string{
		filepath.Join(s.dir, BundlesDir, ".r2.tar.gz.tmp-123"),
		filepath.Join(s.dir, "."+StateFile+".tmp-456"),
	}
	for _, p := range temps {
		if err := os.WriteFile(p, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exist := func() int {
		n := 0
		for _, p := range temps {
			if _, err := os.Stat(p); err == nil {
				n++
			}
		}
		return n
	}
	if _, err := OpenForServing(s.dir); err != nil || exist() != 2 {
		t.Fatalf("OpenForServing: %v; %d of 2 temporary files left", err, exist())
	}
	if _, err := OpenReadOnly(s.dir); err != nil || exist() != 2 {
		t.Fatalf("OpenReadOnly: %v; %d of 2 temporary files left", err, exist())
	}
	if _, err := Open(ctx, s.dir); err != nil || exist() != 0 {
		t.Fatalf("Open: %v; %d of 2 temporary files left", err, exist())
	}
}

// TestWritersWaitForTheLock holds the lock as a writer in flight does and
// checks that another writer cannot take it: it is the lock that makes a
// writer's temporary files safe from another writer's tidying. A waiting
// writer gives up when its context ends (a signal).
func TestWritersWaitForTheLock(t *testing.T) {
	s := newStore(t, "r1")
	unlock, err := s.lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waiting, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.Activate(waiting, "r1", ActionRollout, t0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Activate while another writer holds the lock = %v, want it to wait until its context ends", err)
	}
	unlock()
	if _, err := s.Activate(ctx, "r1", ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
}

// TestCancelledActivationChangesNothing checks that an activation whose
// context is done neither activates nor leaves a temporary file.
func TestCancelledActivationChangesNothing(t *testing.T) {
	s := newStore(t, "r1", "r2")
	if _, err := s.Activate(ctx, "r1", ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	before := dirListing(t, s.dir)
	if _, err := s.Activate(done, "r2", ActionRollout, t0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Activate with a cancelled context = %v", err)
	}
	if _, err := s.Put(done, archive(t, "r3", "prod", "forbid (principal, action, resource);")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context = %v", err)
	}
	if after := dirListing(t, s.dir); after != before {
		t.Fatalf("the store changed:\n%s\nwas\n%s", after, before)
	}
}

// dirListing lists a store's files with their sizes.
func dirListing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, d := range []string{dir, filepath.Join(dir, BundlesDir)} {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			info, _ := e.Info()
			b.WriteString(e.Name() + " " + info.ModTime().String() + "\n")
		}
	}
	return b.String()
}

// TestHistoryAlwaysNamesAUser checks that an activation records a user
// with $USER unset, from the process's account or its uid.
func TestHistoryAlwaysNamesAUser(t *testing.T) {
	t.Setenv("USER", "")
	s := newStore(t, "r1")
	a, err := s.Activate(ctx, "r1", ActionRollout, t0)
	if err != nil {
		t.Fatal(err)
	}
	if a.User == "" {
		t.Fatal("the activation records no user")
	}
	t.Setenv("USER", "operator")
	if got := CurrentUser(); got != "operator" {
		t.Fatalf("CurrentUser with USER=operator = %q", got)
	}
}
