package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/cedargate/cedargate/internal/cedarscan"
)

// DefaultMaxSize is the default limit on the uncompressed size of a
// bundle: 64 MiB. The 100k benchmark repository (100,000 identities,
// 5,000 access profiles) compiles to a bundle of 41 MiB, so the default
// leaves it half as much again; activating that bundle takes about 150
// MiB of memory (a hot reload, with the old snapshot still serving,
// about 230 MiB), and a replica needs about 6 MiB of memory per MiB of
// bundle. docs/operations.md says how to choose a limit.
const DefaultMaxSize = 64 << 20

// archiveOverhead is what a bundle's tar stream holds beyond the content
// of its files: a 512-byte header and up to 511 bytes of padding per file,
// the end-of-archive blocks and the record padding. It is also the slack
// allowed between the compressed and the uncompressed size, since deflate
// can make incompressible data a little larger.
const archiveOverhead = 64 << 10

// Small files of a bundle have small limits of their own, so that an
// error may quote them and a hostile bundle cannot spend its whole budget
// on them.
var fileLimits = map[string]int64{
	ManifestFile:  64 << 10,
	SumsFile:      4 << 10,
	SignatureFile: 4 << 10,
	AuthZENFile:   256 << 10,
}

// DecodeOptions says what Decode must check beyond the bundle's own
// integrity.
type DecodeOptions struct {
	// Digest, when set, is the digest the bundle must have (for example the
	// one an active pointer names).
	Digest string
	// VerifyKeys, when set, require a valid signature by one of these keys
	// (several, so that bundles signed before a key rotation still load).
	VerifyKeys []ed25519.PublicKey
	// MaxSize limits the uncompressed size of the bundle's files, added
	// up; zero means DefaultMaxSize.
	MaxSize int64
	// Entities, when set, reads entities.json as it streams out of the
	// archive, so that its bytes are never held whole: the bundle
	// returned has no Entities, and its EntityReader is this one.
	Entities EntityReader
}

// EntityReader reads a bundle's entities.json as Decode inflates it
// (DecodeOptions.Entities): the decision engine builds its entity store
// from it directly (engine.Entities). Decode hashes every byte of the
// file whatever the reader makes of them, and the reader keeps what it
// read and any error of its own: what it read is to be used only once
// Decode has returned the bundle, its digest and signature checked.
type EntityReader interface {
	// ReadEntities reads the file, size bytes, from r; it may stop
	// early (at an error), the rest being read for it.
	ReadEntities(r io.Reader, size int64)
}

// A Holder is an EntityReader whose owner holds the decoded content of
// some files of another bundle (the decision engine holds the policies
// and the grants of the snapshot serving). A hot reload most often
// carries them unchanged, and decoding a second copy of a million
// identities' grants only to find it the same would cost a replica a
// fifth of its memory: Decode, given a Holder and a reader it can seek
// (a file), only hashes a file that the Holder holds, of the file's
// size. When its SHA-256 is the one held, the file is the very bytes
// held, and the bundle names it in Bundle.Held; when it is not, Decode
// reads the archive again from the start and decodes the file. Every
// byte is hashed and checked against SHA256SUMS either way.
type Holder interface {
	EntityReader
	// Holds says whether the owner holds file name (PoliciesFile,
	// GrantsFile) of size bytes decoded, and its SHA-256. Decode asks as
	// the file's turn comes in the archive, after the files before it.
	Holds(name string, size int64) ([sha256.Size]byte, bool)
}

// ErrDigestMismatch is returned when a bundle's content does not match the
// digest it is expected to have.
var ErrDigestMismatch = errors.New("digest mismatch")

// ErrSignature is returned when a required signature is missing or invalid.
var ErrSignature = errors.New("signature verification failed")

// ErrCedarLimits is returned when a bundle's policies or schema go beyond
// what cedar-go can parse safely (see package cedarscan): nesting deeper
// than cedarscan.MaxDepth, expressions deeper than
// cedarscan.ExpressionDepth, a policy larger than cedarscan.MaxPolicySize.
var ErrCedarLimits = errors.New("policy or schema beyond the limits every bundle is held to")

// ErrTooLarge is returned when a bundle is larger than the size limit
// (DecodeOptions.MaxSize).
var ErrTooLarge = errors.New("bundle too large")

// DecodeFile decodes the bundle archive in the file at path as Decode
// does, streaming it from the file, so that what it holds in memory is
// bounded by opts.MaxSize whatever the file's size.
func DecodeFile(path string, opts DecodeOptions) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Decode(f, opts)
}

// Decode reads a bundle archive written by Encode and verifies it: every
// file is listed in SHA256SUMS with the right hash, nothing else is in the
// archive, the digest matches opts.Digest when given and the signature
// verifies with one of opts.VerifyKeys when they are given. A bundle that
// fails any check is not returned.
//
// Decoding is bounded by construction, because bundles arrive from a
// shared store that anyone with write access to it can fill: the sizes
// the tar headers declare are added up and a bundle over opts.MaxSize is
// refused before its content is inflated; the bytes actually inflated,
// and the compressed bytes read, are counted as well and reading stops at
// the limit (plus a small constant). Decode holds at most the bundle's
// files, opts.MaxSize bytes, and what it parses from them. The policies
// and the schema are scanned (checkCedar) so that nothing that parses
// them later can overflow its stack.
func Decode(r io.Reader, opts DecodeOptions) (*Bundle, error) {
	h, ok := opts.Entities.(Holder)
	rs, seekable := r.(io.ReadSeeker)
	var start int64
	if ok && seekable {
		var err error
		start, err = rs.Seek(0, io.SeekCurrent)
		ok = err == nil
	}
	if !ok || !seekable {
		b, _, err := decode(r, opts, nil)
		return b, err
	}
	b, sums, err := decode(r, opts, h)
	if b != nil || err != nil {
		return b, err
	}
	// A held file of the size held had other bytes: the archive is read
	// again and the file decoded, the entities only hashed this time,
	// since opts.Entities has read them. They must be the bytes it read.
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading bundle: %w", err)
	}
	again := opts
	again.Entities = skipEntities{}
	b, _, err = decode(r, again, nil)
	if err != nil {
		return nil, err
	}
	if b.Sums[EntitiesFile] != sums[EntitiesFile] {
		return nil, fmt.Errorf("reading bundle: %s changed while it was read", EntitiesFile)
	}
	b.EntityReader = opts.Entities
	return b, nil
}

// skipEntities reads no entities: Decode hashes them.
type skipEntities struct{}

func (skipEntities) ReadEntities(io.Reader, int64) {}

// decode is Decode, hashing rather than decoding the files that held,
// when set, holds with their size. When one of them then proves not to
// be the bytes held, it returns no bundle and no error but the files'
// SHA-256, for Decode to read the archive again.
func decode(r io.Reader, opts DecodeOptions, held Holder) (*Bundle, map[string][sha256.Size]byte, error) {
	maxSize := opts.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	// Deflate can spend any amount of input on no output (empty stored
	// blocks), so the compressed side is bounded too: a valid bundle is
	// never much larger compressed than uncompressed.
	gz, err := gzip.NewReader(&limitReader{r: r, left: maxSize + archiveOverhead})
	if err != nil {
		if errors.Is(err, errLimit) {
			return nil, nil, tooLarge(maxSize)
		}
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			// The file could not be read: that says nothing of its format.
			return nil, nil, fmt.Errorf("reading bundle: %w", err)
		}
		return nil, nil, fmt.Errorf("reading bundle: not a gzip archive: %w", err)
	}
	defer gz.Close()
	a, err := readTar(&limitReader{r: gz, left: maxSize + archiveOverhead}, maxSize, opts.Entities, held)
	if err != nil {
		return nil, nil, err
	}
	_, v2 := a.sums[GrantsFile]
	for name, want := range a.held {
		// A version 1 bundle's policies are checked for templates, which
		// only decoding them tells.
		if a.sums[name] != want || !v2 {
			return nil, a.sums, nil
		}
	}
	files := a.files
	// Which files the digest covers depends on the format version, which
	// the manifest, read only once its hash is checked, states: a bundle
	// with grants.json is of version 2 or later, one without of version 1,
	// and the manifest must agree (below).
	layout := 1
	if _, ok := a.sums[GrantsFile]; ok {
		layout = FormatVersion
	}
	for _, name := range append([]string{SumsFile}, contentFiles(layout)...) {
		if _, ok := a.sums[name]; !ok && !optionalFile(name) {
			return nil, nil, fmt.Errorf("reading bundle: %s is missing", name)
		}
	}
	listing := listHashes(a.sums, layout)
	if !bytes.Equal(listing, files[SumsFile]) {
		return nil, nil, fmt.Errorf("reading bundle: %w: file contents do not match %s (want:\n%s\ngot:\n%s)", ErrDigestMismatch, SumsFile, files[SumsFile], listing)
	}
	b := &Bundle{Digest: digestOf(listing), Schema: files[SchemaFile], Entities: files[EntitiesFile], Sums: a.sums, Sizes: a.sizes, EntityReader: opts.Entities}
	for name := range a.held {
		if b.Held == nil {
			b.Held = map[string]bool{}
		}
		b.Held[name] = true
	}
	if opts.Digest != "" && opts.Digest != b.Digest {
		return nil, nil, fmt.Errorf("reading bundle: %w (want: %s, got: %s)", ErrDigestMismatch, opts.Digest, b.Digest)
	}
	if raw, ok := files[SignatureFile]; ok {
		var sig Signature
		if err := strictUnmarshal(raw, &sig); err != nil {
			return nil, nil, fmt.Errorf("reading bundle: %s: %w", SignatureFile, err)
		}
		b.Signature = &sig
	}
	if len(opts.VerifyKeys) > 0 {
		if err := VerifyAny(b, opts.VerifyKeys); err != nil {
			return nil, nil, fmt.Errorf("reading bundle: %w", err)
		}
	}
	if err := strictUnmarshal(files[ManifestFile], &b.Manifest); err != nil {
		return nil, nil, fmt.Errorf("reading bundle: %s: %w", ManifestFile, err)
	}
	if v := b.Manifest.FormatVersion; v < MinFormatVersion || v > FormatVersion {
		return nil, nil, fmt.Errorf("reading bundle: format_version %d is not supported (this cedargate reads %d to %d)", v, MinFormatVersion, FormatVersion)
	}
	if (b.Manifest.FormatVersion == 1) != (layout == 1) {
		return nil, nil, fmt.Errorf("reading bundle: format_version %d, but the archive %s %s", b.Manifest.FormatVersion,
			map[bool]string{true: "has", false: "lacks"}[layout != 1], GrantsFile)
	}
	if b.Manifest.Revision == "" || b.Manifest.Environment == "" {
		return nil, nil, fmt.Errorf("reading bundle: %s: revision and environment are required", ManifestFile)
	}
	if err := readList(&a.policies, PoliciesFile, "policy", &b.Policies, func(p *Policy) string { return p.ID }); err != nil {
		return nil, nil, err
	}
	if layout != 1 {
		if err := readList(&a.grants, GrantsFile, "grant", &b.Grants, func(g *Grant) string { return g.ID }); err != nil {
			return nil, nil, err
		}
	} else if slices.ContainsFunc(b.Policies, func(p Policy) bool { return p.Template }) {
		return nil, nil, fmt.Errorf("reading bundle: %s: a format version 1 bundle has no template policies", PoliciesFile)
	}
	if raw, ok := files[AuthZENFile]; ok {
		b.AuthZEN = new(AuthZEN)
		if err := strictUnmarshal(raw, b.AuthZEN); err != nil {
			return nil, nil, fmt.Errorf("reading bundle: %s: %w", AuthZENFile, err)
		}
	}
	if err := checkCedar(b); err != nil {
		return nil, nil, fmt.Errorf("reading bundle: %w", err)
	}
	return b, nil, nil
}

// readList takes what was decoded of file, a JSON list of what
// (policies, grants), into list, and checks that the ids are there,
// sorted and unique.
func readList[T any](s *streamed[T], file, what string, list *[]T, id func(*T) string) error {
	if s.err != nil {
		return fmt.Errorf("reading bundle: %s: %w", file, s.err)
	}
	*list, s.list = s.list, nil
	for i := range *list {
		cur := id(&(*list)[i])
		if cur == "" {
			return fmt.Errorf("reading bundle: %s: %s %d has no id", file, what, i)
		}
		if i > 0 && id(&(*list)[i-1]) >= cur {
			return fmt.Errorf("reading bundle: %s: %s ids are not sorted and unique at %q", file, what, truncate(cur))
		}
	}
	return nil
}

// checkCedar scans every policy and the schema of b before anything
// parses them. cedar-go recurses once per level of nesting, and a stack
// overflow is a fatal error no recover catches: a bundle with one policy
// of a million "(" would crash every replica that activates it, at every
// restart. A bundle carries no limits of its own, so the ceilings that
// bound every repository's limits apply: whatever a build accepts is
// read, nothing deeper is.
func checkCedar(b *Bundle) error {
	lim := cedarscan.ReadLimits()
	for i := range b.Policies {
		p := &b.Policies[i]
		if probs := cedarscan.Scan(p.Cedar, cedarscan.Policies, lim, nil); len(probs) > 0 {
			pr := probs[0]
			return fmt.Errorf("%s: policy %q (from %s), line %d, column %d of its text: %w: %s", PoliciesFile, truncate(p.ID), truncate(p.Source),
				pr.Pos.Line, pr.Pos.Col, ErrCedarLimits, pr.Describe(cedarscan.Policies, lim))
		}
	}
	if probs := cedarscan.Scan(b.Schema, cedarscan.Schema, lim, nil); len(probs) > 0 {
		pr := probs[0]
		return fmt.Errorf("%s:%d:%d: %w: %s", SchemaFile, pr.Pos.Line, pr.Pos.Col, ErrCedarLimits, pr.Describe(cedarscan.Schema, lim))
	}
	return nil
}

// archive is what readTar read of a bundle's archive.
type archive struct {
	// files holds the files read whole: all but the policies and the
	// grants, which are decoded as they stream past.
	files map[string][]byte
	// sums holds the SHA-256 of every file.
	sums map[string][sha256.Size]byte
	// sizes holds the size of every file.
	sizes map[string]int64
	// held holds, by name, the SHA-256 the Holder holds of each file
	// that was hashed rather than decoded, being of the size held.
	held     map[string][sha256.Size]byte
	policies streamed[Policy]
	grants   streamed[Grant]
}

// readTar reads the archive's files. Each file's declared size is checked
// against what is left of the budget before its content is read, and the
// content is read into a buffer of exactly that size, or decoded as it is
// read (policies and grants, and the entities when ents is set): never
// more than maxSize bytes of content are held, however the archive is
// made. A file that held, when set, holds with its size (the policies,
// the grants) is only hashed.
func readTar(r io.Reader, maxSize int64, ents EntityReader, held Holder) (*archive, error) {
	a := &archive{files: make(map[string][]byte), sums: make(map[string][sha256.Size]byte), sizes: make(map[string]int64),
		held: make(map[string][sha256.Size]byte)}
	tr := tar.NewReader(r)
	left := maxSize
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, readError("", err, maxSize)
		}
		name := truncate(hdr.Name)
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("reading bundle: entry %q is not a regular file", name)
		}
		if !knownFile(hdr.Name) {
			return nil, fmt.Errorf("reading bundle: unexpected file %q", name)
		}
		if _, dup := a.sums[hdr.Name]; dup {
			return nil, fmt.Errorf("reading bundle: %s appears twice", hdr.Name)
		}
		if limit, ok := fileLimits[hdr.Name]; ok && hdr.Size > limit {
			return nil, fmt.Errorf("reading bundle: %w: %s declares %d bytes, more than the %d bytes such a file can have", ErrTooLarge, hdr.Name, hdr.Size, limit)
		}
		// The declared sizes, added up, decide before anything is inflated:
		// a bomb that says what it is costs nothing.
		if hdr.Size < 0 || hdr.Size > left {
			return nil, tooLarge(maxSize)
		}
		left -= hdr.Size
		var sum [sha256.Size]byte
		switch hdr.Name {
		case PoliciesFile, GrantsFile:
			if held != nil {
				if want, ok := held.Holds(hdr.Name, hdr.Size); ok {
					sum, err = streamTo(tr, hdr.Size, func(io.Reader, int64) {})
					a.held[hdr.Name] = want
					break
				}
			}
			if hdr.Name == GrantsFile {
				sum, err = streamList(tr, hdr.Size, &a.grants)
				break
			}
			sum, err = streamList(tr, hdr.Size, &a.policies)
		case EntitiesFile:
			if ents != nil {
				sum, err = streamTo(tr, hdr.Size, ents.ReadEntities)
				break
			}
			fallthrough
		default:
			data := make([]byte, hdr.Size)
			if _, err = io.ReadFull(tr, data); err == nil {
				a.files[hdr.Name], sum = data, sha256.Sum256(data)
			}
		}
		if err != nil {
			return nil, readError(hdr.Name, err, maxSize)
		}
		a.sums[hdr.Name], a.sizes[hdr.Name] = sum, hdr.Size
	}
	return a, nil
}

// readError reports an error reading the archive, inside file name if
// one is being read.
func readError(name string, err error, maxSize int64) error {
	if errors.Is(err, errLimit) {
		return tooLarge(maxSize)
	}
	if name != "" {
		return fmt.Errorf("reading bundle: %s: %w", name, err)
	}
	return fmt.Errorf("reading bundle: %w", err)
}

func tooLarge(maxSize int64) error {
	return fmt.Errorf("reading bundle: %w: larger than the %d-byte limit on its uncompressed size (serve --max-bundle-bytes sets it)", ErrTooLarge, maxSize)
}

// truncate shortens a name from an archive for an error message: a tar
// name can be a megabyte long.
func truncate(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// errLimit is what limitReader returns at its limit.
var errLimit = errors.New("read limit reached")

// limitReader is io.LimitReader with a distinct error, so that an oversized
// bundle is reported as such rather than as a truncated archive.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errLimit
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
	case ManifestFile, SchemaFile, EntitiesFile, PoliciesFile, GrantsFile, SumsFile, SignatureFile, AuthZENFile:
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
