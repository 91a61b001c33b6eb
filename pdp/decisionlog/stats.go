package decisionlog

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats is what a Log has done since it was opened, for status pages and
// metrics. Every entry recorded is, once handled, either Written or
// Dropped.
type Stats struct {
	// Path is the log file, or "-" for standard output.
	Path string
	// Sync is true in durable mode (Options.Sync).
	Sync bool
	// Written counts entries handed to the file whole.
	Written uint64
	// Dropped counts entries lost, whatever the cause.
	Dropped uint64
	// Errors counts failed writes and failed reopens of the file, and
	// failed fsyncs of entries that were written (which lose nothing, and
	// leave LastError and Losing as they were).
	Errors uint64
	// LastError is the error of the last write or reopen if it failed;
	// empty once a write has succeeded since.
	LastError string
	// LastErrorTime is when LastError happened; zero when LastError is
	// empty.
	LastErrorTime time.Time
	// Losing is Losing's value.
	Losing bool
}

// Stats returns the Log's counters and error state.
func (l *Log) Stats() Stats {
	st := Stats{Path: l.path, Sync: l.group != nil, Written: l.written.Load(), Dropped: l.loss.dropped.Load(),
		Errors: l.loss.errors.Load(), Losing: l.Losing()}
	st.LastError, st.LastErrorTime = l.loss.lastError()
	return st
}

// Losing reports whether entries are being lost right now: the last write
// (or reopen) failed, or an entry was dropped within the last
// Options.LossWindow.
// It is the condition under which a PDP that must log every decision stops
// reporting itself healthy; Options.OnLosingChange reports its changes.
func (l *Log) Losing() bool { return l.loss.losing() }

// loss is the Log's account of what it failed to write. Counters are
// updated by Record (a full buffer) and by the writer (failed writes);
// the error text and time are set and cleared by the writer only.
type loss struct {
	dropped atomic.Uint64
	errors  atomic.Uint64
	// failing is set while the last write or reopen has failed.
	failing atomic.Bool
	// lastDrop is when the last entry was dropped, in nanoseconds since
	// epoch plus one (zero: never). A monotonic clock, so that a jump of
	// the wall clock neither prolongs nor cuts the window.
	lastDrop atomic.Int64
	epoch    time.Time
	window   time.Duration

	mu      sync.Mutex
	err     string
	errTime time.Time
}

func newLoss(window time.Duration) loss { return loss{epoch: time.Now(), window: window} }

// drop counts n lost entries.
func (s *loss) drop(n int) {
	if n == 0 {
		return
	}
	s.dropped.Add(uint64(n))
	s.lastDrop.Store(int64(time.Since(s.epoch)) + 1)
}

// failed records a failed write or reopen.
func (s *loss) failed(err error) {
	s.errors.Add(1)
	s.failing.Store(true)
	s.mu.Lock()
	s.err, s.errTime = err.Error(), time.Now()
	s.mu.Unlock()
}

// succeeded records a successful write.
func (s *loss) succeeded() {
	if !s.failing.Load() {
		return
	}
	s.failing.Store(false)
	s.mu.Lock()
	s.err, s.errTime = "", time.Time{}
	s.mu.Unlock()
}

func (s *loss) lastError() (string, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err, s.errTime
}

func (s *loss) losing() bool {
	if s.failing.Load() {
		return true
	}
	last := s.lastDrop.Load()
	return last != 0 && time.Since(s.epoch) < time.Duration(last-1)+s.window
}
