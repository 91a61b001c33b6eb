package oci_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"oras.land/oras-go/v2/registry/remote"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/oci"
	"github.com/cedargate/cedargate/internal/ocitest"
)

// TestRolloutRollbackHistory moves a channel through rollouts and
// rollbacks and reads it back: each move has the next sequence number,
// names its previous target, is signed, and rollback, with no local
// state, undoes the last move; a second rollback undoes the first.
func TestRolloutRollbackHistory(t *testing.T) {
	key := newKey(t)
	_, repo := openRepo(t, ocitest.Options{})
	ctx := t.Context()
	arts := push(t, repo, archive(t, "r1", "prod", key), archive(t, "r2", "prod", key))
	opts := oci.MoveOptions{SignKey: key, BundleKeys: pub(key), Now: t0, User: "sam"}

	if _, err := repo.Rollback(ctx, "prod", opts); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("rollback of a channel that does not exist: %v", err)
	}
	steps := []struct {
		do           func() (oci.Move, error)
		rev, prev    string
		action       string
		wantSequence uint64
	}{
		{func() (oci.Move, error) { return repo.Rollout(ctx, "prod", "r1", opts) }, "r1", "", oci.ActionRollout, 1},
		{func() (oci.Move, error) { return repo.Rollout(ctx, "prod", "r2", opts) }, "r2", "r1", oci.ActionRollout, 2},
		{func() (oci.Move, error) { return repo.Rollback(ctx, "prod", opts) }, "r1", "r2", oci.ActionRollback, 3},
		{func() (oci.Move, error) { return repo.Rollback(ctx, "prod", opts) }, "r2", "r1", oci.ActionRollback, 4},
	}
	for i, s := range steps {
		m, err := s.do()
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		prev := ""
		if m.Previous != nil {
			prev = m.Previous.Revision
		}
		if m.Revision != s.rev || prev != s.prev || m.Action != s.action || m.Sequence != s.wantSequence || m.User != "sam" || !m.Time.Equal(t0) {
			t.Fatalf("step %d: move %+v", i+1, m)
		}
	}
	c, err := repo.ReadChannel(ctx, "prod", pub(key))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Verified || c.KeyID != bundle.KeyID(pub(key)[0]) || c.Sequence != 4 || c.Active.Revision != "r2" ||
		c.Active.Manifest.Digest != arts[1].Manifest.Digest || c.Environment != "prod" || len(c.History) != 4 {
		t.Fatalf("channel read back: %+v", c)
	}
	if _, err := repo.Rollout(ctx, "staging", "r1", oci.MoveOptions{SignKey: key, Now: t0}); err != nil {
		t.Fatalf("a second channel: %v", err)
	}
	if c, err := repo.ReadChannel(ctx, "prod", pub(key)); err != nil || c.Sequence != 4 {
		t.Fatalf("prod after a rollout of staging: %+v, %v", c, err)
	}
}

// TestHistoryIsBounded rolls out more moves than a channel keeps: the
// oldest are dropped and the sequence goes on counting.
func TestHistoryIsBounded(t *testing.T) {
	key := newKey(t)
	_, repo := openRepo(t, ocitest.Options{})
	push(t, repo, archive(t, "r1", "prod", key), archive(t, "r2", "prod", key))
	opts := oci.MoveOptions{SignKey: key, Now: t0}
	for i := range oci.MaxHistory + 3 {
		if _, err := repo.Rollout(t.Context(), "prod", []string{"r1", "r2"}[i%2], opts); err != nil {
			t.Fatal(err)
		}
	}
	c, err := repo.ReadChannel(t.Context(), "prod", pub(key))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.History) != oci.MaxHistory || c.Sequence != oci.MaxHistory+3 || c.History[0].Sequence != 4 {
		t.Fatalf("history of %d moves from sequence %d, channel sequence %d", len(c.History), c.History[0].Sequence, c.Sequence)
	}
}

// TestRolloutRefuses checks what a rollout refuses before it writes
// anything: a revision never pushed, an unsigned bundle when bundle keys
// are given, a bundle of another environment than the channel's, and a
// channel signed by a key it does not trust.
func TestRolloutRefuses(t *testing.T) {
	key, stranger := newKey(t), newKey(t)
	_, repo := openRepo(t, ocitest.Options{})
	ctx := t.Context()
	push(t, repo, archive(t, "r1", "prod", key), archive(t, "unsigned", "prod", nil), archive(t, "st", "staging", key))
	opts := oci.MoveOptions{SignKey: key, BundleKeys: pub(key), Now: t0}
	if _, err := repo.Rollout(ctx, "prod", "r1", opts); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, rev string
		opts      oci.MoveOptions
		msg       string
	}{
		{"not pushed", "zz", opts, `"zz" is not a revision pushed`},
		{"unsigned", "unsigned", opts, "the bundle is not signed"},
		{"other environment", "st", opts, `is a bundle of environment "staging"; channel`},
		{"untrusted channel", "r1", oci.MoveOptions{SignKey: stranger, Now: t0}, "channel"},
		{"no key", "r1", oci.MoveOptions{Now: t0}, "a signing key is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := repo.Rollout(ctx, "prod", tc.rev, tc.opts); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Rollout = %v; want an error with %q", err, tc.msg)
			}
			c, err := repo.ReadChannel(ctx, "prod", pub(key))
			if err != nil || c.Sequence != 1 || c.Active.Revision != "r1" {
				t.Fatalf("the channel changed: %+v, %v", c, err)
			}
		})
	}
	// With the old key trusted, a new key takes over the channel.
	if _, err := repo.Rollout(ctx, "prod", "r1", oci.MoveOptions{SignKey: stranger, VerifyKeys: pub(key), Now: t0}); err != nil {
		t.Fatalf("rollout with a rotated key: %v", err)
	}
}

// rawRepo opens the repository with oras-go alone, to write what
// cedargate never would.
func rawRepo(t *testing.T, reg *ocitest.Registry) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(reg.Host + "/acme/policy")
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	return r
}

// copyTag points tag to at the manifest tag from names, as anyone with
// write access to the registry can.
func copyTag(t *testing.T, reg *ocitest.Registry, from, to string) {
	t.Helper()
	r := rawRepo(t, reg)
	desc, rc, err := r.FetchReference(t.Context(), from)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.PushReference(t.Context(), desc, bytes.NewReader(data), to); err != nil {
		t.Fatal(err)
	}
}

// TestChannelForgeriesAreRefused writes channels that a registry user
// without the signing key could produce: one signed by another key, a
// valid channel's manifest copied to another channel's tag, and one whose
// signature annotation was stripped.
func TestChannelForgeriesAreRefused(t *testing.T) {
	key, stranger := newKey(t), newKey(t)
	reg, repo := openRepo(t, ocitest.Options{})
	ctx := t.Context()
	push(t, repo, archive(t, "r1", "prod", key))
	for _, ch := range []string{"staging", "prod"} {
		if _, err := repo.Rollout(ctx, ch, "r1", oci.MoveOptions{SignKey: key, Now: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := repo.Rollout(ctx, "forged", "r1", oci.MoveOptions{SignKey: stranger, Now: t0}); err != nil {
		t.Fatal(err)
	}
	copyTag(t, reg, "staging", "copied")

	for _, tc := range []struct{ name, channel, msg string }{
		{"another key", "forged", "does not verify with key"},
		{"copied from another channel", "copied", `signed for channel "staging", not "copied"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := repo.ReadChannel(ctx, tc.channel, pub(key))
			if !errors.Is(err, oci.ErrRefused) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("ReadChannel = %v; want a refusal with %q", err, tc.msg)
			}
		})
	}
	c, err := repo.ReadChannel(ctx, "forged", nil)
	if err != nil || c.Verified {
		t.Fatalf("reading without keys: %+v, %v", c, err)
	}
}

// racingRegistry starts a registry that, once armed, runs another
// operator's rollout of r3 to channel prod as it answers the first request
// that matches: that rollout lands in the middle of the one under test.
// arm arms it; its result is the other rollout's error.
func racingRegistry(t *testing.T, key ed25519.PrivateKey, matches func(*http.Request) bool) (repo *oci.Repository, arm func() func() error) {
	t.Helper()
	var other atomic.Pointer[func()]
	// other runs inside the registry's handler and makes requests of its
	// own, which pass through here too: Swap, not a sync.Once, lets them
	// through.
	reg, repo := openRepo(t, ocitest.Options{Middleware: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if matches(r) {
				if f := other.Swap(nil); f != nil {
					(*f)()
				}
			}
		})
	}})
	push(t, repo, archive(t, "r1", "prod", key), archive(t, "r2", "prod", key), archive(t, "r3", "prod", key))
	if _, err := repo.Rollout(t.Context(), "prod", "r1", oci.MoveOptions{SignKey: key, Now: t0, User: "sam"}); err != nil {
		t.Fatal(err)
	}
	alex := open(t, reg, "acme/policy", oci.Options{PlainHTTP: true})
	return repo, func() func() error {
		var err error
		f := func() {
			_, err = alex.Rollout(context.Background(), "prod", "r3", oci.MoveOptions{SignKey: key, Now: t0.Add(time.Minute), User: "alex"})
		}
		other.Store(&f)
		return func() error { return err }
	}
}

// TestConcurrentRolloutIsDetected lets another operator's rollout land
// between this rollout's write and its read-back (the registry runs it
// as it answers this rollout's PUT): this rollout reports that it was
// overwritten and by what, and the channel holds the other's move, whose
// sequence is one more.
func TestConcurrentRolloutIsDetected(t *testing.T) {
	key := newKey(t)
	repo, arm := racingRegistry(t, key, func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/prod")
	})
	otherErr := arm()
	_, err := repo.Rollout(t.Context(), "prod", "r2", oci.MoveOptions{SignKey: key, Now: t0, User: "sam"})
	if err := otherErr(); err != nil {
		t.Fatalf("the other rollout: %v", err)
	}
	if !errors.Is(err, oci.ErrConcurrentMove) || !strings.Contains(err.Error(), "now names revision r3 (sequence 3, rollout by alex") {
		t.Fatalf("the overwritten rollout: %v", err)
	}
	c, err := repo.ReadChannel(t.Context(), "prod", pub(key))
	if err != nil || c.Active.Revision != "r3" || c.Sequence != 3 || c.History[1].Revision != "r2" {
		t.Fatalf("channel after the race: %+v, %v", c, err)
	}
}

// TestMoveWritesNothingWhenTheChannelMovedSinceRead moves the channel
// between this rollout's first read and its write (the registry runs the
// other rollout as it answers this one's first download of a blob, the
// channel's document): nothing is written, and the error says so.
func TestMoveWritesNothingWhenTheChannelMovedSinceRead(t *testing.T) {
	key := newKey(t)
	repo, arm := racingRegistry(t, key, func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/")
	})
	otherErr := arm()
	_, err := repo.Rollout(t.Context(), "prod", "r2", oci.MoveOptions{SignKey: key, Now: t0})
	if err := otherErr(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, oci.ErrConcurrentMove) || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("rollout racing another: %v", err)
	}
	if c, err := repo.ReadChannel(t.Context(), "prod", pub(key)); err != nil || c.Active.Revision != "r3" || c.Sequence != 2 {
		t.Fatalf("channel: %+v, %v", c, err)
	}
}

// TestDeletingARevisionLeavesTheChannel deletes a revision's artifact (its
// manifest, and so its tag) from the registry: the channel, an artifact of
// its own, still reads and names what it named; a rollback to the deleted
// revision is refused before anything is written, since its bundle cannot
// be verified.
func TestDeletingARevisionLeavesTheChannel(t *testing.T) {
	key := newKey(t)
	reg, repo := openRepo(t, ocitest.Options{})
	ctx := t.Context()
	arts := push(t, repo, archive(t, "r1", "prod", key), archive(t, "r2", "prod", key))
	opts := oci.MoveOptions{SignKey: key, Now: t0}
	for _, rev := range []string{"r1", "r2"} {
		if _, err := repo.Rollout(ctx, "prod", rev, opts); err != nil {
			t.Fatal(err)
		}
	}
	if err := rawRepo(t, reg).Delete(ctx, arts[0].Manifest); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Artifact(ctx, "r1"); !errors.Is(err, oci.ErrNotFound) && !strings.Contains(err.Error(), "not a revision pushed") {
		t.Fatalf("the deleted revision: %v", err)
	}
	c, err := repo.ReadChannel(ctx, "prod", pub(key))
	if err != nil || c.Active.Revision != "r2" || c.Sequence != 2 {
		t.Fatalf("the channel after deleting r1: %+v, %v", c, err)
	}
	if _, err := repo.Rollback(ctx, "prod", opts); err == nil || !strings.Contains(err.Error(), "not moving channel") {
		t.Fatalf("a rollback to the deleted revision: %v", err)
	}
	if c, err := repo.ReadChannel(ctx, "prod", pub(key)); err != nil || c.Sequence != 2 {
		t.Fatalf("the channel after the refused rollback: %+v, %v", c, err)
	}
}
