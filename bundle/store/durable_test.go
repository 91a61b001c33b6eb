package store

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/internal/atomicfile"
)

// errSync is the injected failure of a directory fsync.
var errSync = errors.New("injected fsync failure")

// TestActivationWhoseDirectoryFsyncFailsIsCommitted fails, with the
// step-failure hook, the fsync of the store directory that follows the
// rename of the state file: the activation is in place (PDPs already
// serve it), so Activate and Rollback return it with an error that says
// it is not yet durable (atomicfile.ErrNotDurable), never as a failed
// activation, and the store says the same once opened again.
func TestActivationWhoseDirectoryFsyncFailsIsCommitted(t *testing.T) {
	failSyncDir := atomicfile.Writer{Hook: func(step atomicfile.Step, path string) error {
		if step == atomicfile.StepSyncDir && filepath.Base(path) == "store" {
			return errSync
		}
		return nil
	}}
	tests := []struct {
		name string
		op   func(s *Store) (Activation, error)
		want string
	}{
		{"rollout", func(s *Store) (Activation, error) { return s.Activate(ctx, "r3", ActionRollout, t0) }, "r3"},
		{"rollback", func(s *Store) (Activation, error) { return s.Rollback(ctx, t0) }, "r1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := activeStore(t).dir
			s, err := open(ctx, dir, failSyncDir)
			if err != nil {
				t.Fatal(err)
			}
			a, err := tt.op(s)
			if !errors.Is(err, atomicfile.ErrNotDurable) || !errors.Is(err, errSync) {
				t.Fatalf("%s = %v, want ErrNotDurable", tt.name, err)
			}
			if a.Revision != tt.want || a.Previous != "r2" {
				t.Fatalf("%s returned %+v, want the activation of %s after r2", tt.name, a, tt.want)
			}
			again, err := Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			h, err := again.History()
			if err != nil {
				t.Fatal(err)
			}
			if p, err := again.Active(); err != nil || p != a.Pointer || h[0].Pointer != a.Pointer {
				t.Fatalf("after %s: active %v %v, history %v; want %s", tt.name, p, err, h, tt.want)
			}
		})
	}
}

// TestPutOfAStoredBundleMakesItDurable adds a bundle again after the
// write that stored it could not fsync its directory: the second Put
// fsyncs it, so that running a failed build again makes it durable.
func TestPutOfAStoredBundleMakesItDurable(t *testing.T) {
	dir := newStore(t).dir
	var synced []string
	s, err := open(ctx, dir, atomicfile.Writer{Hook: func(step atomicfile.Step, path string) error {
		if step == atomicfile.StepSyncDir {
			synced = append(synced, filepath.Base(path))
			if len(synced) == 1 {
				return errSync
			}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	r1 := archive(t, "r1", "prod", "permit (principal, action, resource);")
	if _, err := s.Put(ctx, r1); !errors.Is(err, atomicfile.ErrNotDurable) {
		t.Fatalf("first Put = %v, want ErrNotDurable", err)
	}
	if _, err := s.Put(ctx, r1); err != nil {
		t.Fatalf("second Put = %v", err)
	}
	if len(synced) != 2 || synced[1] != BundlesDir {
		t.Fatalf("directories fsynced: %v, want %s twice", synced, BundlesDir)
	}
	if _, err := s.read("r1", bundle.DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
}
