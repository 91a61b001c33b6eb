// Package store keeps the bundles of one environment in a directory, with
// a pointer to the active bundle and the history of activations:
//
//	STORE/store.json            the store's environment
//	STORE/bundles/<rev>.tar.gz  one bundle per revision, never rewritten
//	STORE/active.json           the active bundle: revision and digest
//	STORE/history.json          every activation, oldest first
//
// Every write is atomic (write a temporary file, fsync, rename, fsync the
// directory) and mutations hold an exclusive lock, so a crash or two
// concurrent operators never leave a half-written bundle or pointer. A PDP
// watches the directory and activates what active.json names.
package store

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
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
	MetaFile    = "store.json"
	ActiveFile  = "active.json"
	HistoryFile = "history.json"
	BundlesDir  = "bundles"
	lockFile    = ".lock"
)

// Kinds of activation recorded in history.
const (
	ActionBuild    = "build"
	ActionRollout  = "rollout"
	ActionRollback = "rollback"
)

// ErrNoActive is returned when the store has no active bundle yet.
var ErrNoActive = errors.New("no active bundle")

// ErrNotFound is returned when no bundle matches a revision.
var ErrNotFound = errors.New("no such revision")

// Store is a bundle store directory.
type Store struct {
	dir string
	env string
	// maxBundleBytes bounds the uncompressed size of the bundles the
	// store reads; zero means bundle.DefaultMaxSize (see limit.go).
	maxBundleBytes int64
}

type meta struct {
	Format      int    `json:"format"`
	Environment string `json:"environment"`
}

// Pointer names a bundle: what active.json holds and what history records.
type Pointer struct {
	Revision string `json:"revision"`
	Digest   string `json:"digest"`
}

// Activation is one change of the active bundle.
type Activation struct {
	Pointer
	// Time is when the pointer changed.
	Time time.Time `json:"time"`
	// Action is build, rollout or rollback.
	Action string `json:"action"`
	// Previous is the revision that was active before, empty for the
	// first activation.
	Previous string `json:"previous,omitempty"`
	// User is who ran the command, from $USER, where known.
	User string `json:"user,omitempty"`
}

var revisionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)

// ValidRevision reports whether rev can name a bundle: letters, digits and
// ". _ + -", at most 128 characters, so that it is safe as a file name.
func ValidRevision(rev string) bool { return revisionRE.MatchString(rev) }

// Open opens an existing store.
func Open(dir string) (*Store, error) {
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
			return "", fmt.Errorf("%s is not a bundle store (no %s); `cedargate build --store %s` creates one", dir, MetaFile, dir)
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
// Load, Watch) may be used on it.
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
	return Open(dir)
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
// hold one. A store holds one environment: opening it for another fails.
func Create(dir, env string) (*Store, error) {
	if s, err := Open(dir); err == nil {
		if s.env != env {
			return nil, fmt.Errorf("store %s holds environment %q, not %q: use one store per environment", dir, s.env, env)
		}
		return s, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, BundlesDir), 0o755); err != nil {
		return nil, fmt.Errorf("creating store: %w", err)
	}
	data, _ := json.MarshalIndent(meta{Format: 1, Environment: env}, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(dir, MetaFile), append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("creating store: %w", err)
	}
	return &Store{dir: dir, env: env}, nil
}

// BundlePath returns the file that holds, or would hold, the bundle of
// revision rev.
func (s *Store) BundlePath(rev string) string {
	return filepath.Join(s.dir, BundlesDir, rev+".tar.gz")
}

// lock takes the store's exclusive lock; the returned function releases it.
func (s *Store) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking store: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking store: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Put adds an encoded bundle (as bundle.Encode wrote it). Adding the same
// bundle again changes nothing; a different bundle with the revision of
// one already stored is refused, because stored bundles are immutable.
func (s *Store) Put(archive []byte) (Pointer, error) {
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
	unlock, err := s.lock()
	if err != nil {
		return p, err
	}
	defer unlock()
	if existing, err := s.read(p.Revision, bundle.DecodeOptions{}); err == nil {
		if existing.Digest == p.Digest {
			return p, nil
		}
		return p, fmt.Errorf("revision %s is already in the store with digest %s (this build: %s); stored bundles never change, so build a new revision",
			p.Revision, existing.Digest, p.Digest)
	}
	if err := atomicfile.WriteFile(s.BundlePath(p.Revision), archive, 0o644); err != nil {
		return p, err
	}
	return p, nil
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
	if !ValidRevision(p.Revision) {
		return nil, fmt.Errorf("revision %q is not valid", p.Revision)
	}
	b, err := s.read(p.Revision, bundle.DecodeOptions{Digest: p.Digest, VerifyKeys: keys})
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

// Active returns the active bundle's pointer, or ErrNoActive.
func (s *Store) Active() (Pointer, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, ActiveFile))
	if os.IsNotExist(err) {
		return Pointer{}, ErrNoActive
	}
	if err != nil {
		return Pointer{}, fmt.Errorf("reading active pointer: %w", err)
	}
	var a Activation
	if err := json.Unmarshal(data, &a); err != nil || a.Revision == "" {
		return Pointer{}, fmt.Errorf("reading active pointer: %s is damaged", ActiveFile)
	}
	return a.Pointer, nil
}

// History returns every activation, newest first.
func (s *Store) History() ([]Activation, error) {
	h, err := s.history()
	slices.Reverse(h)
	return h, err
}

func (s *Store) history() ([]Activation, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, HistoryFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	var h []Activation
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("reading history: %s is damaged: %w", HistoryFile, err)
	}
	return h, nil
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

// Activate makes the bundle rev names (exactly or as a unique prefix)
// active, recording action in history. The bundle is verified first: a
// damaged bundle is never made active.
func (s *Store) Activate(rev, action string, now time.Time) (Activation, error) {
	unlock, err := s.lock()
	if err != nil {
		return Activation{}, err
	}
	defer unlock()
	full, err := s.Resolve(rev)
	if err != nil {
		return Activation{}, err
	}
	b, err := s.read(full, bundle.DecodeOptions{})
	if err != nil {
		return Activation{}, fmt.Errorf("bundle %s is damaged, not activating it: %w", full, err)
	}
	return s.activate(Pointer{Revision: full, Digest: b.Digest}, action, now)
}

// Rollback makes the previously active revision active again: it undoes
// the last activation. A second rollback undoes the first one.
func (s *Store) Rollback(now time.Time) (Activation, error) {
	unlock, err := s.lock()
	if err != nil {
		return Activation{}, err
	}
	defer unlock()
	h, err := s.history()
	if err != nil {
		return Activation{}, err
	}
	if len(h) == 0 || h[len(h)-1].Previous == "" {
		return Activation{}, errors.New("nothing to roll back to: no revision was active before the current one")
	}
	prev := h[len(h)-1].Previous
	b, err := s.read(prev, bundle.DecodeOptions{})
	if err != nil {
		return Activation{}, fmt.Errorf("bundle %s is damaged, not rolling back to it: %w", prev, err)
	}
	return s.activate(Pointer{Revision: prev, Digest: b.Digest}, ActionRollback, now)
}

// activate writes the pointer, then history; the caller holds the lock.
func (s *Store) activate(p Pointer, action string, now time.Time) (Activation, error) {
	a := Activation{Pointer: p, Time: now.UTC(), Action: action, User: os.Getenv("USER")}
	if cur, err := s.Active(); err == nil {
		a.Previous = cur.Revision
	} else if !errors.Is(err, ErrNoActive) {
		return a, err
	}
	h, err := s.history()
	if err != nil {
		return a, err
	}
	data, _ := json.MarshalIndent(a, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(s.dir, ActiveFile), append(data, '\n'), 0o644); err != nil {
		return a, err
	}
	// The pointer is what PDPs follow, so it is written first; a crash
	// before the history write loses one history line, never an activation.
	hist, _ := json.MarshalIndent(append(h, a), "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(s.dir, HistoryFile), append(hist, '\n'), 0o644); err != nil {
		return a, err
	}
	return a, nil
}
