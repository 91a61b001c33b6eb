// Package ocitest runs a real OCI registry, the CNCF Distribution registry
// (github.com/distribution/distribution/v3), in-process on a loopback port
// for tests: bundle/oci, the PDP's registry source and the command line are
// tested against the registry operators run, not a hand-written fake. Only
// tests import it, so the registry is linked into test binaries alone.
package ocitest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	// The registry's storage and access controllers register themselves.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// quiet silences the registry's logger (logrus's standard logger) once:
// its request logs would drown the test's output.
var quiet sync.Once

// Registry is a running Distribution registry on a loopback port.
type Registry struct {
	// Host is "127.0.0.1:PORT", what an oci:// reference names.
	Host string
	app  *handlers.App
	// dir is where the filesystem driver stores content.
	dir        string
	middleware func(http.Handler) http.Handler
	mu         sync.Mutex
	srv        *http.Server
	// requests counts the HTTP requests the registry received, and bytes
	// the bytes of the response bodies it sent, so that tests can measure
	// what a replica costs the registry.
	requests atomic.Int64
	bytes    atomic.Int64
}

// Options configure a test registry.
type Options struct {
	// User and Password, when set, make the registry require HTTP basic
	// authentication (the htpasswd access controller) for every request.
	User, Password string
	// Middleware, when set, wraps the registry's handler: tests use it
	// to act between two requests of a client (another writer's rollout
	// landing between a write and its read-back).
	Middleware func(http.Handler) http.Handler
}

// Start runs a registry storing into a temporary directory until the test
// ends.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	quiet.Do(func() { logrus.SetOutput(io.Discard) })
	dir := t.TempDir()
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem": configuration.Parameters{"rootdirectory": filepath.Join(dir, "data")},
			"delete":     configuration.Parameters{"enabled": true},
			// The upload purger starts a goroutine that outlives the test
			// by hours; nothing is left half-uploaded worth purging.
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		},
	}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	cfg.HTTP.Secret = "ocitest"
	if opts.User != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(opts.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, fmt.Appendf(nil, "%s:%s\n", opts.User, hash), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "ocitest", "path": htpasswd}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Registry{app: handlers.NewApp(ctx, cfg), dir: filepath.Join(dir, "data"), middleware: opts.Middleware}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r.Host = lis.Addr().String()
	r.serve(lis)
	t.Cleanup(func() {
		r.Stop()
		_ = r.app.Shutdown()
		cancel()
	})
	return r
}

func (r *Registry) serve(lis net.Listener) {
	var h http.Handler = r.app
	if r.middleware != nil {
		h = r.middleware(h)
	}
	counted := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		h.ServeHTTP(&countingWriter{ResponseWriter: w, n: &r.bytes}, req)
	})
	srv := &http.Server{Handler: counted}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(lis) }()
}

// Stop closes the registry's listener and connections: clients then get
// "connection refused", as from a registry that is down. Its content is
// kept for Restart.
func (r *Registry) Stop() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart serves the same content on the same address again after Stop.
func (r *Registry) Restart(t testing.TB) {
	t.Helper()
	lis, err := net.Listen("tcp", r.Host)
	if err != nil {
		t.Fatalf("restarting the registry on %s: %v", r.Host, err)
	}
	r.serve(lis)
}

// BlobPath is the file in which the registry stores the blob of digest d
// ("sha256:<hex>"), so that a test can tamper with stored content as a
// compromised registry or a failing disk would.
func (r *Registry) BlobPath(d string) string {
	algo, hex, _ := strings.Cut(d, ":")
	return filepath.Join(r.dir, "docker", "registry", "v2", "blobs", algo, hex[:2], hex, "data")
}

// Requests is how many HTTP requests the registry has received.
func (r *Registry) Requests() int64 { return r.requests.Load() }

// BytesSent is how many response body bytes the registry has sent.
func (r *Registry) BytesSent() int64 { return r.bytes.Load() }

// countingWriter counts the bytes of a response body.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// ReadFrom keeps the registry's blob downloads on the fast path while
// counting them.
func (w *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	n, err := io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
	w.n.Add(n)
	return n, err
}

// Flush passes flushes through.
func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
