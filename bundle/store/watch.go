package store

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// Watch reports, on the returned channel, that the active pointer may have
// changed: the state file (or, in a store of the old format, active.json)
// was created, written or renamed into place. Bursts
// of events coalesce into one notification (the channel holds one). The
// channel is closed when ctx ends or the watch fails; errors after the
// start are sent to onError.
func (s *Store) Watch(ctx context.Context, onError func(error)) (<-chan struct{}, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching store %s: %w", s.dir, err)
	}
	// Watch the directory, not the file: the pointer is replaced by rename,
	// which a watch on the old file would not see.
	if err := w.Add(s.dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watching store %s: %w", s.dir, err)
	}
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		defer w.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if name := filepath.Base(ev.Name); name != StateFile && name != LegacyActiveFile || ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename) == 0 {
					continue
				}
				select {
				case ch <- struct{}{}:
				default:
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				if onError != nil {
					onError(err)
				}
			}
		}
	}()
	return ch, nil
}
