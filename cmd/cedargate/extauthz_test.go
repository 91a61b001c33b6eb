package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// TestServeExtauthzFlags checks that a bad ext_authz setup stops serve
// before it starts, as a usage error.
func TestServeExtauthzFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("namespace: Acme\ncontext:\n  headers: [authorization]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("namespace: Acme\nprincipal:\n  headr: x-user\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"config without --extauthz", []string{"--extauthz-config", bad}, "--extauthz-config and --extauthz-namespace need --extauthz"},
		{"namespace without --extauthz", []string{"--extauthz-namespace", "Acme"}, "need --extauthz"},
		{"missing file", []string{"--extauthz", "--extauthz-config", filepath.Join(dir, "none.yaml")}, "--extauthz-config: open"},
		{"unknown field", []string{"--extauthz", "--extauthz-config", typo}, `unknown field "headr"`},
		{"credential header", []string{"--extauthz", "--extauthz-config", bad}, `context.headers "authorization" carries credentials`},
		{"bad namespace", []string{"--extauthz", "--extauthz-namespace", "Acme::"}, `namespace "Acme::" is not a Cedar namespace`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cedargate(t, append([]string{"serve", "--store", filepath.Join(dir, "store")}, tc.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d with %q", r.code, r.stderr, exitUsage, tc.want)
			}
		})
	}
}

// TestServeExtauthz runs `cedargate serve --extauthz` on a bundle built by
// `cedargate build` and asks it what Envoy would.
func TestServeExtauthz(t *testing.T) {
	dir := t.TempDir()
	storeDir, dlog := filepath.Join(dir, "store"), filepath.Join(dir, "decisions.log")
	// The server decides by the clock, so the repository is dated from
	// today, as init dates it.
	if r := cedargate(t, "build", scaffoldToday(t), "--env", "prod", "--store", storeDir,
		"--activate", "--revision", "r1"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "serve", "--store", storeDir, "--listen", "127.0.0.1:0", "--metrics-listen", "",
		"--decision-log", dlog, "--extauthz", "--extauthz-namespace", "App")
	cmd.Env = append(os.Environ(), "CEDARGATE_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc, drained := make(chan string, 1), make(chan struct{})
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			<-drained
			_ = cmd.Wait()
		}
	})
	// The server logs its address once it serves. The reader drains
	// stderr to the end, as exec requires before Wait.
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				select {
				case addrc <- line.Addr:
				default:
				}
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not report its address within 30s")
	}

	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(cc).Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{
			Principal: "spiffe://example.org/prod/deployer",
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: "10.20.8.15", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}},
		},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/v1/status", Host: "api:8080",
		}},
	}})
	if err != nil || codes.Code(resp.GetStatus().GetCode()) != codes.OK {
		t.Fatalf("Check = %v, %v; want OK", resp, err)
	}
	id := resp.GetDynamicMetadata().GetFields()["decision_id"].GetStringValue()

	// SIGTERM stops serve gracefully, flushing the decision log.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited = true
	<-drained
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v", err)
	}
	data, err := os.ReadFile(dlog)
	if err != nil {
		t.Fatal(err)
	}
	want := `"decision_id":"` + id + `","time":`
	if !strings.Contains(string(data), want) || !strings.Contains(string(data), `"revision":"r1"`) {
		t.Errorf("decision log %s lacks decision %s of revision r1", data, id)
	}
}
