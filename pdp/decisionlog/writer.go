package decisionlog

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// writer is the goroutine that owns the sink: it encodes queued entries,
// writes them in batches and reports losses. Its fields other than log are
// touched only by that goroutine.
type writer struct {
	log    *Log
	sink   sink
	logger *slog.Logger

	// buf holds encoded lines not yet written; lines counts them. The
	// writer batches into its own buffer rather than a bufio.Writer because
	// bufio splits a line across two writes when it fills, and the rotating
	// file may rotate between them; it also makes a write error sticky and
	// hides how much of a batch reached the file.
	buf   []byte
	lines int
	// torn is set when a failed write may have left a partial line in the
	// file; the next write starts with a newline so that later lines still
	// parse.
	torn bool
	// failing holds the error of the last write if no write has succeeded
	// since: the tail of the log is missing, and Close says so.
	failing error

	warnEvery    time.Duration
	reported     uint64 // drops already warned about
	lastDropWarn time.Time
	writeErrs    int // failed writes not yet reported
	lastErr      error
	lastErrWarn  time.Time
}

// linger is how long the writer lets a burst of entries accumulate before
// taking them. Waking the writer for every entry, and writing each one on
// its own, cost more than encoding it: at a few thousand decisions per
// second the decision log made each decision cost 40-70% more CPU. With
// the writer asleep through the linger, Record hands entries over without
// waking anyone, and a write carries every entry of the burst. Lines then
// reach the file at most this late, which nobody reading a log notices,
// and Close still writes everything.
const linger = 5 * time.Millisecond

// busyBatch is the burst size at which the writer stops napping: when a
// linger gathered this many entries, the next burst is taken at once, so
// that a PDP busy enough to fill the buffer is never kept waiting by the
// nap (wake-ups cost nothing there: the writer never parks).
const busyBatch = 1024

// run is the writer goroutine. Idle, it waits for an entry; once one
// arrives it sleeps for the linger, then takes and writes everything
// queued, so lines appear promptly when the PDP is quiet and in large
// batches when it is busy.
func (w *writer) run() {
	defer close(w.log.done)
	tick := time.NewTicker(w.warnEvery)
	defer tick.Stop()
	nap := time.NewTimer(linger)
	nap.Stop()
	busy := false
	for {
		if !busy {
			select {
			case e, ok := <-w.log.ch:
				if !ok {
					w.finish()
					return
				}
				w.take(&e)
			case <-tick.C:
				// Drops reported late because of rate limiting, while no
				// entries arrive, would otherwise wait for the next entry.
				w.report(false)
				continue
			}
			nap.Reset(linger)
			<-nap.C
		}
		n := 0
		for drained := false; !drained; {
			select {
			case e, ok := <-w.log.ch:
				if !ok {
					w.finish()
					return
				}
				w.take(&e)
				n++
			default:
				drained = true
			}
		}
		w.flush()
		w.report(false)
		busy = n >= busyBatch
	}
}

// take adds a queued entry to the batch, or drops it once Close has given
// up waiting.
func (w *writer) take(e *Entry) {
	if w.log.aborted.Load() {
		w.log.dropped.Add(1)
		return
	}
	w.add(e)
}

// add encodes e into the batch and writes the batch once it is big enough.
// A write holds at most batchBytes, or a single line if one line is bigger:
// an oversized line then fails (and is dropped) on its own, not with the
// lines batched before it.
func (w *writer) add(e *Entry) {
	start := len(w.buf)
	w.buf = appendEntry(w.buf, e)
	w.lines++
	switch {
	case len(w.buf) > batchBytes && start > 0:
		w.write(w.buf[:start], w.lines-1)
		w.write(w.buf[start:], 1)
		w.reset()
	case len(w.buf) >= batchBytes:
		w.flush()
	}
}

// flush writes the batch.
func (w *writer) flush() {
	w.write(w.buf, w.lines)
	w.reset()
}

func (w *writer) reset() {
	w.buf, w.lines = w.buf[:0], 0
	if cap(w.buf) > 4*batchBytes {
		// One huge entry should not pin a huge buffer for the Log's lifetime.
		w.buf = make([]byte, 0, batchBytes)
	}
}

// write hands p, which holds n whole lines, to the sink and accounts for
// every line: written if it reached the sink whole, dropped (and reported)
// otherwise.
func (w *writer) write(p []byte, n int) {
	if n == 0 {
		return
	}
	if w.torn {
		if _, err := w.sink.Write([]byte{'\n'}); err != nil {
			w.failed(err, n)
			return
		}
		w.torn = false
	}
	m, err := w.sink.Write(p)
	if err == nil {
		w.log.written.Add(uint64(n))
		w.failing = nil
		return
	}
	whole := bytes.Count(p[:m], []byte{'\n'})
	w.log.written.Add(uint64(whole))
	w.torn = m > 0 && p[m-1] != '\n'
	w.failed(err, n-whole)
}

// failed counts n lines as dropped because of err and warns, rate-limited.
func (w *writer) failed(err error, n int) {
	w.log.dropped.Add(uint64(n))
	w.writeErrs++
	w.lastErr, w.failing = err, err
	w.report(false)
}

// report warns about drops and write errors not yet reported, at most once
// per warnEvery for each kind unless final.
func (w *writer) report(final bool) {
	dropped := w.log.dropped.Load()
	if w.writeErrs == 0 && dropped == w.reported {
		return
	}
	now := time.Now()
	if w.writeErrs > 0 && (final || now.Sub(w.lastErrWarn) >= w.warnEvery) {
		w.logger.Error("decision log write failed; entries dropped",
			"failed_writes", w.writeErrs, "error", w.lastErr)
		w.writeErrs, w.lastErrWarn = 0, now
	}
	if dropped > w.reported && (final || now.Sub(w.lastDropWarn) >= w.warnEvery) {
		w.logger.Warn("decision log dropped entries",
			"dropped", dropped-w.reported, "dropped_total", dropped)
		w.reported, w.lastDropWarn = dropped, now
	}
}

// finish writes what is left and closes the sink, which makes it durable.
// Its error is what Close returns.
func (w *writer) finish() {
	w.flush()
	var err error
	if w.failing != nil {
		err = fmt.Errorf("decisionlog: close: the last write failed, entries are missing: %w", w.failing)
	}
	if cerr := w.sink.close(); cerr != nil {
		w.logger.Error("decision log close failed", "error", cerr)
		err = errors.Join(err, fmt.Errorf("decisionlog: close: %w", cerr))
	}
	w.report(true)
	w.log.err = err
}
