package decisionlog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecordWritesEveryEntryOnceInOrder(t *testing.T) {
	tests := []struct {
		name       string
		recorders  int
		each       int
		checkEvery int // decode every n-th line in full; ids are checked on all
	}{
		{"one recorder", 1, 2000, 1},
		{"8 concurrent recorders", 8, 10_000, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "decisions.log")
			// Block with a long timeout: this test is about delivery, so
			// nothing may be dropped.
			l := mustOpen(t, Options{Path: path, BufferSize: 256, OnFull: Block, BlockTimeout: time.Minute})
			var wg sync.WaitGroup
			for g := range tt.recorders {
				wg.Go(func() {
					for i := range tt.each {
						l.Record(t.Context(), entryFor(g, i))
					}
				})
			}
			wg.Wait()
			mustClose(t, l)

			total := uint64(tt.recorders * tt.each)
			if l.Written() != total || l.Dropped() != 0 {
				t.Fatalf("Written %d, Dropped %d; want %d, 0", l.Written(), l.Dropped(), total)
			}
			lines := readLines(t, path)
			if len(lines) != int(total) {
				t.Fatalf("%d lines, want %d", len(lines), total)
			}
			next := make([]int, tt.recorders) // next index expected from each recorder
			for n, line := range lines {
				g, i := parseID(t, line)
				if g < 0 || g >= tt.recorders {
					t.Fatalf("line %q is from no recorder", line)
				}
				if i != next[g] {
					t.Fatalf("line %q out of order: want g%d-%d next", line, g, next[g])
				}
				next[g]++
				if n%tt.checkEvery == 0 {
					e := entryFor(g, i)
					checkLine(t, line, &e)
				}
			}
		})
	}
}

func TestStdout(t *testing.T) {
	t.Run("writes lines to the stream", func(t *testing.T) {
		var out bytes.Buffer
		l := mustOpen(t, Options{Path: "-", out: &out})
		var want []byte
		for i := range 3 {
			e := entryFor(0, i)
			l.Record(t.Context(), e)
			want = appendEntry(want, &e)
		}
		mustClose(t, l)
		if out.String() != string(want) {
			t.Fatalf("stdout\n got %s\nwant %s", out.Bytes(), want)
		}
	})
	t.Run("defaults to os.Stdout", func(t *testing.T) {
		s, err := openSink(&Options{Path: "-"})
		if err != nil {
			t.Fatal(err)
		}
		if ss, ok := s.(streamSink); !ok || ss.Writer != os.Stdout {
			t.Fatalf("sink for \"-\" is %#v, want os.Stdout", s)
		}
	})
}

func TestOverflow(t *testing.T) {
	const size, extra = 8, 5
	tests := []struct {
		name    string
		onFull  Overflow
		timeout time.Duration
	}{
		{"drop counts each entry that does not fit", Drop, 0},
		{"block waits for the timeout then drops", Block, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newGateWriter()
			l := mustOpen(t, Options{Path: "-", out: w, BufferSize: size, OnFull: tt.onFull, BlockTimeout: tt.timeout})

			l.Record(t.Context(), entryFor(0, 0))
			w.waitEntered(t) // the writer holds entry 0 inside Write: the buffer is empty
			for i := 1; i <= size; i++ {
				l.Record(t.Context(), entryFor(0, i))
			}
			if l.Dropped() != 0 {
				t.Fatalf("Dropped %d while the buffer had room", l.Dropped())
			}
			start := time.Now()
			for i := size + 1; i <= size+extra; i++ {
				l.Record(t.Context(), entryFor(0, i))
			}
			waited := time.Since(start)
			if l.Dropped() != extra {
				t.Fatalf("Dropped %d after %d entries did not fit, want %d", l.Dropped(), extra, extra)
			}
			if tt.onFull == Block && waited < extra*tt.timeout {
				t.Fatalf("Block returned after %v, want at least %d×%v", waited, extra, tt.timeout)
			}

			close(w.gate)
			mustClose(t, l)
			recorded := uint64(1 + size + extra)
			if l.Written() != 1+size || l.Written()+l.Dropped() != recorded {
				t.Fatalf("Written %d, Dropped %d; want %d written of %d", l.Written(), l.Dropped(), 1+size, recorded)
			}
			lines := w.lines()
			if len(lines) != 1+size {
				t.Fatalf("%d lines, want %d", len(lines), 1+size)
			}
			for i, line := range lines {
				if _, id := parseID(t, line); id != i {
					t.Fatalf("line %d has id %d: the wrong entries were dropped", i, id)
				}
			}
		})
	}

	t.Run("block succeeds when room appears in time", func(t *testing.T) {
		w := newGateWriter()
		blocked := make(chan struct{}, 1)
		l := mustOpen(t, Options{Path: "-", out: w, BufferSize: 1, OnFull: Block, BlockTimeout: time.Minute,
			onBlock: func() { blocked <- struct{}{} }})
		l.Record(t.Context(), entryFor(0, 0))
		w.waitEntered(t)
		l.Record(t.Context(), entryFor(0, 1)) // fills the buffer
		done := make(chan struct{})
		go func() {
			defer close(done)
			l.Record(t.Context(), entryFor(0, 2))
		}()
		<-blocked // Record is waiting for room
		close(w.gate)
		<-done
		mustClose(t, l)
		if l.Written() != 3 || l.Dropped() != 0 {
			t.Fatalf("Written %d, Dropped %d; want 3, 0", l.Written(), l.Dropped())
		}
	})
}

func TestDropWarningsAreRateLimited(t *testing.T) {
	w := newGateWriter()
	h := &recordingHandler{}
	l := mustOpen(t, Options{Path: "-", out: w, BufferSize: 1, Logger: slog.New(h), warnEvery: time.Hour})

	l.Record(t.Context(), entryFor(0, 0))
	w.waitEntered(t)
	l.Record(t.Context(), entryFor(0, 1)) // queued
	l.Record(t.Context(), entryFor(0, 2)) // dropped
	l.Record(t.Context(), entryFor(0, 3)) // dropped
	w.gate <- struct{}{}                  // write 0 completes; the writer warns, then writes 1
	w.waitEntered(t)
	waitFor(t, "the first warning", func() bool { return len(h.find(slog.LevelWarn, "dropped")) == 1 })

	l.Record(t.Context(), entryFor(0, 4)) // queued
	l.Record(t.Context(), entryFor(0, 5)) // dropped
	l.Record(t.Context(), entryFor(0, 6)) // dropped
	w.gate <- struct{}{}                  // write 1 completes; within warnEvery, so no warning
	w.waitEntered(t)
	close(w.gate)
	mustClose(t, l) // reports what is left

	if got := h.find(slog.LevelWarn, "dropped"); len(got) != 2 || got[0] != 2 || got[1] != 2 {
		t.Errorf("warnings report drops %v, want [2 2]", got)
	}
	if got := h.find(slog.LevelWarn, "dropped_total"); len(got) != 2 || got[1] != 4 {
		t.Errorf("warnings report totals %v, want [2 4]", got)
	}
	if l.Dropped() != 4 || l.Written() != 3 {
		t.Errorf("Dropped %d, Written %d; want 4, 3", l.Dropped(), l.Written())
	}
}

// failWriter fails every write after writing half of it, leaving a torn line.
type failWriter struct {
	fail bool
	buf  bytes.Buffer
}

var errDiskFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if w.fail {
		n, _ := w.buf.Write(p[:len(p)/2])
		return n, errDiskFull
	}
	return w.buf.Write(p)
}

func TestWriteErrors(t *testing.T) {
	t.Run("failed writes are dropped, logged at most once per interval, and the writer goes on", func(t *testing.T) {
		h := &recordingHandler{}
		fw := &failWriter{fail: true}
		// No idle checks: their probes would be failed writes too.
		l := mustOpen(t, Options{Path: "-", out: fw, Logger: slog.New(h), warnEvery: time.Hour, checkEvery: time.Hour})
		const n = 5
		for i := range n {
			l.Record(t.Context(), entryFor(0, i))
			waitFor(t, "the write to fail", func() bool { return l.Dropped() == uint64(i+1) })
		}
		if err := l.Close(context.Background()); !errors.Is(err, errDiskFull) {
			t.Errorf("Close = %v, want %v", err, errDiskFull)
		}
		if got := h.find(slog.LevelError, "failed_writes"); len(got) != 2 || got[0] != 1 || got[1] != n-1 {
			t.Errorf("error logs report failures %v, want [1 %d]", got, n-1)
		}
		if l.Written() != 0 || l.Dropped() != n {
			t.Errorf("Written %d, Dropped %d; want 0, %d", l.Written(), l.Dropped(), n)
		}
	})
	t.Run("a torn line is terminated so later lines parse", func(t *testing.T) {
		fw := &failWriter{fail: true}
		l := mustOpen(t, Options{Path: "-", out: fw, checkEvery: time.Hour})
		l.Record(t.Context(), entryFor(0, 0))
		waitFor(t, "the write to fail", func() bool { return l.Dropped() == 1 })
		fw.fail = false // the writer goroutine is idle (no checks): it only writes after the next Record
		e := entryFor(0, 1)
		l.Record(t.Context(), e)
		mustClose(t, l)
		lines := slices.Collect(bytes.Lines(fw.buf.Bytes()))
		if len(lines) != 2 {
			t.Fatalf("got %d lines %q, want a torn line and a whole one", len(lines), lines)
		}
		checkLine(t, lines[1], &e)
		if l.Written() != 1 || l.Dropped() != 1 {
			t.Errorf("Written %d, Dropped %d; want 1, 1", l.Written(), l.Dropped())
		}
	})
	t.Run("Close fails while writes are failing", func(t *testing.T) {
		l := mustOpen(t, Options{Path: "-", out: &failWriter{fail: true}})
		l.Record(t.Context(), entryFor(0, 0))
		if err := l.Close(context.Background()); !errors.Is(err, errDiskFull) {
			t.Fatalf("Close = %v, want %v", err, errDiskFull)
		}
	})
}

func TestClose(t *testing.T) {
	t.Run("everything recorded before Close is in the file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "d.log")
		l := mustOpen(t, Options{Path: path, BufferSize: 16_384})
		const n = 10_000
		for i := range n {
			l.Record(t.Context(), entryFor(0, i))
		}
		mustClose(t, l)
		if got := len(readLines(t, path)); got != n || l.Written() != n {
			t.Fatalf("%d lines, Written %d, after Close; want %d", got, l.Written(), n)
		}
	})
	t.Run("Record after Close counts a drop", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "d.log")
		l := mustOpen(t, Options{Path: path})
		l.Record(t.Context(), entryFor(0, 0))
		mustClose(t, l)
		l.Record(t.Context(), entryFor(0, 1))
		if l.Dropped() != 1 || l.Written() != 1 {
			t.Fatalf("Dropped %d, Written %d; want 1, 1", l.Dropped(), l.Written())
		}
		if got := len(readLines(t, path)); got != 1 {
			t.Fatalf("%d lines, want 1", got)
		}
	})
	t.Run("concurrent with Record and with itself", func(t *testing.T) {
		for _, onFull := range []Overflow{Drop, Block} {
			t.Run(onFull.String(), func(t *testing.T) {
				var out bytes.Buffer
				l := mustOpen(t, Options{Path: "-", out: &out, BufferSize: 64, OnFull: onFull})
				const recorders, each = 4, 2000
				var wg sync.WaitGroup
				for g := range recorders {
					wg.Go(func() {
						for i := range each {
							l.Record(t.Context(), entryFor(g, i))
						}
					})
				}
				errs := make(chan error, 3)
				for range 3 {
					wg.Go(func() { errs <- l.Close(context.Background()) })
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatalf("Close: %v", err)
					}
				}
				if got := l.Written() + l.Dropped(); got != recorders*each {
					t.Fatalf("Written %d + Dropped %d = %d, want %d", l.Written(), l.Dropped(), got, recorders*each)
				}
				if got := len(slices.Collect(bytes.Lines(out.Bytes()))); uint64(got) != l.Written() {
					t.Fatalf("%d lines, Written %d", got, l.Written())
				}
			})
		}
	})
	t.Run("gives up when ctx ends and drops what is queued", func(t *testing.T) {
		w := newGateWriter()
		l := mustOpen(t, Options{Path: "-", out: w, BufferSize: 16})
		for i := range 10 {
			l.Record(t.Context(), entryFor(0, i))
			if i == 0 {
				w.waitEntered(t)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Close(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close = %v, want context.Canceled", err)
		}
		close(w.gate)
		<-l.done
		if l.Written() != 1 || l.Dropped() != 9 {
			t.Fatalf("Written %d, Dropped %d; want 1, 9", l.Written(), l.Dropped())
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatalf("Close after the writer finished: %v", err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"empty path", Options{}, "Path is empty"},
		{"unknown overflow", Options{Path: "-", OnFull: 7}, "OnFull is Overflow(7)"},
		{"negative buffer", Options{Path: "-", BufferSize: -1}, "must not be negative"},
		{"unwritable path", Options{Path: filepath.Join(notDir, "d.log")}, "decisionlog: open " + notDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Open(tt.opts)
			if err == nil {
				_ = l.Close(context.Background())
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open error %q does not contain %q", err, tt.want)
			}
		})
	}
}
