package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// idWriter remembers the decision id of every line written to it, so a
// test can ask, the moment Record returns, whether its entry was written.
type idWriter struct {
	mu     sync.Mutex
	ids    map[string]bool
	writes int
}

func (w *idWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	n := len(p)
	for len(p) > 0 {
		var id string
		if _, err := fmt.Sscanf(string(p), `{"decision_id":%q`, &id); err != nil {
			return 0, fmt.Errorf("line %q: %w", p, err)
		}
		w.ids[id] = true
		i := 0
		for p[i] != '\n' {
			i++
		}
		p = p[i+1:]
	}
	return n, nil
}

func (w *idWriter) has(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ids[id]
}

// TestSyncRecordReturnsAfterTheWrite records from many goroutines in sync
// mode and checks, as each Record returns, that its entry was written.
func TestSyncRecordReturnsAfterTheWrite(t *testing.T) {
	w := &idWriter{ids: map[string]bool{}}
	l := mustOpen(t, Options{Path: "-", out: w, Sync: true})
	const recorders, each = 8, 500
	var wg sync.WaitGroup
	for g := range recorders {
		wg.Go(func() {
			for i := range each {
				e := entryFor(g, i)
				if err := l.Record(t.Context(), e); err != nil {
					t.Errorf("Record: %v", err)
					return
				}
				if !w.has(e.DecisionID) {
					t.Errorf("Record of %s returned before its entry was written", e.DecisionID)
					return
				}
			}
		})
	}
	wg.Wait()
	mustClose(t, l)
	if l.Written() != recorders*each || l.Dropped() != 0 {
		t.Fatalf("Written %d, Dropped %d; want %d, 0", l.Written(), l.Dropped(), recorders*each)
	}
	t.Logf("%d entries in %d writes", l.Written(), w.writes)
}

// TestSyncGroupCommit holds the writer inside a write while more Records
// arrive: they all go into the next write, one write for all of them,
// and a Record of several entries (a BatchAuthorize) waits once.
func TestSyncGroupCommit(t *testing.T) {
	w := newGateWriter()
	l := mustOpen(t, Options{Path: "-", out: w, Sync: true})
	errs := make(chan error, 32)
	go func() { errs <- l.Record(t.Context(), entryFor(0, 0)) }()
	w.waitEntered(t) // the first write holds entry 0
	const singles, batch = 16, 5
	for i := range singles {
		go func() { errs <- l.Record(t.Context(), entryFor(1, i)) }()
	}
	go func() {
		es := make([]Entry, batch)
		for i := range es {
			es[i] = entryFor(2, i)
		}
		errs <- l.Record(t.Context(), es...)
	}()
	waitFor(t, "every Record to join the open batch", func() bool {
		l.group.mu.Lock()
		defer l.group.mu.Unlock()
		return len(l.group.open.entries) == singles+batch
	})
	close(w.gate)
	for range 1 + singles + 1 {
		if err := <-errs; err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	if n := len(w.entered); n != 1 {
		t.Fatalf("%d writes after the first, want 1 carrying the %d entries that waited", n, singles+batch)
	}
	mustClose(t, l)
	if got := len(w.lines()); got != 1+singles+batch || l.Written() != uint64(got) {
		t.Fatalf("%d lines, Written %d; want %d", got, l.Written(), 1+singles+batch)
	}
}

func TestSyncFailures(t *testing.T) {
	t.Run("a failed write fails its Records, and they succeed once writes do", func(t *testing.T) {
		out := &syncedWriter{err: errDiskFull}
		l := mustOpen(t, Options{Path: "-", out: out, Sync: true, checkEvery: 5 * time.Millisecond})
		err := l.Record(t.Context(), entryFor(0, 0), entryFor(0, 1))
		if !errors.Is(err, ErrDropped) || !errors.Is(err, errDiskFull) {
			t.Fatalf("Record = %v, want ErrDropped and the write's error", err)
		}
		if st := l.Stats(); st.Dropped != 2 || st.Errors == 0 || !st.Losing || st.LastError != errDiskFull.Error() || !st.Sync {
			t.Fatalf("Stats %+v after a failed write", st)
		}
		out.setErr(nil)
		waitFor(t, "the probe to find the sink writable", func() bool { return l.Stats().LastError == "" })
		if err := l.Record(t.Context(), entryFor(0, 2)); err != nil {
			t.Fatalf("Record after writes work again: %v", err)
		}
		mustClose(t, l)
		if l.Written() != 1 || l.Dropped() != 2 {
			t.Fatalf("Written %d, Dropped %d; want 1, 2", l.Written(), l.Dropped())
		}
	})
	t.Run("a Record whose context ends returns, and its entry is still written", func(t *testing.T) {
		w := newGateWriter()
		l := mustOpen(t, Options{Path: "-", out: w, Sync: true})
		go func() { _ = l.Record(context.Background(), entryFor(0, 0)) }()
		w.waitEntered(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := l.Record(ctx, entryFor(0, 1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Record = %v, want context.Canceled", err)
		}
		close(w.gate)
		mustClose(t, l)
		if l.Written() != 2 || len(w.lines()) != 2 {
			t.Fatalf("Written %d, %d lines; want 2", l.Written(), len(w.lines()))
		}
	})
	t.Run("Record after Close is dropped", func(t *testing.T) {
		l := mustOpen(t, Options{Path: "-", out: &syncedWriter{}, Sync: true})
		mustClose(t, l)
		if err := l.Record(t.Context(), entryFor(0, 0)); !errors.Is(err, ErrDropped) {
			t.Fatalf("Record after Close = %v, want ErrDropped", err)
		}
		if l.Dropped() != 1 {
			t.Fatalf("Dropped %d, want 1", l.Dropped())
		}
	})
	t.Run("Close gives up and fails the waiters", func(t *testing.T) {
		w := newGateWriter()
		l := mustOpen(t, Options{Path: "-", out: w, Sync: true})
		go func() { _ = l.Record(context.Background(), entryFor(0, 0)) }()
		w.waitEntered(t)
		errc := make(chan error, 1)
		go func() { errc <- l.Record(context.Background(), entryFor(0, 1)) }()
		waitFor(t, "the second Record to wait", func() bool {
			l.group.mu.Lock()
			defer l.group.mu.Unlock()
			return len(l.group.open.entries) == 1
		})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := l.Close(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close = %v, want context.Canceled", err)
		}
		close(w.gate)
		if err := <-errc; !errors.Is(err, ErrDropped) {
			t.Fatalf("waiting Record = %v, want ErrDropped", err)
		}
		<-l.done
		if l.Written() != 1 || l.Dropped() != 1 {
			t.Fatalf("Written %d, Dropped %d; want 1, 1", l.Written(), l.Dropped())
		}
	})
}
