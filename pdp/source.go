package pdp

import (
	"context"
	"crypto/ed25519"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
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
	// are given, its signature by one of them.
	Load(p store.Pointer, keys []ed25519.PublicKey) (*bundle.Bundle, error)
	// Watch signals on the returned channel when the active pointer may
	// have changed, until ctx ends.
	Watch(ctx context.Context, onError func(error)) (<-chan struct{}, error)
	// String describes the source for status and logs.
	String() string
}

var _ Source = (*store.Store)(nil)
