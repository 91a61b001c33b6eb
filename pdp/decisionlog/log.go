package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of [Options] fields.
const (
	// DefaultBufferSize is the number of entries the buffer holds: about a
	// second of a busy PDP's decisions, at roughly 300 bytes each.
	DefaultBufferSize = 4096
	// DefaultBlockTimeout bounds how long [Block] holds up a request.
	DefaultBlockTimeout = 10 * time.Millisecond
	// DefaultMaxSizeMB is the size, in megabytes, at which the log file is
	// rotated.
	DefaultMaxSizeMB = 100
	// CheckInterval is how often an idle writer checks that the file at
	// Path is still the one it writes to (a busy one checks before every
	// write), and re-evaluates [Log.Losing]. An operator or a log shipper
	// that moves or deletes the file sees a new one there within this time.
	CheckInterval = 250 * time.Millisecond
	// DefaultLossWindow is how long [Log.Losing] stays true after an entry
	// was dropped: long enough for a health check to notice a burst of
	// loss, short enough that health recovers promptly once writes
	// succeed.
	DefaultLossWindow = 5 * time.Second
)

const (
	// batchBytes is how much encoded output the writer collects before a
	// write, when entries arrive faster than it can write them.
	batchBytes = 64 << 10
	// defaultWarnEvery is the minimum gap between two warnings about drops,
	// and between two about write errors, so a full disk does not flood the
	// log.
	defaultWarnEvery = 10 * time.Second
)

// Overflow is what [Log.Record] does when the buffer is full.
type Overflow int

const (
	// Drop discards the entry at once and counts it, so logging never adds
	// latency to a decision. It is the zero value.
	Drop Overflow = iota
	// Block waits up to Options.BlockTimeout for room, then discards the
	// entry and counts it: logging may slow decisions down, by a bounded
	// amount, to lose fewer entries.
	Block
)

// String returns "drop" or "block", as UnmarshalText reads them.
func (o Overflow) String() string {
	switch o {
	case Drop:
		return "drop"
	case Block:
		return "block"
	}
	return fmt.Sprintf("Overflow(%d)", int(o))
}

// UnmarshalText reads "drop" or "block", so that flags and configuration
// files can name the overflow behaviour.
func (o *Overflow) UnmarshalText(text []byte) error {
	switch string(text) {
	case "drop":
		*o = Drop
	case "block":
		*o = Block
	default:
		return fmt.Errorf("overflow must be drop or block, not %q", text)
	}
	return nil
}

// Options configures [Open]. Only Path is required.
type Options struct {
	// Path is the log file, or "-" for standard output.
	Path string
	// Sync turns on durable mode: Record returns only once the write that
	// carries its entries has returned, and says whether it succeeded, so
	// that a caller answers a decision only after its entry has reached the
	// operating system. Concurrent Records share one write (group commit).
	// BufferSize, OnFull and BlockTimeout do not apply: the entries waiting
	// are those of the requests waiting.
	Sync bool
	// BufferSize is how many entries can wait for the writer; zero means
	// DefaultBufferSize.
	BufferSize int
	// OnFull is what Record does when the buffer is full.
	OnFull Overflow
	// BlockTimeout is how long Record waits for room in Block mode; zero
	// means DefaultBlockTimeout.
	BlockTimeout time.Duration

	// MaxSizeMB is the size in megabytes at which the file is rotated; zero
	// means DefaultMaxSizeMB. Rotation never splits a line across files.
	// This and the next three fields do not apply to standard output.
	MaxSizeMB int
	// MaxBackups is how many rotated files to keep; zero keeps them all
	// (unless MaxAgeDays removes them).
	MaxBackups int
	// MaxAgeDays is how many days to keep rotated files; zero keeps them
	// regardless of age.
	MaxAgeDays int
	// Compress gzips rotated files.
	Compress bool

	// Logger receives warnings about dropped entries, write errors and
	// reopened files; nil means slog.Default().
	Logger *slog.Logger
	// OnLosingChange, when set, is called each time [Log.Losing] changes,
	// with its new value, from the writer goroutine, within CheckInterval
	// of the change. It must not block for long; it may call Losing and
	// Stats.
	OnLosingChange func(losing bool)
	// LossWindow is how long Losing stays true after an entry was
	// dropped; zero means DefaultLossWindow.
	LossWindow time.Duration

	// Test hooks, zero in production.
	out        io.Writer     // replaces standard output when Path is "-"
	onBlock    func()        // called when Record starts waiting for room
	warnEvery  time.Duration // replaces defaultWarnEvery
	checkEvery time.Duration // replaces CheckInterval
}

// Log is an open decision log. Its methods are safe for concurrent use.
type Log struct {
	path string
	// ch is the buffer of asynchronous mode; group replaces it in sync
	// mode.
	ch           chan Entry
	group        *group
	writer       *writer // sync mode: Records may write themselves
	onFull       Overflow
	blockTimeout time.Duration
	onBlock      func()

	// mu orders Record's sends before Close's close(ch): Record holds it
	// shared while sending, Close exclusively while setting closed. A send
	// on a closed channel would panic, and an entry sent after the writer
	// finished would be lost without being counted.
	mu     sync.RWMutex
	closed bool

	written atomic.Uint64
	aborted atomic.Bool // Close gave up waiting: drop what is still queued
	loss    loss

	closeOnce sync.Once
	done      chan struct{} // closed when the writer has finished
	err       error         // the writer's final flush/sync/close error; read after done
}

// ErrDropped is what Record returns for entries that were not written: the
// buffer was full, a write failed (sync mode), or the Log was closing. Each
// such entry is counted by Dropped.
var ErrDropped = errors.New("decision log entry not written")

// Open validates opts, opens the log file (so that a bad path fails here and
// not on the first decision) and starts the writer goroutine. The returned
// Log must be closed with [Log.Close].
func Open(opts Options) (*Log, error) {
	if opts.Path == "" {
		return nil, errors.New("decisionlog: open: Path is empty (use \"-\" for standard output)")
	}
	if opts.OnFull != Drop && opts.OnFull != Block {
		return nil, fmt.Errorf("decisionlog: open: OnFull is %v, want Drop or Block", opts.OnFull)
	}
	if opts.BufferSize < 0 || opts.BlockTimeout < 0 || opts.MaxSizeMB < 0 || opts.MaxBackups < 0 || opts.MaxAgeDays < 0 || opts.LossWindow < 0 {
		return nil, errors.New("decisionlog: open: BufferSize, BlockTimeout, MaxSizeMB, MaxBackups, MaxAgeDays and LossWindow must not be negative")
	}
	if opts.BufferSize == 0 {
		opts.BufferSize = DefaultBufferSize
	}
	if opts.BlockTimeout == 0 {
		opts.BlockTimeout = DefaultBlockTimeout
	}
	if opts.MaxSizeMB == 0 {
		opts.MaxSizeMB = DefaultMaxSizeMB
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.warnEvery == 0 {
		opts.warnEvery = defaultWarnEvery
	}
	if opts.checkEvery == 0 {
		opts.checkEvery = CheckInterval
	}
	if opts.LossWindow == 0 {
		opts.LossWindow = DefaultLossWindow
	}

	s, err := openSink(&opts)
	if err != nil {
		return nil, fmt.Errorf("decisionlog: open %s: %w", opts.Path, err)
	}
	l := &Log{
		path:         opts.Path,
		onFull:       opts.OnFull,
		blockTimeout: opts.BlockTimeout,
		onBlock:      opts.onBlock,
		loss:         newLoss(opts.LossWindow),
		done:         make(chan struct{}),
	}
	w := &writer{
		log:        l,
		sink:       s,
		logger:     opts.Logger.With("path", opts.Path),
		buf:        make([]byte, 0, batchBytes),
		warnEvery:  opts.warnEvery,
		checkEvery: opts.checkEvery,
		onLosing:   opts.OnLosingChange,
	}
	if fs, ok := s.(*fileSink); ok {
		fs.syncFailed = w.syncFailed
	}
	if opts.Sync {
		l.group, l.writer = newGroup(), w
		go w.runSync(l.group)
	} else {
		l.ch = make(chan Entry, opts.BufferSize)
		go w.run()
	}
	return l, nil
}

// Record hands es to the log, in order.
//
// In asynchronous mode (the default) it queues them and returns without
// encoding or I/O. If the buffer is full, an entry is dropped or waited for
// as Options.OnFull says (a Block wait also ends with ctx); after Close has
// started it is dropped. Record returns ErrDropped if any entry was
// dropped, and nil once all are queued: a queued entry may still be lost to
// a failed write later, which Dropped and Stats report.
//
// In sync mode (Options.Sync) it returns once the write carrying es has
// returned: nil when every entry reached the operating system, an error
// wrapping ErrDropped when one did not (a write failed, or the Log is
// closing). All of es go into the same write group, so a caller waits once.
// If ctx ends first Record returns ctx's error; the entries are still
// written, or counted as dropped, as if it had waited.
//
// Record keeps the entries' slices: the caller must not modify them
// afterwards.
func (l *Log) Record(ctx context.Context, es ...Entry) error {
	if l.group != nil {
		return l.group.commit(ctx, l, es)
	}
	var err error
	for i := range es {
		if !l.enqueue(ctx, &es[i]) {
			l.loss.drop(1)
			err = ErrDropped
		}
	}
	return err
}

// enqueue puts e in the asynchronous buffer, reporting whether it did.
func (l *Log) enqueue(ctx context.Context, e *Entry) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return false
	}
	select {
	case l.ch <- *e:
		return true
	default:
	}
	return l.onFull == Block && l.wait(ctx, e)
}

// wait tries to queue e for up to the block timeout. It is the slow path
// of enqueue, kept apart so the fast path stays small.
func (l *Log) wait(ctx context.Context, e *Entry) bool {
	if l.onBlock != nil {
		l.onBlock()
	}
	t := time.NewTimer(l.blockTimeout)
	defer t.Stop()
	select {
	case l.ch <- *e:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// Close stops accepting entries, waits for the writer to write everything
// queued, then flushes, fsyncs and closes the file. When it returns nil,
// every entry recorded before Close was called and not counted by Dropped is
// on disk (or, for standard output, written to it). It returns an error if
// the last write failed (entries are missing) or the file could not be
// synced or closed; earlier losses are in Dropped and the warnings.
//
// If ctx ends first, Close returns ctx's error and the writer drops (and
// counts) whatever is still queued, then closes the file in the background.
// In Block mode Close first waits for Records that are waiting for room
// (Records arriving meanwhile wait with it), which takes at most the block
// timeout.
//
// Close may be called more than once and concurrently with Record; every
// call waits for the same shutdown and returns the same error.
func (l *Log) Close(ctx context.Context) error {
	l.closeOnce.Do(func() {
		if l.group != nil {
			l.group.close()
			return
		}
		l.mu.Lock()
		l.closed = true
		close(l.ch)
		l.mu.Unlock()
	})
	select {
	case <-l.done:
		return l.err
	default:
	}
	select {
	case <-l.done:
		return l.err
	case <-ctx.Done():
		l.aborted.Store(true)
		return fmt.Errorf("decisionlog: close: gave up draining, queued entries are dropped: %w", ctx.Err())
	}
}

// Dropped returns how many entries have been lost: because the buffer was
// full, because writing them (or reopening the file for them) failed, or
// because they were recorded after Close started. It only grows.
func (l *Log) Dropped() uint64 { return l.loss.dropped.Load() }

// Written returns how many entries have been handed to the file (or standard
// output) successfully. Once Close has returned nil, Written+Dropped equals
// the number of entries passed to Record calls that have returned.
func (l *Log) Written() uint64 { return l.written.Load() }
