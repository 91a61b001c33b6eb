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
