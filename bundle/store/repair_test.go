package store

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepair damages a store in one way at a time, repairs it and checks
// what is active after, what the report says was lost, and that the store
// then verifies (but for the bundles that do not, which repair leaves).
func TestRepair(t *testing.T) {
	tests := []struct {
		damage
		keys []ed25519.PublicKey
		// active is the revision active after the repair, "" for none.
		active string
		// rollback is where a rollback then goes, "" when it cannot.
		rollback string
		// lost are substrings of the report's Lost, in order; none: nothing lost.
		lost []string
		// copies is whether damaged files must have been kept.
		copies bool
		// problems are substrings of what verify still finds, in order:
		// bundles repair does not touch, an active revision left for an
		// operator to choose.
		problems []string
	}{
		{damage: damage{"sound", func(*testing.T, *Store) {}}, active: "r2", rollback: "r1"},
		{damage: damage{"state file cut in its history", func(t *testing.T, s *Store) {
			data, _ := os.ReadFile(statePath(s))
			truncate(t, statePath(s), len(data)-60)
		}}, active: "r2", rollback: "r1", copies: true,
			lost: []string{"the history is damaged at byte"}},
		{damage: damage{"state file missing", func(t *testing.T, s *Store) { mustRemove(t, statePath(s)) }},
			lost: []string{"state.json is missing", "which revision was active: nothing is active now"}},
		{damage: damage{"state file is not JSON", func(t *testing.T, s *Store) {
			if err := os.WriteFile(statePath(s), []byte("\x00\x01garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}}, copies: true,
			lost: []string{"which revision was active is lost", "the history of activations is lost", "which revision was active: nothing is active now"}},
		{damage: damage{"state file damaged and the active bundle corrupted", func(t *testing.T, s *Store) {
			data, _ := os.ReadFile(statePath(s))
			truncate(t, statePath(s), len(data)-60)
			corruptBundle(t, s, "r2")
		}}, copies: true, problems: []string{"does not verify", "nothing is active, but the history's last activation is of r1"},
			lost: []string{"bundles/r2.tar.gz: does not verify", "the history is damaged", "names r2, but revision r2's bundle does not verify"}},
		{damage: damage{"active pointer lost, history intact", func(t *testing.T, s *Store) {
			st, _, _ := s.readState()
			writeJSON(t, statePath(s), map[string]any{"format": 1, "history": st.History})
		}}, active: "r2", rollback: "r1", lost: []string{"which revision was active is lost"}},
		{damage: damage{"unsigned bundles with a key required", func(t *testing.T, s *Store) { mustRemove(t, statePath(s)) }},
			keys: []ed25519.PublicKey{testKey(t)}, problems: []string{"not signed", "not signed", "not signed"},
			lost: []string{"bundles/r1.tar.gz: does not verify", "bundles/r2.tar.gz", "bundles/r3.tar.gz", "state.json is missing", "bundles that verify: none"}},
		{damage: damage{"old format", func(t *testing.T, s *Store) {
			st, _, _ := s.readState()
			mustRemove(t, statePath(s))
			writeJSON(t, filepath.Join(s.dir, LegacyActiveFile), st.History[1])
			writeJSON(t, filepath.Join(s.dir, LegacyHistoryFile), st.History)
		}}, active: "r2", rollback: "r1"},
		{damage: damage{"old format, active.json lost and history.json without its activation", func(t *testing.T, s *Store) {
			// As the old format left a crash between its two writes, and
			// active.json lost afterwards: the history ends with r1, while
			// r2 was active.
			st, _, _ := s.readState()
			mustRemove(t, statePath(s))
			writeJSON(t, filepath.Join(s.dir, LegacyHistoryFile), st.History[:1])
		}}, active: "r1", lost: []string{"history.json may lack the last activation (the old format wrote it after active.json): its last, r1, is taken as active; if a later revision was active, roll it out"}},
		{damage: damage{"old format with a damaged history", func(t *testing.T, s *Store) {
			st, _, _ := s.readState()
			mustRemove(t, statePath(s))
			writeJSON(t, filepath.Join(s.dir, LegacyActiveFile), st.History[1])
			if err := os.WriteFile(filepath.Join(s.dir, LegacyHistoryFile), []byte(`{"oops"`), 0o644); err != nil {
				t.Fatal(err)
			}
		}}, active: "r2", rollback: "r1", copies: true, lost: []string{"history.json: the history of activations is lost"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := activeStore(t)
			tt.do(t, s)
			w, err := Open(ctx, s.dir)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := w.Repair(ctx, tt.keys, t0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("done: %q\nlost: %q", rep.Done, rep.Lost)
			if len(rep.Lost) != len(tt.lost) {
				t.Errorf("lost %d things, want %d: %q", len(rep.Lost), len(tt.lost), rep.Lost)
			}
			for i, l := range tt.lost {
				if i < len(rep.Lost) && !strings.Contains(rep.Lost[i], l) {
					t.Errorf("lost[%d] = %q, want it to contain %q", i, rep.Lost[i], l)
				}
			}
			copies, _ := filepath.Glob(filepath.Join(s.dir, "*.damaged-*"))
			if (len(copies) > 0) != tt.copies {
				t.Errorf("copies of damaged files: %v, want some: %v", copies, tt.copies)
			}
			active := ""
			if p, err := w.Active(); err == nil {
				active = p.Revision
			} else if !errors.Is(err, ErrNoActive) {
				t.Fatal(err)
			}
			if active != tt.active || (rep.Active == nil) != (tt.active == "") {
				t.Errorf("active after repair = %q (report: %v), want %q", active, rep.Active, tt.active)
			}
			vr, err := w.Verify(ctx, tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			if len(vr.Problems) != len(tt.problems) {
				t.Errorf("verify after repair: %v, want %d problem(s)", vr.Problems, len(tt.problems))
			}
			for i, p := range tt.problems {
				if i < len(vr.Problems) && !strings.Contains(vr.Problems[i].Message, p) {
					t.Errorf("verify after repair: problem %d is %s, want %q", i, vr.Problems[i], p)
				}
			}
			a, err := w.Rollback(ctx, t0)
			if tt.rollback == "" && err == nil || tt.rollback != "" && (err != nil || a.Revision != tt.rollback) {
				t.Errorf("rollback after repair = %q, %v; want %q", a.Revision, err, tt.rollback)
			}
		})
	}
}
