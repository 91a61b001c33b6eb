package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/internal/atomicfile"
)

// Finding is one thing Verify or Repair has to say about a file of the
// store.
type Finding struct {
	// Path is the file, relative to the store directory
	// ("bundles/r1.tar.gz", "state.json").
	Path string `json:"path"`
	// Message says what is wrong, or what is worth knowing, and what to do.
	Message string `json:"message"`
}

func (f Finding) String() string { return f.Path + ": " + f.Message }

// VerifyReport is what Verify found.
type VerifyReport struct {
	// Environment is the store's, from store.json; empty if it is damaged.
	Environment string
	// Bundles counts the bundle files checked; Good those that verify.
	Bundles, Good int
	// StateRead says whether the state could be read; Active and
	// Activations mean something only then.
	StateRead bool
	// Active is the active bundle the state names, nil for none.
	Active *Pointer
	// Activations counts the history's entries.
	Activations int
	// Problems make the store unsafe or inconsistent: a bundle that does
	// not verify, a state that cannot be read, a pointer to a bundle that
	// is missing or differs.
	Problems []Finding
	// Notes are harmless but worth knowing: temporary files an interrupted
	// write left (the next write removes them), an old-format store,
	// files that are not bundles, gaps in an old history.
	Notes []Finding
}

const tempNote = "temporary file of an interrupted write; the next write to the store removes it"

// bundleCheck is what checking the bundle files found, by revision.
type bundleCheck struct {
	good map[string]string // revision → digest, of bundles that verify
	bad  map[string]string // revision → why it does not
	revs []string          // every revision with a bundle file, sorted
}

// checkBundles decodes every bundle file of the store, verifying each
// one's integrity, its signature when keys are given, and that its
// manifest names its file's revision and the store's environment (env,
// when known). It adds what it finds to rep.
func (s *Store) checkBundles(ctx context.Context, env string, keys []ed25519.PublicKey, rep *VerifyReport) (*bundleCheck, error) {
	bc := &bundleCheck{good: map[string]string{}, bad: map[string]string{}}
	entries, err := os.ReadDir(filepath.Join(s.dir, BundlesDir))
	if err != nil {
		rep.Problems = append(rep.Problems, Finding{BundlesDir, fmt.Sprintf("cannot be listed: %v", err)})
		return bc, nil
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rel := BundlesDir + "/" + e.Name()
		rev, isBundle := strings.CutSuffix(e.Name(), ".tar.gz")
		switch {
		case atomicfile.IsTemp(e.Name()):
			rep.Notes = append(rep.Notes, Finding{rel, tempNote})
			continue
		case !isBundle || !e.Type().IsRegular():
			rep.Notes = append(rep.Notes, Finding{rel, "not a bundle file; ignored"})
			continue
		case !ValidRevision(rev):
			rep.Bundles++
			rep.Problems = append(rep.Problems, Finding{rel, "the file name is not a valid revision; no command can use it"})
			continue
		}
		rep.Bundles++
		bc.revs = append(bc.revs, rev)
		b, err := s.read(rev, bundle.DecodeOptions{VerifyKeys: keys})
		why := ""
		switch {
		case errors.Is(err, bundle.ErrDigestMismatch):
			why = "corrupted: its files do not match its checksums"
		case err != nil:
			why = oneLine(err)
		case b.Manifest.Revision != rev:
			why = fmt.Sprintf("its manifest says it is revision %q", b.Manifest.Revision)
		case env != "" && b.Manifest.Environment != env:
			why = fmt.Sprintf("it is for environment %q, the store holds %q", b.Manifest.Environment, env)
		}
		if why != "" {
			bc.bad[rev] = why
			rep.Problems = append(rep.Problems, Finding{rel, "does not verify: " + why})
			continue
		}
		bc.good[rev] = b.Digest
		rep.Good++
	}
	slices.Sort(bc.revs)
	return bc, nil
}

// oneLine keeps an error message on one line, for reports read line by
// line.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// pointerProblem says what is wrong with a pointer to a bundle, or "".
func (bc *bundleCheck) pointerProblem(p Pointer) string {
	if why, ok := bc.bad[p.Revision]; ok {
		return fmt.Sprintf("revision %s's bundle does not verify (%s)", p.Revision, why)
	}
	digest, ok := bc.good[p.Revision]
	switch {
	case !ok:
		return fmt.Sprintf("revision %s has no bundle (%s/%s.tar.gz is missing)", p.Revision, BundlesDir, p.Revision)
	case digest != p.Digest:
		return fmt.Sprintf("revision %s is recorded with digest %s, but its bundle's digest is %s", p.Revision, p.Digest, digest)
	}
	return ""
}

// Verify checks the whole store without changing it: store.json, every
// bundle's integrity and (when keys are given) signature, and the state:
// that it can be read, that every pointer in it (the active one and each
// history entry's) names a bundle that is present with that digest and
// verifies, and that the active bundle is the last one activated. It
// reads without the lock, so it works on a read-only mount.
func (s *Store) Verify(ctx context.Context, keys []ed25519.PublicKey) (*VerifyReport, error) {
	rep := &VerifyReport{}
	env, err := readMeta(s.dir)
	if err != nil {
		rep.Problems = append(rep.Problems, Finding{MetaFile, oneLine(err)})
	}
	rep.Environment = env
	bc, err := s.checkBundles(ctx, env, keys, rep)
	if err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(s.dir); err == nil {
		for _, e := range entries {
			if atomicfile.IsTemp(e.Name()) {
				rep.Notes = append(rep.Notes, Finding{e.Name(), tempNote})
			}
		}
	}
	st, kind, err := s.readState()
	switch {
	case err != nil:
		rep.Problems = append(rep.Problems, Finding{stateFileOf(err), oneLine(err)})
		return rep, nil
	case kind == stateNone:
		rep.Problems = append(rep.Problems, Finding{StateFile, fmt.Sprintf("missing: nothing is active; `cedargate store repair --store %s` writes it", s.dir)})
		return rep, nil
	case kind == stateLegacy:
		rep.Notes = append(rep.Notes, Finding{LegacyActiveFile, "a store of the old format (active.json, history.json); the next write moves it to state.json"})
	default:
		for _, f := range []string{LegacyActiveFile, LegacyHistoryFile} {
			if _, err := os.Lstat(filepath.Join(s.dir, f)); err == nil {
				rep.Notes = append(rep.Notes, Finding{f, "ignored: state.json supersedes it (left by a crash while the store was moved to state.json, or written by an older cedargate since); the next write removes it"})
			}
		}
	}
	rep.StateRead = true
	s.checkState(st, bc, kind, rep)
	return rep, nil
}

// stateFileOf names the file a readState error is about.
func stateFileOf(err error) string {
	if d := (*damagedError)(nil); errors.As(err, &d) {
		return d.file
	}
	return StateFile
}

// checkState checks the pointers of a readable state against the bundles.
func (s *Store) checkState(st *state, bc *bundleCheck, kind stateKind, rep *VerifyReport) {
	file := StateFile
	if kind == stateLegacy {
		file = LegacyActiveFile
	}
	rep.Active, rep.Activations = st.Active, len(st.History)
	if st.Active != nil {
		if why := bc.pointerProblem(*st.Active); why != "" {
			rep.Problems = append(rep.Problems, Finding{file, "the active " + why})
		}
	}
	if kind == stateLegacy {
		file = LegacyHistoryFile
	}
	// One finding per distinct pointer, naming the entries that hold it:
	// a revision rolled out ten times is one problem, not ten.
	var order []Pointer
	uses := map[Pointer][]string{}
	for i, a := range st.History {
		if _, ok := uses[a.Pointer]; !ok {
			order = append(order, a.Pointer)
		}
		uses[a.Pointer] = append(uses[a.Pointer], fmt.Sprint(i+1))
		if i > 0 && a.Previous != st.History[i-1].Revision {
			rep.Notes = append(rep.Notes, Finding{file, fmt.Sprintf("history entry %d (%s of %s) follows %s, but says %s was active before it: an activation is missing from the history (written by an older cedargate)",
				i+1, a.Action, a.Revision, st.History[i-1].Revision, orNothing(a.Previous))})
		}
	}
	for _, p := range order {
		// A bundle that does not verify is reported under its own file,
		// and the active pointer above; history adds only what is new.
		if _, bad := bc.bad[p.Revision]; bad || (st.Active != nil && p == *st.Active) {
			continue
		}
		if why := bc.pointerProblem(p); why != "" {
			rep.Problems = append(rep.Problems, Finding{file, fmt.Sprintf("history entries %s: %s", strings.Join(uses[p], ", "), why)})
		}
	}
	switch n := len(st.History); {
	case st.Active == nil && n > 0:
		rep.Problems = append(rep.Problems, Finding{file, fmt.Sprintf("nothing is active, but the history's last activation is of %s; choose the active revision with `cedargate rollout`", st.History[n-1].Revision)})
	case st.Active != nil && n == 0:
		rep.Problems = append(rep.Problems, Finding{file, fmt.Sprintf("%s is active, but the history records no activation", st.Active.Revision)})
	case st.Active != nil && st.History[n-1].Pointer != *st.Active:
		rep.Problems = append(rep.Problems, Finding{file, fmt.Sprintf("%s is active, but the history's last activation is of %s", st.Active.Revision, st.History[n-1].Revision)})
	}
}

func orNothing(rev string) string {
	if rev == "" {
		return "nothing"
	}
	return rev
}
