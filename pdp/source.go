package pdp

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp/engine"
)

// Source is where a PDP gets its bundles: it names the active bundle,
// loads and verifies bundles, and says when the active bundle may have
// changed. The directory store is one; a registry could be another.
type Source interface {
	// Active returns the pointer to the bundle that should be active. It
	// returns an error wrapping store.ErrNoActive only when the source is
	// readable and has nothing active (an empty directory before the
	// first build included); a source that is missing, unreadable or
	// damaged returns another error, which the PDP counts as a failure to
	// read its source.
	Active() (store.Pointer, error)
	// Load reads the bundle p names and verifies its digest and, when keys
	// are given, its signature by one of them. An error that wraps an
	// *fs.PathError is taken for a failure to read, which may pass; any
	// other for a refusal of the bundle's content, which will not.
	Load(p store.Pointer, keys []ed25519.PublicKey) (*bundle.Bundle, error)
	// Watch signals on the returned channel when the active pointer may
	// have changed, until ctx ends.
	Watch(ctx context.Context, onError func(error)) (<-chan struct{}, error)
	// String describes the source for status and logs.
	String() string
}

var _ Source = (*store.Store)(nil)

// streamingSource is implemented by sources that can stream a bundle's
// entities to the decision engine as they read it (store.Store and the
// OCI source do), so that activating a bundle never holds its entities'
// JSON whole.
type streamingSource interface {
	LoadStreaming(p store.Pointer, keys []ed25519.PublicKey, ents bundle.EntityReader) (*bundle.Bundle, error)
}

var _ streamingSource = (*store.Store)(nil)

// load reads the bundle p names from src, streaming its entities to an
// engine.Entities beside serving, the snapshot serving (nil if none),
// when src can.
func load(src Source, p store.Pointer, keys []ed25519.PublicKey, serving *engine.Snapshot) (*bundle.Bundle, error) {
	if s, ok := src.(streamingSource); ok {
		return s.LoadStreaming(p, keys, engine.NewEntities(serving))
	}
	return src.Load(p, keys)
}

// Upstream is implemented by a Source that mirrors an upstream (an OCI
// registry channel, bundle/oci) into local storage. Its Active and Load
// read the local copy, which answers whatever the upstream does, so that a
// restarted replica serves at once; whether the replica can confirm what
// it serves is known only to the source, which reports each read of its
// upstream to the functions New hands it before Watch: confirmed when it
// read the upstream and holds what it names, unconfirmed (with why) when
// it could not read it or refused what it names. GetStatus's
// source_status, the source metrics and MaxStaleness then describe the
// upstream; a failed read of the local copy still counts as a failure.
type Upstream interface {
	ReportTo(confirmed func(at time.Time, named bundle.Ref), unconfirmed func(at time.Time, named bundle.Ref, err error))
}

// bundleFiles is implemented by sources that keep each bundle in a file
// (the directory store). The reloader then tells a refused bundle that is
// still the same file from one that was rewritten, without reading it.
type bundleFiles interface {
	BundlePath(rev string) string
}

var _ bundleFiles = (*store.Store)(nil)

// fileID identifies one version of a file without reading it: a file
// rewritten in place or replaced by a rename changes size, modification
// time or inode. The zero value is a file that does not exist.
type fileID struct {
	exists     bool
	size       int64
	mtimeNanos int64
	dev, ino   uint64
}

// bundleFileID returns the identity of the file that holds the bundle p
// names, and false when the source cannot tell (it keeps no files, or the
// file cannot be examined).
func bundleFileID(src Source, p store.Pointer) (fileID, bool) {
	bf, ok := src.(bundleFiles)
	if !ok || !store.ValidRevision(p.Revision) {
		return fileID{}, false
	}
	fi, err := os.Stat(bf.BundlePath(p.Revision))
	if errors.Is(err, fs.ErrNotExist) {
		return fileID{}, true
	}
	if err != nil {
		return fileID{}, false
	}
	id := fileID{exists: true, size: fi.Size(), mtimeNanos: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), st.Ino
	}
	return id, true
}

// readFailure reports whether err, from Source.Load, is a failure to read
// rather than a refusal of what was read.
func readFailure(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe)
}
