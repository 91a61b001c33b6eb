package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cedargate/cedargate/benchmarks/workload"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// peerSize is the RBAC repository both cedargate and OPA serve.
const peerSize = "rbac10k"

// authzenBatch is how many evaluations one AuthZEN evaluations request
// of the peer comparison carries.
const authzenBatch = 50

// peers serves the RBAC workload with OPA and with cedargate, checks that
// they decide alike, and measures both, each beside its own bare health
// endpoint, at the same rate.
func (d *driver) peers() error {
	if d.opa == "" {
		d.logf("no -opa: skipping the peer comparison")
		return nil
	}
	repo, err := d.repoOf(peerSize)
	if err != nil {
		return err
	}
	dir := filepath.Join(d.work, "opa")
	if err := repo.WriteOPA(dir); err != nil {
		return err
	}
	reqs, err := repo.Requests(workload.Allow, requestsPerFile)
	if err != nil {
		return err
	}
	bodies := make([][]byte, len(reqs))
	for i, r := range reqs {
		bodies[i], _ = json.Marshal(map[string]any{"input": workload.ToOPAInput(r)})
	}
	opa, err := d.startOPA(dir)
	if err != nil {
		return err
	}
	defer opa.Stop()
	decisionsTargets := filepath.Join(dir, "decide.targets")
	healthTargets := filepath.Join(dir, "health.targets")
	if err := writeTargets(decisionsTargets, opa.url+"/v1/data/cedargate/rbac/allow", bodies); err != nil {
		return err
	}
	if err := writeTargets(healthTargets, opa.url+"/health", nil); err != nil {
		return err
	}
	// cedargate serves the AuthZEN API too, so that its HTTP front end is
	// measured on the same server, beside gRPC and beside OPA's REST API.
	hp, err := freePort()
	if err != nil {
		return err
	}
	httpURL := fmt.Sprintf("http://127.0.0.1:%d", hp)
	cg, err := d.startPDP("pdp-"+peerSize, d.storeDir(peerSize), "", "--http-listen", strings.TrimPrefix(httpURL, "http://"))
	if err != nil {
		return err
	}
	defer cg.close()
	evalTargets := filepath.Join(dir, "authzen-evaluation.targets")
	batchTargets := filepath.Join(dir, "authzen-evaluations.targets")
	if err := d.authzenTargets(repo, httpURL, evalTargets, batchTargets); err != nil {
		return err
	}
	file, err := d.requestFile(peerSize, workload.Allow, 0)
	if err != nil {
		return err
	}

	// Same question, same answers.
	p := &d.res.Peer
	p.OPAVersion = toolVersion(d.opa, "version")
	authz := pb.NewAuthorizationServiceClient(cg.conn)
	for _, r := range reqs[:200] {
		o, err := opa.decide(workload.ToOPAInput(r))
		if err != nil {
			return fmt.Errorf("asking OPA: %w", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := authz.Authorize(ctx, r)
		cancel()
		if err != nil {
			return fmt.Errorf("asking cedargate: %w", err)
		}
		c := resp.GetDecision() == pb.Decision_DECISION_ALLOW
		h, err := authzenDecide(httpURL, r)
		if err != nil {
			return fmt.Errorf("asking cedargate over AuthZEN: %w", err)
		}
		p.Compared++
		if o == c && h == c {
			p.Agreed++
		}
		if c {
			p.Allowed++
		}
	}
	if p.Agreed != p.Compared {
		return fmt.Errorf("OPA, cedargate's gRPC and its AuthZEN API disagree on %d of %d requests: the workloads differ", p.Compared-p.Agreed, p.Compared)
	}

	workers := d.concurrency
	d.logf("OPA saturation")
	if _, err := d.runVegeta(opa.PID(), vegetaRun{name: "opa-warm", targets: decisionsTargets, duration: 3 * time.Second, workers: workers}); err != nil {
		return err
	}
	if p.OPASat, err = d.runVegeta(opa.PID(), vegetaRun{name: "opa-sat", targets: decisionsTargets, duration: d.dur, workers: workers}); err != nil {
		return err
	}
	if p.OPAHealthSat, err = d.runVegeta(opa.PID(), vegetaRun{name: "opa-health-sat", targets: healthTargets, duration: d.dur, workers: workers}); err != nil {
		return err
	}
	d.logf("cedargate saturation (%s)", peerSize)
	est, err := d.warm(cg, callAuthorize, file)
	if err != nil {
		return err
	}
	if p.CGSat, err = d.saturate(cg, callAuthorize, file, est, 1); err != nil {
		return err
	}
	d.logf("cedargate AuthZEN saturation (%s)", peerSize)
	if _, err := d.runVegeta(cg.PID(), vegetaRun{name: "authzen-warm", targets: evalTargets, duration: 3 * time.Second, workers: workers}); err != nil {
		return err
	}
	if p.CGHTTPSat, err = d.runVegeta(cg.PID(), vegetaRun{name: "authzen-sat", targets: evalTargets, duration: d.dur, workers: workers}); err != nil {
		return err
	}
	if p.CGHTTPBatchSat, err = d.runVegeta(cg.PID(), vegetaRun{name: "authzen-batch-sat", targets: batchTargets, duration: d.dur, workers: workers,
		perCall: authzenBatch}); err != nil {
		return err
	}
	p.Rate = int(min(p.OPASat.RPS, p.CGSat.RPS) / 2)
	for round := range d.rounds {
		d.logf("peers at %d/s, round %d", p.Rate, round+1)
		l, err := d.runVegeta(opa.PID(), vegetaRun{name: "opa-half", targets: decisionsTargets, duration: d.dur, rate: p.Rate})
		if err != nil {
			return err
		}
		lh, err := d.runVegeta(opa.PID(), vegetaRun{name: "opa-health-half", targets: healthTargets, duration: d.dur, rate: p.Rate})
		if err != nil {
			return err
		}
		c, err := d.atRate(cg, callAuthorize, file, p.Rate, 1)
		if err != nil {
			return err
		}
		ch, err := d.atRate(cg, callHealth, "", p.Rate, 1)
		if err != nil {
			return err
		}
		hh, err := d.runVegeta(cg.PID(), vegetaRun{name: "authzen-half", targets: evalTargets, duration: d.dur, rate: p.Rate})
		if err != nil {
			return err
		}
		hb, err := d.runVegeta(cg.PID(), vegetaRun{name: "authzen-batch-half", targets: batchTargets, duration: d.dur,
			rate: max(1, p.Rate/authzenBatch), perCall: authzenBatch})
		if err != nil {
			return err
		}
		p.OPAHalf, p.OPAHealthHalf = append(p.OPAHalf, l), append(p.OPAHealthHalf, lh)
		p.CGHalf, p.CGHealthHalf = append(p.CGHalf, c), append(p.CGHealthHalf, ch)
		p.CGHTTPHalf, p.CGHTTPBatchHalf = append(p.CGHTTPHalf, hh), append(p.CGHTTPBatchHalf, hb)
	}
	return nil
}

// authzenTargets writes the vegeta targets of cedargate's AuthZEN API
// for the peer workload: single evaluations of the requests the other
// servers get, and evaluations requests of authzenBatch of them.
func (d *driver) authzenTargets(repo *workload.Repo, url, single, batch string) error {
	reqs, err := repo.Requests(workload.Allow, requestsPerFile)
	if err != nil {
		return err
	}
	bodies, err := workload.AuthZENBodies(reqs, 0)
	if err != nil {
		return err
	}
	if err := writeTargets(single, url+"/access/v1/evaluation", bodies); err != nil {
		return err
	}
	more, err := repo.Requests(workload.Allow, requestsPerFile*authzenBatch/10)
	if err != nil {
		return err
	}
	batches, err := workload.AuthZENBodies(more, authzenBatch)
	if err != nil {
		return err
	}
	return writeTargets(batch, url+"/access/v1/evaluations", batches)
}

// authzenDecide asks cedargate's AuthZEN API for the decision on r.
func authzenDecide(url string, r *pb.AuthorizeRequest) (bool, error) {
	body, _ := json.Marshal(workload.ToAuthZEN(r))
	resp, err := http.Post(url+"/access/v1/evaluation", "application/json", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var out struct {
		Decision *bool `json:"decision"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK || out.Decision == nil {
		return false, fmt.Errorf("%s for %s", resp.Status, body)
	}
	return *out.Decision, nil
}

// toolVersion returns the first line of `bin args...`.
func toolVersion(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// benchLine matches a line of `go test -bench` output.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

// engine runs the engine benchmarks and keeps their metrics.
func (d *driver) engine() error {
	if d.engineBench == "" {
		return nil
	}
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", d.engineBench, "-benchtime", d.engineTime,
		"-benchmem", "-timeout", "60m", "./benchmarks/")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fmt.Fprintln(os.Stderr, line)
		b := engineResult{Name: strings.TrimPrefix(m[1], "Benchmark"), Metrics: map[string]float64{}}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				b.Metrics[f[i+1]] = v
			}
		}
		d.res.Engine = append(d.res.Engine, b)
	}
	return cmd.Wait()
}
