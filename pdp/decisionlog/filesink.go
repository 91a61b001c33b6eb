package decisionlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/DeRuina/timberjack"
	"github.com/cedargate/cedargate/internal/atomicfile"
)

// fileSink writes to a size-rotated file.
//
// Rotation is timberjack's, a maintained fork of lumberjack: lumberjack
// v2.2.1 leaks its cleanup goroutine on Close and can overwrite a backup when
// two rotations fall in the same millisecond.
type fileSink struct {
	rot      *timberjack.Logger
	path     string
	maxBytes int64
}

func openFileSink(opts *Options) (*fileSink, error) {
	compression := "none"
	if opts.Compress {
		compression = "gzip"
	}
	rot := &timberjack.Logger{
		Filename:    opts.Path,
		MaxSize:     opts.MaxSizeMB,
		MaxBackups:  opts.MaxBackups,
		MaxAge:      opts.MaxAgeDays,
		Compression: compression,
	}
	// An empty write opens (or creates) the file, so a bad path or a
	// permission problem fails Open rather than the first decision.
	if _, err := rot.Write(nil); err != nil {
		return nil, errors.Join(err, rot.Close())
	}
	return &fileSink{rot: rot, path: opts.Path, maxBytes: int64(opts.MaxSizeMB) << 20}, nil
}

// Write writes p, which holds whole lines, so rotation (which happens
// between writes) never splits a line.
//
// timberjack closes a file it rotates away without fsync, and Close can only
// fsync the current file, so Write fsyncs the current file itself when p is
// about to trigger a rotation (the same test timberjack applies). That costs
// a stat per write, which is small next to the write of a whole batch.
func (s *fileSink) Write(p []byte) (int, error) {
	var syncErr error
	if fi, err := os.Stat(s.path); err == nil && fi.Size()+int64(len(p)) > s.maxBytes {
		syncErr = s.rot.Sync()
	}
	n, err := s.rot.Write(p)
	if err != nil {
		return n, fmt.Errorf("write: %w", err)
	}
	if syncErr != nil {
		return n, fmt.Errorf("fsync before rotation: %w", syncErr)
	}
	return n, nil
}

// close fsyncs and closes the file, waits for timberjack's cleanup goroutine
// and fsyncs the directory, which makes the renames and creations of the
// rotations durable.
func (s *fileSink) close() error {
	var errs []error
	if err := s.rot.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("fsync %s: %w", s.path, err))
	}
	if err := s.rot.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close %s: %w", s.path, err))
	}
	if err := atomicfile.SyncDir(filepath.Dir(s.path)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
