package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// countingReader counts the bytes Decode takes from its input.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// member is a file of an archive tarGz writes: size zero bytes, or no
// content at all after the header when headerOnly is set (an archive cut
// off after a header).
type member struct {
	name       string
	size       int64
	headerOnly bool
}

// tarGz writes members into a gzip-compressed tar in order, streaming, so
// that large zero-filled members cost little memory.

func tarGz(t *testing.T, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	zeros := make([]byte, 64<<10)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: m.size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if m.headerOnly {
			// Closing would complain of the missing content; the header is
			// written, which is all this archive is.
			_ = zw.Close()
			return buf.Bytes()
		}
		for left := m.size; left > 0; {
			n := min(left, int64(len(zeros)))
			if _, err := tw.Write(zeros[:n]); err != nil {
				t.Fatal(err)
			}
			left -= n
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// emptyBlocks is a gzip stream of n flushes with nothing written between
// them: each is an empty stored block, input that inflates to nothing.
func emptyBlocks(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for range n {
		if err := zw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	_ = zw.Close()
	return buf.Bytes()
}

// TestDecodeIsBounded decodes archives made to exhaust memory or CPU with
// a small limit. Each must be refused as too large, after reading little
// of its input when the tar headers already say it is too large, and
// without allocating much beyond the limit.
func TestDecodeIsBounded(t *testing.T) {
	const limit = 1 << 20
	tests := []struct {
		name string
		data []byte
		// maxRead bounds the compressed bytes Decode may read; 0: all.
		maxRead int64
	}{
		// 64 MiB of zeros in 64 KB: the header declares the size, so
		// nothing is inflated.
		{"declared bomb", tarGz(t, member{name: EntitiesFile, size: 64 << 20}), 16 << 10},
		{"declared sizes add up over the limit", tarGz(t, member{name: EntitiesFile, size: 600 << 10}, member{name: PoliciesFile, size: 600 << 10}), 0},
		{"small file over its own limit", tarGz(t, member{name: SumsFile, size: 5 << 10}), 16 << 10},
		{"a terabyte declared, nothing there", tarGz(t, member{name: EntitiesFile, size: 1 << 40, headerOnly: true}), 0},
		// Deflate input that produces no output: bounded by the limit on
		// the compressed side, or it would take CPU forever.
		{"endless empty deflate blocks", emptyBlocks(t, 300_000), limit + archiveOverhead + 4<<10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &countingReader{r: bytes.NewReader(tt.data)}
			alloc := allocated(func() {
				_, err := Decode(in, DecodeOptions{MaxSize: limit})
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("Decode: %v, want ErrTooLarge", err)
				}
			})
			if tt.maxRead > 0 && in.n > tt.maxRead {
				t.Errorf("read %d of %d compressed bytes before refusing, want at most %d", in.n, len(tt.data), tt.maxRead)
			}
			if alloc > limit+512<<10 {
				t.Errorf("allocated %d bytes under a %d-byte limit", alloc, limit)
			}
		})
	}
}

// TestDecodeHoldsTheLimitNotTwice decodes an archive whose one file is
// just under the limit: the file is read into a buffer of its declared
// size, not grown by doubling, so the allocation stays near the limit.
func TestDecodeHoldsTheLimitNotTwice(t *testing.T) {
	const limit = 8 << 20
	data := tarGz(t, member{name: EntitiesFile, size: limit - 1024})
	alloc := allocated(func() {
		if _, err := Decode(bytes.NewReader(data), DecodeOptions{MaxSize: limit}); err == nil || !strings.Contains(err.Error(), "SHA256SUMS is missing") {
			t.Fatalf("Decode: %v", err)
		}
	})
	if alloc > limit+512<<10 {
		t.Fatalf("allocated %d bytes for an %d-byte file", alloc, limit-1024)
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	before := heapAllocs()
	f()
	return heapAllocs() - before
}

func TestDecodeFile(t *testing.T) {
	good, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := DecodeFile(path, DecodeOptions{})
	if err != nil || b.Manifest.Revision != "abc" {
		t.Fatalf("DecodeFile: %+v, %v", b, err)
	}
	if _, err := DecodeFile(path, DecodeOptions{MaxSize: 100}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("with a 100-byte limit: %v, want ErrTooLarge", err)
	}
	if _, err := DecodeFile(path+".missing", DecodeOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
}
