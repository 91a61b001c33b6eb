package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/cedargate/cedargate/benchmarks/internal/proc"
	"github.com/cedargate/cedargate/benchmarks/workload"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// freePort returns a loopback port nothing listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// pdpServer is a running `cedargate serve`.
type pdpServer struct {
	*proc.Child
	addr, metrics string
	conn          *grpc.ClientConn
}

// startPDP serves store with the cedargate binary; logPath "" turns the
// decision log off; extra are further serve flags. It returns once the
// server reports SERVING.
func (d *driver) startPDP(name, store, logPath string, extra ...string) (*pdpServer, error) {
	gp, err := freePort()
	if err != nil {
		return nil, err
	}
	mp, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &pdpServer{addr: fmt.Sprintf("127.0.0.1:%d", gp), metrics: fmt.Sprintf("127.0.0.1:%d", mp)}
	args := append([]string{"serve", "--store", store, "--listen", s.addr,
		"--metrics-listen", s.metrics, "--decision-log", logPath, "--log-format", "text", "--poll", "-1s"}, extra...)
	s.Child, err = proc.Start(d.work, name, d.cedargate, args...)
	if err != nil {
		return nil, err
	}
	if s.conn, err = grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		s.Stop()
		return nil, err
	}
	hc := healthpb.NewHealthClient(s.conn)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if done, err := s.Exited(); done {
			out, _ := os.ReadFile(filepath.Join(d.work, name+".log"))
			return nil, fmt.Errorf("%s exited (%v): %s", name, err, proc.Tail(out, 2000))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.close()
			return nil, fmt.Errorf("%s did not report SERVING within 2 minutes", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *pdpServer) close() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.Stop()
}

// status returns what the server serves.
func (s *pdpServer) status() (*pb.GetStatusResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return pb.NewAdminServiceClient(s.conn).GetStatus(ctx, &pb.GetStatusRequest{})
}

// counters scrapes the server's decision counters from /metrics.
func (s *pdpServer) counters() (allow, deny, dropped float64, err error) {
	resp, err := http.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, _ := strconv.ParseFloat(val, 64)
		switch name {
		case `cedargate_decisions_total{decision="allow"}`:
			allow = v
		case `cedargate_decisions_total{decision="deny"}`:
			deny = v
		case "cedargate_decision_log_dropped_total":
			dropped = v
		}
	}
	return allow, deny, dropped, sc.Err()
}

// opaServer is a running `opa run --server`.
type opaServer struct {
	*proc.Child
	url string
}

// startOPA serves the RBAC workload's policy and data with OPA.
func (d *driver) startOPA(dir string) (*opaServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &opaServer{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	// --optimize-store-for-read-speed is OPA's documented setting for
	// large data read by every decision: OPA at its best.
	s.Child, err = proc.Start(d.work, "opa", d.opa, "run", "--server", "--addr", fmt.Sprintf("127.0.0.1:%d", port),
		"--log-level", "error", "--optimize-store-for-read-speed",
		filepath.Join(dir, "data.json"), filepath.Join(dir, "policy.rego"))
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if done, err := s.Exited(); done {
			out, _ := os.ReadFile(filepath.Join(d.work, "opa.log"))
			return nil, fmt.Errorf("opa exited (%v): %s", err, proc.Tail(out, 2000))
		}
		if resp, err := http.Get(s.url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("opa did not become healthy within 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// decide asks OPA for one decision.
func (s *opaServer) decide(in workload.OPAInput) (bool, error) {
	body, _ := json.Marshal(map[string]any{"input": in})
	resp, err := http.Post(s.url+"/v1/data/cedargate/rbac/allow", "application/json", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var out struct {
		Result bool `json:"result"`
	}
	return out.Result, json.NewDecoder(resp.Body).Decode(&out)
}

// vegetaTarget is one line of a vegeta JSON targets file.
type vegetaTarget struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Body   string              `json:"body,omitempty"`
	Header map[string][]string `json:"header,omitempty"`
}

// writeTargets writes a vegeta targets file: POSTs of bodies to url, or a
// GET of url when bodies is empty.
func writeTargets(path, url string, bodies [][]byte) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if len(bodies) == 0 {
		if err := enc.Encode(vegetaTarget{Method: "GET", URL: url}); err != nil {
			return err
		}
	}
	for _, body := range bodies {
		t := vegetaTarget{Method: "POST", URL: url, Body: base64.StdEncoding.EncodeToString(body),
			Header: map[string][]string{"Content-Type": {"application/json"}}}
		if err := enc.Encode(t); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
