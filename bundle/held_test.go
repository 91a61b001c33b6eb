package bundle

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// holder holds files by name (their size and SHA-256) and records
// what Decode asked.
type holder struct {
	files map[string][]byte
	asked []string
	read  int
}

func (h *holder) ReadEntities(r io.Reader, _ int64) {
	h.read++
	_, _ = io.Copy(io.Discard, r)
}

func (h *holder) Holds(name string, size int64) ([sha256.Size]byte, bool) {
	h.asked = append(h.asked, name)
	data, ok := h.files[name]
	if !ok || int64(len(data)) != size {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(data), true
}

// TestDecodeHashesOnlyWhatIsHeld decodes, from real files, a bundle
// whose policies and grants a Holder holds: not decoded, named held. A
// held file of the same size but other bytes is read again and decoded,
// and one whose bytes were held but not listed in SHA256SUMS is refused
// all the same.
func TestDecodeHashesOnlyWhatIsHeld(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b *Bundle) (string, []byte) {
		t.Helper()
		data, err := Encode(b)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path, data
	}
	path, archive := write("a.tar.gz", grantSample())
	held := &holder{files: map[string][]byte{PoliciesFile: fileOf(t, archive, PoliciesFile), GrantsFile: fileOf(t, archive, GrantsFile)}}
	b, err := DecodeFile(path, DecodeOptions{Entities: held})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Held[PoliciesFile] || !b.Held[GrantsFile] || b.Policies != nil || b.Grants != nil || held.read != 1 {
		t.Fatalf("held %v, policies %v, grants %v, entities read %d times", b.Held, b.Policies, b.Grants, held.read)
	}
	if b.Sizes[GrantsFile] != int64(len(held.files[GrantsFile])) || b.Sums[GrantsFile] != sha256.Sum256(held.files[GrantsFile]) {
		t.Fatalf("sizes %v", b.Sizes)
	}

	// Another grant window of the same length: hashed, found other,
	// read again and decoded.
	other := grantSample()
	other.Grants[0].NotAfter = new(*other.Grants[0].NotAfter)
	*other.Grants[0].NotAfter = other.Grants[0].NotAfter.AddDate(0, 0, 1)
	path, archive = write("b.tar.gz", other)
	if len(fileOf(t, archive, GrantsFile)) != len(held.files[GrantsFile]) {
		t.Fatal("the test's grants changed size")
	}
	held.read = 0
	b, err = DecodeFile(path, DecodeOptions{Entities: held})
	if err != nil {
		t.Fatal(err)
	}
	if b.Held[GrantsFile] || !b.Held[PoliciesFile] && b.Policies == nil || len(b.Grants) != 1 || !b.Grants[0].NotAfter.Equal(*other.Grants[0].NotAfter) || held.read != 1 || b.EntityReader != held {
		t.Fatalf("held %v, grants %+v, entities read %d times", b.Held, b.Grants, held.read)
	}
	if b.Held[PoliciesFile] {
		t.Fatal("a bundle read again names files held")
	}

	// The held grants in a bundle whose SHA256SUMS lists others: refused.
	tampered := rewrite(t, archive, GrantsFile, held.files[GrantsFile])
	path = filepath.Join(dir, "c.tar.gz")
	if err := os.WriteFile(path, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeFile(path, DecodeOptions{Entities: held}); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("tampered: %v", err)
	}

	// A reader that cannot seek: nothing is asked, everything decoded.
	held.asked = nil
	b, err = Decode(struct{ io.Reader }{bytes.NewReader(archive)}, DecodeOptions{Entities: held})
	if err != nil || len(held.asked) != 0 || b.Held != nil || len(b.Grants) != 1 {
		t.Fatalf("%v: asked %v, held %v", err, held.asked, b.Held)
	}
}
