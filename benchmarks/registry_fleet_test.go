package benchmarks

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/oci"
	"github.com/cedargate/cedargate/internal/ocitest"
	"github.com/cedargate/cedargate/pdp/client"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// The harness of the registry rollout benchmark (issue 14): a real CNCF
// Distribution registry (internal/ocitest), a publisher that pushes and
// rolls out through bundle/oci as `cedargate push` and `rollout` do, and
// replicas that are `cedargate serve --source oci://…:prod` processes,
// each reaching the registry through a relay of its own so that the
// registry's middleware can tell whose request it answers.

// buildCedargate compiles the cedargate binary into a temporary directory
// (the build cache makes every build after the first cheap).
func buildCedargate(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "cedargate")
	build := exec.Command("go", "build", "-o", bin, "github.com/cedargate/cedargate/cmd/cedargate")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// traffic is what the registry sent one replica: response body bytes of
// bundle blobs (the archives), and of everything else (manifests, the
// channel's document, an artifact's empty configuration); requests; and
// every byte its connections carried from the registry, headers
// included.
type traffic struct {
	Bundles, Metadata, Requests, Wire int64
}

// sub is t less an earlier reading.
func (t traffic) sub(u traffic) traffic {
	return traffic{t.Bundles - u.Bundles, t.Metadata - u.Metadata, t.Requests - u.Requests, t.Wire - u.Wire}
}

// trafficMeter counts what the registry sends to each replica, and to
// everyone else (the publisher) in the last slot. A replica is known by
// the address its relay's connections come from.
type trafficMeter struct {
	conns   sync.Map // "127.0.0.1:PORT" of a relay's connection → replica index
	bundles sync.Map // "sha256:…" of a bundle archive → true
	counts  []trafficCounter
}

type trafficCounter struct{ bundles, metadata, requests, wire atomic.Int64 }

func newTrafficMeter(replicas int) *trafficMeter {
	return &trafficMeter{counts: make([]trafficCounter, replicas+1)}
}

// middleware wraps the registry's handler to count each response.
func (m *trafficMeter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := len(m.counts) - 1
		if v, ok := m.conns.Load(r.RemoteAddr); ok {
			who = v.(int)
		}
		c := &m.counts[who]
		c.requests.Add(1)
		n := &c.metadata
		if _, blob, ok := strings.Cut(r.URL.Path, "/blobs/"); ok {
			if _, bundle := m.bundles.Load(blob); bundle {
				n = &c.bundles
			}
		}
		next.ServeHTTP(&meteredWriter{ResponseWriter: w, body: countingWriter{w: w, n: n}}, r)
	})
}

// replica returns what the registry has sent replica i so far.
func (m *trafficMeter) replica(i int) traffic {
	c := &m.counts[i]
	return traffic{c.bundles.Load(), c.metadata.Load(), c.requests.Load(), c.wire.Load()}
}

// meteredWriter counts the bytes of a response body. It has no ReadFrom,
// so blobs reach the connection in 32 KiB writes rather than through
// sendfile: on loopback that costs well under a millisecond per megabyte.
type meteredWriter struct {
	http.ResponseWriter
	body countingWriter
}

func (w *meteredWriter) Write(p []byte) (int, error) { return w.body.Write(p) }

// Unwrap lets http.ResponseController reach the connection.
func (w *meteredWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// startRelay forwards TCP connections from a loopback port to the
// registry, registering each of its connections to the registry with m
// as replica who's before a byte flows, and counting the bytes that flow
// back. It returns the port's address.
func startRelay(tb testing.TB, registry string, m *trafficMeter, who int) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		open   = map[net.Conn]bool{}
		closed bool
		// track keeps the open connections for the cleanup to close, and
		// closes at once one opened after it.
		track = func(c net.Conn, on bool) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case on && closed:
				c.Close()
			case on:
				open[c] = true
			default:
				delete(open, c)
			}
		}
	)
	pipe := func(down net.Conn) {
		defer wg.Done()
		defer down.Close()
		up, err := net.Dial("tcp", registry)
		if err != nil {
			return
		}
		key := up.LocalAddr().String()
		m.conns.Store(key, who)
		track(up, true)
		defer func() {
			track(up, false)
			m.conns.Delete(key)
			up.Close()
		}()
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(up, down)
			up.Close()
			close(done)
		}()
		_, _ = io.Copy(&countingWriter{w: down, n: &m.counts[who].wire}, up)
		down.Close()
		<-done
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			track(c, true)
			wg.Add(1)
			go func() {
				defer track(c, false)
				pipe(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		lis.Close()
		mu.Lock()
		closed = true
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return lis.Addr().String()
}

// countingWriter counts what it writes to w.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// fleetReplica is one `cedargate serve --source` process and a client of
// it.
type fleetReplica struct {
	addr   string
	client *client.Client
	exited chan struct{}
	mu     sync.Mutex
	tail   []string // its last log lines, for failure messages
}

// startReplica runs `cedargate serve --source channel` with a cache
// directory of its own, and returns once it listens.
func startReplica(tb testing.TB, bin, channel, verifyKey string, poll time.Duration) *fleetReplica {
	tb.Helper()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--metrics-listen", "", "--decision-log", "",
		"--source", channel, "--cache", filepath.Join(tb.TempDir(), "cache"), "--verify-key", verifyKey,
		"--plain-http", "--poll", poll.String())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	r := &fleetReplica{exited: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			r.mu.Lock()
			r.tail = append(r.tail, sc.Text())
			if len(r.tail) > 20 {
				r.tail = r.tail[1:]
			}
			r.mu.Unlock()
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				select {
				case addrc <- line.Addr:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		_ = cmd.Wait()
		close(r.exited)
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-r.exited
	})
	select {
	case r.addr = <-addrc:
	case <-r.exited:
		tb.Fatalf("serve exited:\n%s", r.logTail())
	case <-time.After(time.Minute):
		tb.Fatalf("serve did not listen within a minute:\n%s", r.logTail())
	}
	conn, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	r.client = client.New(conn)
	return r
}

func (r *fleetReplica) logTail() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.tail, "\n")
}

// activation is when a replica activated a bundle, and how long its
// activation took (reading the bundle from the cache, decoding,
// compiling).
type activation struct {
	at   time.Time
	took time.Duration
}

// activated returns the replica's activation of revision rev, and false
// while it serves another one (or is not serving).
func (r *fleetReplica) activated(ctx context.Context, rev string) (activation, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := r.client.Status(ctx)
	if err != nil {
		return activation{}, false, err
	}
	if !st.GetServing() || st.GetBundle().GetRevision() != rev {
		return activation{}, false, nil
	}
	a := activation{at: st.GetActivationTime().AsTime()}
	for _, ra := range st.GetRecentActivations() { // newest first
		if ra.GetResult() == pb.ActivationResult_ACTIVATION_RESULT_SUCCESS && ra.GetBundle().GetRevision() == rev {
			a.took = ra.GetDuration().AsDuration()
			break
		}
	}
	return a, true, nil
}

// registryFleet is a registry, its publisher, and replicas following the
// channel prod of repository bench/policy.
type registryFleet struct {
	reg      *ocitest.Registry
	meter    *trafficMeter
	repo     *oci.Repository
	key      ed25519.PrivateKey
	base     *bundle.Bundle
	replicas []*fleetReplica
}

// newRegistryFleet starts the registry, pushes base as revision rev and
// rolls it out, then starts the replicas and waits until they all serve
// it. Bundles are signed with a key generated here, which the replicas
// require (serve --verify-key).
func newRegistryFleet(tb testing.TB, bin string, base *bundle.Bundle, rev string, replicas int, poll time.Duration) *registryFleet {
	tb.Helper()
	privPEM, pubPEM, err := bundle.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	f := &registryFleet{meter: newTrafficMeter(replicas), base: base}
	if f.key, err = bundle.ParsePrivateKey(privPEM); err != nil {
		tb.Fatal(err)
	}
	pub := filepath.Join(tb.TempDir(), "bundle.pub")
	if err := os.WriteFile(pub, pubPEM, 0o644); err != nil {
		tb.Fatal(err)
	}
	f.reg = ocitest.Start(tb, ocitest.Options{Middleware: f.meter.middleware})
	ref, err := oci.ParseRepository("oci://" + f.reg.Host + "/bench/policy")
	if err != nil {
		tb.Fatal(err)
	}
	if f.repo, err = oci.Open(ref, oci.Options{PlainHTTP: true}); err != nil {
		tb.Fatal(err)
	}
	f.publish(tb, rev)
	if _, err := f.repo.Rollout(context.Background(), "prod", rev, f.moveOptions()); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	for i := range replicas {
		relay := startRelay(tb, f.reg.Host, f.meter, i)
		f.replicas = append(f.replicas, startReplica(tb, bin, "oci://"+relay+"/bench/policy:prod", pub, poll))
	}
	f.converge(tb, rev, start)
	return f
}

// publish pushes base as revision rev, signed: what `cedargate build
// --revision rev --sign-key K` then `cedargate push` upload. It returns
// the archive's size.
func (f *registryFleet) publish(tb testing.TB, rev string) int {
	tb.Helper()
	b := *f.base
	b.Manifest.Revision = rev
	if err := bundle.Sign(&b, f.key); err != nil {
		tb.Fatal(err)
	}
	archive, err := bundle.Encode(&b)
	if err != nil {
		tb.Fatal(err)
	}
	f.meter.bundles.Store(digest.FromBytes(archive).String(), true)
	if _, _, err := f.repo.Push(context.Background(), archive); err != nil {
		tb.Fatal(err)
	}
	return len(archive)
}

// moveOptions are those of `cedargate rollout --sign-key K`: the channel
// is signed with K, and the bundle must carry a signature by it.
func (f *registryFleet) moveOptions() oci.MoveOptions {
	pub := f.key.Public().(ed25519.PublicKey)
	return oci.MoveOptions{SignKey: f.key, BundleKeys: []ed25519.PublicKey{pub}, Now: time.Now(), User: "bench"}
}

// moved is one move of the channel as the fleet saw it.
type moved struct {
	rev string
	// call is how long the move itself took (reading the channel,
	// fetching and verifying the bundle, writing the channel); converged
	// how long from its start until the last replica activated rev;
	// activate the longest a replica's activation took, the PDP's share
	// (the rest is the move, the wait for a poll, the download and the
	// verification into the cache).
	call, converged, activate time.Duration
	// perReplica is what the registry sent each replica meanwhile.
	perReplica []traffic
}

// move runs a rollout (rev names the revision) or, with rev "", a
// rollback, and waits for every replica to serve what the channel then
// names.
func (f *registryFleet) move(tb testing.TB, rev string) moved {
	tb.Helper()
	before := make([]traffic, len(f.replicas))
	for i := range f.replicas {
		before[i] = f.meter.replica(i)
	}
	ctx := context.Background()
	start := time.Now()
	var m oci.Move
	var err error
	if rev != "" {
		m, err = f.repo.Rollout(ctx, "prod", rev, f.moveOptions())
	} else {
		m, err = f.repo.Rollback(ctx, "prod", f.moveOptions())
	}
	if err != nil {
		tb.Fatal(err)
	}
	out := moved{rev: m.Revision, call: time.Since(start)}
	out.converged, out.activate = f.converge(tb, m.Revision, start)
	for i := range f.replicas {
		out.perReplica = append(out.perReplica, f.meter.replica(i).sub(before[i]))
	}
	return out
}

// converge waits until every replica serves rev, and returns how long
// after start the last of them activated it, by the replicas' own
// activation times (the poll below bounds only how soon that is seen),
// and the longest of their activations.
func (f *registryFleet) converge(tb testing.TB, rev string, start time.Time) (time.Duration, time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var last time.Time
	var longest time.Duration
	for i, r := range f.replicas {
		for {
			a, ok, err := r.activated(context.Background(), rev)
			if ok {
				if a.at.Before(start) {
					tb.Fatalf("replica %d activated %s at %v, before the move started at %v", i, rev, a.at, start)
				}
				last, longest = later(last, a.at), max(longest, a.took)
				break
			}
			select {
			case <-r.exited:
				tb.Fatalf("replica %d exited:\n%s", i, r.logTail())
			default:
			}
			if time.Now().After(deadline) {
				tb.Fatalf("replica %d does not serve %s after 5 minutes (last error: %v):\n%s", i, rev, err, r.logTail())
			}
			<-tick.C
		}
	}
	return last.Sub(start), longest
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// revisionName is the i-th revision the benchmark publishes of a size.
func revisionName(size string, i int) string { return fmt.Sprintf("oci-%s-%d", size, i) }
