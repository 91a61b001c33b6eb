package scim

import (
	"context"
	"fmt"
	"os"

	"github.com/cedargate/cedargate/bundle/inventory"
)

// File reads a SCIM ListResponse saved as JSON: the answer of GET /Users
// or GET /Groups, or of a root-level query holding Users and Groups
// together. A file must hold all of its totalResults (save it with a count
// at least that large); a file holding one page of several is refused
// rather than read as a partial directory.
type File struct {
	path string
	opts Options
}

var _ inventory.Source = (*File)(nil)

// NewFile returns a source reading the ListResponse in the file at path.
// Of opts, Name, MaxBody, MaxObjects and Now apply.
func NewFile(path string, opts Options) *File {
	return &File{path: path, opts: opts.withDefaults()}
}

// Read reads the file into a snapshot, or returns an error and no
// snapshot.
func (f *File) Read(ctx context.Context) (*inventory.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	read := f.opts.Now()
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	defer fh.Close()
	b, err := readLimited(fh, f.opts.MaxBody)
	if err != nil {
		return nil, fmt.Errorf("scim: %s: file %w", f.path, err)
	}
	lr, err := decodeList(b)
	if err != nil {
		return nil, fmt.Errorf("scim: %s: %w", f.path, err)
	}
	if n := *lr.TotalResults; len(lr.Resources) != n {
		return nil, fmt.Errorf("scim: %s: the file holds %d of totalResults %d resources; save all of them in one response (add count=%d to the query) or read the server directly", f.path, len(lr.Resources), n, n)
	}
	c := newCollector(f.opts.MaxObjects)
	if err := c.add(lr.Resources, f.path); err != nil {
		return nil, fmt.Errorf("scim: %s: %w", f.path, err)
	}
	objs, err := c.objects()
	if err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	return inventory.NewSnapshot(f.opts.Name, read, objs), nil
}
