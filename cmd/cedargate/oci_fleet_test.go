package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cedargate/cedargate/bundle/oci"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/ocitest"
	"github.com/cedargate/cedargate/pdp/client"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// replica is one `cedargate serve --source` child process and a client
// of it.
type replica struct {
	*served
	conn   *grpc.ClientConn
	client *client.Client
}

func (r *replica) status(t *testing.T) *pb.GetStatusResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := r.client.Status(ctx)
	if err != nil {
		t.Fatalf("status of %s: %v", r.addr, err)
	}
	return st
}

// tamperer is a registry middleware that, once armed, starts corrupting
// the download of one blob as the channel's tag is written: what a
// compromised registry, mirror or proxy would serve. Arming at the write
// (not before the rollout) lets the rollout verify the sound bundle, and
// leaves replicas no instant to download it intact.
type tamperer struct {
	blob    atomic.Value // string: "/blobs/sha256:…"
	armed   atomic.Bool
	serving atomic.Bool
}

func (tp *tamperer) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tp.armed.Load() && r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/prod") {
			tp.serving.Store(true)
		}
		if b, _ := tp.blob.Load().(string); tp.serving.Load() && r.Method == http.MethodGet && b != "" && strings.HasSuffix(r.URL.Path, b) {
			w = &flipWriter{ResponseWriter: w}
		}
		next.ServeHTTP(w, r)
	})
}

// flipWriter inverts the first byte of the body it writes.
type flipWriter struct {
	http.ResponseWriter
	done bool
}

func (f *flipWriter) Write(p []byte) (int, error) {
	if !f.done && len(p) > 0 {
		q := slices.Clone(p)
		q[0] ^= 0xff
		f.done = true
		return f.ResponseWriter.Write(q)
	}
	return f.ResponseWriter.Write(p)
}

// TestOCIFleetConvergesAndRefusesBadArtifacts is the registry's whole
// story on a real CNCF Distribution registry: push, roll out by tag,
// three `cedargate serve --source` replicas (each with its own cache)
// converge on the new revision with zero failed calls under concurrent
// Authorize load, a rollback converges them back, and an unsigned bundle
// and a tampered artifact are refused by every replica while the last
// good bundle keeps serving.
func TestOCIFleetConvergesAndRefusesBadArtifacts(t *testing.T) {
	t.Parallel()
	var tp tamperer
	f := newOCIFixture(t, ocitest.Options{Middleware: tp.middleware}, "r1", "r2", "r3")
	repoRef := "oci://" + f.reg.Host + "/acme/policy"
	channel := repoRef + ":prod"
	for _, rev := range []string{"r1", "r2", "r3"} {
		if r := cedargate(t, "push", "--store", f.store, "--revision", rev, repoRef, "--plain-http"); r.code != 0 {
			t.Fatalf("push %s: %+v", rev, r)
		}
	}
	// An unsigned bundle reaches the registry by other means than
	// cedargate push, which refuses it.
	ref, _ := oci.ParseRepository(repoRef)
	lib, err := oci.Open(ref, oci.Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	unsigned, err := os.ReadFile(filepath.Join(f.store, "bundles", "u1.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := lib.Push(t.Context(), unsigned); err != nil {
		t.Fatal(err)
	}
	r3, err := lib.Artifact(t.Context(), "r3")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	data, err := os.ReadFile(f.reg.BlobPath(r3.Manifest.Digest.String()))
	if err != nil || json.Unmarshal(data, &m) != nil || len(m.Layers) != 1 {
		t.Fatalf("r3's manifest: %v %s", err, data)
	}
	tp.blob.Store("/blobs/" + m.Layers[0].Digest)

	rollout := func(args ...string) {
		t.Helper()
		if r := cedargate(t, append(args, "--sign-key", f.key, "--plain-http")...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	rollout("rollout", "r1", channel)

	replicas := make([]*replica, 3)
	for i := range replicas {
		s := serve(t, "--source", channel, "--cache", filepath.Join(t.TempDir(), "cache"), "--verify-key", f.pub,
			"--plain-http", "--poll", "50ms", "--decision-log", "")
		conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		replicas[i] = &replica{served: s, conn: conn, client: client.New(conn)}
	}
	converged := func(rev string) time.Duration {
		t.Helper()
		start := time.Now()
		for _, r := range replicas {
			waitFor(t, r.addr+" serving "+rev, func() bool {
				st := r.status(t)
				return st.GetServing() && st.GetBundle().GetRevision() == rev
			})
		}
		return time.Since(start)
	}
	converged("r1")

	// Load: two callers per replica, Authorize in a loop until stopped.
	principal, _ := repo.ParseEntityUID(`Acme::User::"priya.raman"`)
	action, _ := repo.ParseEntityUID(`Acme::Action::"deploy"`)
	resource, _ := repo.ParseEntityUID(`Acme::Service::"checkout-web"`)
	req := client.Request{Principal: principal, Action: action, Resource: resource}
	var calls, failed atomic.Int64
	var firstErr atomic.Value
	var revsMu sync.Mutex
	revs := map[string]int{}
	stop := make(chan struct{})
	var load sync.WaitGroup
	for _, r := range replicas {
		for range 2 {
			load.Add(1)
			go func() {
				defer load.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					d, err := r.client.Authorize(ctx, req)
					cancel()
					calls.Add(1)
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
						continue
					}
					revsMu.Lock()
					revs[d.Bundle.Revision]++
					revsMu.Unlock()
				}
			}()
		}
	}
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
			load.Wait()
		}
	}
	t.Cleanup(stopLoad)
	waitFor(t, "calls under load", func() bool { return calls.Load() >= 300 })

	bytesBefore := f.reg.BytesSent()
	rollout("rollout", "r2", channel)
	took := converged("r2")
	t.Logf("rollout r2: all 3 replicas serving it %v after the rollout returned; the registry sent %d bytes, %d per replica",
		took.Round(time.Millisecond), f.reg.BytesSent()-bytesBefore, (f.reg.BytesSent()-bytesBefore)/3)
	rollout("rollback", channel)
	took = converged("r1")
	t.Logf("rollback: all 3 replicas serving r1 again %v after the rollback returned (from their caches)", took.Round(time.Millisecond))

	// A channel naming an unsigned bundle, validly signed itself (the
	// library's rollout checks the bundle's signature only with keys).
	key, err := loadPrivateKey(f.key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Rollout(t.Context(), "prod", "u1", oci.MoveOptions{SignKey: key, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	refusedBy := func(rev, msg string) {
		t.Helper()
		for _, r := range replicas {
			waitFor(t, r.addr+" refusing "+rev, func() bool {
				src := r.status(t).GetSourceStatus()
				return strings.Contains(src.GetLastError(), msg)
			})
			if st := r.status(t); !st.GetServing() || st.GetBundle().GetRevision() != "r1" {
				t.Fatalf("%s serves %v after refusing %s", r.addr, st.GetBundle(), rev)
			}
		}
	}
	refusedBy("u1", "the bundle is not signed")

	// A tampered artifact: the registry serves r3's layer with a byte
	// changed from the moment the channel names it.
	tp.armed.Store(true)
	rollout("rollout", "r3", channel)
	refusedBy("r3", "does not match its digest")

	// The last good bundle kept serving throughout.
	before := calls.Load()
	waitFor(t, "more calls after the refusals", func() bool { return calls.Load() >= before+100 })
	stopLoad()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d calls failed; the first: %v", n, calls.Load(), firstErr.Load())
	}
	revsMu.Lock()
	defer revsMu.Unlock()
	if revs["r1"] == 0 || revs["r2"] == 0 || revs["u1"] != 0 || revs["r3"] != 0 {
		t.Fatalf("decisions by revision: %v", revs)
	}
	t.Logf("%d calls, none failed; decisions by revision: %v", calls.Load(), revs)
}
