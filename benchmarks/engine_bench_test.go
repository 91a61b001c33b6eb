package benchmarks

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cedargate/cedargate/benchmarks/workload"
	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// benchNow is the instant every benchmark repository is written for, so
// that results from different days decide the same requests.
var benchNow = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// requestsPerMix is how many requests each benchmark cycles through. It
// is prime to the sampling stride, so every request is sampled.
const (
	requestsPerMix = 1000
	sampleEvery    = 7
)

// built is a generated repository compiled into a snapshot, shared by
// every benchmark of the process (building the largest takes seconds).
type built struct {
	once   sync.Once
	repo   *workload.Repo
	bundle *bundle.Bundle
	snap   *engine.Snapshot
	err    error
}

var cache sync.Map // size name → *built

// load builds the standard repository size once per process, exactly as
// `cedargate build --env prod` does (guardrails and decision tests
// included).
func load(tb testing.TB, size string) *built {
	tb.Helper()
	v, _ := cache.LoadOrStore(size, &built{})
	bt := v.(*built)
	bt.once.Do(func() {
		bt.err = func() error {
			spec, err := workload.Size(size, benchNow)
			if err != nil {
				return err
			}
			if bt.repo, err = workload.Generate(spec); err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "cedargate-bench-"+size+"-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if err := bt.repo.Write(dir); err != nil {
				return err
			}
			out, err := build.Build(context.Background(), dir, build.Options{Env: workload.Env, Now: benchNow, Revision: "bench-" + size})
			if err != nil {
				return fmt.Errorf("building %s: %w", size, err)
			}
			bt.bundle = out.Bundle
			bt.snap, err = engine.New(out.Bundle)
			return err
		}()
	})
	if bt.err != nil {
		tb.Fatal(bt.err)
	}
	return bt
}

// requests draws a mix as the server sees it: marshalled, unmarshalled
// and decoded, decided an hour after the repository's instant.
func (bt *built) requests(tb testing.TB, mix workload.Mix) ([]*pb.AuthorizeRequest, []*engine.Request) {
	tb.Helper()
	reqs, err := bt.repo.Requests(mix, requestsPerMix)
	if err != nil {
		tb.Fatal(err)
	}
	wireReqs := make([]*pb.AuthorizeRequest, len(reqs))
	decoded := make([]*engine.Request, len(reqs))
	for i, r := range reqs {
		data, err := proto.Marshal(r)
		if err != nil {
			tb.Fatal(err)
		}
		wireReqs[i] = &pb.AuthorizeRequest{}
		if err := proto.Unmarshal(data, wireReqs[i]); err != nil {
			tb.Fatal(err)
		}
		if decoded[i], err = wire.DecodeRequest(wireReqs[i], wire.Limits{}); err != nil {
			tb.Fatal(err)
		}
		decoded[i].Time = benchNow.Add(time.Hour)
	}
	return wireReqs, decoded
}

// run times f over the requests, cycling, and reports the median and
// 99th percentile of single calls besides the mean.
func run[T any](b *testing.B, reqs []T, f func(T)) {
	samples := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := reqs[i%len(reqs)]
		if i%sampleEvery == 0 && len(samples) < cap(samples) {
			t0 := time.Now()
			f(r)
			samples = append(samples, time.Since(t0))
		} else {
			f(r)
		}
		i++
	}
	if len(samples) > 0 {
		slices.Sort(samples)
		b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
	}
}

// reportShape, called after the timed loop (b.Loop clears earlier
// metrics), adds the bundle's size and the mean candidates per decision
// to the benchmark's output.
func reportShape(b *testing.B, bt *built, reqs []*engine.Request) {
	cands, allowed := 0, 0
	for _, r := range reqs {
		cands += bt.snap.Candidates(r)
		if bt.snap.Decide(r).Allow {
			allowed++
		}
	}
	b.ReportMetric(float64(cands)/float64(len(reqs)), "candidates/op")
	b.ReportMetric(float64(bt.snap.PolicyCount()), "policies")
	b.ReportMetric(float64(bt.snap.EntityCount()), "entities")
	b.ReportMetric(100*float64(allowed)/float64(len(reqs)), "%allow")
}

// engineSizes are the repositories the engine benchmarks decide against,
// smallest first.
var engineSizes = []string{"p100", "1k", "10k", "p10k", "100k"}

// BenchmarkDecide is one decision (Snapshot.Decide, after decoding) for
// every size and mix. Issue 4's engine target compares p50-ns of p10k
// (10k policies, 100k entities) with p100 (100 policies, 1k entities).
func BenchmarkDecide(b *testing.B) {
	benchDecide(b, engineSizes, workload.Mixes())
}

// BenchmarkDepth compares group hierarchies 1 and 10 levels deep in
// repositories otherwise alike: the deep mix reaches its grants through
// every level. Issue 4 asks depth 10 to cost at most twice depth 1.
func BenchmarkDepth(b *testing.B) {
	benchDecide(b, []string{"depth1", "depth10"}, []workload.Mix{workload.Deep, workload.Allow})
}

// benchDecide runs one sub-benchmark size=S/mix=M of Snapshot.Decide for
// every size and mix given.
func benchDecide(b *testing.B, sizes []string, mixes []workload.Mix) {
	for _, size := range sizes {
		for _, mix := range mixes {
			b.Run(fmt.Sprintf("size=%s/mix=%s", size, mix), func(b *testing.B) {
				bt := load(b, size)
				_, reqs := bt.requests(b, mix)
				run(b, reqs, func(r *engine.Request) { bt.snap.Decide(r) })
				reportShape(b, bt, reqs)
			})
		}
	}
}

// BenchmarkDecodeDecide is the server's work for one Authorize between
// gRPC's unmarshalling and marshalling: decode, decide, encode the
// response.
func BenchmarkDecodeDecide(b *testing.B) {
	ref := wire.EncodeBundleRef(bundle.Ref{Revision: "r", Digest: "d", Environment: "prod"})
	for _, mix := range workload.Mixes() {
		b.Run("size=10k/mix="+string(mix), func(b *testing.B) {
			bt := load(b, "10k")
			reqs, _ := bt.requests(b, mix)
			at := benchNow.Add(time.Hour)
			run(b, reqs, func(r *pb.AuthorizeRequest) {
				er, err := wire.DecodeRequest(r, wire.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				er.Time = at
				wire.EncodeResponse(bt.snap.Decide(er), "id", ref)
			})
		})
	}
}

// BenchmarkNew is the engine's share of activating a bundle: parsing the
// policies and entities, computing ancestor sets and the scope index.
func BenchmarkNew(b *testing.B) {
	for _, size := range []string{"10k", "100k"} {
		b.Run("size="+size, func(b *testing.B) {
			bt := load(b, size)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := engine.New(bt.bundle); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
