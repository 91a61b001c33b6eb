package store

// SetMaxBundleBytes bounds the uncompressed size of every bundle the store
// reads (Put, Load, Activate, Rollback): a larger one is refused with
// bundle.ErrTooLarge before it is inflated past the limit. Zero (the
// default) means bundle.DefaultMaxSize. Call it before using the store;
// `serve --max-bundle-bytes` sets it on the store a PDP serves.
func (s *Store) SetMaxBundleBytes(n int64) { s.maxBundleBytes = n }
