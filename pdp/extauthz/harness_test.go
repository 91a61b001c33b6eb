package extauthz_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/decisionlog"
	"github.com/cedargate/cedargate/pdp/extauthz"
)

// refNow is the instant the example repository is judged by, so that the
// build does not depend on the day the tests run.
var refNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// revision is the revision of the test bundle.
const revision = "acme-prod-test"

// acmeArchive builds examples/acme for prod once per test binary.
var acmeArchive = sync.OnceValues(func() ([]byte, error) {
	out, err := build.Build(context.Background(), filepath.Join("..", "..", "examples", "acme"), build.Options{Env: "prod", Now: refNow, Revision: revision})
	if err != nil {
		return nil, err
	}
	return out.Archive, nil
})

// newStore returns a bundle store in a temporary directory holding the
// acme prod bundle, active when activate is set.
func newStore(t *testing.T, activate bool) *store.Store {
	t.Helper()
	archive, err := acmeArchive()
	if err != nil {
		t.Fatalf("building examples/acme: %v", err)
	}
	return storeWith(t, archive, activate)
}

// storeWith returns a bundle store in a temporary directory holding
// archive, of revision `revision` for prod.
func storeWith(t *testing.T, archive []byte, activate bool) *store.Store {
	t.Helper()
	st, err := store.Create(t.Context(), filepath.Join(t.TempDir(), "store"), "prod")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), archive); err != nil {
		t.Fatal(err)
	}
	if activate {
		activateBundle(t, st)
	}
	return st
}

func activateBundle(t *testing.T, st *store.Store) {
	t.Helper()
	if _, err := st.Activate(t.Context(), revision, store.ActionRollout, refNow); err != nil {
		t.Fatal(err)
	}
}

// pdpUnderTest is a PDP serving ext_authz on loopback, with a client.
type pdpUnderTest struct {
	srv    *pdp.Server
	client authv3.AuthorizationClient
	health healthpb.HealthClient
	logf   string
	stop   func()
}

// startPDP serves st with the ext_authz adapter configured by cfg on a
// free loopback port, and returns an Envoy-shaped client for it. The
// server stops at the end of the test, or earlier through stop.
func startPDP(t *testing.T, st *store.Store, cfg extauthz.Config) *pdpUnderTest {
	t.Helper()
	m, err := extauthz.NewMapper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	logf := filepath.Join(t.TempDir(), "decisions.log")
	srv, err := pdp.New(pdp.Options{
		Source: st, Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", Logger: log, Poll: -1,
		DecisionLog: decisionlog.Options{Path: logf, OnFull: decisionlog.Block, BlockTimeout: time.Second},
		Extra:       extauthz.Extra(m, log),
		// acme's grants and accounts expire in 2027: decide as of the date
		// the example was written for, so these tests never age.
		Clock: func() time.Time { return refNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	cc, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cc.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &pdpUnderTest{srv: srv, client: authv3.NewAuthorizationClient(cc), health: healthpb.NewHealthClient(cc), logf: logf, stop: stop}
}

// check sends req with a deadline, as Envoy's filter does.
func (p *pdpUnderTest) check(t *testing.T, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.client.Check(ctx, req)
}

// decisions stops the PDP, which flushes the decision log, and returns
// the log's lines.
func (p *pdpUnderTest) decisions(t *testing.T) []logLine {
	t.Helper()
	p.stop()
	f, err := os.Open(p.logf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []logLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l logLine
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

// logLine is what the tests read from a decision log line.
type logLine struct {
	DecisionID string   `json:"decision_id"`
	Principal  string   `json:"principal"`
	Action     string   `json:"action"`
	Resource   string   `json:"resource"`
	Decision   string   `json:"decision"`
	Policies   []string `json:"policies"`
	Bundle     struct {
		Revision    string `json:"revision"`
		Environment string `json:"environment"`
	} `json:"bundle"`
}

// Workloads of examples/acme in prod, by SPIFFE id.
const (
	paymentsAPI      = "spiffe://acme.example/prod/ns/payments/sa/payments-api"
	settlementWorker = "spiffe://acme.example/prod/ns/payments/sa/settlement-worker"
	ledgerWorkload   = "spiffe://acme.example/prod/ns/payments/sa/ledger"
	strangerWorkload = "spiffe://acme.example/prod/ns/payments/sa/stranger"
)

// request is the fields of an HTTP CheckRequest a test varies.
type request struct {
	method, path, host string
	source, sourceIP   string
	destination        string
	headers            map[string]string
}

// envoyRequest builds a CheckRequest shaped like the one Envoy's HTTP
// ext_authz filter sends from a sidecar that terminates mTLS: peers with
// addresses and principals, and the request with lower-case headers
// including the pseudo-headers.
func envoyRequest(r request) *authv3.CheckRequest {
	if r.method == "" {
		r.method = "GET"
	}
	if r.path == "" {
		r.path = "/v1/balances"
	}
	if r.host == "" {
		r.host = "ledger:8080"
	}
	if r.sourceIP == "" {
		r.sourceIP = "10.20.8.15"
	}
	headers := map[string]string{
		":method": r.method, ":path": r.path, ":authority": r.host, ":scheme": "https",
		"x-request-id": "0d1e2f", "authorization": "Bearer secret-token", "user-agent": "test",
	}
	maps.Copy(headers, r.headers)
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{
			Address:   socketAddress(r.sourceIP, 41234),
			Principal: r.source,
		},
		Destination: &authv3.AttributeContext_Peer{
			Address:   socketAddress("10.20.9.9", 8080),
			Principal: r.destination,
		},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "0d1e2f", Method: r.method, Path: r.path, Host: r.host, Scheme: "https",
			Protocol: "HTTP/2", Size: -1, Headers: headers,
		}},
	}}
}

func socketAddress(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}
