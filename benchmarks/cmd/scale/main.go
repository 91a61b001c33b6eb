// Command scale runs the scale benchmarks of issue 15 (`make
// bench-scale`): for generated repositories of 1k, 10k, 100k and 1M
// identities it measures, side by side, what grows with the repository:
// `cedargate build` (wall time and peak RSS), the bundle, the decision
// engine's snapshot (heap, bytes per entity, time to build), a real
// `cedargate serve` (activation, RSS once serving, peak RSS of a hot
// reload) and the median decision (Snapshot.Decide). It writes
// benchmarks/results/<date>-<machine>.md and .json.
//
// Repositories the compiler cannot build in an ordinary machine's memory
// (a million identities took 10.5 GiB and 4.5 minutes on 2026-12-07) are
// served from the bundle
// workload.Repo.Bundle writes, which a test holds to the compiler's
// output byte for byte; -build-sizes says which sizes `cedargate build`
// runs for. docs/performance.md explains the results.
//
// 1m-shape, last by default, is 1m's identities in 1k's shape: the
// report gives its Decide ratio to 1k beside the standard 1k-to-1m one,
// to tell the cost of a larger repository from that of principals that
// reach more grants.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cedargate/cedargate/benchmarks/internal/proc"
	"github.com/cedargate/cedargate/benchmarks/internal/save"
	"github.com/cedargate/cedargate/benchmarks/workload"
)

func main() {
	d := &driver{}
	flag.StringVar(&d.cedargate, "cedargate", "bin/cedargate", "cedargate binary")
	flag.StringVar(&d.work, "work", filepath.Join(os.TempDir(), "cedargate-scale"), "scratch directory (emptied first)")
	out := flag.String("out", "benchmarks/results", "directory for the results")
	machine := flag.String("machine", "", "machine name in the results file name (default: the host name, then -scale)")
	sizes := flag.String("sizes", "1k,10k,100k,1m,1m-shape", "repository sizes (one ending in -shape is reported beside the others, see workload's 1m-shape)")
	builds := flag.String("build-sizes", "1k,10k,100k", "sizes built with `cedargate build` (the others are served from workload.Repo.Bundle)")
	flag.DurationVar(&d.decideTime, "decide-time", 3*time.Second, "how long each mix is decided for the medians")
	flag.BoolVar(&d.reload, "reload", true, "measure a hot reload of each size")
	now := flag.String("now", "2026-11-23", "day the repositories are written for, YYYY-MM-DD")
	child := flag.String("child", "", "internal: measure the snapshot of this bundle file and exit")
	childSize := flag.String("child-size", "", "internal: the size of -child's bundle")
	flag.Parse()
	day, err := time.Parse(time.DateOnly, *now)
	if err != nil {
		fatal(fmt.Errorf("-now: %w", err))
	}
	d.now = day
	if *child != "" {
		if err := measureSnapshot(os.Stdout, *child, *childSize, day, d.decideTime); err != nil {
			fatal(err)
		}
		return
	}
	d.sizes, d.builds = strings.Split(*sizes, ","), strings.Split(*builds, ",")
	d.res.Command = "go run ./benchmarks/cmd/scale " + strings.Join(os.Args[1:], " ")
	if err := d.run(context.Background()); err != nil {
		fatal(err)
	}
	name := *machine
	if name == "" {
		name = d.res.Machine.Host + "-scale"
	}
	base := filepath.Join(*out, d.res.Started.Format(time.DateOnly)+"-"+name)
	if err := save.Results(base, &d.res, d.res.markdown()); err != nil {
		fatal(err)
	}
	fmt.Println("results:", base+".md")
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "scale:", err)
	os.Exit(1)
}

// driver runs the benchmarks and collects the results.
type driver struct {
	cedargate, work string
	now             time.Time
	sizes, builds   []string
	decideTime      time.Duration
	reload          bool
	res             report
}

func (d *driver) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (d *driver) run(ctx context.Context) error {
	d.res.Started = time.Now().UTC()
	d.res.Machine = proc.DescribeMachine()
	if err := os.RemoveAll(d.work); err != nil {
		return err
	}
	if err := os.MkdirAll(d.work, 0o755); err != nil {
		return err
	}
	for _, size := range d.sizes {
		r, err := d.size(ctx, size, slices.Contains(d.builds, size))
		if err != nil {
			return fmt.Errorf("size %s: %w", size, err)
		}
		d.res.Sizes = append(d.res.Sizes, r)
		// A size's files are not needed once measured; a million
		// identities' are gigabytes.
		_ = os.RemoveAll(filepath.Join(d.work, size))
	}
	d.res.Finished = time.Now().UTC()
	return nil
}

// repo generates the repository of a standard size.
func (d *driver) repo(size string) (*workload.Repo, error) {
	spec, err := workload.Size(size, d.now)
	if err != nil {
		return nil, err
	}
	return workload.Generate(spec)
}
