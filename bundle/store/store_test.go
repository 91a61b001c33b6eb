package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle"
)

func archive(t *testing.T, rev, env, policy string) []byte {
	t.Helper()
	b := &bundle.Bundle{
		Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion, Revision: rev, Environment: env},
		Entities: []byte("[]"),
		Policies: []bundle.Policy{{ID: "p", Source: "policies/p.cedar:1:1", Origin: "policy", Cedar: policy}},
	}
	data, err := bundle.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// ctx is the context of store operations that are not cancelled.
var ctx = context.Background()

// newStore creates a prod store in a new directory holding a bundle of
// each revision.
func newStore(t *testing.T, revs ...string) *Store {
	t.Helper()
	return newStoreAt(t, filepath.Join(t.TempDir(), "store"), revs...)
}

func newStoreAt(t *testing.T, dir string, revs ...string) *Store {
	t.Helper()
	s, err := Create(ctx, dir, "prod")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range revs {
		if _, err := s.Put(ctx, archive(t, r, "prod", "permit (principal, action, resource);")); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// pointerOf names the stored bundle of rev.
func pointerOf(t *testing.T, s *Store, rev string) Pointer {
	t.Helper()
	b, err := s.read(rev, bundle.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return Pointer{Revision: rev, Digest: b.Digest}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCreateKeepsOneEnvironmentPerStore(t *testing.T) {
	s := newStore(t)
	if _, err := Create(ctx, s.dir, "dev"); err == nil || !strings.Contains(err.Error(), `holds environment "prod", not "dev"`) {
		t.Fatalf("Create for another environment: %v", err)
	}
	if _, err := s.Put(ctx, archive(t, "r1", "dev", "permit (principal, action, resource);")); err == nil || !strings.Contains(err.Error(), `bundle is for environment "dev"`) {
		t.Fatalf("Put of a dev bundle into a prod store: %v", err)
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "nothing")); err == nil || !strings.Contains(err.Error(), "is not a bundle store") {
		t.Fatalf("Open of a missing store: %v", err)
	}
}

func TestPutIsIdempotentAndBundlesAreImmutable(t *testing.T) {
	s := newStore(t, "r1")
	if _, err := s.Put(ctx, archive(t, "r1", "prod", "permit (principal, action, resource);")); err != nil {
		t.Fatalf("re-adding the same bundle: %v", err)
	}
	_, err := s.Put(ctx, archive(t, "r1", "prod", "forbid (principal, action, resource);"))
	if err == nil || !strings.Contains(err.Error(), "revision r1 is already in the store with digest") {
		t.Fatalf("replacing r1 with other content: %v", err)
	}
}

func TestActivateRollbackAndHistory(t *testing.T) {
	s := newStore(t, "aaa111", "aab222", "bbb333")
	if _, err := s.Active(); !errors.Is(err, ErrNoActive) {
		t.Fatalf("Active on a new store = %v, want ErrNoActive", err)
	}
	if _, err := s.Rollback(ctx, t0); err == nil {
		t.Fatal("rollback with nothing active succeeded")
	}
	if _, err := s.Activate(ctx, "aa", ActionRollout, t0); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	if _, err := s.Activate(ctx, "zzz", ActionRollout, t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown revision: %v", err)
	}
	steps := []struct {
		do           func() (Activation, error)
		rev, prev    string
		wantAction   string
		wantPrevious string
	}{
		{func() (Activation, error) { return s.Activate(ctx, "aaa", ActionBuild, t0) }, "aaa111", "", ActionBuild, ""},
		{func() (Activation, error) { return s.Activate(ctx, "bbb333", ActionRollout, t0.Add(time.Minute)) }, "bbb333", "", ActionRollout, "aaa111"},
		{func() (Activation, error) { return s.Rollback(ctx, t0.Add(2*time.Minute)) }, "aaa111", "", ActionRollback, "bbb333"},
		{func() (Activation, error) { return s.Rollback(ctx, t0.Add(3*time.Minute)) }, "bbb333", "", ActionRollback, "aaa111"},
	}
	for i, st := range steps {
		a, err := st.do()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if a.Revision != st.rev || a.Action != st.wantAction || a.Previous != st.wantPrevious {
			t.Fatalf("step %d: %+v, want %s by %s after %q", i, a, st.rev, st.wantAction, st.wantPrevious)
		}
		active, err := s.Active()
		if err != nil || active.Revision != st.rev || active.Digest != a.Digest {
			t.Fatalf("step %d: active = %+v, %v", i, active, err)
		}
	}
	h, err := s.History()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range h {
		got = append(got, a.Action+":"+a.Revision)
	}
	want := "rollback:bbb333 rollback:aaa111 rollout:bbb333 build:aaa111"
	if strings.Join(got, " ") != want {
		t.Fatalf("history (newest first) = %v, want %s", got, want)
	}
}

func TestDamagedBundleIsNeverActivated(t *testing.T) {
	s := newStore(t, "good", "bad")
	if _, err := s.Activate(ctx, "good", ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.dir, BundlesDir, "bad.tar.gz")
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Activate(ctx, "bad", ActionRollout, t0); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("activating a truncated bundle: %v", err)
	}
	if a, _ := s.Active(); a.Revision != "good" {
		t.Fatalf("active = %s after a refused activation, want good", a.Revision)
	}
	// A pointer whose digest does not match the file is refused by Load.
	p, _ := s.Active()
	p.Digest = "sha256:0000"
	if _, err := s.Load(p, nil); !errors.Is(err, bundle.ErrDigestMismatch) {
		t.Fatalf("Load with the wrong digest: %v", err)
	}
}

// TestConcurrentActivationsSerialise runs rollouts from many goroutines (as
// several operators at once would) and checks that history is a chain:
// each activation's previous revision is the one activated just before.
func TestConcurrentActivationsSerialise(t *testing.T) {
	var revs []string
	for i := range 8 {
		revs = append(revs, fmt.Sprintf("r%d", i))
	}
	s := newStore(t, revs...)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other, err := Open(ctx, s.dir)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := other.Activate(ctx, revs[i%len(revs)], ActionRollout, t0); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	h, err := s.History()
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 40 {
		t.Fatalf("history holds %d activations, want 40", len(h))
	}
	for i := 0; i+1 < len(h); i++ {
		if h[i].Previous != h[i+1].Revision {
			t.Fatalf("history is not a chain at %d: %+v after %+v", i, h[i], h[i+1])
		}
	}
	active, _ := s.Active()
	if active.Revision != h[0].Revision {
		t.Fatalf("active %s is not the newest activation %s", active.Revision, h[0].Revision)
	}
}
