package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cedargate/cedargate/bundle"
)

// stateFormat is the version of the state file's layout; a reader refuses
// a newer one rather than misread it.
const stateFormat = 1

// state is the content of StateFile: the active bundle and the history
// that led to it. They live in one file so that an activation is one
// rename: a crash leaves the old state or the new one, and history always
// agrees with the active pointer.
type state struct {
	Format int `json:"format"`
	// Active is the active bundle, null when nothing is active.
	Active *Pointer `json:"active"`
	// History is every activation, oldest first; the last one names
	// Active.
	History []Activation `json:"history"`
}

// stateKind says where readState found the state.
type stateKind int

const (
	stateNone    stateKind = iota // neither the state file nor the old format's files
	stateLegacy                   // the old format: active.json and history.json
	stateCurrent                  // the state file
)

// errNewerFormat is a state file written by a newer cedargate: not
// damaged, and not to be rewritten by this one.
var errNewerFormat = errors.New("the state file was written by a newer cedargate")

// ErrDamaged is wrapped by the errors of a state that cannot be read:
// `cedargate store repair` rebuilds it.
var ErrDamaged = errors.New("store state is damaged")

// damagedError is a state file that cannot be read, and why.
type damagedError struct {
	dir, file string
	err       error
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("%v: %s is not valid (%v); `cedargate store repair --store %s` rebuilds it",
		ErrDamaged, filepath.Join(e.dir, e.file), e.err, e.dir)
}

func (e *damagedError) Is(target error) bool { return target == ErrDamaged }

func (s *Store) damaged(file string, err error) error {
	return &damagedError{dir: s.dir, file: file, err: err}
}

// readState reads the state file or, in a store of the old format,
// active.json and history.json.
func (s *Store) readState() (*state, stateKind, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, StateFile))
	if err == nil {
		st, err := parseState(data)
		if errors.Is(err, errNewerFormat) {
			return nil, stateCurrent, fmt.Errorf("reading %s: %w", filepath.Join(s.dir, StateFile), err)
		}
		if err != nil {
			return nil, stateCurrent, s.damaged(StateFile, err)
		}
		return st, stateCurrent, nil
	}
	if !os.IsNotExist(err) {
		return nil, stateNone, fmt.Errorf("reading store state: %w", err)
	}
	return s.readLegacy()
}

func parseState(data []byte) (*state, error) {
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, err
	}
	switch {
	case st.Format == 0:
		return nil, errors.New("no format")
	case st.Format > stateFormat:
		return nil, fmt.Errorf("%w: format %d, this cedargate reads up to %d; upgrade it", errNewerFormat, st.Format, stateFormat)
	}
	if st.Active != nil {
		if err := checkPointer(*st.Active); err != nil {
			return nil, fmt.Errorf("active: %w", err)
		}
	}
	for i, a := range st.History {
		if err := checkPointer(a.Pointer); err != nil {
			return nil, fmt.Errorf("history entry %d: %w", i+1, err)
		}
	}
	return &st, nil
}

// checkPointer refuses a pointer that could not name a bundle.
func checkPointer(p Pointer) error {
	if !ValidRevision(p.Revision) {
		return fmt.Errorf("revision %q is not valid", p.Revision)
	}
	if p.Digest == "" {
		return fmt.Errorf("revision %s has no digest", p.Revision)
	}
	return nil
}

// readLegacy reads a store of the old format.
func (s *Store) readLegacy() (*state, stateKind, error) {
	st := &state{Format: stateFormat}
	kind := stateNone
	var last *Activation
	data, err := os.ReadFile(filepath.Join(s.dir, LegacyActiveFile))
	switch {
	case err == nil:
		kind = stateLegacy
		var a Activation
		if err := json.Unmarshal(data, &a); err != nil {
			return nil, kind, s.damaged(LegacyActiveFile, err)
		}
		if err := checkPointer(a.Pointer); err != nil {
			return nil, kind, s.damaged(LegacyActiveFile, err)
		}
		st.Active, last = &a.Pointer, &a
	case !os.IsNotExist(err):
		return nil, kind, fmt.Errorf("reading store state: %w", err)
	}
	data, err = os.ReadFile(filepath.Join(s.dir, LegacyHistoryFile))
	switch {
	case err == nil:
		kind = stateLegacy
		if err := json.Unmarshal(data, &st.History); err != nil {
			return nil, kind, s.damaged(LegacyHistoryFile, err)
		}
		for i, a := range st.History {
			if err := checkPointer(a.Pointer); err != nil {
				return nil, kind, s.damaged(LegacyHistoryFile, fmt.Errorf("entry %d: %w", i+1, err))
			}
		}
	case !os.IsNotExist(err):
		return nil, kind, fmt.Errorf("reading store state: %w", err)
	}
	st.History = withActivation(st.History, last)
	return st, kind, nil
}

// withActivation returns the history of a store of the old format with
// last, the activation active.json holds (nil if none), at its end. The
// old format wrote active.json, then history.json: a crash between the
// two left the activation out of history, and rollback then skipped a
// revision. active.json holds the whole activation, so it is put back
// where it belongs.
func withActivation(history []Activation, last *Activation) []Activation {
	if last != nil && (len(history) == 0 || !sameActivation(history[len(history)-1], *last)) {
		history = append(history, *last)
	}
	return history
}

func sameActivation(a, b Activation) bool {
	return a.Pointer == b.Pointer && a.Time.Equal(b.Time) && a.Action == b.Action && a.Previous == b.Previous
}

// writeState replaces the state in one atomic step; ctx is checked last
// just before the rename that commits. The caller holds the lock.
func (s *Store) writeState(ctx context.Context, st *state) error {
	st.Format = stateFormat
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := s.files.WriteFile(ctx, filepath.Join(s.dir, StateFile), append(data, '\n'), 0o644); err != nil {
		return err
	}
	// The state file now supersedes the old format's files. Removing them
	// is tidying, not part of the commit: a crash before they are gone
	// leaves them ignored, and the next write retries.
	removed := false
	for _, f := range []string{LegacyActiveFile, LegacyHistoryFile} {
		p := filepath.Join(s.dir, f)
		if _, err := os.Lstat(p); err == nil && s.files.Remove(p) == nil {
			removed = true
		}
	}
	if removed {
		_ = s.files.SyncDir(s.dir)
	}
	return nil
}

// Active returns the active bundle's pointer. It returns ErrNoActive only
// when the store is readable and nothing is active, which includes an
// empty directory (a fresh volume before the first build); a directory
// that is missing or unreadable, or a damaged state, is an error, so a PDP
// reports its source failing rather than waiting quietly.
func (s *Store) Active() (Pointer, error) {
	st, kind, err := s.readState()
	if err != nil {
		return Pointer{}, err
	}
	if st.Active != nil {
		return *st.Active, nil
	}
	if kind == stateNone {
		if err := readable(s.dir); err != nil {
			return Pointer{}, fmt.Errorf("reading store state: %w", err)
		}
	}
	return Pointer{}, ErrNoActive
}

// readable checks that dir is a directory whose entries can be listed.
func readable(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != nil && err != io.EOF {
		return err
	}
	return nil
}

// History returns every activation, newest first.
func (s *Store) History() ([]Activation, error) {
	st, _, err := s.readState()
	if err != nil {
		return nil, err
	}
	h := slices.Clone(st.History)
	slices.Reverse(h)
	return h, nil
}

// Activate makes the bundle rev names (exactly or as a unique prefix)
// active, recording action in history. The bundle is verified first: a
// damaged bundle is never made active. Once ctx is done nothing is
// activated: it is checked under the lock just before the rename that
// commits.
//
// An error wrapping atomicfile.ErrNotDurable comes with the activation: it
// is committed (PDPs serve it) but the store directory could not be
// fsynced, so a crash of the machine may undo it. Callers report it as
// done, with a warning, never as a failed activation. Rollback does the
// same.
func (s *Store) Activate(ctx context.Context, rev, action string, now time.Time) (Activation, error) {
	return s.change(ctx, action, now, func(*state) (string, error) { return s.Resolve(rev) })
}

// Rollback makes the previously active revision active again: it undoes
// the last activation. A second rollback undoes the first one. Like
// Activate, it never activates once ctx is done.
func (s *Store) Rollback(ctx context.Context, now time.Time) (Activation, error) {
	return s.change(ctx, ActionRollback, now, func(st *state) (string, error) {
		h := st.History
		if len(h) == 0 || h[len(h)-1].Previous == "" {
			return "", errors.New("nothing to roll back to: no revision was active before the current one")
		}
		return h[len(h)-1].Previous, nil
	})
}

// change activates the revision choose picks from the state, all under
// the lock: it reads the state, verifies the chosen bundle and records
// the activation.
func (s *Store) change(ctx context.Context, action string, now time.Time, choose func(*state) (string, error)) (Activation, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return Activation{}, err
	}
	defer unlock()
	st, _, err := s.readState()
	if err != nil {
		return Activation{}, err
	}
	rev, err := choose(st)
	if err != nil {
		return Activation{}, err
	}
	b, err := s.read(rev, bundle.DecodeOptions{})
	if err != nil {
		return Activation{}, fmt.Errorf("bundle %s is damaged, not activating it: %w", rev, err)
	}
	return s.activate(ctx, st, Pointer{Revision: rev, Digest: b.Digest}, action, now)
}

// activate records p as active in st and writes it; the caller holds the
// lock and read st under it.
func (s *Store) activate(ctx context.Context, st *state, p Pointer, action string, now time.Time) (Activation, error) {
	a := Activation{Pointer: p, Time: now.UTC(), Action: action, User: CurrentUser()}
	if st.Active != nil {
		a.Previous = st.Active.Revision
	}
	st.Active = &a.Pointer
	st.History = append(st.History, a)
	if err := s.writeState(ctx, st); err != nil {
		return a, err
	}
	return a, nil
}
