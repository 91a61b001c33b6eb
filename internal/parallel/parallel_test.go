package parallel

import (
	"runtime"
	"sync/atomic"
	"testing"
)

func TestForCallsEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		counts := make([]atomic.Int32, n)
		For(n, func(i int) { counts[i].Add(1) })
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("n=%d: index %d called %d times, want 1", n, i, c)
			}
		}
	}
}

func TestForBoundsItsGoroutines(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	procs := runtime.GOMAXPROCS(0)
	n := procs * 4
	done := make(chan struct{})
	go func() {
		For(n, func(int) {
			c := running.Add(1)
			for {
				p := peak.Load()
				if c <= p || peak.CompareAndSwap(p, c) {
					break
				}
			}
			<-release
			running.Add(-1)
		})
		close(done)
	}()
	for range n {
		release <- struct{}{}
	}
	<-done
	if p := peak.Load(); p > int32(procs) {
		t.Fatalf("%d calls ran at once, want at most GOMAXPROCS=%d", p, procs)
	}
}

func TestChunksCoverEveryIndexOnceInRangesOfAtLeastMinChunk(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 513, 10000} {
		counts := make([]atomic.Int32, n)
		var calls atomic.Int32
		Chunks(n, 256, func(lo, hi int) {
			calls.Add(1)
			if hi-lo < 256 && hi-lo != n {
				t.Errorf("n=%d: range [%d, %d) shorter than the minimum", n, lo, hi)
			}
			for i := lo; i < hi; i++ {
				counts[i].Add(1)
			}
		})
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("n=%d: index %d covered %d times, want 1", n, i, c)
			}
		}
		if want := max(1, min(runtime.GOMAXPROCS(0), n/256)); int(calls.Load()) != want {
			t.Errorf("n=%d: %d ranges, want %d", n, calls.Load(), want)
		}
	}
}

func TestGoRunsBesideTheCallerAndReturnsItsResult(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	wait := Go(func() int {
		close(started)
		<-release
		return 42
	})
	// fn runs while the caller still works: it starts before the caller
	// lets it finish.
	<-started
	close(release)
	if got := wait(); got != 42 {
		t.Fatalf("Go returned %d, want 42", got)
	}
}

func TestGoRaisesAPanicOfFnInTheWaiter(t *testing.T) {
	wait := Go(func() int { panic("boom") })
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the panic of fn", r)
		}
	}()
	wait()
	t.Fatal("wait returned after fn panicked")
}
