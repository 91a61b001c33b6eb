package pdp_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/client"
	"github.com/cedargate/cedargate/pdp/decisionlog"
)

// A small plain-Cedar repository. Each revision differs in one policy, so
// that a decision tells which revision made it.
const schema = `namespace Docs {
  entity User in [Team];
  entity Team;
  entity Doc { classified: Bool };
  action read, write appliesTo { principal: User, resource: Doc, context: { mfa?: Bool, source_ip?: ipaddr } };
}
`

const entities = `[
  {"uid": {"type": "Docs::User", "id": "alice"}, "attrs": {}, "parents": [{"type": "Docs::Team", "id": "eng"}]},
  {"uid": {"type": "Docs::Team", "id": "eng"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Docs::Doc", "id": "plan"}, "attrs": {"classified": false}, "parents": []},
  {"uid": {"type": "Docs::Doc", "id": "secret"}, "attrs": {"classified": true}, "parents": []}
]
`

// revisions maps a revision name to its policy file. In "allow" the team
// may read every unclassified document; in "deny" a forbid blocks reads of
// the plan too.
var revisions = map[string]string{
	"allow": `@id("team-reads")
permit (principal in Docs::Team::"eng", action == Docs::Action::"read", resource is Docs::Doc)
when { !resource.classified };
`,
	"deny": `@id("team-reads")
permit (principal in Docs::Team::"eng", action == Docs::Action::"read", resource is Docs::Doc)
when { !resource.classified };

@id("freeze")
forbid (principal, action, resource == Docs::Doc::"plan");
`,
}

// buildInto builds revision rev into the store at dir (signed with key if
// set) and returns the store.
func buildInto(t testing.TB, dir, rev string, key ed25519.PrivateKey) *store.Store {
	t.Helper()
	return buildFiles(t, dir, rev, map[string]string{
		"schema.cedarschema":  schema,
		"entities/docs.json":  entities,
		"policies/docs.cedar": revisions[rev],
	}, key)
}

// buildFiles writes a repository of files (path → content), builds it as
// revision rev into the store at dir (signed with key if set) and returns
// the store.
func buildFiles(t testing.TB, dir, rev string, files map[string]string, key ed25519.PrivateKey) *store.Store {
	t.Helper()
	repoDir := filepath.Join(t.TempDir(), "repo-"+rev)
	for name, content := range files {
		p := filepath.Join(repoDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := build.Build(t.Context(), repoDir, build.Options{Revision: rev, SignKey: key, CompilerVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Create(t.Context(), dir, out.Bundle.Manifest.Environment)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), out.Archive); err != nil {
		t.Fatal(err)
	}
	return st
}

// syncBuffer is a bytes.Buffer the server's log goroutines and the test
// can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type harness struct {
	srv    *pdp.Server
	client *client.Client
	conn   *grpc.ClientConn
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// start runs a PDP on a free loopback port over src (a store, or a
// registry channel), as a real gRPC server, and returns a client connected
// to it.
func start(t testing.TB, src pdp.Source, mutate func(*pdp.Options)) *harness {
	t.Helper()
	logs := &syncBuffer{}
	opts := pdp.Options{
		Source:        src,
		Listen:        "127.0.0.1:0",
		MetricsListen: "127.0.0.1:0",
		Logger:        slog.New(slog.NewJSONHandler(logs, nil)),
		Debounce:      5 * time.Millisecond,
		Poll:          -1,
	}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := pdp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{srv: srv, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- srv.Serve(ctx) }()
	conn, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	h.conn = conn
	h.client = client.New(conn)
	t.Cleanup(func() { h.stop(t) })
	return h
}

// stop shuts the server down and waits for Serve to return.
func (h *harness) stop(t testing.TB) {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	h.conn.Close()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("server did not stop")
	}
}

func uid(typ, id string) types.EntityUID {
	return types.NewEntityUID(types.EntityType(typ), types.String(id))
}

// readPlan is the request whose answer differs between revisions.
func readPlan() client.Request {
	return client.Request{Principal: uid("Docs::User", "alice"), Action: uid("Docs::Action", "read"), Resource: uid("Docs::Doc", "plan")}
}

// eventually waits for cond with a deadline, polling; it is the only way
// these tests wait.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// decisionLog opens the decision log options for a file in dir.
func decisionLog(dir string) decisionlog.Options {
	return decisionlog.Options{Path: filepath.Join(dir, "decisions.log"), OnFull: decisionlog.Block, BlockTimeout: 5 * time.Second}
}
