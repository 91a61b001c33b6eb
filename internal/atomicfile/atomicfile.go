// Package atomicfile writes files so that a reader, or a machine that
// crashes mid-write, sees either the old content or the new content, never a
// mix: write to a temporary file in the same directory, fsync it, rename it
// over the target, then fsync the directory so the rename itself is durable.
//
// A Writer can carry a hook called before every filesystem step, so that
// tests can make the N-th step fail and check what a crash there leaves.
package atomicfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Step names one filesystem step of a Writer, as its Hook sees it.
type Step string

// The steps of an atomic write, in order, and the other changes a Writer
// makes.
const (
	StepCreate  Step = "create"    // create the temporary file
	StepWrite   Step = "write"     // write the content into it
	StepChmod   Step = "chmod"     // set its mode
	StepSync    Step = "fsync"     // flush it to stable storage
	StepClose   Step = "close"     // close it
	StepRename  Step = "rename"    // rename it over the target: the commit
	StepSyncDir Step = "fsync-dir" // flush the directory, making the rename durable
	StepRemove  Step = "remove"    // remove a file (a temporary one after a failure, or one the caller names)
	StepMkdir   Step = "mkdir"     // create a directory and its parents
)

// ErrNotDurable is wrapped by the error of a write that is in place (its
// rename was done: readers see the new content) but whose directory could
// not be fsynced, so that a crash of the machine may still undo it. The
// write is committed: callers must not report it as failed, only as not
// yet durable.
var ErrNotDurable = errors.New("in place, but not yet durable")

// Writer writes files atomically. The zero value is ready to use.
type Writer struct {
	// Hook, when set, is called before every filesystem step with the
	// step and the path it acts on. An error from it fails the step, which
	// is then not performed. Tests use it to inject a fault at each step
	// in turn; production code leaves it nil.
	Hook func(step Step, path string) error
}

func (w Writer) step(s Step, path string) error {
	if w.Hook == nil {
		return nil
	}
	return w.Hook(s, path)
}

// WriteFile atomically replaces path with data. The file gets mode perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Writer{}.WriteFile(context.Background(), path, data, perm)
}

// IsTemp reports whether name (a base name) is a temporary file that
// WriteFile creates, for callers that clean up after a crash. Only a
// caller that knows no write is in flight (it holds the lock writers take)
// may remove them.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}

// WriteFile atomically replaces path with data. The file gets mode perm.
// ctx is checked last immediately before the rename that commits: once
// ctx is done the target is never replaced, and the temporary file is
// removed.
func (w Writer) WriteFile(ctx context.Context, path string, data []byte, perm os.FileMode) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := w.step(StepCreate, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	closed, renamed := false, false
	defer func() {
		if err != nil && !renamed {
			if !closed {
				_ = tmp.Close()
			}
			_ = w.Remove(tmp.Name())
		}
	}()
	if err = w.step(StepWrite, tmp.Name()); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = w.step(StepChmod, tmp.Name()); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// Without this fsync a crash after the rename could leave a file whose
	// name is new but whose blocks were never written.
	if err = w.step(StepSync, tmp.Name()); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err = w.step(StepClose, tmp.Name()); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	closed = true
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// The last moment a cancellation can still leave the old content: after
	// the rename the new content is in place.
	if err = ctx.Err(); err != nil {
		return fmt.Errorf("not replacing %s: %w", path, err)
	}
	if err = w.step(StepRename, path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	renamed = true
	if err = w.SyncDir(dir); err != nil {
		return fmt.Errorf("%w: %s was replaced, but a crash of the machine may undo it: %w", ErrNotDurable, path, err)
	}
	return nil
}

// Remove removes path; a path that does not exist is not an error.
func (w Writer) Remove(path string) error {
	if err := w.step(StepRemove, path); err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// MkdirAll creates dir and any missing parents.
func (w Writer) MkdirAll(dir string, perm os.FileMode) error {
	if err := w.step(StepMkdir, dir); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return os.MkdirAll(dir, perm)
}

// SyncDir fsyncs a directory so that renames and creations inside it
// survive a crash.
func (w Writer) SyncDir(dir string) error {
	if err := w.step(StepSyncDir, dir); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that renames and creations inside it survive
// a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
