package benchmarks

import (
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/access"
)

// The effective-access benchmarks (issue 10): one principal's access and
// one resource's access on a loaded bundle, and the whole table, at each
// size, so that the results show how cost grows. Each op answers one
// query for the next of 64 principals (or resources) spread over the
// bundle; entries/op is the answer's size.

// analyzer indexes the size's bundle for effective-access queries.
func analyzer(b *testing.B, size string) *access.Analyzer {
	bt := load(b, size)
	a, err := access.NewFromSnapshot(bt.snap, bt.bundle)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// sample returns up to n entities of the analyzer whose type ends in one
// of suffixes, spread evenly.
func sample(a *access.Analyzer, n int, suffixes ...string) []types.EntityUID {
	var all []types.EntityUID
	for _, e := range a.Entities() {
		for _, s := range suffixes {
			if strings.HasSuffix(string(e.Type), s) {
				all = append(all, e)
			}
		}
	}
	if len(all) <= n {
		return all
	}
	out := make([]types.EntityUID, n)
	for i := range out {
		out[i] = all[i*len(all)/n]
	}
	return out
}

func benchQueries(b *testing.B, a *access.Analyzer, uids []types.EntityUID, query func(types.EntityUID) access.Query) {
	if len(uids) == 0 {
		b.Fatal("no entities to query")
	}
	entries := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t, err := a.Query(query(uids[i%len(uids)]))
		if err != nil {
			b.Fatal(err)
		}
		entries += len(t.Entries)
		i++
	}
	b.ReportMetric(float64(entries)/float64(i), "entries/op")
}

// BenchmarkAccessPrincipal is `access --principal`: what one user or
// service account can do (target: ≤ 50 ms at 100k).
func BenchmarkAccessPrincipal(b *testing.B) {
	for _, size := range []string{"1k", "10k", "100k"} {
		b.Run("size="+size, func(b *testing.B) {
			a := analyzer(b, size)
			at := benchNow.Add(time.Hour)
			benchQueries(b, a, sample(a, 64, "::User", "::ServiceAccount"), func(u types.EntityUID) access.Query {
				return access.Query{Principal: u, At: at}
			})
		})
	}
}

// BenchmarkAccessResource is `access --resource`: who can do what on one
// resource (target: ≤ 50 ms at 100k).
func BenchmarkAccessResource(b *testing.B) {
	for _, size := range []string{"1k", "10k", "100k"} {
		b.Run("size="+size, func(b *testing.B) {
			a := analyzer(b, size)
			at := benchNow.Add(time.Hour)
			var resources []types.EntityUID
			for _, e := range a.Entities() {
				if !strings.HasSuffix(string(e.Type), "::User") && !strings.HasSuffix(string(e.Type), "::ServiceAccount") &&
					!strings.HasSuffix(string(e.Type), "::Group") && !strings.HasSuffix(string(e.Type), "::Team") {
					resources = append(resources, e)
				}
			}
			step := max(1, len(resources)/64)
			var picked []types.EntityUID
			for i := 0; i < len(resources); i += step {
				picked = append(picked, resources[i])
			}
			benchQueries(b, a, picked, func(u types.EntityUID) access.Query {
				return access.Query{Resource: u, At: at}
			})
		})
	}
}

// BenchmarkAccessTable is `access` with no filter: the whole effective
// access table (target: ≤ 10 s at 10k).
func BenchmarkAccessTable(b *testing.B) {
	for _, size := range []string{"1k", "10k"} {
		b.Run("size="+size, func(b *testing.B) {
			a := analyzer(b, size)
			at := benchNow.Add(time.Hour)
			// Streamed, as `access --format csv` writes it: the 10k table
			// has tens of millions of entries.
			entries := 0
			b.ReportAllocs()
			for b.Loop() {
				for range a.Each(access.Query{At: at}) {
					entries++
				}
			}
			b.ReportMetric(float64(entries)/float64(b.N), "entries/op")
		})
	}
}
