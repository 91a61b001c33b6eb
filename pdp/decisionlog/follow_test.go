package decisionlog

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

const reopenedMsg = "decision log file was moved or deleted: reopened it at its path"

// recorder records entryFor(0, i) for i = 0, 1, ... from its own
// goroutine until stopped, like a PDP under load. Block mode with a long
// timeout: nothing is dropped for lack of room.
type recorder struct {
	stop chan struct{}
	done chan int // how many entries were recorded
}

func startRecorder(t *testing.T, l *Log) *recorder {
	r := &recorder{stop: make(chan struct{}), done: make(chan int, 1)}
	go func() {
		i := 0
		for {
			select {
			case <-r.stop:
				r.done <- i
				return
			default:
			}
			if err := l.Record(t.Context(), entryFor(0, i)); err != nil {
				t.Errorf("Record %d: %v", i, err)
			}
			i++
		}
	}()
	return r
}

func (r *recorder) finish() int {
	close(r.stop)
	return <-r.done
}

// ids returns the entry numbers of lines written by a recorder.
func ids(t *testing.T, lines [][]byte) []int {
	t.Helper()
	var out []int
	for _, line := range lines {
		_, i := parseID(t, line)
		out = append(out, i)
	}
	return out
}

// TestFollowsMovedOrDeletedFile moves or deletes the log file while
// entries are being recorded: the log reopens a file at its path, logs it,
// and every entry is in the old file (still reachable: renamed, or held
// open by the test when deleted) or the new one, each once, in order,
// with nothing dropped.
func TestFollowsMovedOrDeletedFile(t *testing.T) {
	tests := []struct {
		name string
		// move does to the file at path what an operator or a shipper
		// would, and returns where its content can still be read.
		move func(t *testing.T, path string) io.Reader
	}{
		{"deleted", func(t *testing.T, path string) io.Reader {
			f := openFile(t, path)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			return f
		}},
		{"renamed", func(t *testing.T, path string) io.Reader {
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			return openFile(t, path+".1")
		}},
		{"renamed and replaced by a new file, as logrotate's create does", func(t *testing.T, path string) io.Reader {
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, nil, 0o640); err != nil {
				t.Fatal(err)
			}
			return openFile(t, path+".1")
		}},
		{"directory deleted", func(t *testing.T, path string) io.Reader {
			f := openFile(t, path)
			if err := os.RemoveAll(filepath.Dir(path)); err != nil {
				t.Fatal(err)
			}
			return f
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "logs", "decisions.log")
			if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			h := &recordingHandler{}
			l := mustOpen(t, Options{Path: path, OnFull: Block, BlockTimeout: time.Minute, Logger: slog.New(h)})
			r := startRecorder(t, l)
			waitFor(t, "entries in the first file", func() bool { return l.Written() >= 200 })
			old := tt.move(t, path)
			waitFor(t, "the reopen", func() bool { return h.count(reopenedMsg) == 1 })
			before := l.Written()
			waitFor(t, "entries in the new file", func() bool { return l.Written() >= before+200 })
			n := r.finish()
			mustClose(t, l)

			if l.Dropped() != 0 || l.Written() != uint64(n) {
				t.Fatalf("Written %d, Dropped %d; want %d, 0", l.Written(), l.Dropped(), n)
			}
			data, err := io.ReadAll(old)
			if err != nil {
				t.Fatal(err)
			}
			first := ids(t, slices.Collect(bytes.Lines(data)))
			second := ids(t, readLines(t, path))
			if len(first) == 0 || len(second) == 0 {
				t.Fatalf("%d entries in the old file, %d in the new one; want some in each", len(first), len(second))
			}
			// The old file holds a prefix of the entries, the new one the
			// rest: no entry lost, repeated or reordered.
			if got := append(first, second...); !slices.Equal(got, seq(n)) {
				t.Fatalf("old and new files hold %d and %d entries that are not 0..%d in order", len(first), len(second), n-1)
			}
			if got := h.count(reopenedMsg); got != 1 {
				t.Fatalf("%d reopens logged, want 1", got)
			}
		})
	}
}

// openFile opens path for the test to read, even once it is deleted.
func openFile(t *testing.T, path string) *os.File {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestReopensWhileIdle deletes the file of a log that records nothing:
// the periodic check puts a new file at the path without waiting for an
// entry, so a shipper or an operator sees the log back at once.
func TestReopensWhileIdle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	h := &recordingHandler{}
	l := mustOpen(t, Options{Path: path, Logger: slog.New(h), checkEvery: 10 * time.Millisecond})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reopen", func() bool { return h.count(reopenedMsg) == 1 })
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no file at the path after the reopen: %v", err)
	}
	if h.count(reopenedMsg) != 1 || l.Written() != 0 || l.Dropped() != 0 {
		t.Fatalf("%d reopens logged, Written %d, Dropped %d; want 1, 0, 0", h.count(reopenedMsg), l.Written(), l.Dropped())
	}
	if st := l.Stats(); st.Losing || st.Errors != 0 {
		t.Fatalf("Stats %+v after a successful reopen", st)
	}
}

// TestFailedReopenIsCountedAndRetried makes the path unusable (its
// directory replaced by a file: even root cannot create the log there):
// entries are dropped, each failed reopen is an error, and once the path
// is usable again the log writes there.
func TestFailedReopenIsCountedAndRetried(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	path := filepath.Join(dir, "decisions.log")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, Options{Path: path, checkEvery: 10 * time.Millisecond})
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(t.Context(), entryFor(0, 0)); err != nil {
		t.Fatalf("Record: %v (queued entries are accepted)", err)
	}
	waitFor(t, "the entry to be dropped", func() bool { return l.Dropped() == 1 })
	waitFor(t, "reopens to be retried", func() bool { return l.Stats().Errors >= 2 })
	if st := l.Stats(); !st.Losing || st.LastError == "" || st.LastErrorTime.IsZero() {
		t.Fatalf("Stats %+v while the path cannot be created: want losing with the error", st)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	e := entryFor(0, 1)
	waitFor(t, "the file to be back", func() bool {
		_, err := os.Stat(path)
		return err == nil && l.Stats().LastError == ""
	})
	if err := l.Record(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	var lines [][]byte
	for _, line := range readLines(t, path) {
		if len(bytes.TrimSpace(line)) > 0 {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 || l.Written() != 1 || l.Dropped() != 1 {
		t.Fatalf("%d lines, Written %d, Dropped %d; want 1, 1, 1", len(lines), l.Written(), l.Dropped())
	}
	checkLine(t, lines[0], &e)
}
