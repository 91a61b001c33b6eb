package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/pdp/client"
)

// served is a `cedargate serve` child process.
type served struct {
	cmd  *exec.Cmd
	addr string
	// httpAddr is the address of --http-listen, if given.
	httpAddr string
	exit     chan error
}

// serve starts `cedargate serve` on a free port and waits until it logs the
// address it serves on.
func serve(t *testing.T, args ...string) *served {
	t.Helper()
	exe, _ := os.Executable()
	cmd := exec.Command(exe, append([]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", ""}, args...)...)
	cmd.Env = append(os.Environ(), "CEDARGATE_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, exit: make(chan error, 1)}
	addrc := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		httpAddr := ""
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch line.Msg {
			case "serving HTTP":
				httpAddr = line.Addr
			case "serving":
				addrc <- [2]string{line.Addr, httpAddr}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() { s.exit <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	select {
	case a := <-addrc:
		s.addr, s.httpAddr = a[0], a[1]
	case err := <-s.exit:
		t.Fatalf("serve exited: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	return s
}

// terminate stops the server with SIGTERM and fails t unless it exits 0
// within 30 seconds.
func (s *served) terminate(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.exit:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
}

// TestServeRecordsEveryDecisionBeforeSIGTERM runs the real binary, makes
// decisions over gRPC, stops it with SIGTERM and checks that every decision
// answered is in the decision log, with the revision that made it.
func TestServeRecordsEveryDecisionBeforeSIGTERM(t *testing.T) {
	dir := scaffoldToday(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if r := cedargate(t, "build", dir, "--env", "prod", "--store", storeDir, "--activate", "--revision", "r1"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	logFile := filepath.Join(t.TempDir(), "decisions.log")
	s := serve(t, "--store", storeDir, "--decision-log", logFile, "--decision-log-overflow", "block")

	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := client.New(conn)
	principal, _ := repo.ParseEntityUID(`App::ServiceAccount::"deployer-prod"`)
	action, _ := repo.ParseEntityUID(`App::Action::"read"`)
	resource, _ := repo.ParseEntityUID(`App::Service::"api"`)
	var ids []string
	for range 300 {
		d, err := c.Authorize(context.Background(), client.Request{Principal: principal, Action: action, Resource: resource})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allow {
			t.Fatalf("decision: %+v", d)
		}
		ids = append(ids, d.ID)
	}
	s.terminate(t)
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct {
			ID       string `json:"decision_id"`
			Decision string `json:"decision"`
			Policies []string
			Bundle   struct{ Revision string }
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("decision log line %q: %v", line, err)
		}
		logged[e.ID] = e.Bundle.Revision + "/" + e.Decision + "/" + strings.Join(e.Policies, ",")
	}
	for _, id := range ids {
		if got := logged[id]; got != "r1/allow/entitlement:ServiceAccount/deployer-prod:api-reader#0" {
			t.Fatalf("decision %s logged as %q", id, got)
		}
	}
}

// TestCheckStatusAndReflection drives a running PDP with the CLI's check and
// status commands and lists its services through server reflection, as
// grpcurl does.
func TestCheckStatusAndReflection(t *testing.T) {
	dir := scaffoldToday(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if r := cedargate(t, "build", dir, "--env", "prod", "--store", storeDir, "--activate", "--revision", "r1"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	s := serve(t, "--store", storeDir, "--decision-log", "")

	allow := cedargate(t, "check", "--addr", s.addr, "--principal", `App::ServiceAccount::"deployer-prod"`, "--action", `App::Action::"read"`, "--resource", `App::Service::"api"`)
	if allow.code != exitOK || !strings.HasPrefix(allow.stdout, "ALLOW\n") ||
		!strings.Contains(allow.stdout, "by entitlement:ServiceAccount/deployer-prod:api-reader#0  (identities/deployer.yaml:") ||
		!strings.Contains(allow.stdout, "bundle r1 (prod,") {
		t.Fatalf("check allow: %+v", allow)
	}
	deny := cedargate(t, "check", "--addr", s.addr, "--principal", `App::ServiceAccount::"deployer-prod"`, "--action", `App::Action::"write"`, "--resource", `App::Service::"api"`)
	if deny.code != exitProblems || !strings.HasPrefix(deny.stdout, "DENY\n") || !strings.Contains(deny.stdout, "default deny") {
		t.Fatalf("check deny: %+v", deny)
	}
	bad := cedargate(t, "check", "--addr", s.addr, "--principal", `App::ServiceAccount::"deployer-prod"`, "--action", `App::Action::"read"`, "--resource", `App::Service::"api"`,
		"--context", `{"x": {"__extn": {"fn": "ip", "arg": "nope"}}}`)
	if bad.code != exitUsage {
		t.Fatalf("check with a bad context: %+v", bad)
	}
	st := cedargate(t, "status", "--addr", s.addr)
	if st.code != 0 || !strings.Contains(st.stdout, "serving:    r1") || !strings.Contains(st.stdout, "environment: prod") {
		t.Fatalf("status: %+v", st)
	}
	down := cedargate(t, "check", "--addr", "127.0.0.1:1", "--timeout", "1s", "--principal", `A::"a"`, "--action", `A::"a"`, "--resource", `A::"a"`)
	if down.code != exitFailure || !strings.Contains(down.stderr, "no decision") {
		t.Fatalf("check against nothing: %+v", down)
	}

	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	for _, want := range []string{"cedargate.v1.AuthorizationService", "cedargate.v1.AdminService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}
}

// TestStatusShowsDrift runs three replicas, two on one store and one on a
// store with another revision, and checks that status across them reports
// the drift, and that it reports them in step once the odd one catches up.
func TestStatusShowsDrift(t *testing.T) {
	dir := scaffold(t)
	stores := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
	for i, rev := range []string{"r1", "r2"} {
		if r := cedargate(t, "build", dir, "--env", "prod", "--store", stores[i], "--activate", "--now", refDate, "--revision", rev); r.code != 0 {
			t.Fatalf("build: %+v", r)
		}
	}
	a1 := serve(t, "--store", stores[0], "--decision-log", "")
	a2 := serve(t, "--store", stores[0], "--decision-log", "")
	b := serve(t, "--store", stores[1], "--decision-log", "")

	r := cedargate(t, "status", "--addr", a1.addr, "--addr", a2.addr+","+b.addr)
	if r.code != exitProblems || !strings.Contains(r.stdout, "DRIFT: the replicas serve 2 different bundles") ||
		strings.Count(r.stdout, " r1 ") != 2 || strings.Count(r.stdout, " r2 ") != 1 {
		t.Fatalf("status of drifting replicas: %+v", r)
	}
	// Bring store a to r2: build it there and roll out.
	if r := cedargate(t, "build", dir, "--env", "prod", "--store", stores[0], "--now", refDate, "--revision", "r2"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	if r := cedargate(t, "rollout", "r2", "--store", stores[0]); r.code != 0 {
		t.Fatalf("rollout: %+v", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = cedargate(t, "status", "--addr", a1.addr, "--addr", a2.addr, "--addr", b.addr)
		if r.code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.code != 0 || !strings.Contains(r.stdout, "in step") {
		t.Fatalf("status after catching up: %+v", r)
	}
}
