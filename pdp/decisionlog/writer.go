package decisionlog

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// writer owns the sink: it encodes entries, writes them in batches,
// follows the file and reports losses. Its fields other than log are
// touched by one goroutine at a time: the writer goroutine in async mode;
// in sync mode whichever goroutine holds the group (commit.go), the writer
// goroutine or a Record writing its own entries.
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

	// checkEvery is how often an idle writer checks the file and Losing.
	checkEvery time.Duration
	// onLosing is Options.OnLosingChange; wasLosing is the value it was
	// last told.
	onLosing  func(bool)
	wasLosing bool
	// followed is when follow last checked the sink.
	followed time.Time
	// writes counts writes of lines to the sink, for benchmarks.
	writes int
}

// followEvery is how often a busy writer checks, before a write, that the
// file at the log's path is still the one it writes to. Checking before
// every write cost a stat(2) per decision in sync mode, two thirds of the
// cost of the write itself; a file moved or deleted is noticed this late
// at most (CheckInterval when idle).
const followEvery = 100 * time.Millisecond

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
	tick := time.NewTicker(w.checkEvery)
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
				w.idle()
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
		w.checkLosing()
		busy = n >= busyBatch
	}
}

// idle is the writer's periodic work while no entries arrive: follow the
// file (so that a moved or deleted file is replaced even when nothing is
// written), probe a failing file, report drops whose warning was held back
// by the rate limit, and tell OnLosingChange when Losing changed.
func (w *writer) idle() {
	if w.follow() && w.failing != nil {
		w.probe()
	}
	w.report(false)
	w.checkLosing()
}

// probe writes a newline to find out whether a failing file takes writes
// again (a full disk with room again), so that Losing clears without
// waiting for a decision, which a PDP reporting NOT_SERVING may never
// get. The newline ends a torn line, or makes an empty line, which JSON
// Lines readers skip.
func (w *writer) probe() {
	if _, err := w.sink.Write([]byte{'\n'}); err != nil {
		w.failed(err, 0)
		return
	}
	w.torn, w.failing = false, nil
	w.log.loss.succeeded()
}

// checkLosing calls onLosing if Losing changed since it was last called.
func (w *writer) checkLosing() {
	losing := w.log.Losing()
	if losing == w.wasLosing {
		return
	}
	w.wasLosing = losing
	if losing {
		w.logger.Error("decision log is losing entries", "dropped_total", w.log.loss.dropped.Load())
	} else {
		w.logger.Info("decision log is writing every entry again", "dropped_total", w.log.loss.dropped.Load())
	}
	if w.onLosing != nil {
		w.onLosing(losing)
	}
}

// follow makes sure the sink writes where it should, reopening the file if
// it was moved or deleted, and reports whether the sink can be written.
func (w *writer) follow() bool {
	w.followed = time.Now()
	reopened, err := w.sink.follow()
	if err != nil {
		w.failed(err, 0)
		return false
	}
	if reopened {
		// A torn line was in the old file: the new one starts clean.
		w.torn = false
		w.logger.Warn("decision log file was moved or deleted: reopened it at its path")
	}
	return true
}

// take adds a queued entry to the batch, or drops it once Close has given
// up waiting.
func (w *writer) take(e *Entry) {
	if w.log.aborted.Load() {
		w.log.loss.drop(1)
		return
	}
	w.add(e)
}

// add encodes e into the batch and writes the batch once it is big enough.
// A write holds at most batchBytes, or a single line if one line is bigger:
// an oversized line then fails (and is dropped) on its own, not with the
// lines batched before it. It reports whether every write it made
// succeeded.
func (w *writer) add(e *Entry) bool {
	start := len(w.buf)
	w.buf = appendEntry(w.buf, e)
	w.lines++
	switch {
	case len(w.buf) > batchBytes && start > 0:
		ok := w.write(w.buf[:start], w.lines-1)
		ok = w.write(w.buf[start:], 1) && ok
		w.reset()
		return ok
	case len(w.buf) >= batchBytes:
		return w.flush()
	}
	return true
}

// flush writes the batch and reports whether it was written whole.
func (w *writer) flush() bool {
	ok := w.write(w.buf, w.lines)
	w.reset()
	return ok
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
// otherwise. It reports whether all n were written.
//
// Before writing, the writer checks that the file at the log's path is
// still the one it writes to, if it has not done so for followEvery or the
// last write failed: lines written after an operator or a log shipper
// moved or deleted the file go to a new file at the path. Lines written to
// a moved file in the moment before that stay in it; those written to a
// deleted file are deleted with it, like every line written before.
func (w *writer) write(p []byte, n int) bool {
	if n == 0 {
		return true
	}
	if (w.failing != nil || time.Since(w.followed) >= followEvery) && !w.follow() {
		w.log.loss.drop(n)
		return false
	}
	if w.torn {
		if _, err := w.sink.Write([]byte{'\n'}); err != nil {
			w.failed(err, n)
			return false
		}
		w.torn = false
	}
	m, err := w.sink.Write(p)
	w.writes++
	if err == nil {
		w.log.written.Add(uint64(n))
		w.failing = nil
		w.log.loss.succeeded()
		return true
	}
	whole := bytes.Count(p[:m], []byte{'\n'})
	w.log.written.Add(uint64(whole))
	w.torn = m > 0 && p[m-1] != '\n'
	w.failed(err, n-whole)
	return false
}

// failed counts a failed write or reopen, and n lines dropped because of
// it, and warns, rate-limited.
func (w *writer) failed(err error, n int) {
	w.log.loss.drop(n)
	w.log.loss.failed(err)
	w.writeErrs++
	w.lastErr, w.failing = err, err
	w.report(false)
}

// syncFailedMsg is the warning about a failed fsync of written entries.
const syncFailedMsg = "decision log fsync failed; the entries were written, but may not survive a crash of the machine"

// syncFailed counts a failed fsync of entries that were written, and warns.
// It is no loss: the entries reached the operating system (and count as
// written), the file still takes writes, and Losing stays as it was. It
// happens only before a rotation, so it is not rate-limited.
func (w *writer) syncFailed(err error) {
	w.log.loss.errors.Add(1)
	w.logger.Warn(syncFailedMsg, "error", err.Error())
}

// report warns about drops and write errors not yet reported, at most once
// per warnEvery for each kind unless final.
func (w *writer) report(final bool) {
	dropped := w.log.loss.dropped.Load()
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
