package oci_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/oci"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/internal/ocitest"
)

// eventually waits until cond holds, for at most 10 seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// reports collects what a Source reports.
type reports struct {
	mu        sync.Mutex
	confirmed int
	failures  int
	named     bundle.Ref
	lastErr   error
}

func (r *reports) ok(_ time.Time, named bundle.Ref) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.confirmed++
	r.named, r.lastErr = named, nil
}

func (r *reports) failed(_ time.Time, named bundle.Ref, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures++
	r.lastErr = err
	if named.Revision != "" {
		r.named = named
	}
}

func (r *reports) state() (confirmed, failures int, named bundle.Ref, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.confirmed, r.failures, r.named, r.lastErr
}

// following is a Source being watched.
type following struct {
	src    *oci.Source
	rep    *reports
	stop   context.CancelFunc
	closed chan struct{}
}

// follow starts a Source on channel prod of reg with the cache dir.
func follow(t *testing.T, reg *ocitest.Registry, cache string, key ed25519.PrivateKey) *following {
	t.Helper()
	src := newSource(t, reg, cache, key)
	rep := &reports{}
	src.ReportTo(rep.ok, rep.failed)
	ctx, cancel := context.WithCancel(context.Background())
	notify, err := src.Watch(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &following{src: src, rep: rep, stop: cancel, closed: make(chan struct{})}
	go func() {
		for range notify {
		}
		close(f.closed)
	}()
	t.Cleanup(f.close)
	return f
}

// close stops the poll and waits for it.
func (f *following) close() {
	f.stop()
	<-f.closed
}

func newSource(t *testing.T, reg *ocitest.Registry, cache string, key ed25519.PrivateKey) *oci.Source {
	t.Helper()
	ref, err := oci.ParseChannel("oci://" + reg.Host + "/acme/policy:prod")
	if err != nil {
		t.Fatal(err)
	}
	src, err := oci.NewSource(ref, oci.SourceOptions{Options: oci.Options{PlainHTTP: true}, Cache: cache,
		VerifyKeys: pub(key), Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// activeIs reports whether the source's cache has the bundle of rev
// active.
func activeIs(src *oci.Source, a oci.Artifact) func() bool {
	return func() bool {
		p, err := src.Active()
		return err == nil && p == a.Pointer()
	}
}

// TestSourceFollowsTheChannel follows a channel through a rollout and a
// rollback: each time the cache's active bundle becomes what the channel
// names, it loads and verifies, and each read is reported confirmed with
// what the channel names.
func TestSourceFollowsTheChannel(t *testing.T) {
	key := newKey(t)
	reg, repo := openRepo(t, ocitest.Options{})
	arts := push(t, repo, archive(t, "r1", "prod", key), archive(t, "r2", "prod", key))
	opts := oci.MoveOptions{SignKey: key, Now: t0}
	cache := filepath.Join(t.TempDir(), "cache")
	f := follow(t, reg, cache, key)
	eventually(t, "a failed read of a channel that does not exist", func() bool {
		_, failures, _, err := f.rep.state()
		return failures > 0 && errors.Is(err, oci.ErrNotFound)
	})
	if _, err := f.src.Active(); !errors.Is(err, store.ErrNoActive) {
		t.Fatalf("Active before anything arrived: %v", err)
	}
	if _, err := repo.Rollout(t.Context(), "prod", "r1", opts); err != nil {
		t.Fatal(err)
	}
	eventually(t, "r1 active in the cache", activeIs(f.src, arts[0]))
	if _, err := repo.Rollout(t.Context(), "prod", "r2", opts); err != nil {
		t.Fatal(err)
	}
	eventually(t, "r2 active in the cache", activeIs(f.src, arts[1]))
	if _, err := repo.Rollback(t.Context(), "prod", opts); err != nil {
		t.Fatal(err)
	}
	eventually(t, "r1 active again", activeIs(f.src, arts[0]))
	eventually(t, "a confirmed read naming r1", func() bool {
		_, _, named, err := f.rep.state()
		return err == nil && named.Revision == "r1" && named.Digest == arts[0].Digest && named.Environment == "prod"
	})
	if b, err := f.src.Load(arts[0].Pointer(), pub(key)); err != nil || b.Manifest.Revision != "r1" {
		t.Fatalf("Load = %v, %v", b, err)
	}
	if !strings.Contains(f.src.String(), reg.Host+"/acme/policy:prod (cache "+cache+")") {
		t.Fatalf("String() = %q", f.src.String())
	}
}

// cachedR1 pushes r1, rolls it out to prod, and lets a source follow it
// into a cache until it is active there, then stops that source.
func cachedR1(t *testing.T) (ed25519.PrivateKey, *ocitest.Registry, string, oci.Artifact) {
	t.Helper()
	key := newKey(t)
	reg, repo := openRepo(t, ocitest.Options{})
	r1 := push(t, repo, archive(t, "r1", "prod", key))[0]
	if _, err := repo.Rollout(t.Context(), "prod", "r1", oci.MoveOptions{SignKey: key, Now: t0}); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	f := follow(t, reg, cache, key)
	eventually(t, "r1 in the cache", activeIs(f.src, r1))
	f.close()
	return key, reg, cache, r1
}

// TestSourceStartsFromItsCacheWhileTheRegistryIsDown follows r1, stops,
// stops the registry, and starts a new Source on the same cache: it names
// r1 at once, before any read of the registry, reports the failed reads,
// and confirms again once the registry is back.
func TestSourceStartsFromItsCacheWhileTheRegistryIsDown(t *testing.T) {
	key, reg, cache, r1 := cachedR1(t)

	reg.Stop()
	restarted := newSource(t, reg, cache, key)
	if !activeIs(restarted, r1)() {
		t.Fatal("a restarted source does not name its cached bundle at once")
	}
	f := follow(t, reg, cache, key)
	eventually(t, "failed reads of the stopped registry", func() bool {
		_, failures, _, err := f.rep.state()
		return failures >= 2 && err != nil && strings.Contains(err.Error(), "connection refused")
	})
	reg.Restart(t)
	eventually(t, "a confirmed read once the registry is back", func() bool {
		confirmed, _, named, err := f.rep.state()
		return confirmed > 0 && err == nil && named.Revision == "r1"
	})
}

// blobCounter counts the blob downloads a registry serves.
type blobCounter struct{ n atomic.Int64 }

func (c *blobCounter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			c.n.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

// TestSourceRefusesAndRemembers has the channel name, in turn, an
// unsigned bundle and a bundle whose layer was then tampered with in the
// registry's storage (rolled out while sound, with the source stopped, as
// an attacker would change it after the fact): each is refused, the last
// good bundle stays active, the failure is reported with what the channel
// names, and the refused artifact is not downloaded again, by this source
// nor by one restarted on the same cache.
func TestSourceRefusesAndRemembers(t *testing.T) {
	key := newKey(t)
	var blobs blobCounter
	reg, repo := openRepo(t, ocitest.Options{Middleware: blobs.middleware})
	arts := push(t, repo, archive(t, "good", "prod", key), archive(t, "unsigned", "prod", nil), archive(t, "tampered", "prod", key))
	good, tampered := arts[0], arts[2]
	opts := oci.MoveOptions{SignKey: key, Now: t0}
	if _, err := repo.Rollout(t.Context(), "prod", "good", opts); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	f := follow(t, reg, cache, key)
	eventually(t, "good in the cache", activeIs(f.src, good))

	refusedOnce := func(t *testing.T, f *following, rev, msg string) {
		t.Helper()
		eventually(t, "the refusal reported", func() bool {
			_, _, named, err := f.rep.state()
			return named.Revision == rev && errors.Is(err, oci.ErrRefused) && strings.Contains(err.Error(), msg)
		})
		before := blobs.n.Load()
		_, failuresBefore, _, _ := f.rep.state()
		eventually(t, "three more polls", func() bool {
			_, failures, _, _ := f.rep.state()
			return failures >= failuresBefore+3
		})
		if got := blobs.n.Load(); got != before {
			t.Fatalf("the refused artifact was downloaded again: %d blob downloads, %d before", got, before)
		}
		if !activeIs(f.src, good)() {
			t.Fatal("the last good bundle is no longer active")
		}
	}

	if _, err := repo.Rollout(t.Context(), "prod", "unsigned", opts); err != nil {
		t.Fatal(err)
	}
	refusedOnce(t, f, "unsigned", "the bundle is not signed")

	f.close()
	if _, err := repo.Rollout(t.Context(), "prod", "tampered", opts); err != nil {
		t.Fatal(err)
	}
	tamper(t, reg, tampered)
	second := follow(t, reg, cache, key)
	refusedOnce(t, second, "tampered", "does not match its digest")

	second.close()
	before := blobs.n.Load()
	third := follow(t, reg, cache, key)
	eventually(t, "the remembered refusal reported after a restart", func() bool {
		_, _, named, err := third.rep.state()
		return named.Revision == "tampered" && err != nil && strings.Contains(err.Error(), "is not downloaded again")
	})
	// The restarted source reads the channel's document (one blob), not
	// the refused bundle.
	if got := blobs.n.Load(); got > before+1 {
		t.Fatalf("a restarted source downloaded %d blobs", got-before)
	}
}

// TestSourceRefusesAReplayedChannel replays an older, validly signed
// channel document to the tag (as anyone able to write tags could): the
// source refuses it because its sequence went backwards, keeps its bundle,
// and does so again after a restart, since the cache records the sequence.
func TestSourceRefusesAReplayedChannel(t *testing.T) {
	key := newKey(t)
	reg, repo := openRepo(t, ocitest.Options{})
	arts := push(t, repo, archive(t, "r1", "prod", key), archive(t, "r2", "prod", key))
	opts := oci.MoveOptions{SignKey: key, Now: t0}
	if _, err := repo.Rollout(t.Context(), "prod", "r1", opts); err != nil {
		t.Fatal(err)
	}
	copyTag(t, reg, "prod", "saved")
	if _, err := repo.Rollout(t.Context(), "prod", "r2", opts); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	f := follow(t, reg, cache, key)
	eventually(t, "r2 in the cache", activeIs(f.src, arts[1]))
	copyTag(t, reg, "saved", "prod")
	replayed := func(rep *reports) func() bool {
		return func() bool {
			_, _, _, err := rep.state()
			return errors.Is(err, oci.ErrRefused) && strings.Contains(err.Error(), "has sequence 1, older than sequence 2")
		}
	}
	eventually(t, "the replay refused", replayed(f.rep))
	if !activeIs(f.src, arts[1])() {
		t.Fatal("the replayed channel's bundle was activated")
	}
	f.close()
	again := follow(t, reg, cache, key)
	eventually(t, "the replay refused after a restart", replayed(again.rep))
	if !activeIs(again.src, arts[1])() {
		t.Fatal("the replayed channel's bundle was activated after a restart")
	}
}

// TestSourceRefusesAForeignCache checks that a cache is used for its own
// channel only: one that follows another channel, and a directory holding
// a store no subscription wrote, are refused at start.
func TestSourceRefusesAForeignCache(t *testing.T) {
	key, reg, cache, _ := cachedR1(t)
	staging, _ := oci.ParseChannel("oci://" + reg.Host + "/acme/policy:staging")
	if _, err := oci.NewSource(staging, oci.SourceOptions{Cache: cache, VerifyKeys: pub(key)}); err == nil || !strings.Contains(err.Error(), "follows oci://"+reg.Host+"/acme/policy:prod, not") {
		t.Fatalf("a cache of another channel: %v", err)
	}
	plain := t.TempDir()
	if _, err := store.Create(t.Context(), plain, "prod"); err != nil {
		t.Fatal(err)
	}
	prod, _ := oci.ParseChannel("oci://" + reg.Host + "/acme/policy:prod")
	if _, err := oci.NewSource(prod, oci.SourceOptions{Cache: plain, VerifyKeys: pub(key)}); err == nil || !strings.Contains(err.Error(), "no registry subscription wrote") {
		t.Fatalf("a build store as cache: %v", err)
	}
	if _, err := oci.NewSource(prod, oci.SourceOptions{Cache: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "--verify-key") {
		t.Fatalf("a source without keys: %v", err)
	}
}
