package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RepairReport says what Repair did and what it could not recover.
type RepairReport struct {
	// Rewrote is true when the state file was written anew.
	Rewrote bool
	// Active is what is active after the repair, nil for nothing.
	Active *Pointer
	// Kept counts the history entries the state holds after the repair.
	Kept int
	// Done lists what Repair did, for people.
	Done []string
	// Lost lists what it could not recover or mend, each with what to do.
	Lost []string
}

// Repair mends a store whose state is damaged or missing: it rebuilds the
// state file from what can be salvaged of it (or of the old format's
// files) and the bundles present, and says exactly what it could not
// recover. It never makes a bundle active that does not verify (its
// integrity, and its signature when keys are given). The revision it
// makes active is the salvaged active pointer's or, when that is lost,
// the salvaged history's last activation: the state file records both in
// one write, so its last activation names the active bundle. In a store
// of the old format, which wrote history.json after active.json, the
// history may lack the last activation, and the report says so. When
// neither survives, repair cannot tell and leaves nothing active (PDPs
// keep serving what they serve) for an operator to choose with rollout.
// A sound state is left as it is. Bundles that do not verify are
// reported, not removed. Once ctx is done nothing is written.
func (s *Store) Repair(ctx context.Context, keys []ed25519.PublicKey, now time.Time) (*RepairReport, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Open tidied the store (temporary files, the old format) under the
	// lock already; what a writer left since is left to the next Open.
	rep := &RepairReport{}
	if s.migrated {
		rep.Done = append(rep.Done, fmt.Sprintf("moved the old format (%s, %s) to %s", LegacyActiveFile, LegacyHistoryFile, StateFile))
	}
	checked := &VerifyReport{}
	bc, err := s.checkBundles(ctx, s.env, keys, checked)
	if err != nil {
		return nil, err
	}
	for _, f := range checked.Problems {
		rep.Lost = append(rep.Lost, f.String()+"; left as it is: build that revision again, or remove the file")
	}
	st, kind, err := s.readState()
	if err != nil && !errors.Is(err, ErrDamaged) {
		return nil, err
	}
	if err == nil && kind == stateCurrent && consistent(st) {
		rep.Active, rep.Kept = st.Active, len(st.History)
		rep.Done = append(rep.Done, StateFile+" is sound; nothing to rebuild")
		if st.Active != nil {
			if why := bc.pointerProblem(*st.Active); why != "" {
				rep.Lost = append(rep.Lost, "the active "+why+"; PDPs keep serving their last good bundle: roll out another revision, or build this one again")
			}
		}
		return rep, nil
	}
	sv, err := s.salvage(err != nil, now)
	if err != nil {
		return nil, err
	}
	rep.Done = append(rep.Done, sv.done...)
	rep.Lost = append(rep.Lost, sv.lost...)
	next := &state{History: sv.history}
	cand, from := sv.active, "the active pointer"
	if cand == nil && len(sv.history) > 0 {
		// Not a guess: the state file writes the active pointer and the
		// activation that set it at once.
		last := sv.history[len(sv.history)-1].Pointer
		cand, from = &last, "the history's last activation"
		if sv.legacy || s.migrated {
			rep.Lost = append(rep.Lost, fmt.Sprintf("%s may lack the last activation (the old format wrote it after %s): its last, %s, is taken as active; if a later revision was active, roll it out",
				LegacyHistoryFile, LegacyActiveFile, last.Revision))
		}
	}
	choose := fmt.Sprintf("choose one with `cedargate rollout REVISION --store %s` (bundles that verify: %s)", s.dir, orNone(bc.goodRevisions()))
	switch {
	case cand == nil:
		rep.Lost = append(rep.Lost, "which revision was active: nothing is active now (PDPs keep serving what they serve); "+choose)
	case bc.pointerProblem(*cand) != "":
		rep.Lost = append(rep.Lost, fmt.Sprintf("%s names %s, but %s: not activating it, nothing is active now; %s",
			from, cand.Revision, bc.pointerProblem(*cand), choose))
		cand = nil
	default:
		next.Active = cand
		rep.Done = append(rep.Done, fmt.Sprintf("active: %s, as %s says; its bundle verifies", cand.Revision, from))
	}
	if h := next.History; cand != nil && (len(h) == 0 || h[len(h)-1].Pointer != *cand) {
		prev := ""
		if len(h) > 0 {
			prev = h[len(h)-1].Revision
		}
		next.History = append(next.History, Activation{Pointer: *cand, Time: now.UTC(), Action: ActionRepair, Previous: prev, User: CurrentUser()})
		rep.Done = append(rep.Done, fmt.Sprintf("recorded a %s activation of %s, since the history does not end with it (rollback now returns to %s)",
			ActionRepair, cand.Revision, orNothing(prev)))
	}
	if err := s.writeState(ctx, next); err != nil {
		return nil, err
	}
	rep.Rewrote, rep.Active, rep.Kept = true, next.Active, len(next.History)
	rep.Done = append(rep.Done, fmt.Sprintf("wrote %s", StateFile))
	return rep, nil
}

// consistent reports whether a state's active pointer is its history's
// last activation (or neither exists).
func consistent(st *state) bool {
	n := len(st.History)
	if st.Active == nil {
		return n == 0
	}
	return n > 0 && st.History[n-1].Pointer == *st.Active
}

func (bc *bundleCheck) goodRevisions() string {
	var out []string
	for _, r := range bc.revs {
		if _, ok := bc.good[r]; ok {
			out = append(out, r)
		}
	}
	return strings.Join(out, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// salvaged is what could be read of a damaged or missing state.
type salvaged struct {
	active  *Pointer
	history []Activation
	// legacy is set when they come from the old format's files.
	legacy bool
	done   []string
	lost   []string
}

// salvage reads what it can of the state file or, failing that, of the
// old format's files. When they are damaged, a copy of each is kept next
// to it.
func (s *Store) salvage(damaged bool, now time.Time) (*salvaged, error) {
	sv := &salvaged{}
	data, err := os.ReadFile(filepath.Join(s.dir, StateFile))
	switch {
	case err == nil:
		if damaged {
			if err := s.keepCopy(StateFile, data, now, sv); err != nil {
				return nil, err
			}
		}
		sv.salvageState(data)
		return sv, nil
	case !os.IsNotExist(err):
		return nil, err
	}
	active, errA := os.ReadFile(filepath.Join(s.dir, LegacyActiveFile))
	history, errH := os.ReadFile(filepath.Join(s.dir, LegacyHistoryFile))
	if os.IsNotExist(errA) && os.IsNotExist(errH) {
		sv.lost = append(sv.lost, StateFile+" is missing: the history of activations is lost")
		return sv, nil
	}
	sv.legacy = true
	for _, f := range []struct {
		name string
		data []byte
		err  error
	}{{LegacyActiveFile, active, errA}, {LegacyHistoryFile, history, errH}} {
		if f.err != nil && !os.IsNotExist(f.err) {
			return nil, f.err
		}
		if f.err == nil && damaged {
			if err := s.keepCopy(f.name, f.data, now, sv); err != nil {
				return nil, err
			}
		}
	}
	var last *Activation
	switch {
	case errA != nil:
		sv.lost = append(sv.lost, LegacyActiveFile+" is missing: which revision was active is lost")
	default:
		var a Activation
		if err := json.Unmarshal(active, &a); err != nil || checkPointer(a.Pointer) != nil {
			sv.lost = append(sv.lost, LegacyActiveFile+" is damaged: which revision was active is lost")
		} else {
			sv.active, last = &a.Pointer, &a
		}
	}
	if errH == nil {
		dec := json.NewDecoder(bytes.NewReader(history))
		sv.salvageHistory(dec, LegacyHistoryFile)
	} else {
		sv.lost = append(sv.lost, LegacyHistoryFile+" is missing: the history of activations is lost")
	}
	sv.history = withActivation(sv.history, last)
	return sv, nil
}

// keepCopy saves a damaged file's content beside it, as
// NAME.damaged-<time>[-n], before it is replaced, so nothing repair could
// not read is destroyed.
func (s *Store) keepCopy(name string, data []byte, now time.Time, sv *salvaged) error {
	copyName := name + ".damaged-" + now.UTC().Format("20060102T150405Z")
	for n := 2; ; n++ {
		if _, err := os.Lstat(filepath.Join(s.dir, copyName)); os.IsNotExist(err) {
			break
		}
		copyName = fmt.Sprintf("%s.damaged-%s-%d", name, now.UTC().Format("20060102T150405Z"), n)
	}
	if err := s.files.WriteFile(context.Background(), filepath.Join(s.dir, copyName), data, 0o644); err != nil {
		return err
	}
	sv.done = append(sv.done, fmt.Sprintf("kept the damaged %s as %s", name, copyName))
	return nil
}

// salvageState reads a damaged state file as far as it is valid JSON: the
// state file puts the active pointer before the history, so a truncated
// file keeps it, and history entries are read one by one up to the
// damage.
func (sv *salvaged) salvageState(data []byte) {
	dec := json.NewDecoder(bytes.NewReader(data))
	seenActive, seenHistory := false, false
	defer func() {
		if !seenActive {
			sv.lost = append(sv.lost, StateFile+": which revision was active is lost")
		}
		if !seenHistory {
			sv.lost = append(sv.lost, StateFile+": the history of activations is lost")
		}
	}()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		switch tok {
		case "active":
			var p *Pointer
			if err := dec.Decode(&p); err != nil {
				return
			}
			seenActive = true
			if p != nil && checkPointer(*p) != nil {
				sv.lost = append(sv.lost, fmt.Sprintf("%s: the active pointer (%q) is not valid, so which revision was active is lost", StateFile, p.Revision))
				p = nil
			}
			sv.active = p
		case "history":
			seenHistory = true
			if !sv.salvageHistory(dec, StateFile) {
				return
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return
			}
		}
	}
}

// salvageHistory reads a JSON array of activations from dec, keeping every
// valid entry up to the first that cannot be read. It reports whether the
// array was read to its end.
func (sv *salvaged) salvageHistory(dec *json.Decoder, file string) bool {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		sv.lost = append(sv.lost, file+": the history of activations is lost (not a list)")
		return false
	}
	n := 0
	for dec.More() {
		n++
		var a Activation
		if err := dec.Decode(&a); err != nil {
			sv.lost = append(sv.lost, fmt.Sprintf("%s: the history is damaged at byte %d (%v): the entries after the first %d are lost",
				file, dec.InputOffset(), err, n-1))
			return false
		}
		if err := checkPointer(a.Pointer); err != nil {
			sv.lost = append(sv.lost, fmt.Sprintf("%s: history entry %d dropped: %v", file, n, err))
			continue
		}
		sv.history = append(sv.history, a)
	}
	if _, err := dec.Token(); err != nil {
		return false
	}
	sv.done = append(sv.done, fmt.Sprintf("kept %d history entries from %s", len(sv.history), file))
	return true
}
