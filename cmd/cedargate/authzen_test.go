package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/internal/testpki"
)

// buildAuthZENFixture builds a copy of examples/authzen (outside Git, so
// that the checkout's state does not matter) into a new store, active,
// and returns the store's directory.
func buildAuthZENFixture(t *testing.T) string {
	t.Helper()
	repoDir := filepath.Join(t.TempDir(), "authzen")
	if err := os.CopyFS(repoDir, os.DirFS(filepath.Join("..", "..", "examples", "authzen"))); err != nil {
		t.Fatal(err)
	}
	storeDir := filepath.Join(t.TempDir(), "store")
	if r := cedargate(t, "build", repoDir, "--store", storeDir, "--activate", "--revision", "fixture-r1"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	return storeDir
}

// TestServeAuthZENOverMTLS runs the real binary with the AuthZEN API on
// --http-listen, over mTLS with the gRPC listener's certificate flags and
// a bearer token from a file: a caller needs both, its decisions are
// logged with its certificate's identity and "frontend":"authzen", and
// SIGTERM stops the server with every decision in the log.
func TestServeAuthZENOverMTLS(t *testing.T) {
	storeDir := buildAuthZENFixture(t)
	dir := t.TempDir()
	pki := testpki.New(t)
	ca, cert, key := pki.WriteFiles(dir, "server", pki.Server())
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("\nrotated-out-token\n  s3cret-token  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "decisions.log")
	s := serve(t, "--store", storeDir, "--decision-log", logFile, "--http-listen", "127.0.0.1:0",
		"--tls-cert", cert, "--tls-key", key, "--client-ca", ca, "--http-token-file", tokens)
	if s.httpAddr == "" {
		t.Fatal("serve did not log the HTTP address it serves on")
	}

	pep := pki.Client("spiffe://example.org/ns/edge/sa/gateway", "gateway")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.ClientConfig(&pep)}, Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	ask := func(token string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "https://"+s.httpAddr+"/access/v1/evaluation",
			strings.NewReader(`{"subject": {"type": "user", "id": "alice"}, "action": {"name": "write"}, "resource": {"type": "record", "id": "record-1"}}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	code, body := ask("s3cret-token")
	if code != 200 || body["decision"] != true {
		t.Fatalf("with the token: %d %v", code, body)
	}
	id := body["context"].(map[string]any)["decision_id"]
	if code, body := ask("wrong-token"); code != 401 {
		t.Fatalf("with a wrong token: %d %v", code, body)
	}
	if code, _ := ask("rotated-out-token"); code != 200 {
		t.Fatalf("with the file's other token: %d", code)
	}
	// Without a client certificate the TLS handshake fails.
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.ClientConfig(nil)}, Timeout: 20 * time.Second}
	defer plain.CloseIdleConnections()
	if resp, err := plain.Get("https://" + s.httpAddr + "/.well-known/authzen-configuration"); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate got %s", resp.Status)
	}

	s.terminate(t)
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 2 {
		t.Fatalf("%d decisions logged, want the 2 made with a token", len(lines))
	}
	l := lines[0]
	if l["decision_id"] != id || l["frontend"] != "authzen" || l["caller"] != "spiffe://example.org/ns/edge/sa/gateway" ||
		l["decision"] != "allow" || l["principal"] != `Fixture::User::"alice"` {
		t.Errorf("logged %v", l)
	}
	data, _ := os.ReadFile(logFile)
	if strings.Contains(string(data), "s3cret") {
		t.Error("the token is in the decision log")
	}
}

// TestServeAuthZENUsage checks the --http flags' usage errors, reported
// before anything starts, without quoting the token file.
func TestServeAuthZENUsage(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	spaced := filepath.Join(dir, "spaced")
	for f, content := range map[string]string{empty: "\n \n", spaced: "half of a secret\n"} {
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a token file without the listener", []string{"--http-token-file", empty}, "--http-token-file and --http-base-url need --http-listen"},
		{"a base URL without the listener", []string{"--http-base-url", "https://pdp.example.com"}, "need --http-listen"},
		{"an empty token file", []string{"--http-listen", "127.0.0.1:0", "--http-token-file", empty}, "holds no token"},
		{"a missing token file", []string{"--http-listen", "127.0.0.1:0", "--http-token-file", filepath.Join(dir, "nope")}, "--http-token-file: open"},
		{"a token with spaces", []string{"--http-listen", "127.0.0.1:0", "--http-token-file", spaced}, spaced + ":1: a token is printable ASCII without spaces"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := cedargate(t, append([]string{"serve", "--store", dir, "--listen", "127.0.0.1:0", "--metrics-listen", ""}, tt.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "secret") {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, exitUsage, tt.want)
			}
		})
	}
	// A base URL the API cannot use stops serve before it serves.
	r := cedargate(t, "serve", "--store", dir, "--listen", "127.0.0.1:0", "--metrics-listen", "", "--http-listen", "127.0.0.1:0", "--http-base-url", "pdp.example.com")
	if r.code == 0 || !strings.Contains(r.stderr, `authzen base URL "pdp.example.com" must start with https://`) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}
