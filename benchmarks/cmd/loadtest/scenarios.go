package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/cedargate/cedargate/benchmarks/internal/proc"
	"github.com/cedargate/cedargate/benchmarks/workload"
	"github.com/cedargate/cedargate/bundle/store"
)

const (
	callHealth    = "grpc.health.v1.Health.Check"
	callAuthorize = "cedargate.v1.AuthorizationService.Authorize"
	callBatch     = "cedargate.v1.AuthorizationService.BatchAuthorize"
	// requestsPerFile is how many distinct requests a data file holds;
	// ghz sends them round robin.
	requestsPerFile = 1000
)

// repoOf returns the generated repository of a standard size.
func (d *driver) repoOf(size string) (*workload.Repo, error) {
	spec, err := workload.Size(size, d.now)
	if err != nil {
		return nil, err
	}
	return workload.Generate(spec)
}

func (d *driver) storeDir(size string) string { return filepath.Join(d.work, "stores", size) }

// revisions are the revisions each store holds: a, active after the
// builds, and b (the same source), which the hot reload rolls out.
const revA, revB = "bench-a", "bench-b"

var builtRE = regexp.MustCompile(`(\d+) policies \((\d+) grants\), (\d+) entities`)

// builds generates each repository, builds it with `cedargate build` into
// its store, timed, and activates revision a. The largest is built twice
// (revision b, for the hot reload), which also shows the spread.
func (d *driver) builds(sizes []string) error {
	all := append(slices.Clone(sizes), "rbac10k")
	for _, size := range all {
		repo, err := d.repoOf(size)
		if err != nil {
			return err
		}
		dir := filepath.Join(d.work, "repos", size)
		if err := repo.Write(dir); err != nil {
			return err
		}
		revs := []string{revA}
		if size == sizes[len(sizes)-1] {
			revs = append(revs, revB)
		}
		for _, rev := range revs {
			d.logf("build %s (%s)", size, rev)
			args := []string{"build", dir, "--env", workload.Env, "--now", d.now.Format("2006-01-02"),
				"--store", d.storeDir(size), "--revision", rev}
			if rev == revA {
				args = append(args, "--activate")
			}
			name := "build-" + size + "-" + rev
			wall, cpu, rss, err := proc.RunTimed(d.work, name, d.cedargate, args...)
			if err != nil {
				return err
			}
			b := buildResult{Size: size, Revision: rev, Wall: wall, CPU: cpu, MaxRSS: rss, Identities: repo.Spec.Users + repo.Spec.ServiceAccounts}
			out, _ := os.ReadFile(filepath.Join(d.work, name+".log"))
			if m := builtRE.FindSubmatch(out); m != nil {
				b.Policies, _ = strconv.Atoi(string(m[1]))
				b.Grants, _ = strconv.Atoi(string(m[2]))
				b.Entities, _ = strconv.Atoi(string(m[3]))
			}
			d.res.Builds = append(d.res.Builds, b)
		}
	}
	return nil
}

// requestFile writes a ghz data file of mix for size (batch > 0: batches
// of that many requests) and returns its path.
func (d *driver) requestFile(size string, mix workload.Mix, batch int) (string, error) {
	name := fmt.Sprintf("%s-%s", size, mix)
	if batch > 0 {
		name += fmt.Sprintf("-batch%d", batch)
	}
	path := filepath.Join(d.work, "requests", name+".json")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	repo, err := d.repoOf(size)
	if err != nil {
		return "", err
	}
	n := requestsPerFile
	if batch > 0 {
		n *= batch / 10
		n = max(n, requestsPerFile)
	}
	reqs, err := repo.Requests(mix, n)
	if err != nil {
		return "", err
	}
	data, err := workload.GHZData(reqs, batch)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, data, 0o644)
}

// saturate runs call as fast as the load generator can, for about the
// run duration given the rate estimate est (calls per second).
func (d *driver) saturate(s *pdpServer, call, dataFile string, est float64, perCall int) (load, error) {
	r := ghzRun{call: call, dataFile: dataFile, data: "{}", total: max(2000, int(est*d.dur.Seconds())),
		concurrency: d.concurrency, connections: d.connections, perCall: perCall}
	return d.runGHZ(s.addr, s.PID(), r)
}

// atRate runs call at rate calls per second for the run duration.
func (d *driver) atRate(s *pdpServer, call, dataFile string, rate, perCall int) (load, error) {
	r := ghzRun{call: call, dataFile: dataFile, data: "{}", total: max(500, int(float64(rate)*d.dur.Seconds())),
		rps: rate, concurrency: d.concurrency, connections: d.connections, perCall: perCall}
	return d.runGHZ(s.addr, s.PID(), r)
}

// warm sends a few seconds of call, unmeasured, and returns its rate.
func (d *driver) warm(s *pdpServer, call, dataFile string) (float64, error) {
	l, err := d.runGHZ(s.addr, s.PID(), ghzRun{call: call, dataFile: dataFile, data: "{}", total: 20000,
		concurrency: d.concurrency, connections: d.connections})
	if err != nil {
		return 0, err
	}
	if l.Failed > 0 {
		return 0, fmt.Errorf("warm-up of %s: %d of %d calls failed: %v", call, l.Failed, l.Calls, l.Errors)
	}
	return l.RPS, nil
}

func median(ls []load, key func(load) float64) float64 {
	v := make([]float64, len(ls))
	for i, l := range ls {
		v[i] = key(l)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

// decisions returns the server's allow and deny counts so far.
func decisions(s *pdpServer) (float64, float64) {
	a, dn, _, _ := s.counters()
	return a, dn
}

// floor compares Authorize with the bare health check on the 10k bundle,
// decision log off: rounds of saturation, then rounds at half of
// Authorize's saturation; then each mix and each batch size.
func (d *driver) floor() error {
	s, err := d.startPDP("pdp-10k", d.storeDir("10k"), "")
	if err != nil {
		return err
	}
	defer s.close()
	allow, err := d.requestFile("10k", workload.Allow, 0)
	if err != nil {
		return err
	}
	estH, err := d.warm(s, callHealth, "")
	if err != nil {
		return err
	}
	estA, err := d.warm(s, callAuthorize, allow)
	if err != nil {
		return err
	}
	f := &d.res.Floor
	for round := range d.rounds {
		d.logf("saturation, round %d", round+1)
		h, err := d.saturate(s, callHealth, "", estH, 1)
		if err != nil {
			return err
		}
		a, err := d.saturate(s, callAuthorize, allow, estA, 1)
		if err != nil {
			return err
		}
		f.HealthSat, f.AuthzSat = append(f.HealthSat, h), append(f.AuthzSat, a)
	}
	f.Rate = int(median(f.AuthzSat, func(l load) float64 { return l.RPS }) / 2)
	for round := range d.rounds {
		d.logf("half of saturation (%d/s), round %d", f.Rate, round+1)
		h, err := d.atRate(s, callHealth, "", f.Rate, 1)
		if err != nil {
			return err
		}
		a, err := d.atRate(s, callAuthorize, allow, f.Rate, 1)
		if err != nil {
			return err
		}
		f.HealthHalf, f.AuthzHalf = append(f.HealthHalf, h), append(f.AuthzHalf, a)
	}
	for _, mix := range workload.Mixes() {
		file, err := d.requestFile("10k", mix, 0)
		if err != nil {
			return err
		}
		d.logf("mix %s at %d/s", mix, f.Rate)
		a0, n0 := decisions(s)
		l, err := d.atRate(s, callAuthorize, file, f.Rate, 1)
		if err != nil {
			return err
		}
		a1, n1 := decisions(s)
		d.res.Mixes = append(d.res.Mixes, mixResult{Mix: string(mix), Load: l, AllowPct: 100 * (a1 - a0) / max(1, a1-a0+n1-n0)})
	}
	for _, size := range []int{1, 10, 50} {
		file, err := d.requestFile("10k", workload.Allow, size)
		if err != nil {
			return err
		}
		d.logf("BatchAuthorize of %d", size)
		est, err := d.warm(s, callBatch, file)
		if err != nil {
			return err
		}
		sat, err := d.saturate(s, callBatch, file, est, size)
		if err != nil {
			return err
		}
		half, err := d.atRate(s, callBatch, file, max(1, f.Rate/size), size)
		if err != nil {
			return err
		}
		d.res.Batches = append(d.res.Batches, batchResult{Size: size, Sat: sat, AtRate: half})
	}
	return nil
}

// decisionLog measures Authorize with the decision log on, in the default
// asynchronous mode and with --decision-log-sync, against a server with it
// off, in alternating rounds on three servers running side by side, so
// that a change in the machine's load between rounds affects all alike.
func (d *driver) decisionLog() error {
	logPath := filepath.Join(d.work, "decisions.jsonl")
	on, err := d.startPDP("pdp-10k-log", d.storeDir("10k"), logPath)
	if err != nil {
		return err
	}
	defer on.close()
	// Not decisions*.jsonl: Bytes counts the asynchronous log's files.
	syncPath := filepath.Join(d.work, "sync-decisions.jsonl")
	synced, err := d.startPDP("pdp-10k-sync", d.storeDir("10k"), syncPath, "--decision-log-sync")
	if err != nil {
		return err
	}
	defer synced.close()
	off, err := d.startPDP("pdp-10k-nolog", d.storeDir("10k"), "")
	if err != nil {
		return err
	}
	defer off.close()
	allow, err := d.requestFile("10k", workload.Allow, 0)
	if err != nil {
		return err
	}
	lr := &d.res.Log
	runs := []struct {
		s           *pdpServer
		est         float64
		sat, atRate *[]load
	}{{s: off, sat: &lr.OffSat, atRate: &lr.OffHalf}, {s: on, sat: &lr.Sat, atRate: &lr.Half}, {s: synced, sat: &lr.SyncSat, atRate: &lr.SyncHalf}}
	for i := range runs {
		if runs[i].est, err = d.warm(runs[i].s, callAuthorize, allow); err != nil {
			return err
		}
	}
	for round := range d.rounds {
		d.logf("decision log off, on and sync, round %d", round+1)
		for _, run := range runs {
			sat, err := d.saturate(run.s, callAuthorize, allow, run.est, 1)
			if err != nil {
				return err
			}
			half, err := d.atRate(run.s, callAuthorize, allow, d.res.Floor.Rate, 1)
			if err != nil {
				return err
			}
			*run.sat, *run.atRate = append(*run.sat, sat), append(*run.atRate, half)
		}
	}
	if _, _, lr.SyncDropped, err = synced.counters(); err != nil {
		return err
	}
	_, _, dropped, err := on.counters()
	lr.Dropped = dropped
	// The log rotates at 100 MB: count the rotated files too.
	files, _ := filepath.Glob(filepath.Join(d.work, "decisions*.jsonl"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			lr.Bytes += st.Size()
		}
	}
	return err
}

// bySize serves each size and measures Authorize (allow mix) at
// saturation and at the floor's rate.
func (d *driver) bySize(sizes []string) error {
	for _, size := range sizes {
		s, err := d.startPDP("pdp-"+size, d.storeDir(size), "")
		if err != nil {
			return err
		}
		sr, err := func() (sizeResult, error) {
			defer s.close()
			file, err := d.requestFile(size, workload.Allow, 0)
			if err != nil {
				return sizeResult{}, err
			}
			est, err := d.warm(s, callAuthorize, file)
			if err != nil {
				return sizeResult{}, err
			}
			d.logf("size %s", size)
			sat, err := d.saturate(s, callAuthorize, file, est, 1)
			if err != nil {
				return sizeResult{}, err
			}
			half, err := d.atRate(s, callAuthorize, file, d.res.Floor.Rate, 1)
			if err != nil {
				return sizeResult{}, err
			}
			rss, _, _ := proc.Memory(s.PID())
			st, err := s.status()
			if err != nil {
				return sizeResult{}, err
			}
			return sizeResult{Size: size, Policies: int(st.GetBuild().GetPolicyCount()), Entities: int(st.GetBuild().GetEntityCount()),
				RSS: rss, Sat: sat, Half: half}, nil
		}()
		if err != nil {
			return err
		}
		d.res.Sizes = append(d.res.Sizes, sr)
	}
	return nil
}

// reload serves the largest bundle under Authorize load at the floor's
// rate and rolls out revision b in the middle of the run.
func (d *driver) reload(size string) error {
	// Start from revision a, whatever an earlier run left active.
	st, err := store.Open(context.Background(), d.storeDir(size))
	if err != nil {
		return err
	}
	if _, err := st.Activate(context.Background(), revA, store.ActionRollout, time.Now()); err != nil {
		return err
	}
	s, err := d.startPDP("pdp-reload", d.storeDir(size), "")
	if err != nil {
		return err
	}
	defer s.close()
	if status, err := s.status(); err != nil || status.GetBundle().GetRevision() != revA {
		return fmt.Errorf("the reload server does not serve %s (%v)", revA, err)
	}
	file, err := d.requestFile(size, workload.Allow, 0)
	if err != nil {
		return err
	}
	if _, err := d.warm(s, callAuthorize, file); err != nil {
		return err
	}
	rate := d.res.Floor.Rate
	runFor := max(30*time.Second, 3*d.dur)
	before := runFor / 3
	sampler := proc.SampleRSS(s.PID(), 10*time.Millisecond)
	type result struct {
		l   load
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, err := d.runGHZ(s.addr, s.PID(), ghzRun{call: callAuthorize, dataFile: file, total: int(float64(rate) * runFor.Seconds()),
			rps: rate, concurrency: d.concurrency, connections: d.connections, perCall: 1})
		done <- result{l, err}
	}()
	time.Sleep(before)
	r := &d.res.Reload
	r.Size, r.Rate = size, rate
	r.SteadyRSS, _, _ = proc.Memory(s.PID())
	if err := proc.ResetPeak(s.PID()); err != nil {
		d.logf("cannot reset the peak RSS (%v); VmHWM covers the whole run", err)
	}
	d.logf("rolling out %s of %s under load", revB, size)
	t0 := time.Now()
	if _, err := st.Activate(context.Background(), revB, store.ActionRollout, t0); err != nil {
		return err
	}
	for {
		status, err := s.status()
		if err == nil && status.GetBundle().GetRevision() == revB {
			r.Wall = time.Since(t0)
			if acts := status.GetRecentActivations(); len(acts) > 0 {
				r.Activation = acts[0].GetDuration().AsDuration()
			}
			break
		}
		if time.Since(t0) > 2*time.Minute {
			return fmt.Errorf("%s not active 2 minutes after the rollout", revB)
		}
		time.Sleep(5 * time.Millisecond)
	}
	res := <-done
	samples := sampler.Stop()
	if res.err != nil {
		return res.err
	}
	r.Load = res.l
	_, r.PeakHWM, _ = proc.Memory(s.PID())
	// The steady state is the median RSS of the second before the
	// rollout; the peak, the highest sample after it.
	var steady []int64
	for _, smp := range samples {
		switch {
		case smp.At.Before(t0) && smp.At.After(t0.Add(-time.Second)):
			steady = append(steady, smp.RSS)
		case !smp.At.Before(t0):
			r.PeakRSS = max(r.PeakRSS, smp.RSS)
		}
	}
	if len(steady) > 0 {
		slices.Sort(steady)
		r.SteadyRSS = steady[len(steady)/2]
	}
	r.FinalRSS, _, _ = proc.Memory(s.PID())
	return nil
}
