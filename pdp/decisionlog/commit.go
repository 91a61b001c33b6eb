package decisionlog

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// group is the queue of sync mode (Options.Sync): group commit.
//
// A Record that finds the writer free and nothing queued writes its own
// entries, in its own goroutine: at low load a decision costs one write(2)
// and no hand-off to another goroutine. A Record that finds a write under
// way appends its entries to the open batch and waits for it; the writer
// goroutine takes the open batch, puts a new one in its place, writes the
// whole batch in one write and wakes its waiters at once. While one write
// is under way the next batch fills with the entries of every request that
// arrives meanwhile, so under load one write and one wake-up serve many
// decisions, and no request waits for more than the write under way and
// its own.
//
// A batch's done channel is closed once, and every waiter of the batch
// waits on it: no goroutine, timer or channel per request.
type group struct {
	mu sync.Mutex
	// busy is set while a goroutine (a Record writing directly, or the
	// writer goroutine) uses the writer; free signals its release.
	busy bool
	free *sync.Cond
	open *batch
	// closed refuses further entries; set by close.
	closed bool
	// spare is the entries slice of the last batch written, reused by the
	// next one.
	spare []Entry
	// wake has room for one token: the Record that starts an empty batch
	// leaves one, so the writer goroutine finds the batch whether it is
	// idle or busy.
	wake chan struct{}
	stop chan struct{}
}

// batch is the entries that go into one write, and its outcome.
type batch struct {
	entries []Entry
	done    chan struct{}
	err     error // set before done is closed
}

func newGroup() *group {
	g := &group{open: &batch{done: make(chan struct{})}, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	g.free = sync.NewCond(&g.mu)
	return g
}

// commit writes es itself if it can, or else appends them to the open
// batch and waits for the writer goroutine to write it.
func (g *group) commit(ctx context.Context, l *Log, es []Entry) error {
	if len(es) == 0 {
		return nil
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		l.loss.drop(len(es))
		return fmt.Errorf("%w: the decision log is closing", ErrDropped)
	}
	if !g.busy && len(g.open.entries) == 0 {
		g.busy = true
		g.mu.Unlock()
		err := l.writer.commit(es)
		l.writer.checkLosing()
		g.release()
		return err
	}
	b := g.open
	first := len(b.entries) == 0
	b.entries = append(b.entries, es...)
	g.mu.Unlock()
	if first {
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquire waits until the writer is free and takes it.
func (g *group) acquire() {
	g.mu.Lock()
	for g.busy {
		g.free.Wait()
	}
	g.busy = true
	g.mu.Unlock()
}

// release frees the writer. Entries queued meanwhile were announced on
// wake by the Record that queued the first of them.
func (g *group) release() {
	g.mu.Lock()
	g.busy = false
	g.mu.Unlock()
	g.free.Signal()
}

// take returns the open batch and opens a new one, or returns nil when
// the open batch is empty. The caller holds the writer.
func (g *group) take() *batch {
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.open
	if len(b.entries) == 0 {
		return nil
	}
	g.open = &batch{entries: g.spare, done: make(chan struct{})}
	g.spare = nil
	return b
}

// recycle keeps b's entries slice for a later batch, cleared so that it
// pins no policy or error slices; b's waiters only read b.err.
func (g *group) recycle(b *batch) {
	clear(b.entries)
	g.mu.Lock()
	// A batch much bigger than usual should not pin its memory.
	if cap(b.entries) <= 4*DefaultBufferSize {
		g.spare = b.entries[:0]
	}
	g.mu.Unlock()
	b.entries = nil
}

// close refuses further entries and tells the writer goroutine to write
// what is queued and finish.
func (g *group) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	close(g.stop)
}

// runSync is the writer goroutine of sync mode. It writes each batch as
// soon as it can, with no linger: callers are waiting.
func (w *writer) runSync(g *group) {
	defer close(w.log.done)
	tick := time.NewTicker(w.checkEvery)
	defer tick.Stop()
	for {
		select {
		case <-g.wake:
			g.acquire()
			w.commitAll(g)
			g.release()
		case <-tick.C:
			g.acquire()
			w.idle()
			g.release()
		case <-g.stop:
			// No Record appends or writes after close once the writer
			// is free: the open batch is the last.
			g.acquire()
			w.commitAll(g)
			w.finish()
			return
		}
	}
}

// commitAll writes batches until the open one is empty.
func (w *writer) commitAll(g *group) {
	for {
		b := g.take()
		if b == nil {
			break
		}
		b.err = w.commit(b.entries)
		close(b.done)
		g.recycle(b)
	}
	w.report(false)
	w.checkLosing()
}

// commit writes es and returns nil if all of them reached the sink; a
// batch bigger than batchBytes takes more than one write, and if any
// fails, every waiter of the batch is told, so that no decision whose
// entry may be missing is answered.
func (w *writer) commit(es []Entry) error {
	if w.log.aborted.Load() {
		w.log.loss.drop(len(es))
		return fmt.Errorf("%w: the decision log gave up flushing at shutdown", ErrDropped)
	}
	ok := true
	for i := range es {
		ok = w.add(&es[i]) && ok
	}
	if ok = w.flush() && ok; ok {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrDropped, w.lastErr)
}
