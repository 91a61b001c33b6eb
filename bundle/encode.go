package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Names of the files inside a bundle archive.
const (
	ManifestFile  = "manifest.json"
	SchemaFile    = "schema.cedarschema"
	EntitiesFile  = "entities.json"
	PoliciesFile  = "policies.json"
	GrantsFile    = "grants.json"
	SumsFile      = "SHA256SUMS"
	SignatureFile = "signature.json"
)

// contentFiles returns the files the digest of a bundle of format
// version v covers, in the order of the SHA256SUMS listing (sorted by
// name): the ones every bundle of that version has (version 2 added
// grants.json) and the optional AuthZENFile, listed only when the bundle
// has it.
func contentFiles(v int) []string {
	if v == 1 {
		return []string{AuthZENFile, EntitiesFile, ManifestFile, PoliciesFile, SchemaFile}
	}
	return []string{AuthZENFile, EntitiesFile, GrantsFile, ManifestFile, PoliciesFile, SchemaFile}
}

// optionalFile reports whether a content file may be missing.
func optionalFile(name string) bool { return name == AuthZENFile }

// Encode writes b as a deterministic tar.gz and sets b.Digest. The archive
// holds manifest.json, schema.cedarschema, entities.json, policies.json,
// grants.json (format version 2; a version 1 bundle, which has no
// grants, is written without it, as version 1 wrote it), authzen.json
// when b.AuthZEN is set, a SHA256SUMS listing of those and, when
// b.Signature is set, signature.json. Equal bundles encode to equal bytes: entries are sorted
// and carry no timestamps, owners or machine-dependent modes.
func Encode(b *Bundle) ([]byte, error) {
	files, err := contentOf(b)
	if err != nil {
		return nil, err
	}
	listing := sums(files, b.Manifest.FormatVersion)
	b.Digest = digestOf(listing)
	if b.Signature != nil && b.Signature.Digest != b.Digest {
		return nil, fmt.Errorf("signature is over digest %s, but the bundle's digest is %s", b.Signature.Digest, b.Digest)
	}

	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	write := func(name string, data []byte) error {
		hdr := &tar.Header{
			Name:     name,
			Mode:     0o644,
			Size:     int64(len(data)),
			ModTime:  time.Unix(0, 0),
			Typeflag: tar.TypeReg,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		_, err := tw.Write(data)
		return err
	}
	// manifest.json first so that a reader can stop early to peek at it.
	for _, name := range []string{ManifestFile, SchemaFile, EntitiesFile, PoliciesFile, GrantsFile, AuthZENFile} {
		data, ok := files[name]
		if !ok {
			continue
		}
		if err := write(name, data); err != nil {
			return nil, err
		}
	}
	if err := write(SumsFile, listing); err != nil {
		return nil, err
	}
	if b.Signature != nil {
		sig, err := marshalIndent(b.Signature)
		if err != nil {
			return nil, err
		}
		if err := write(SignatureFile, sig); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ComputeDigest returns the digest b would get from Encode without
// building the archive.
func ComputeDigest(b *Bundle) (string, error) {
	files, err := contentOf(b)
	if err != nil {
		return "", err
	}
	return digestOf(sums(files, b.Manifest.FormatVersion)), nil
}

func contentOf(b *Bundle) (map[string][]byte, error) {
	v := b.Manifest.FormatVersion
	if v < MinFormatVersion || v > FormatVersion {
		return nil, fmt.Errorf("manifest format_version is %d, want %d to %d", v, MinFormatVersion, FormatVersion)
	}
	if !slices.IsSortedFunc(b.Policies, func(x, y Policy) int { return strings.Compare(x.ID, y.ID) }) {
		return nil, fmt.Errorf("policies are not sorted by id")
	}
	if !slices.IsSortedFunc(b.Grants, func(x, y Grant) int { return strings.Compare(x.ID, y.ID) }) {
		return nil, fmt.Errorf("grants are not sorted by id")
	}
	if v == 1 {
		if len(b.Grants) > 0 || slices.ContainsFunc(b.Policies, func(p Policy) bool { return p.Template }) {
			return nil, fmt.Errorf("a format version 1 bundle cannot hold grants or template policies")
		}
	}
	manifest, err := marshalIndent(b.Manifest)
	if err != nil {
		return nil, err
	}
	policies, err := marshalLines(b.Policies)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		ManifestFile: manifest,
		SchemaFile:   b.Schema,
		EntitiesFile: b.Entities,
		PoliciesFile: policies,
	}
	if v >= 2 {
		if files[GrantsFile], err = marshalLines(b.Grants); err != nil {
			return nil, err
		}
	}
	if b.AuthZEN != nil {
		if files[AuthZENFile], err = marshalIndent(b.AuthZEN); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// marshalLines writes one object per line so that the file diffs well
// between revisions.
func marshalLines[T any](items []T) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("[")
	for i := range items {
		if i > 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
		line, err := json.Marshal(&items[i])
		if err != nil {
			return nil, err
		}
		buf.Write(line)
	}
	buf.WriteString("\n]\n")
	return buf.Bytes(), nil
}

func marshalIndent(v any) ([]byte, error) {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// sums renders the SHA256SUMS listing of the content files of a bundle of
// format version v, in the format of sha256sum(1), so that anyone can
// check an unpacked bundle with `sha256sum -c SHA256SUMS`. An optional
// file is listed only when present.
func sums(files map[string][]byte, v int) []byte {
	hashes := make(map[string][sha256.Size]byte, len(files))
	for name, data := range files {
		hashes[name] = sha256.Sum256(data)
	}
	return listHashes(hashes, v)
}

// listHashes is the SHA256SUMS listing of the content files of format
// version v whose hashes are given.
func listHashes(hashes map[string][sha256.Size]byte, v int) []byte {
	var buf bytes.Buffer
	for _, name := range contentFiles(v) {
		sum, ok := hashes[name]
		if !ok && optionalFile(name) {
			continue
		}
		buf.WriteString(hex.EncodeToString(sum[:]))
		buf.WriteString("  ")
		buf.WriteString(name)
		buf.WriteString("\n")
	}
	return buf.Bytes()
}

// digestOf returns the bundle digest for a SHA256SUMS listing.
func digestOf(listing []byte) string {
	sum := sha256.Sum256(listing)
	return "sha256:" + hex.EncodeToString(sum[:])
}
