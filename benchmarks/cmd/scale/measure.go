package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cedargate/cedargate/benchmarks/workload"
	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// snapshotResult is what a child process measured of a bundle's
// snapshot.
type snapshotResult struct {
	Entities, Policies, Grants int
	// New is how long engine.New took; Heap the live heap the snapshot
	// holds once the bundle is dropped and garbage collected.
	New  time.Duration
	Heap int64
	// Decide is, by request mix, the decisions' times.
	Decide map[string]decideResult
}

// decideResult summarises single decisions of one mix.
type decideResult struct {
	Decisions      int
	Mean, P50, P99 time.Duration
	// Allowed is the share of requests allowed, in percent; Candidates
	// the mean number of policies a decision evaluates
	// (Snapshot.Candidates), which tells a workload whose principals
	// reach more grants from one that is only larger.
	Allowed, Candidates float64
}

// decideMixes are the mixes the medians are measured for.
var decideMixes = []workload.Mix{workload.Allow, workload.Deny, workload.Deep}

// measureSnapshot loads the bundle at path, measures its snapshot and
// decides the requests of size's repository, and writes the result as
// JSON to w.
func measureSnapshot(w io.Writer, path, size string, now time.Time, each time.Duration) error {
	b, err := bundle.DecodeFile(path, bundle.DecodeOptions{MaxSize: maxBundleBytes})
	if err != nil {
		return err
	}
	t0 := time.Now()
	snap, err := engine.New(b)
	if err != nil {
		return err
	}
	res := snapshotResult{New: time.Since(t0), Entities: snap.EntityCount(), Policies: snap.PolicyCount(), Grants: snap.GrantCount(),
		Decide: map[string]decideResult{}}
	// The heap the bundle itself held, decoded, is gone once it is
	// dropped: what remains is the snapshot (and this process's small
	// fixed heap).
	b = nil
	runtime.GC()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.Heap = int64(after.HeapAlloc)

	spec, err := workload.Size(size, now)
	if err != nil {
		return err
	}
	repo, err := workload.Generate(spec)
	if err != nil {
		return err
	}
	for _, mix := range decideMixes {
		reqs, err := decodedRequests(repo, mix, now.Add(time.Hour))
		if err != nil {
			return err
		}
		res.Decide[string(mix)] = decide(snap, reqs, each)
	}
	runtime.KeepAlive(snap)
	return json.NewEncoder(w).Encode(res)
}

// decodedRequests draws 1,000 requests of mix as the server sees them:
// marshalled, unmarshalled and decoded, decided at instant at.
func decodedRequests(repo *workload.Repo, mix workload.Mix, at time.Time) ([]*engine.Request, error) {
	reqs, err := repo.Requests(mix, 1000)
	if err != nil {
		return nil, err
	}
	out := make([]*engine.Request, len(reqs))
	for i, r := range reqs {
		data, err := proto.Marshal(r)
		if err != nil {
			return nil, err
		}
		var back pb.AuthorizeRequest
		if err := proto.Unmarshal(data, &back); err != nil {
			return nil, err
		}
		if out[i], err = wire.DecodeRequest(&back, wire.Limits{}); err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
		out[i].Time = at
	}
	return out, nil
}

// decide decides reqs round robin for about each, timing every seventh
// decision (prime to the 1,000 requests, so every request is timed).
func decide(snap *engine.Snapshot, reqs []*engine.Request, each time.Duration) decideResult {
	var res decideResult
	allowed, cands := 0, 0
	for _, r := range reqs {
		if snap.Decide(r).Allow {
			allowed++
		}
		cands += snap.Candidates(r)
	}
	res.Allowed = 100 * float64(allowed) / float64(len(reqs))
	res.Candidates = float64(cands) / float64(len(reqs))
	samples := make([]time.Duration, 0, 1<<16)
	start := time.Now()
	n := 0
	for time.Since(start) < each {
		for range 1000 {
			r := reqs[n%len(reqs)]
			if n%7 == 0 && len(samples) < cap(samples) {
				t0 := time.Now()
				snap.Decide(r)
				samples = append(samples, time.Since(t0))
			} else {
				snap.Decide(r)
			}
			n++
		}
	}
	res.Decisions = n
	res.Mean = time.Since(start) / time.Duration(n)
	slices.Sort(samples)
	res.P50, res.P99 = samples[len(samples)/2], samples[len(samples)*99/100]
	return res
}
