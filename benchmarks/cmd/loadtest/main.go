// Command loadtest runs cedargate's service benchmarks and writes the
// results of one run, with every target of issue 4 as a ratio measured in
// that run, to benchmarks/results/<date>-<machine>.md (and .json).
//
// It builds generated repositories of 1k, 10k and 100k identities with the
// real `cedargate build` (timing it), serves them with the real
// `cedargate serve` on loopback, and drives them with ghz, always beside a
// bare grpc.health.v1.Health/Check in the same run: throughput at
// saturation, latency and server CPU per call at half of saturation, each
// request mix, the decision log off, on and on with --decision-log-sync,
// BatchAuthorize of 1, 10 and 50, a hot reload of the 100k bundle under
// load, and the same RBAC workload served by OPA and by cedargate's AuthZEN
// HTTP API (both driven by vegeta). Server CPU comes from the
// server process's own accounting (/proc/<pid>/stat). The engine
// benchmarks (go test -bench in ./benchmarks) run too, for the engine
// targets.
//
// `make bench` builds the pinned tools and runs it; see
// docs/performance.md for how to read the results.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cedargate/cedargate/benchmarks/internal/proc"
	"github.com/cedargate/cedargate/benchmarks/workload"
)

func main() {
	d := &driver{}
	flag.StringVar(&d.cedargate, "cedargate", "bin/cedargate", "cedargate binary")
	flag.StringVar(&d.ghz, "ghz", "bin/ghz", "ghz binary")
	flag.StringVar(&d.opa, "opa", "bin/opa", "opa binary (empty: skip the peer comparison)")
	flag.StringVar(&d.vegeta, "vegeta", "bin/vegeta", "vegeta binary")
	flag.StringVar(&d.work, "work", filepath.Join(os.TempDir(), "cedargate-bench"), "scratch directory (emptied first)")
	out := flag.String("out", "benchmarks/results", "directory for the results")
	machineName := flag.String("machine", "", "machine name in the results file name (default: the host name)")
	flag.DurationVar(&d.dur, "duration", 8*time.Second, "length of each measured run")
	flag.IntVar(&d.rounds, "rounds", 3, "rounds of the health check / Authorize comparison (medians are reported)")
	flag.IntVar(&d.concurrency, "concurrency", 32, "calls in flight per load generator")
	flag.IntVar(&d.connections, "connections", 2, "gRPC connections per load generator")
	flag.StringVar(&d.sizes, "sizes", "1k,10k,100k", "repository sizes to serve and build")
	flag.StringVar(&d.engineBench, "engine-bench", ".", "-bench pattern of the engine benchmarks (empty: skip)")
	flag.StringVar(&d.engineTime, "engine-benchtime", "1s", "-benchtime of the engine benchmarks")
	flag.StringVar(&d.steps, "steps", "builds,floor,log,sizes,reload,peers,engine",
		"steps to run; without builds, the stores of an earlier run in -work are reused (floor must run for the rates of later steps)")
	now := flag.String("now", "", "day the repositories are written for, YYYY-MM-DD (default today, UTC)")
	render := flag.String("render", "", "only rewrite the Markdown report of this results .json (after changing the report's format)")
	flag.Parse()
	if *render != "" {
		data, err := os.ReadFile(*render)
		if err != nil {
			fatal(err)
		}
		if err := json.Unmarshal(data, &d.res); err != nil {
			fatal(err)
		}
		if err := os.WriteFile(strings.TrimSuffix(*render, ".json")+".md", d.res.markdown(), 0o644); err != nil {
			fatal(err)
		}
		return
	}
	d.now = workload.DefaultNow()
	if *now != "" {
		t, err := time.Parse("2006-01-02", *now)
		if err != nil {
			fatal(fmt.Errorf("-now: %w", err))
		}
		d.now = t
	}
	d.res.Command = "go run ./benchmarks/cmd/loadtest " + strings.Join(os.Args[1:], " ")
	if err := d.run(); err != nil {
		fatal(err)
	}
	name := *machineName
	if name == "" {
		name = d.res.Machine.Host
	}
	base := filepath.Join(*out, d.res.Started.Format("2006-01-02")+"-"+sanitize(name))
	if err := d.write(base); err != nil {
		fatal(err)
	}
	fmt.Println("results:", base+".md")
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "loadtest:", err)
	os.Exit(1)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, s)
}

// driver runs the benchmarks and collects the results.
type driver struct {
	cedargate, ghz, opa, vegeta string
	work                        string
	now                         time.Time
	dur                         time.Duration
	rounds                      int
	concurrency, connections    int
	sizes, steps                string
	engineBench, engineTime     string
	res                         results
}

func (d *driver) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (d *driver) run() error {
	d.res.Started = time.Now().UTC()
	d.res.Machine = proc.DescribeMachine()
	d.res.RunDuration = d.dur
	d.res.Concurrency, d.res.Connections = d.concurrency, d.connections
	run := map[string]bool{}
	for _, s := range strings.Split(d.steps, ",") {
		run[strings.TrimSpace(s)] = true
	}
	if run["builds"] {
		if err := os.RemoveAll(d.work); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(d.work, 0o755); err != nil {
		return err
	}
	for _, bin := range []*string{&d.cedargate, &d.ghz, &d.opa, &d.vegeta} {
		if *bin == "" {
			continue
		}
		abs, err := filepath.Abs(*bin)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%s: %w (run `make bench`, which builds the pinned tools)", *bin, err)
		}
		*bin = abs
	}
	sizes := strings.Split(d.sizes, ",")
	steps := []struct {
		name string
		f    func() error
	}{
		{"builds", func() error { return d.builds(sizes) }},
		{"floor", d.floor},
		{"log", d.decisionLog},
		{"sizes", func() error { return d.bySize(sizes) }},
		{"reload", func() error { return d.reload(sizes[len(sizes)-1]) }},
		{"peers", d.peers},
		{"engine", d.engine},
	}
	for _, s := range steps {
		if !run[s.name] {
			continue
		}
		d.logf("== %s", s.name)
		if err := s.f(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	d.res.Finished = time.Now().UTC()
	return nil
}
