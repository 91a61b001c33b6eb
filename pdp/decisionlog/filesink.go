package decisionlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/DeRuina/timberjack"
	"github.com/cedargate/cedargate/internal/atomicfile"
)

// fileSink writes to a size-rotated file, and follows its path: when the
// file is moved or deleted (an operator, a log shipper), the next write
// goes to a new file at the path.
//
// Rotation is timberjack's, a maintained fork of lumberjack: lumberjack
// v2.2.1 leaks its cleanup goroutine on Close and can overwrite a backup when
// two rotations fall in the same millisecond.
type fileSink struct {
	opts *Options
	// rot is nil after a reopen failed, until one succeeds.
	rot  *timberjack.Logger
	path string
	// ident is the file rot writes to, as a stat of the path found it
	// (device and inode), and size its size as far as this sink knows.
	// timberjack does not expose its file, so ident is taken when the file
	// is opened and again after each rotation, the only times its file
	// changes.
	ident    os.FileInfo
	size     int64
	maxBytes int64
	// syncFailed is told when the fsync before a rotation fails (see
	// Write); nil tells no one.
	syncFailed func(error)
}

func openFileSink(opts *Options) (*fileSink, error) {
	s := &fileSink{opts: opts, path: opts.Path, maxBytes: int64(opts.MaxSizeMB) << 20}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// open opens (or creates) the file at the path with a new timberjack
// Logger. timberjack cannot reopen a file after Close, hence a new one.
func (s *fileSink) open() error {
	compression := "none"
	if s.opts.Compress {
		compression = "gzip"
	}
	rot := &timberjack.Logger{
		Filename:    s.opts.Path,
		MaxSize:     s.opts.MaxSizeMB,
		MaxBackups:  s.opts.MaxBackups,
		MaxAge:      s.opts.MaxAgeDays,
		Compression: compression,
	}
	// An empty write opens (or creates) the file, so a bad path or a
	// permission problem fails here rather than at the first decision.
	if _, err := rot.Write(nil); err != nil {
		return errors.Join(err, rot.Close())
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return errors.Join(err, rot.Close())
	}
	s.rot, s.ident, s.size = rot, fi, fi.Size()
	return nil
}

// follow reopens the file when the path no longer names the file being
// written: moved away (nothing at the path, or a file a shipper created
// there), deleted, or after a failed reopen. It costs one stat, the one
// Write needs anyway to know whether it will rotate.
func (s *fileSink) follow() (bool, error) {
	fi, err := os.Stat(s.path)
	if err == nil && s.rot != nil && os.SameFile(fi, s.ident) {
		s.size = fi.Size()
		return false, nil
	}
	if s.rot != nil {
		// What was written to the old file stays there: make it durable
		// (it may have been moved, not deleted) and let it go.
		if err := errors.Join(s.rot.Sync(), s.rot.Close()); err != nil {
			s.opts.Logger.Warn("decision log: closing the file that was moved or deleted", "path", s.path, "error", err.Error())
		}
		s.rot = nil
	}
	if err := s.open(); err != nil {
		return false, fmt.Errorf("reopen: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(s.path)); err != nil {
		return true, fmt.Errorf("reopen: %w", err)
	}
	return true, nil
}

// Write writes p, which holds whole lines, so rotation (which happens
// between writes) never splits a line. follow must have succeeded first.
//
// timberjack closes a file it rotates away without fsync, and Close can only
// fsync the current file, so Write fsyncs the current file itself when p is
// about to trigger a rotation (the same test timberjack applies). If that
// fsync fails, every byte was still written: the entries reached the
// operating system, which is all a write promises (in sync mode too), so
// the failure goes to syncFailed and the write succeeds. Reporting it as a
// failed write would make sync mode refuse to answer decisions that the
// log shows.
func (s *fileSink) Write(p []byte) (int, error) {
	var syncErr error
	rotating := s.size+int64(len(p)) > s.maxBytes
	if rotating {
		syncErr = s.rot.Sync()
	}
	n, err := s.rot.Write(p)
	s.size += int64(n)
	if rotating {
		// timberjack opened a new file at the path.
		if fi, serr := os.Stat(s.path); serr == nil {
			s.ident, s.size = fi, fi.Size()
		}
	}
	if syncErr != nil && s.syncFailed != nil {
		s.syncFailed(fmt.Errorf("fsync before rotation: %w", syncErr))
	}
	if err != nil {
		return n, fmt.Errorf("write: %w", err)
	}
	return n, nil
}

// close fsyncs and closes the file, waits for timberjack's cleanup goroutine
// and fsyncs the directory, which makes the renames and creations of the
// rotations durable.
func (s *fileSink) close() error {
	if s.rot == nil {
		return nil
	}
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
