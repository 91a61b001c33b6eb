package store

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle"
)

// activeStore returns a store holding r1, r2 and r3 with r1 then r2
// activated.
func activeStore(t *testing.T) *Store {
	t.Helper()
	s := newStore(t, "r1", "r2", "r3")
	for _, rev := range []string{"r1", "r2"} {
		if _, err := s.Activate(ctx, rev, ActionBuild, t0); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// damage is one way a store can be broken, in place.
type damage struct {
	name string
	do   func(t *testing.T, s *Store)
}

func truncate(t *testing.T, path string, keep int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:min(keep, len(data))], 0o644); err != nil {
		t.Fatal(err)
	}
}

// corruptBundle changes one byte inside a bundle's compressed content, so
// that it still decompresses but its files no longer match their sums, or
// it no longer decompresses at all.
func corruptBundle(t *testing.T, s *Store, rev string) {
	t.Helper()
	truncate(t, s.BundlePath(rev), 100)
}

func statePath(s *Store) string { return filepath.Join(s.dir, StateFile) }

// TestVerify damages a store in one way at a time and checks what Verify
// reports: each problem in the file it concerns, and nothing on a sound
// store.
func TestVerify(t *testing.T) {
	tests := []struct {
		damage
		keys []ed25519.PublicKey
		// want maps a path to a substring of its problem; nil: no problems.
		want  map[string]string
		notes map[string]string
	}{
		{damage: damage{"sound", func(*testing.T, *Store) {}}},
		{damage: damage{"damaged state file", func(t *testing.T, s *Store) { truncate(t, statePath(s), 200) }},
			want: map[string]string{StateFile: "store state is damaged"}},
		{damage: damage{"missing state file", func(t *testing.T, s *Store) { mustRemove(t, statePath(s)) }},
			want: map[string]string{StateFile: "missing: nothing is active"}},
		{damage: damage{"corrupted bundle, not active", func(t *testing.T, s *Store) { corruptBundle(t, s, "r3") }},
			want: map[string]string{"bundles/r3.tar.gz": "does not verify"}},
		{damage: damage{"corrupted active bundle", func(t *testing.T, s *Store) { corruptBundle(t, s, "r2") }},
			want: map[string]string{"bundles/r2.tar.gz": "does not verify", StateFile: "the active revision r2's bundle does not verify"}},
		{damage: damage{"missing active bundle", func(t *testing.T, s *Store) { mustRemove(t, s.BundlePath("r2")) }},
			want: map[string]string{StateFile: "the active revision r2 has no bundle"}},
		{damage: damage{"bundle replaced behind the store's back", func(t *testing.T, s *Store) {
			mustRemove(t, s.BundlePath("r1"))
			if err := os.WriteFile(s.BundlePath("r1"), archive(t, "r1", "prod", "forbid (principal, action, resource);"), 0o644); err != nil {
				t.Fatal(err)
			}
		}}, want: map[string]string{StateFile: "history entries 1: revision r1 is recorded with digest"}},
		{damage: damage{"active is not the last activation", func(t *testing.T, s *Store) {
			st, _, _ := s.readState()
			st.Active = &st.History[0].Pointer
			writeJSON(t, statePath(s), st)
		}}, want: map[string]string{StateFile: "r1 is active, but the history's last activation is of r2"}},
		{damage: damage{"unsigned bundles with a key required", func(*testing.T, *Store) {}}, keys: []ed25519.PublicKey{testKey(t)},
			want: map[string]string{"bundles/r1.tar.gz": "not signed", "bundles/r2.tar.gz": "not signed", "bundles/r3.tar.gz": "not signed",
				StateFile: "the active revision r2's bundle does not verify"}},
		{damage: damage{"old format", func(t *testing.T, s *Store) {
			st, _, _ := s.readState()
			mustRemove(t, statePath(s))
			writeJSON(t, filepath.Join(s.dir, LegacyActiveFile), st.History[1])
			writeJSON(t, filepath.Join(s.dir, LegacyHistoryFile), st.History)
		}}, notes: map[string]string{LegacyActiveFile: "old format"}},
		{damage: damage{"old format's files beside the state file", func(t *testing.T, s *Store) {
			st, _, _ := s.readState()
			writeJSON(t, filepath.Join(s.dir, LegacyActiveFile), st.History[0])
		}}, notes: map[string]string{LegacyActiveFile: "ignored: state.json supersedes it"}},
		{damage: damage{"temporary files", func(t *testing.T, s *Store) {
			for _, p := range []string{filepath.Join(s.dir, BundlesDir, ".r4.tar.gz.tmp-1"), filepath.Join(s.dir, ".state.json.tmp-2")} {
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}}, notes: map[string]string{"bundles/.r4.tar.gz.tmp-1": "interrupted write", ".state.json.tmp-2": "interrupted write"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := activeStore(t)
			tt.do(t, s)
			before := dirListing(t, s.dir)
			ro, err := OpenReadOnly(s.dir)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := ro.Verify(ctx, tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			checkFindings(t, "problems", rep.Problems, tt.want)
			checkFindings(t, "notes", rep.Notes, tt.notes)
			if after := dirListing(t, s.dir); after != before {
				t.Errorf("Verify changed the store")
			}
		})
	}
}

// checkFindings checks that got holds exactly one finding per path of
// want, each containing its substring.
func checkFindings(t *testing.T, what string, got []Finding, want map[string]string) {
	t.Helper()
	var paths []string
	for _, f := range got {
		if slices.Contains(paths, f.Path) {
			t.Errorf("%s: a second finding about %s: %s", what, f.Path, f)
		}
		paths = append(paths, f.Path)
		if w, ok := want[f.Path]; !ok || !strings.Contains(f.Message, w) {
			t.Errorf("%s: unexpected %s", what, f)
		}
	}
	for p := range want {
		if !slices.Contains(paths, p) {
			t.Errorf("%s: nothing about %s (want %q); got %v", what, p, want[p], got)
		}
	}
}

func testKey(t *testing.T) ed25519.PublicKey {
	t.Helper()
	_, pub, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := bundle.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
