// Package store keeps the bundles of one environment in a directory, with
// the active bundle and the history of activations in one state file:
//
//	STORE/store.json            the store's environment
//	STORE/bundles/<rev>.tar.gz  one bundle per revision, never rewritten
//	STORE/state.json            the active bundle and every activation
//	STORE/.lock                 taken by every writer
//
// Every write is atomic (write a temporary file, fsync, rename, fsync the
// directory), and an activation writes the state file once, so a crash at
// any instant leaves the old state or the new one, never a mix. Writers
// hold an exclusive lock, so two operators never interleave, and a writer
// that opens the store removes what a crashed writer left behind
// (temporary files) and moves a store of the old format (active.json and
// history.json) to the state file. A PDP only reads: it watches the
// directory and activates what the state file names.
//
// docs/operations.md describes the format and its guarantees for
// operators; Verify and Repair back `cedargate store verify` and `repair`.
package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/internal/atomicfile"
)

// Files of a store directory.
const (
	MetaFile   = "store.json"
	StateFile  = "state.json"
	BundlesDir = "bundles"
	lockFile   = ".lock"
)

// Files of the old store format, which kept the active pointer and the
// history in two files written one after the other. They are read until a
// writer moves them into StateFile.
const (
	LegacyActiveFile  = "active.json"
	LegacyHistoryFile = "history.json"
)

// Kinds of activation recorded in history.
const (
	ActionBuild    = "build"
	ActionRollout  = "rollout"
	ActionRollback = "rollback"
	// ActionRepair records that `store repair` made a revision active
	// again because the history that said so was lost.
	ActionRepair = "repair"
)

// ErrNoActive is returned when the store is readable and has no active
// bundle: nothing was activated yet, or the directory is still empty.
var ErrNoActive = errors.New("no active bundle")

// ErrNotFound is returned when no bundle matches a revision.
var ErrNotFound = errors.New("no such revision")

// errNotStore is returned when a directory has no store.json.
var errNotStore = errors.New("not a bundle store")

// Store is a bundle store directory.
type Store struct {
	dir string
	env string
	// files makes every change to the directory. Its hook is nil except
	// in tests, which inject a crash at each filesystem step in turn.
	files atomicfile.Writer
	// migrated says that opening moved an old-format store to the state
	// file, for Repair to report.
	migrated bool
	// maxBundleBytes bounds the uncompressed size of the bundles the
	// store reads; zero means bundle.DefaultMaxSize (see limit.go).
	maxBundleBytes int64
}

type meta struct {
	Format      int    `json:"format"`
	Environment string `json:"environment"`
}

// Pointer names a bundle: what the state file holds as active and what
// history records.
type Pointer struct {
	Revision string `json:"revision"`
	Digest   string `json:"digest"`
}

// Activation is one change of the active bundle.
type Activation struct {
	Pointer
	// Time is when the pointer changed.
	Time time.Time `json:"time"`
	// Action is build, rollout, rollback or repair.
	Action string `json:"action"`
	// Previous is the revision that was active before, empty for the
	// first activation.
	Previous string `json:"previous,omitempty"`
	// User is who ran the command (see CurrentUser); empty only in
	// entries written before cedargate recorded it always.
	User string `json:"user,omitempty"`
}

var revisionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)

// ValidRevision reports whether rev can name a bundle: letters, digits and
// ". _ + -", at most 128 characters, so that it is safe as a file name.
func ValidRevision(rev string) bool { return revisionRE.MatchString(rev) }

// Open opens an existing store for reading and writing. Under the store's
// lock, so that no write is in flight, it removes the temporary files a
// crashed writer left behind and moves a store of the old format to the
// state file. It waits for the lock until ctx ends.
func Open(ctx context.Context, dir string) (*Store, error) {
	return open(ctx, dir, atomicfile.Writer{})
}

func open(ctx context.Context, dir string, files atomicfile.Writer) (*Store, error) {
	env, err := readMeta(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, env: env, files: files}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if s.migrated, err = s.tidy(); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenReadOnly opens an existing store for reading only: it takes no lock
// and changes nothing, so it works on a read-only mount (the replicas'
// view of a shared volume). Its writing methods must not be used.
func OpenReadOnly(dir string) (*Store, error) {
	env, err := readMeta(dir)
	if err != nil {
		return nil, err
	}
	return &Store{dir: dir, env: env}, nil
}

func readMeta(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		if os.IsNotExist(err) {
			// The cause is wrapped too: to a PDP, a store.json that has
			// not arrived yet is a failed read, retried, not a refusal.
			return "", fmt.Errorf("%s is %w (no %s); `cedargate build --store %s` creates one: %w", dir, errNotStore, MetaFile, dir, err)
		}
		return "", fmt.Errorf("opening store: %w", err)
	}
	var m meta
	if err := json.Unmarshal(data, &m); err != nil || m.Environment == "" {
		return "", fmt.Errorf("opening store: %s is damaged: %v", filepath.Join(dir, MetaFile), err)
	}
	return m.Environment, nil
}

// OpenForServing opens the store a PDP serves. The directory must exist,
// but it may not be a store yet: a freshly provisioned volume is empty
// until the first build writes to it, and a PDP started on it waits
// (answering UNAVAILABLE) instead of failing. Only reading methods (Active,
// Load, Watch) may be used on it; it never takes the lock nor removes
// anything, so a writer's file in flight is safe from it.
func OpenForServing(dir string) (*Store, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("opening store: %s is not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, MetaFile)); err != nil {
		return &Store{dir: dir}, nil
	}
	return OpenReadOnly(dir)
}

// environment returns the store's environment, reading store.json if a
// store opened for serving had none yet.
func (s *Store) environment() (string, error) {
	if s.env != "" {
		return s.env, nil
	}
	return readMeta(s.dir)
}

// Create opens the store at dir for env, creating it when dir does not
// hold one, and tidies it as Open does. A store holds one environment:
// opening it for another fails. It waits for the lock until ctx ends.
func Create(ctx context.Context, dir, env string) (*Store, error) {
	return create(ctx, dir, env, atomicfile.Writer{})
}

func create(ctx context.Context, dir, env string, files atomicfile.Writer) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, env: env, files: files}
	if err := files.MkdirAll(filepath.Join(dir, BundlesDir), 0o755); err != nil {
		return nil, fmt.Errorf("creating store: %w", err)
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Read under the lock: another build may have created it meanwhile.
	got, err := readMeta(dir)
	switch {
	case err == nil && got != env:
		return nil, fmt.Errorf("store %s holds environment %q, not %q: use one store per environment", dir, got, env)
	case errors.Is(err, errNotStore):
		// The state file comes first: store.json is what makes the
		// directory a store, so a crash between the two leaves a
		// directory that is not one yet, never a store without state.
		if err := s.writeState(ctx, &state{Format: stateFormat}); err != nil {
			return nil, fmt.Errorf("creating store: %w", err)
		}
		data, _ := json.MarshalIndent(meta{Format: 1, Environment: env}, "", "  ")
		if err := files.WriteFile(ctx, filepath.Join(dir, MetaFile), append(data, '\n'), 0o644); err != nil {
			return nil, fmt.Errorf("creating store: %w", err)
		}
	case err != nil:
		return nil, err
	}
	if s.migrated, err = s.tidy(); err != nil {
		return nil, err
	}
	return s, nil
}

// BundlePath returns the file that holds, or would hold, the bundle of
// revision rev.
func (s *Store) BundlePath(rev string) string {
	return filepath.Join(s.dir, BundlesDir, rev+".tar.gz")
}

// lock takes the store's exclusive lock, waiting until ctx ends; the
// returned function releases it. Every writer holds it for as long as its
// temporary files exist, which is what makes tidy's removal safe. A PDP
// never takes it (its mount may be read-only).
func (s *Store) lock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking store: %w", err)
	}
	// flock cannot be interrupted, so wait by polling: a signal must be
	// able to stop a command queued behind another writer.
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking store: %w", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("waiting for the store's lock: %w", ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// tidy removes the temporary files of interrupted writes and moves a store
// of the old format to the state file. The caller holds the lock, so no
// write is in flight and every temporary file is a leftover. A damaged
// state is left alone: the operations that need it say so, and Repair
// mends it.
func (s *Store) tidy() (migrated bool, err error) {
	for _, d := range []string{s.dir, filepath.Join(s.dir, BundlesDir)} {
		entries, err := os.ReadDir(d)
		if err != nil {
			return false, fmt.Errorf("opening store: %w", err)
		}
		for _, e := range entries {
			if atomicfile.IsTemp(e.Name()) {
				if err := s.files.Remove(filepath.Join(d, e.Name())); err != nil {
					return false, fmt.Errorf("removing a leftover temporary file: %w", err)
				}
			}
		}
	}
	// A missing state is left missing: it may have been lost, which
	// Verify reports and Repair says, and the next activation writes it.
	st, kind, err := s.readState()
	if err != nil || kind != stateLegacy {
		return false, nil
	}
	return true, s.writeState(context.Background(), st)
}

// Put adds an encoded bundle (as bundle.Encode wrote it). Adding the same
// bundle again changes nothing; a different bundle with the revision of
// one already stored is refused, because stored bundles are immutable.
// So is one whose stored file cannot be read, unless it is damaged and no
// pointer of the state names it (see mayWrite). Once ctx is done nothing
// is written. An error wrapping atomicfile.ErrNotDurable means the bundle
// is stored, but a crash of the machine may lose it; adding it again
// makes it durable.
func (s *Store) Put(ctx context.Context, archive []byte) (Pointer, error) {
	b, err := bundle.Decode(bytes.NewReader(archive), bundle.DecodeOptions{MaxSize: s.maxBundleBytes})
	if err != nil {
		return Pointer{}, err
	}
	p := Pointer{Revision: b.Manifest.Revision, Digest: b.Digest}
	if b.Manifest.Environment != s.env {
		return p, fmt.Errorf("bundle is for environment %q, store %s holds %q", b.Manifest.Environment, s.dir, s.env)
	}
	if !ValidRevision(p.Revision) {
		return p, fmt.Errorf("revision %q cannot name a bundle: use letters, digits and . _ + -", p.Revision)
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return p, err
	}
	defer unlock()
	if done, err := s.mayWrite(p); err != nil {
		return p, err
	} else if done {
		// The write that stored it may have failed to fsync the
		// directory (atomicfile.ErrNotDurable): running the build again
		// makes it durable.
		if err := s.files.SyncDir(filepath.Dir(s.BundlePath(p.Revision))); err != nil {
			return p, fmt.Errorf("%w: bundle %s is stored: %w", atomicfile.ErrNotDurable, p.Revision, err)
		}
		return p, nil
	}
	if err := s.files.WriteFile(ctx, s.BundlePath(p.Revision), archive, 0o644); err != nil {
		return p, err
	}
	return p, nil
}

// mayWrite decides whether Put may write the bundle p names: done when
// the same bundle is stored already, an error when another one is or
// when the stored file cannot be told apart from another one. A file that
// cannot be read for its size or an I/O error may well be sound, and is
// never replaced. A damaged one (it reads, but does not decode) is
// replaced only if no pointer of the state names its revision with
// another digest: a PDP may serve the active bundle and rollback may
// return to any revision in history, so a pointer must keep naming what
// it named. A rebuild of the same revision has the same digest (builds
// are deterministic), so it restores a damaged bundle the state names.
// The caller holds the lock.
func (s *Store) mayWrite(p Pointer) (done bool, err error) {
	if _, err := os.Lstat(s.BundlePath(p.Revision)); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	existing, err := s.read(p.Revision, bundle.DecodeOptions{})
	if err == nil {
		if existing.Digest == p.Digest {
			return true, nil
		}
		return false, fmt.Errorf("revision %s is already in the store with digest %s (this build: %s); stored bundles never change, so build a new revision",
			p.Revision, existing.Digest, p.Digest)
	}
	verify := fmt.Sprintf("`cedargate store verify --store %s` says what is wrong", s.dir)
	var pe *fs.PathError
	if errors.As(err, &pe) || errors.Is(err, bundle.ErrTooLarge) {
		return false, fmt.Errorf("revision %s is already in the store, but its bundle cannot be read (%v): not replacing it; %s", p.Revision, err, verify)
	}
	damaged := fmt.Sprintf("revision %s is already in the store, but its bundle is damaged (%v)", p.Revision, err)
	st, _, serr := s.readState()
	if serr != nil {
		return false, fmt.Errorf("%s, and the state that says whether it was ever active cannot be read: not replacing it; %s", damaged, verify)
	}
	if by, digest := namedOtherwise(st, p); by != "" {
		return false, fmt.Errorf("%s, and %s names it with digest %s, not this build's %s: not replacing it; %s, then build a new revision",
			damaged, by, digest, p.Digest, verify)
	}
	return false, nil
}

// namedOtherwise finds a pointer of st that names p's revision with
// another digest, and says which ("the active pointer", "history entry
// N") and that digest; by is "" when there is none.
func namedOtherwise(st *state, p Pointer) (by, digest string) {
	if a := st.Active; a != nil && a.Revision == p.Revision && a.Digest != p.Digest {
		return "the active pointer", a.Digest
	}
	for i, a := range st.History {
		if a.Revision == p.Revision && a.Digest != p.Digest {
			return fmt.Sprintf("history entry %d", i+1), a.Digest
		}
	}
	return "", ""
}

// read decodes a stored bundle, checked as opts say beyond its own
// integrity. It streams the file, bounded by the store's size limit, so
// that a hostile file in the store (a gzip bomb) costs at most the limit.
func (s *Store) read(rev string, opts bundle.DecodeOptions) (*bundle.Bundle, error) {
	opts.MaxSize = s.maxBundleBytes
	return bundle.DecodeFile(s.BundlePath(rev), opts)
}

// Load reads and verifies the bundle p names: its digest must be p's and,
// when keys are given, it must carry a valid signature by one of them.
func (s *Store) Load(p Pointer, keys []ed25519.PublicKey) (*bundle.Bundle, error) {
	return s.LoadStreaming(p, keys, nil)
}

// LoadStreaming is Load, streaming the bundle's entities.json to ents
// when it is set (see bundle.DecodeOptions.Entities).
func (s *Store) LoadStreaming(p Pointer, keys []ed25519.PublicKey, ents bundle.EntityReader) (*bundle.Bundle, error) {
	if !ValidRevision(p.Revision) {
		return nil, fmt.Errorf("revision %q is not valid", p.Revision)
	}
	b, err := s.read(p.Revision, bundle.DecodeOptions{Digest: p.Digest, VerifyKeys: keys, Entities: ents})
	if err != nil {
		return nil, fmt.Errorf("loading bundle %s: %w", p.Revision, err)
	}
	env, err := s.environment()
	if err != nil {
		return nil, err
	}
	if b.Manifest.Revision != p.Revision || b.Manifest.Environment != env {
		return nil, fmt.Errorf("loading bundle %s: it says it is revision %q of environment %q, in a store of %q", p.Revision, b.Manifest.Revision, b.Manifest.Environment, env)
	}
	return b, nil
}

// Resolve finds the stored revision that rev names exactly or as a unique
// prefix.
func (s *Store) Resolve(rev string) (string, error) {
	if rev == "" {
		return "", fmt.Errorf("%w: an empty revision names nothing", ErrNotFound)
	}
	revs, err := s.revisions()
	if err != nil {
		return "", err
	}
	if slices.Contains(revs, rev) {
		return rev, nil
	}
	var matches []string
	for _, r := range revs {
		if strings.HasPrefix(r, rev) {
			matches = append(matches, r)
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("%w: %q is not a revision in store %s (see `cedargate history`)", ErrNotFound, rev, s.dir)
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("revision prefix %q is ambiguous: %s", rev, strings.Join(matches, ", "))
}

// revisions lists the stored revisions, sorted.
func (s *Store) revisions() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, BundlesDir))
	if err != nil {
		return nil, fmt.Errorf("listing bundles: %w", err)
	}
	var out []string
	for _, e := range entries {
		if rev, ok := strings.CutSuffix(e.Name(), ".tar.gz"); ok && !strings.HasPrefix(rev, ".") {
			out = append(out, rev)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Environment is the environment the store holds; empty for a directory
// opened for serving before it became a store.
func (s *Store) Environment() string { return s.env }

// String describes the store for status and logs: "dir:<path>".
func (s *Store) String() string { return "dir:" + s.dir }

// LoadRevision reads the stored bundle that rev names (exactly or as a
// unique prefix), checked for integrity and, when keys are given, for a
// valid signature by one of them, for commands that read a bundle the
// store holds whether it is active or not.
func (s *Store) LoadRevision(rev string, keys []ed25519.PublicKey) (*bundle.Bundle, error) {
	full, err := s.Resolve(rev)
	if err != nil {
		return nil, err
	}
	b, err := s.read(full, bundle.DecodeOptions{VerifyKeys: keys})
	if err != nil {
		return nil, fmt.Errorf("loading bundle %s: %w", full, err)
	}
	return b, nil
}
