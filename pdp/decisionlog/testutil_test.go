package decisionlog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"
)

// entryFor returns the i-th entry of recorder g; every field varies with i so
// that a mix-up between entries shows.
func entryFor(g, i int) Entry {
	e := Entry{
		DecisionID: fmt.Sprintf("g%d-%d", g, i),
		Time:       time.Date(2025, 1, 2, 3, 4, 5, i, time.UTC),
		Principal:  types.NewEntityUID("Acme::User", types.String(fmt.Sprintf("user-%d", i%7))),
		Action:     types.NewEntityUID("Acme::Action", "read"),
		Resource:   types.NewEntityUID("Acme::Doc", types.String(fmt.Sprintf("doc \"%d\"", i))),
		Allow:      i%2 == 0,
		Bundle:     Bundle{Revision: fmt.Sprintf("rev-%d", g), Digest: "sha256:00ff", Environment: "prod"},
		Latency:    time.Duration(i) * time.Microsecond,
	}
	if i%3 == 0 {
		e.Policies = []string{fmt.Sprintf("p%d", i)}
	}
	if i%5 == 0 {
		e.Errors = []Error{{PolicyID: "p-err", Message: fmt.Sprintf("error\n%d", i)}}
	}
	if i%4 != 0 {
		e.Caller = "spiffe://acme/pep"
	}
	if i%6 == 1 {
		e.Frontend = "authzen"
	}
	return e
}

// parseID splits a decision id made by entryFor.
func parseID(t testing.TB, line []byte) (g, i int) {
	t.Helper()
	if _, err := fmt.Sscanf(string(line), `{"decision_id":"g%d-%d"`, &g, &i); err != nil {
		t.Fatalf("line %q has no entryFor id: %v", line, err)
	}
	return g, i
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Collect(bytes.Lines(data))
}

// waitFor polls cond until it holds, failing t after a generous deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// mustOpen opens a Log that is closed when the test ends, if the test has not
// closed it.
func mustOpen(t testing.TB, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

func mustClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// gateWriter is an io.Writer whose writes wait for a token, so a test can
// hold the writer goroutine inside a write and fill the buffer behind it.
type gateWriter struct {
	entered chan struct{} // one value per Write (up to its capacity), sent before waiting
	gate    chan struct{} // one token per Write; close it to open for good
	discard bool          // do not keep what is written (benchmarks write gigabytes)
	mu      sync.Mutex
	buf     bytes.Buffer
}

func newGateWriter() *gateWriter {
	return &gateWriter{entered: make(chan struct{}, 1<<16), gate: make(chan struct{})}
}

func (w *gateWriter) Write(p []byte) (int, error) {
	select {
	case w.entered <- struct{}{}:
	default: // nobody is counting writes (a benchmark): do not wait for them
	}
	<-w.gate
	if w.discard {
		return len(p), nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *gateWriter) lines() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Collect(bytes.Lines(bytes.Clone(w.buf.Bytes())))
}

// waitEntered waits until the writer goroutine is inside a Write.
func (w *gateWriter) waitEntered(t testing.TB) {
	t.Helper()
	select {
	case <-w.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the writer to write")
	}
}

// recordingHandler is a slog.Handler that keeps records for inspection.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// find returns, for each record at level, the value of attribute key.
func (h *recordingHandler) find(level slog.Level, key string) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var vals []int64
	for _, r := range h.records {
		if r.Level != level {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				switch a.Value.Kind() {
				case slog.KindInt64:
					vals = append(vals, a.Value.Int64())
				case slog.KindUint64:
					vals = append(vals, int64(a.Value.Uint64()))
				}
			}
			return true
		})
	}
	return vals
}

// count returns how many records have message msg.
func (h *recordingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Message == msg {
			n++
		}
	}
	return n
}

// syncedWriter collects what is written, for tests that read it while
// the writer goroutine writes.
type syncedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	err error // returned by every Write while set
}

func (w *syncedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	return w.buf.Write(p)
}

func (w *syncedWriter) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}
