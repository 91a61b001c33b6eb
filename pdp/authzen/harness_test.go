package authzen_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/authzen"
	"github.com/cedargate/cedargate/pdp/decisionlog"
)

// refNow is the instant the fixture is built and decided at, so that the
// tests never depend on the day they run.
var refNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// revision is the revision of the test bundle.
const revision = "authzen-fixture"

// fixtureArchive builds examples/authzen once per test binary.
var fixtureArchive = sync.OnceValues(func() ([]byte, error) {
	out, err := build.Build(context.Background(), filepath.Join("..", "..", "examples", "authzen"), build.Options{Now: refNow, Revision: revision})
	if err != nil {
		return nil, err
	}
	return out.Archive, nil
})

// fixtureStore returns a store holding the fixture's bundle, active.
func fixtureStore(t testing.TB) *store.Store {
	t.Helper()
	archive, err := fixtureArchive()
	if err != nil {
		t.Fatalf("building examples/authzen: %v", err)
	}
	return storeWith(t, archive)
}

// storeWith returns a store in a temporary directory holding archive,
// active.
func storeWith(t testing.TB, archive []byte) *store.Store {
	t.Helper()
	st, err := store.Create(context.Background(), filepath.Join(t.TempDir(), "store"), "default")
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Put(context.Background(), archive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Activate(context.Background(), p.Revision, store.ActionRollout, refNow); err != nil {
		t.Fatal(err)
	}
	return st
}

// server is a PDP serving the AuthZEN API on a loopback port.
type server struct {
	srv  *pdp.Server
	url  string
	logf string
	stop func()
}

// start serves st with the AuthZEN API configured by opts (and the PDP by
// popts, whose source, listeners and log it fills), until the test ends or
// stop is called.
func start(t testing.TB, st pdp.Source, opts authzen.Options, popts pdp.Options) *server {
	t.Helper()
	logf := filepath.Join(t.TempDir(), "decisions.log")
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	popts.Source, popts.Listen, popts.HTTPListen, popts.Poll = st, "127.0.0.1:0", "127.0.0.1:0", -1
	popts.Logger = opts.Logger
	popts.HTTP = authzen.HTTP(opts)
	popts.DecisionLog = decisionlog.Options{Path: logf, OnFull: decisionlog.Block, BlockTimeout: time.Second}
	if popts.Clock == nil {
		popts.Clock = func() time.Time { return refNow }
	}
	srv, err := pdp.New(popts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	scheme := "http://"
	if popts.HTTPTLS != nil {
		scheme = "https://"
	}
	return &server{srv: srv, url: scheme + srv.HTTPAddr().String(), logf: logf, stop: stop}
}

// startFixture serves the certification fixture with default options.
func startFixture(t testing.TB) *server {
	t.Helper()
	return start(t, fixtureStore(t), authzen.Options{}, pdp.Options{})
}

// reply is an HTTP response as the tests look at it.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// post sends body (JSON text) to path with Content-Type application/json
// and the headers given (name, value pairs).
func (s *server) post(t testing.TB, path, body string, headers ...string) reply {
	t.Helper()
	return s.do(t, http.DefaultClient, http.MethodPost, path, body, append([]string{"Content-Type", "application/json"}, headers...)...)
}

// do sends a request with the headers given (name, value pairs; an empty
// value removes a header) and reads the reply; a JSON object body is
// decoded.
func (s *server) do(t testing.TB, c *http.Client, method, path, body string, headers ...string) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
		}
	}
	return r
}

// decisions stops the server, which flushes the decision log, and returns
// its lines decoded.
func (s *server) decisions(t testing.TB) []map[string]any {
	t.Helper()
	s.stop()
	f, err := os.Open(s.logf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("decision log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}
