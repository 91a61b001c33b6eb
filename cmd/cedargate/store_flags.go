package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
)

// storeFlags are --store and --max-bundle-bytes: the bundle store a
// command works on, and the largest bundle (uncompressed) it reads from
// it. Every command that reads bundles takes the limit, so that a store
// whose bundles outgrow the default can still be rolled out, verified
// and served alike, and a gzip bomb in it costs each of them at most the
// limit.
type storeFlags struct {
	dir            string
	maxBundleBytes int64
}

// add registers the flags; usage describes what --store names.
func (f *storeFlags) add(cmd *cobra.Command, usage string) {
	cmd.Flags().StringVar(&f.dir, "store", "", usage)
	cmd.Flags().Int64Var(&f.maxBundleBytes, "max-bundle-bytes", bundle.DefaultMaxSize,
		"refuse bundles larger than this uncompressed, in bytes, before inflating them past it (a gzip bomb costs at most this much memory)")
}

// check reports a missing --store or a limit that is not positive as
// usage errors.
func (f *storeFlags) check() error {
	if err := requireFlag("store", f.dir); err != nil {
		return err
	}
	return f.checkLimit()
}

// limit applies --max-bundle-bytes to an opened store.
func (f *storeFlags) limit(st *store.Store, err error) (*store.Store, error) {
	if err != nil {
		return nil, err
	}
	st.SetMaxBundleBytes(f.maxBundleBytes)
	return st, nil
}

// open opens the store for writing.
func (f *storeFlags) open(ctx context.Context) (*store.Store, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.limit(store.Open(ctx, f.dir))
}

// create opens the store for writing, creating it for env if needed.
func (f *storeFlags) create(ctx context.Context, env string) (*store.Store, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.limit(store.Create(ctx, f.dir, env))
}

// openReadOnly opens the store for reading only (it works on a read-only
// mount and takes no lock).
func (f *storeFlags) openReadOnly() (*store.Store, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.limit(store.OpenReadOnly(f.dir))
}

// openForServing opens the store a PDP serves, which may still be an empty
// directory.
func (f *storeFlags) openForServing() (*store.Store, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.limit(store.OpenForServing(f.dir))
}
