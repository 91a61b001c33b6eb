// Package parallel runs independent pieces of a batch job (parsing the
// files of a repository, say) on every core, without goroutines that
// outlive the call.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// For calls fn(i) for every i in [0, n) on at most GOMAXPROCS goroutines,
// and returns once every call has returned. Calls run in no particular
// order: a caller that needs determinism writes each result to its own
// slot (out[i]) and reads the slots in order afterwards.
func For(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// Chunks calls fn on consecutive ranges [lo, hi) that cover [0, n), one
// range per processor but none shorter than minChunk (less is not worth
// a goroutine), and returns once every call has returned. It suits work
// whose items are alike and want per-goroutine scratch (a decoder per
// range); For suits items of uneven size.
func Chunks(n, minChunk int, fn func(lo, hi int)) {
	workers := max(1, min(runtime.GOMAXPROCS(0), n/max(1, minChunk)))
	if workers == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// Go starts fn on a goroutine of its own, beside the caller's work, and
// returns a function that waits for fn to return and returns its result.
// The caller calls it once, on every path, so that no goroutine outlives
// its own call; a panic in fn is raised again there.
func Go[T any](fn func() T) (wait func() T) {
	done := make(chan struct{})
	var out T
	var panicked any
	go func() {
		defer close(done)
		defer func() { panicked = recover() }()
		out = fn()
	}()
	return func() T {
		<-done
		if panicked != nil {
			panic(panicked)
		}
		return out
	}
}
