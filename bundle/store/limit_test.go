package store

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"os"
	"testing"

	"github.com/cedargate/cedargate/bundle"
)

// writeBomb writes, as the stored bundle of rev, a gzip-compressed tar
// whose entities.json is size bytes of zeros, streaming, as someone with
// write access to the store could.
func writeBomb(t *testing.T, s *Store, rev string, size int64) {
	t.Helper()
	f, err := os.Create(s.BundlePath(rev))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: bundle.EntitiesFile, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(zeros)) {
		if _, err := tw.Write(zeros[:min(left, int64(len(zeros)))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReadsAreBoundedBySize checks every way the store reads a bundle
// against the size limit: a bomb in the store is refused by Activate,
// Load and Rollback as too large, and SetMaxBundleBytes lowers the limit
// for Put and Load alike.
func TestReadsAreBoundedBySize(t *testing.T) {
	s := newStore(t, "good")
	writeBomb(t, s, "bomb", bundle.DefaultMaxSize+1<<20)
	if _, err := s.Activate(t.Context(), "bomb", ActionRollout, t0); !errors.Is(err, bundle.ErrTooLarge) {
		t.Fatalf("Activate of a bomb: %v, want ErrTooLarge", err)
	}
	if _, err := s.Load(Pointer{Revision: "bomb", Digest: "sha256:00"}, nil); !errors.Is(err, bundle.ErrTooLarge) {
		t.Fatalf("Load of a bomb: %v, want ErrTooLarge", err)
	}
	if _, err := s.Activate(t.Context(), "good", ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Activate(t.Context(), "bomb", ActionRollout, t0); err == nil {
		t.Fatal("the bomb was activated")
	}
	if a, err := s.Active(); err != nil || a.Revision != "good" {
		t.Fatalf("active after refusing the bomb: %+v %v, want good", a, err)
	}

	small := newStore(t, "r1")
	small.SetMaxBundleBytes(100)
	if _, err := small.Put(t.Context(), archive(t, "r2", "prod", "permit (principal, action, resource);")); !errors.Is(err, bundle.ErrTooLarge) {
		t.Fatalf("Put over a 100-byte limit: %v, want ErrTooLarge", err)
	}
	if _, err := small.Activate(t.Context(), "r1", ActionRollout, t0); !errors.Is(err, bundle.ErrTooLarge) {
		t.Fatalf("Activate over a 100-byte limit: %v, want ErrTooLarge", err)
	}
}
