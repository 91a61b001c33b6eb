package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reports, on the returned channel, that the active pointer may have
// changed: the state file (or, in a store of the old format, active.json)
// was created, written or renamed into place. Bursts of events coalesce
// into one notification (the channel holds one). The channel is closed
// when ctx ends; errors after the start are sent to onError.
//
// A watch on a directory dies with it, so Watch also watches the parent
// directory: when the store directory is removed, moved away or replaced
// (a new directory, or a symbolic link swapped, renamed into its place),
// the watch is set up again on whatever now has its name, onError is told
// both that it went and that it is back, and a notification is sent each
// time: on removal, so that the PDP sees at once that its source is gone
// (with polling off nothing else would), and on return, so that it re-reads
// a store it could not have seen change meanwhile. When the watch cannot
// be set up again (fsnotify.NewWatcher fails for too many open files or
// the inotify limits, or the directory cannot be watched), it is retried
// with a backoff from retryMin to retryMax until it works.
func (s *Store) Watch(ctx context.Context, onError func(error)) (<-chan struct{}, error) {
	dir, err := filepath.Abs(s.dir)
	if err != nil {
		return nil, fmt.Errorf("watching store %s: %w", s.dir, err)
	}
	report := func(err error) {
		if onError != nil {
			onError(err)
		}
	}
	w := &watcher{dir: dir, parent: filepath.Dir(dir), report: report}
	dirErr, parentErr := w.start()
	if dirErr != nil {
		w.close()
		return nil, fmt.Errorf("watching store %s: %w", s.dir, dirErr)
	}
	if parentErr != nil {
		report(fmt.Errorf("watching %s, the store's parent directory: %w; if the store directory is replaced, only the poll will notice", w.parent, parentErr))
	}
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		defer w.close()
		w.run(ctx, ch)
	}()
	return ch, nil
}

// The backoff of a watch that could not be set up again: the first retry
// comes soon, so that a passing shortage costs little, and the interval
// doubles up to the default poll's, beyond which the poll notices changes
// sooner anyway.
const (
	retryMin = 250 * time.Millisecond
	retryMax = 30 * time.Second
)

// watcher follows one store directory through removal and re-creation.
type watcher struct {
	dir, parent string
	report      func(error)
	fs          *fsnotify.Watcher
	// lost is set while the directory is gone (or could not be watched
	// again) and cleared when its watch is re-established.
	lost bool
	// retry is set while the watch is not what it must be and no event
	// will say when it can be: there is no watcher at all, the directory
	// is present but not watched, or it is gone and its parent is not
	// watched. The run loop then calls follow on a backoff timer.
	retry bool
}

// start creates a fresh fsnotify watcher on the parent and the directory.
// A new watcher rather than re-adding to the old one: the kernel
// retires the watch of a removed directory asynchronously, and fsnotify
// keeps its watches by path, so an old directory's late events could
// remove the new directory's watch.
func (w *watcher) start() (dirErr, parentErr error) {
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		return err, err
	}
	w.fs = fs
	parentErr = fs.Add(w.parent)
	dirErr = fs.Add(w.dir)
	return dirErr, parentErr
}

func (w *watcher) close() {
	if w.fs != nil {
		_ = w.fs.Close()
		w.fs = nil
	}
}

// interesting reports whether name, a file of the store directory, is
// the one a PDP follows.
func interesting(name string) bool {
	return name == StateFile || name == LegacyActiveFile
}

func (w *watcher) run(ctx context.Context, ch chan<- struct{}) {
	notify := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	backoff := retryMin
	var retryTimer *time.Timer
	var retryC <-chan time.Time
	defer func() {
		if retryTimer != nil {
			retryTimer.Stop()
		}
	}()
	for {
		var events <-chan fsnotify.Event
		var errs <-chan error
		if w.fs != nil {
			events, errs = w.fs.Events, w.fs.Errors
		}
		if w.retry && retryC == nil {
			retryTimer = time.NewTimer(backoff)
			retryC = retryTimer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-retryC:
			retryC = nil
			if !w.retry {
				// An event set the watch up again meanwhile.
				backoff = retryMin
				continue
			}
			if w.follow() {
				notify()
			}
			if w.retry {
				backoff = min(2*backoff, retryMax)
			} else {
				backoff = retryMin
			}
		case ev, ok := <-events:
			if !ok {
				w.close()
				w.retry = true
				continue
			}
			switch {
			case ev.Name == w.dir && ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) != 0:
				if w.follow() {
					notify()
				}
			case filepath.Dir(ev.Name) == w.dir && interesting(filepath.Base(ev.Name)) &&
				ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename) != 0:
				notify()
			}
		case err, ok := <-errs:
			if !ok {
				w.close()
				w.retry = true
				continue
			}
			w.report(fmt.Errorf("watching store %s: %w", w.dir, err))
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost: one of them may have been a change.
				notify()
			}
		}
	}
}

// follow handles the store directory's name changing what it points at:
// removed, moved away, created or renamed into place, or a watch to set
// up again. It watches whatever has the name now and reports whether the
// store should be read again: when the directory has just gone (the
// reader then finds its source failing) and when its watch was
// re-established (it may have changed meanwhile).
func (w *watcher) follow() bool {
	info, err := os.Stat(w.dir)
	if err != nil || !info.IsDir() {
		gone := !w.lost
		if gone {
			w.lost = true
			w.report(fmt.Errorf("store directory %s was removed or moved away: serving the last bundle, watching %s for it to come back", w.dir, w.parent))
		}
		if w.fs == nil || w.retry {
			// Nothing may watch the parent: set that up, so that the
			// directory's return is seen.
			w.close()
			_, parentErr := w.start()
			w.retry = w.fs == nil || parentErr != nil
		}
		return gone
	}
	w.close()
	dirErr, parentErr := w.start()
	if dirErr != nil {
		if !w.retry {
			w.report(fmt.Errorf("store directory %s is back but cannot be watched: %w; retrying, and the poll notices changes meanwhile", w.dir, dirErr))
		}
		w.lost, w.retry = true, true
		return true
	}
	if parentErr != nil {
		w.report(fmt.Errorf("watching %s, the store's parent directory: %w", w.parent, parentErr))
	}
	w.lost, w.retry = false, false
	w.report(fmt.Errorf("store directory %s was replaced: watch re-established, reading the store again", w.dir))
	return true
}
