package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cedargate/cedargate/benchmarks/internal/proc"
)

// load is one run of a load generator against one server.
type load struct {
	// Calls completed, and how many of them failed.
	Calls, Failed int
	// Errors counts the failures by message.
	Errors map[string]int `json:",omitempty"`
	// Wall is how long the run took; RPS is Calls/Wall.
	Wall time.Duration
	RPS  float64
	// P50, P90 and P99 are latency percentiles as the load generator
	// measured them (from sending a request to receiving its answer).
	P50, P90, P99 time.Duration
	// CPU is the server process's CPU time during the run.
	CPU time.Duration
	// Decisions is how many decisions the calls carried (batches carry
	// several), for CPU per decision.
	Decisions int
}

// CPUPerCall is the server's CPU time per call.
func (l load) CPUPerCall() time.Duration { return l.CPU / time.Duration(max(1, l.Calls)) }

// CPUPerDecision is the server's CPU time per decision.
func (l load) CPUPerDecision() time.Duration {
	return l.CPU / time.Duration(max(1, l.Decisions))
}

// ghzRun describes one ghz invocation.
type ghzRun struct {
	call string
	// data is a JSON message, or dataFile a JSON array of messages that
	// ghz sends round robin.
	data, dataFile string
	// total calls to make; rps limits the rate (0: as fast as possible
	// with concurrency calls in flight).
	total, rps, concurrency, connections int
	// perCall is the number of decisions one call carries.
	perCall int
}

// ghzReport is the part of ghz's JSON report the driver reads.
type ghzReport struct {
	Count                  int            `json:"count"`
	Total                  time.Duration  `json:"total"`
	RPS                    float64        `json:"rps"`
	ErrorDistribution      map[string]int `json:"errorDistribution"`
	StatusCodeDistribution map[string]int `json:"statusCodeDistribution"`
	LatencyDistribution    []struct {
		Percentage int           `json:"percentage"`
		Latency    time.Duration `json:"latency"`
	} `json:"latencyDistribution"`
}

// runGHZ drives the server at addr, whose process is pid, and measures
// the server's CPU time around the run.
func (d *driver) runGHZ(addr string, pid int, r ghzRun) (load, error) {
	args := []string{"--insecure", "--call", r.call, "--total", strconv.Itoa(r.total),
		"--concurrency", strconv.Itoa(max(1, r.concurrency)), "--connections", strconv.Itoa(max(1, r.connections)),
		"--format", "json", "--timeout", "30s"}
	if r.rps > 0 {
		args = append(args, "--rps", strconv.Itoa(r.rps))
	}
	if r.dataFile != "" {
		args = append(args, "--data-file", r.dataFile)
	} else {
		args = append(args, "--data", r.data)
	}
	args = append(args, addr)
	cpu0, err := proc.CPUTime(pid)
	if err != nil {
		return load{}, err
	}
	cmd := exec.Command(d.ghz, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	cpu1, cerr := proc.CPUTime(pid)
	if err != nil {
		return load{}, fmt.Errorf("ghz %s: %w: %s", r.call, err, stderr.String())
	}
	if cerr != nil {
		return load{}, cerr
	}
	var rep ghzReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return load{}, fmt.Errorf("reading ghz's report: %w", err)
	}
	l := load{Calls: rep.Count, Wall: rep.Total, RPS: rep.RPS, CPU: cpu1 - cpu0, Errors: rep.ErrorDistribution}
	for code, n := range rep.StatusCodeDistribution {
		if code != "OK" {
			l.Failed += n
		}
	}
	for _, p := range rep.LatencyDistribution {
		switch p.Percentage {
		case 50:
			l.P50 = p.Latency
		case 90:
			l.P90 = p.Latency
		case 99:
			l.P99 = p.Latency
		}
	}
	l.Decisions = l.Calls * max(1, r.perCall)
	return l, nil
}

// vegetaRun describes one vegeta attack on an HTTP server.
type vegetaRun struct {
	name string
	// targets is a file of vegeta JSON targets, used round robin.
	targets  string
	duration time.Duration
	// rate per second; 0 means as fast as workers allows.
	rate, workers int
	// perCall is the number of decisions one request carries (an AuthZEN
	// evaluations request carries several); 0 means 1.
	perCall int
}

// vegetaReport is the part of `vegeta report -type json` the driver
// reads.
type vegetaReport struct {
	Latencies struct {
		P50 time.Duration `json:"50th"`
		P90 time.Duration `json:"90th"`
		P99 time.Duration `json:"99th"`
	} `json:"latencies"`
	Requests    int            `json:"requests"`
	Duration    time.Duration  `json:"duration"`
	Wait        time.Duration  `json:"wait"`
	Throughput  float64        `json:"throughput"`
	StatusCodes map[string]int `json:"status_codes"`
	Errors      []string       `json:"errors"`
}

// runVegeta attacks the HTTP server whose process is pid.
func (d *driver) runVegeta(pid int, r vegetaRun) (load, error) {
	results := filepath.Join(d.work, r.name+".vegeta.bin")
	args := []string{"attack", "-format", "json", "-targets", r.targets, "-duration", r.duration.String(),
		"-rate", strconv.Itoa(r.rate), "-timeout", "30s", "-output", results, "-keepalive"}
	if r.workers > 0 {
		args = append(args, "-workers", strconv.Itoa(r.workers), "-max-workers", strconv.Itoa(r.workers))
	}
	cpu0, err := proc.CPUTime(pid)
	if err != nil {
		return load{}, err
	}
	if out, err := exec.Command(d.vegeta, args...).CombinedOutput(); err != nil {
		return load{}, fmt.Errorf("vegeta attack: %w: %s", err, out)
	}
	cpu1, err := proc.CPUTime(pid)
	if err != nil {
		return load{}, err
	}
	out, err := exec.Command(d.vegeta, "report", "-type", "json", results).Output()
	if err != nil {
		return load{}, fmt.Errorf("vegeta report: %w", err)
	}
	os.Remove(results)
	var rep vegetaReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return load{}, fmt.Errorf("reading vegeta's report: %w", err)
	}
	l := load{Calls: rep.Requests, Decisions: rep.Requests * max(1, r.perCall), Wall: rep.Duration + rep.Wait, P50: rep.Latencies.P50,
		P90: rep.Latencies.P90, P99: rep.Latencies.P99, CPU: cpu1 - cpu0}
	l.RPS = float64(l.Calls) / l.Wall.Seconds()
	for code, n := range rep.StatusCodes {
		if code != "200" {
			l.Failed += n
		}
	}
	if len(rep.Errors) > 0 {
		l.Errors = map[string]int{}
		for _, e := range rep.Errors {
			l.Errors[e]++
		}
	}
	return l, nil
}
