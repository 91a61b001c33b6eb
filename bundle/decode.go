package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxSize is the default limit on the uncompressed size of a bundle.
const DefaultMaxSize = 1 << 30

// DecodeOptions says what Decode must check beyond the bundle's own
// integrity.
type DecodeOptions struct {
	// Digest, when set, is the digest the bundle must have (for example the
	// one an active pointer names).
	Digest string
	// VerifyKeys, when set, require a valid signature by one of these keys
	// (several, so that bundles signed before a key rotation still load).
	VerifyKeys []ed25519.PublicKey
	// MaxSize limits the uncompressed size; zero means DefaultMaxSize.
	MaxSize int64
}

// ErrDigestMismatch is returned when a bundle's content does not match the
// digest it is expected to have.
var ErrDigestMismatch = errors.New("digest mismatch")

// ErrSignature is returned when a required signature is missing or invalid.
var ErrSignature = errors.New("signature verification failed")

// Decode reads a bundle archive written by Encode and verifies it: every
// file is listed in SHA256SUMS with the right hash, nothing else is in the
// archive, the digest matches opts.Digest when given and the signature
// verifies with one of opts.VerifyKeys when they are given. A bundle that fails any check is
// not returned.
func Decode(r io.Reader, opts DecodeOptions) (*Bundle, error) {
	maxSize := opts.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("reading bundle: not a gzip archive: %w", err)
	}
	defer gz.Close()
	files, err := readTar(gz, maxSize)
	if err != nil {
		return nil, err
	}
	for _, name := range append([]string{SumsFile}, contentFiles...) {
		if _, ok := files[name]; !ok {
			return nil, fmt.Errorf("reading bundle: %s is missing", name)
		}
	}
	listing := sums(files)
	if !bytes.Equal(listing, files[SumsFile]) {
		return nil, fmt.Errorf("reading bundle: %w: file contents do not match %s (want:\n%s\ngot:\n%s)", ErrDigestMismatch, SumsFile, files[SumsFile], listing)
	}
	b := &Bundle{Digest: digestOf(listing), Schema: files[SchemaFile], Entities: files[EntitiesFile]}
	if opts.Digest != "" && opts.Digest != b.Digest {
		return nil, fmt.Errorf("reading bundle: %w (want: %s, got: %s)", ErrDigestMismatch, opts.Digest, b.Digest)
	}
	if raw, ok := files[SignatureFile]; ok {
		var sig Signature
		if err := strictUnmarshal(raw, &sig); err != nil {
			return nil, fmt.Errorf("reading bundle: %s: %w", SignatureFile, err)
		}
		b.Signature = &sig
	}
	if len(opts.VerifyKeys) > 0 {
		if err := VerifyAny(b, opts.VerifyKeys); err != nil {
			return nil, fmt.Errorf("reading bundle: %w", err)
		}
	}
	if err := strictUnmarshal(files[ManifestFile], &b.Manifest); err != nil {
		return nil, fmt.Errorf("reading bundle: %s: %w", ManifestFile, err)
	}
	if b.Manifest.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("reading bundle: format_version %d is not supported (this cedargate reads %d)", b.Manifest.FormatVersion, FormatVersion)
	}
	if b.Manifest.Revision == "" || b.Manifest.Environment == "" {
		return nil, fmt.Errorf("reading bundle: %s: revision and environment are required", ManifestFile)
	}
	if err := strictUnmarshal(files[PoliciesFile], &b.Policies); err != nil {
		return nil, fmt.Errorf("reading bundle: %s: %w", PoliciesFile, err)
	}
	for i := range b.Policies {
		if b.Policies[i].ID == "" {
			return nil, fmt.Errorf("reading bundle: %s: policy %d has no id", PoliciesFile, i)
		}
		if i > 0 && b.Policies[i-1].ID >= b.Policies[i].ID {
			return nil, fmt.Errorf("reading bundle: %s: policy ids are not sorted and unique at %q", PoliciesFile, b.Policies[i].ID)
		}
	}
	return b, nil
}

func readTar(r io.Reader, maxSize int64) (map[string][]byte, error) {
	files := make(map[string][]byte)
	// The limit applies to the decompressed stream, so a small archive
	// cannot expand into an unbounded amount of memory.
	tr := tar.NewReader(&limitReader{r: r, left: maxSize + 64<<10})
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, errTooLarge) {
				return nil, fmt.Errorf("reading bundle: larger than the %d-byte limit", maxSize)
			}
			return nil, fmt.Errorf("reading bundle: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("reading bundle: entry %q is not a regular file", hdr.Name)
		}
		if !knownFile(hdr.Name) {
			return nil, fmt.Errorf("reading bundle: unexpected file %q", hdr.Name)
		}
		if _, dup := files[hdr.Name]; dup {
			return nil, fmt.Errorf("reading bundle: %s appears twice", hdr.Name)
		}
		total += hdr.Size
		if hdr.Size < 0 || total > maxSize {
			return nil, fmt.Errorf("reading bundle: larger than the %d-byte limit", maxSize)
		}
		data, err := io.ReadAll(tr)
		if errors.Is(err, errTooLarge) {
			return nil, fmt.Errorf("reading bundle: larger than the %d-byte limit", maxSize)
		}
		if err != nil {
			return nil, fmt.Errorf("reading bundle: %s: %w", hdr.Name, err)
		}
		files[hdr.Name] = data
	}
	return files, nil
}

var errTooLarge = errors.New("too large")

// limitReader is io.LimitReader with a distinct error, so that an oversized
// bundle is reported as such rather than as a truncated archive.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func knownFile(name string) bool {
	switch name {
	case ManifestFile, SchemaFile, EntitiesFile, PoliciesFile, SumsFile, SignatureFile:
		return true
	}
	return false
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
