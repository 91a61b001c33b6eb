package decisionlog

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func benchEntry() Entry {
	e := baseEntry()
	e.Allow = true
	e.DecisionID = "0193f0c2-7a1e-7c3d-9b1a-4f2e8d6c5b4a"
	e.Policies = []string{"allow-readers", "team-docs"}
	e.Caller = "spiffe://acme.example/ns/prod/sa/gateway"
	return e
}

// BenchmarkRecord measures the request-path cost of Record.
//
// "parallel" records from GOMAXPROCS goroutines as fast as they can. The
// writer cannot keep up with callers that do nothing but Record, so most of
// these entries take the full-buffer path; dropped/op says how many.
// "queued" measures the path where the buffer has room: the writer is held
// inside a write, and the buffer is drained, untimed, before it fills.
func BenchmarkRecord(b *testing.B) {
	discard := slog.New(slog.DiscardHandler)
	e := benchEntry()
	b.Run("parallel", func(b *testing.B) {
		l, err := Open(Options{Path: "-", out: io.Discard, BufferSize: 1 << 16, Logger: discard})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Record(context.Background(), e)
			}
		})
		b.StopTimer()
		if err := l.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
	})
	b.Run("queued", func(b *testing.B) {
		const size = 1 << 14
		w := newGateWriter()
		w.discard = true
		l, err := Open(Options{Path: "-", out: w, BufferSize: size, Logger: discard})
		if err != nil {
			b.Fatal(err)
		}
		l.Record(context.Background(), e)
		w.waitEntered(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i%size == size-1 {
				b.StopTimer()
				for len(l.ch) > 0 {
					w.gate <- struct{}{}
				}
				b.StartTimer()
			}
			l.Record(context.Background(), e)
		}
		b.StopTimer()
		close(w.gate)
		if err := l.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		if l.Dropped() != 0 {
			b.Fatalf("Dropped %d: the buffer filled", l.Dropped())
		}
	})
}

// BenchmarkRecordSync measures Record in sync mode to a real file from
// many goroutines: CPU per entry (the process's, all threads), and how
// many entries group commit puts in one write.
func BenchmarkRecordSync(b *testing.B) {
	e := benchEntry()
	l, err := Open(Options{Path: filepath.Join(b.TempDir(), "d.log"), Sync: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	cpu0 := processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Record(context.Background(), e); err != nil {
				b.Error(err)
			}
		}
	})
	cpu := processCPU(b) - cpu0
	if err := l.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/float64(max(1, l.writer.writes)), "entries/write")
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEncode measures encoding one entry into a reused buffer, the
// writer's per-entry CPU cost.
func BenchmarkEncode(b *testing.B) {
	e := benchEntry()
	buf := appendEntry(nil, &e)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEntry(buf[:0], &e)
	}
}

// BenchmarkThroughput measures how many entries per second the whole
// pipeline sustains when nothing may be dropped (Block), to size BufferSize.
func BenchmarkThroughput(b *testing.B) {
	l, err := Open(Options{Path: "-", out: io.Discard, OnFull: Block, BlockTimeout: time.Minute,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	e := benchEntry()
	b.ReportAllocs()
	for b.Loop() {
		l.Record(context.Background(), e)
	}
	if err := l.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if l.Dropped() != 0 {
		b.Fatalf("Dropped %d", l.Dropped())
	}
}
