package main

import (
	"time"

	"github.com/cedargate/cedargate/benchmarks/internal/proc"
)

// results are everything one run measured; they are written as JSON
// beside the Markdown report, for later comparison.
type results struct {
	Command           string
	Machine           proc.Machine
	Started, Finished time.Time
	RunDuration       time.Duration
	Concurrency       int
	Connections       int

	Builds  []buildResult
	Floor   floorResult
	Mixes   []mixResult
	Batches []batchResult
	Log     logResult
	Sizes   []sizeResult
	Reload  reloadResult
	Peer    peerResult
	Engine  []engineResult
}

type buildResult struct {
	Size, Revision                         string
	Identities, Policies, Grants, Entities int
	Wall, CPU                              time.Duration
	MaxRSS                                 int64
}

// floorResult compares Authorize (10k bundle, allow mix, decision log
// off) with the bare health check, per round.
type floorResult struct {
	HealthSat, AuthzSat   []load
	Rate                  int // half of Authorize's saturation
	HealthHalf, AuthzHalf []load
}

type mixResult struct {
	Mix      string
	Load     load
	AllowPct float64
}

type batchResult struct {
	Size        int
	Sat, AtRate load
}

// logResult compares servers with the decision log on (Sat, Half), on
// with --decision-log-sync (SyncSat, SyncHalf) and off (OffSat, OffHalf),
// measured in alternating rounds.
type logResult struct {
	Sat, Half         []load
	SyncSat, SyncHalf []load
	OffSat, OffHalf   []load
	Dropped           float64
	SyncDropped       float64
	Bytes             int64
}

type sizeResult struct {
	Size               string
	Policies, Entities int
	RSS                int64
	Sat, Half          load
}

type reloadResult struct {
	Size string
	Rate int
	// Wall is from the rollout (the store's active pointer replaced) to
	// GetStatus reporting the new revision; Activation is the server's own
	// measure (load, verify, compile, swap).
	Wall, Activation                      time.Duration
	SteadyRSS, PeakRSS, PeakHWM, FinalRSS int64
	Load                                  load
}

type peerResult struct {
	OPAVersion                  string
	Compared, Agreed, Allowed   int
	OPASat, OPAHealthSat, CGSat load
	Rate                        int
	OPAHalf, OPAHealthHalf      []load
	CGHalf, CGHealthHalf        []load
	// CGHTTPSat and CGHTTPHalf are cedargate's AuthZEN API (HTTP
	// evaluation, vegeta) on the same workload; CGHTTPBatchSat and
	// CGHTTPBatchHalf its evaluations of AuthZENBatch, the latter at the
	// same decision rate.
	CGHTTPSat, CGHTTPBatchSat   load
	CGHTTPHalf, CGHTTPBatchHalf []load
}

type engineResult struct {
	Name    string
	Metrics map[string]float64
}
