package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle"
)

// TestPutNeverReplacesABundleItCannotRead adds a bundle whose revision is
// already stored in a file Put cannot read. A file it cannot read for its
// size or an I/O error is never replaced; a damaged one is replaced only
// when no pointer of the state names its revision with another digest,
// since PDPs may serve it and rollback may return to it: a rebuild with
// the digest the state records restores it. When Put refuses, the file is
// as it was.
func TestPutNeverReplacesABundleItCannotRead(t *testing.T) {
	// next is what Put adds: revision r1 with other content than the
	// store's.
	next := archive(t, "r1", "prod", "forbid (principal, action, resource);")
	tests := []struct {
		name string
		// setup leaves the store with revision r1 unreadable.
		setup func(t *testing.T, s *Store)
		want  string // "" when Put must replace the file
	}{
		{"too large for the limit", func(t *testing.T, s *Store) {
			writeBomb(t, s, "r1", bundle.DefaultMaxSize+1<<20)
		}, "revision r1 is already in the store, but its bundle cannot be read (reading bundle: bundle too large"},
		{"an I/O error", func(t *testing.T, s *Store) {
			// A link to a directory: opening it works, reading fails
			// (EISDIR), as on a failing disk.
			mustRemove(t, s.BundlePath("r1"))
			if err := os.Symlink(t.TempDir(), s.BundlePath("r1")); err != nil {
				t.Fatal(err)
			}
		}, "revision r1 is already in the store, but its bundle cannot be read (reading bundle: read "},
		{"damaged and active", func(t *testing.T, s *Store) {
			if _, err := s.Activate(ctx, "r1", ActionBuild, t0); err != nil {
				t.Fatal(err)
			}
			corruptBundle(t, s, "r1")
		}, "revision r1 is already in the store, but its bundle is damaged (reading bundle: unexpected EOF), and the active pointer names it with digest sha256:"},
		{"damaged and in history", func(t *testing.T, s *Store) {
			for _, rev := range []string{"r1", "r2"} {
				if _, err := s.Activate(ctx, rev, ActionBuild, t0); err != nil {
					t.Fatal(err)
				}
			}
			corruptBundle(t, s, "r1")
		}, "and history entry 1 names it with digest sha256:"},
		{"damaged, and the state cannot be read", func(t *testing.T, s *Store) {
			corruptBundle(t, s, "r1")
			if err := os.WriteFile(statePath(s), []byte("{"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "but its bundle is damaged (reading bundle: unexpected EOF), and the state that says whether it was ever active cannot be read"},
		{"damaged, named by nothing", func(t *testing.T, s *Store) {
			corruptBundle(t, s, "r1")
		}, ""},
		{"damaged and active, rebuilt as it was", func(t *testing.T, s *Store) {
			// The state names r1 with the digest of the bundle Put adds.
			if err := os.WriteFile(s.BundlePath("r1"), next, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Activate(ctx, "r1", ActionBuild, t0); err != nil {
				t.Fatal(err)
			}
			corruptBundle(t, s, "r1")
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, "r1", "r2")
			tt.setup(t, s)
			before := fileState(t, s.BundlePath("r1"))
			_, err := s.Put(ctx, next)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if got, _ := os.ReadFile(s.BundlePath("r1")); !bytes.Equal(got, next) {
					t.Fatal("the damaged bundle was not replaced")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Put = %v\nwant an error containing %q", err, tt.want)
			}
			if after := fileState(t, s.BundlePath("r1")); after != before {
				t.Fatal("Put changed the file it refused to replace")
			}
		})
	}
}

// fileState describes what is at path: its link target or a hash of its
// content.
func fileState(t *testing.T, path string) string {
	t.Helper()
	if target, err := os.Readlink(path); err == nil {
		return "link to " + target
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return filepath.Base(path) + ":" + string(data)
}
