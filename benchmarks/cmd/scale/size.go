package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cedargate/cedargate/benchmarks/internal/proc"
	"github.com/cedargate/cedargate/benchmarks/workload"
	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp/client"
)

// maxBundleBytes is the bundle size limit the benchmarks build and serve
// with: a million identities' bundle is hundreds of MiB uncompressed,
// beyond the default 64 MiB.
const maxBundleBytes = 4 << 30

// Revisions: a is built and served, b (the same content) is rolled out
// for the hot reload, then c, a with 1% of the identities changed (see
// changeIdentities), then d, c with 1% of the users moved to another
// group (see moveUsers).
const revA, revB, revC, revD = "scale-a", "scale-b", "scale-c", "scale-d"

// settle is how long the server is left serving before its RSS is read:
// Go returns the memory an activation freed to the operating system
// gradually, so RSS right after activation overstates what serving
// needs.
const settle = 10 * time.Second

// sizeResult is what one repository size measured.
type sizeResult struct {
	Size                           string
	Identities                     int
	Entities, Policies, Grants     int
	ArchiveBytes, UncompressedSize int64
	// Built is set when `cedargate build` built the bundle; otherwise it
	// comes from workload.Repo.Bundle.
	Built               bool
	BuildWall, BuildCPU time.Duration
	BuildPeakRSS        int64
	Snapshot            snapshotResult
	// Activation is the server's own measure of its first activation
	// (read, verify, compile, swap); StartToServing the wall time from
	// starting the process to its serving.
	Activation, StartToServing time.Duration
	// StartupPeakRSS is VmHWM once serving; ServingRSS is RSS after
	// settle.
	StartupPeakRSS, ServingRSS int64
	// ReloadActivation and ReloadPeakRSS are the server's activation of
	// revision b while a serves, and VmHWM from the rollout until b
	// serves.
	ReloadActivation time.Duration
	ReloadPeakRSS    int64
	// ChangedReloadActivation and ChangedReloadPeakRSS are the same for
	// revision c, rolled out while b serves: a's bundle with
	// ChangedIdentities identities changed (an attribute each), so that
	// its entities differ from those serving.
	ChangedReloadActivation time.Duration
	ChangedReloadPeakRSS    int64
	ChangedIdentities       int
	// MovedReloadActivation and MovedReloadPeakRSS are the same for
	// revision d, rolled out while c serves: c's bundle with MovedUsers
	// users moved to another group, so that memberships change.
	MovedReloadActivation time.Duration
	MovedReloadPeakRSS    int64
	MovedUsers            int
}

var builtRE = regexp.MustCompile(`(\d+) policies \((\d+) grants\), (\d+) entities`)

// size measures one repository size.
func (d *driver) size(ctx context.Context, size string, build bool) (sizeResult, error) {
	res := sizeResult{Size: size, Built: build}
	dir := filepath.Join(d.work, size)
	storeDir := filepath.Join(dir, "store")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	d.logf("%s: generating", size)
	r, err := d.repo(size)
	if err != nil {
		return res, err
	}
	res.Identities = r.Spec.Users + r.Spec.ServiceAccounts
	if build {
		if err := d.build(r, dir, storeDir, &res); err != nil {
			return res, err
		}
	} else {
		d.logf("%s: writing the bundle (workload.Repo.Bundle)", size)
		if err := d.direct(ctx, r, storeDir); err != nil {
			return res, err
		}
	}
	r = nil
	st, err := store.Open(ctx, storeDir)
	if err != nil {
		return res, err
	}
	st.SetMaxBundleBytes(maxBundleBytes)
	path := st.BundlePath(revA)
	if err := bundleSizes(path, &res); err != nil {
		return res, err
	}
	d.logf("%s: measuring the snapshot", size)
	if err := d.measure(path, size, &res); err != nil {
		return res, err
	}
	d.logf("%s: serving", size)
	return res, d.serve(ctx, st, storeDir, &res)
}

// build builds r with `cedargate build` into storeDir, timed.
func (d *driver) build(r *workload.Repo, dir, storeDir string, res *sizeResult) error {
	repoDir := filepath.Join(dir, "repo")
	if err := r.Write(repoDir); err != nil {
		return err
	}
	d.logf("%s: cedargate build", res.Size)
	wall, cpu, rss, err := proc.RunTimed(dir, "build", d.cedargate, "build", repoDir, "--env", workload.Env,
		"--now", d.now.Format(time.DateOnly), "--store", storeDir, "--revision", revA, "--activate",
		"--max-bundle-bytes", strconv.Itoa(maxBundleBytes))
	if err != nil {
		return err
	}
	res.BuildWall, res.BuildCPU, res.BuildPeakRSS = wall, cpu, rss
	out, _ := os.ReadFile(filepath.Join(dir, "build.log"))
	m := builtRE.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("build printed no counts:\n%s", proc.Tail(out, 2000))
	}
	res.Policies, _ = strconv.Atoi(string(m[1]))
	res.Grants, _ = strconv.Atoi(string(m[2]))
	res.Entities, _ = strconv.Atoi(string(m[3]))
	return os.RemoveAll(repoDir)
}

// direct stores and activates the bundle workload.Repo.Bundle writes.
func (d *driver) direct(ctx context.Context, r *workload.Repo, storeDir string) error {
	b, err := r.Bundle(revA)
	if err != nil {
		return err
	}
	archive, err := bundle.Encode(b)
	if err != nil {
		return err
	}
	b = nil
	st, err := store.Create(ctx, storeDir, workload.Env)
	if err != nil {
		return err
	}
	st.SetMaxBundleBytes(maxBundleBytes)
	if _, err := st.Put(ctx, archive); err != nil {
		return err
	}
	_, err = st.Activate(ctx, revA, "build", time.Now())
	return err
}

// bundleSizes reads the archive's size and its files' sizes.
func bundleSizes(path string, res *sizeResult) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	res.ArchiveBytes = int64(len(data))
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		res.UncompressedSize += hdr.Size
	}
}

// measure runs this command on the bundle in a child process, so that
// the snapshot's heap is all the process holds.
func (d *driver) measure(path, size string, res *sizeResult) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-child", path, "-child-size", size, "-decide-time", d.decideTime.String(), "-now", d.now.Format(time.DateOnly))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("measuring the snapshot: %w", err)
	}
	if err := json.Unmarshal(out, &res.Snapshot); err != nil {
		return err
	}
	if !res.Built {
		res.Entities, res.Policies, res.Grants = res.Snapshot.Entities, res.Snapshot.Policies, res.Snapshot.Grants
	}
	return nil
}

// serve starts `cedargate serve` on the store and measures its
// activation, its memory once serving and a hot reload.
func (d *driver) serve(ctx context.Context, st *store.Store, storeDir string, res *sizeResult) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	metrics, err := freeAddr()
	if err != nil {
		return err
	}
	t0 := time.Now()
	srv, err := proc.Start(filepath.Join(d.work, res.Size), "serve", d.cedargate, "serve", "--store", storeDir, "--listen", addr,
		"--metrics-listen", metrics, "--decision-log", "", "--max-bundle-bytes", strconv.Itoa(maxBundleBytes))
	if err != nil {
		return err
	}
	defer srv.Stop()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	pdp := client.New(conn)
	if res.Activation, err = waitServing(ctx, pdp, srv, revA); err != nil {
		return err
	}
	res.StartToServing = time.Since(t0)
	if _, res.StartupPeakRSS, err = proc.Memory(srv.PID()); err != nil {
		return err
	}
	time.Sleep(settle)
	if res.ServingRSS, _, err = proc.Memory(srv.PID()); err != nil {
		return err
	}
	if !d.reload {
		return nil
	}
	// Revision b: the same bundle under another revision, rolled out
	// as `cedargate rollout` does.
	if res.ReloadActivation, res.ReloadPeakRSS, err = d.reloadTo(ctx, st, pdp, srv, revB, nil); err != nil {
		return err
	}
	// Revision c: 1% of the identities changed. A reload whose entities
	// are the same shares them with the snapshot serving, so b alone
	// would overstate what a reload with real changes costs.
	if res.ChangedReloadActivation, res.ChangedReloadPeakRSS, err = d.reloadTo(ctx, st, pdp, srv, revC, func(b *bundle.Bundle) {
		b.Entities, res.ChangedIdentities = changeIdentities(b.Entities)
	}); err != nil {
		return err
	}
	// Revision d: c with 1% of the users in another group. Memberships
	// change the shape of the entities, which an attribute change keeps.
	res.MovedReloadActivation, res.MovedReloadPeakRSS, err = d.reloadTo(ctx, st, pdp, srv, revD, func(b *bundle.Bundle) {
		b.Entities, _ = changeIdentities(b.Entities)
		b.Entities, res.MovedUsers = moveUsers(b.Entities)
	})
	return err
}

// reloadTo stores a's bundle as revision rev, changed by change if set,
// rolls it out to the server and returns the server's activation of it
// and the server's peak RSS from the rollout until it serves rev.
func (d *driver) reloadTo(ctx context.Context, st *store.Store, pdp *client.Client, srv *proc.Child, rev string, change func(*bundle.Bundle)) (time.Duration, int64, error) {
	b, err := st.LoadRevision(revA, nil)
	if err != nil {
		return 0, 0, err
	}
	b.Manifest.Revision = rev
	if change != nil {
		change(b)
	}
	archive, err := bundle.Encode(b)
	if err != nil {
		return 0, 0, err
	}
	b = nil
	if _, err := st.Put(ctx, archive); err != nil {
		return 0, 0, err
	}
	archive = nil
	if err := proc.ResetPeak(srv.PID()); err != nil {
		return 0, 0, err
	}
	if _, err := st.Activate(ctx, rev, "rollout", time.Now()); err != nil {
		return 0, 0, err
	}
	took, err := waitServing(ctx, pdp, srv, rev)
	if err != nil {
		return 0, 0, err
	}
	_, peak, err := proc.Memory(srv.PID())
	return took, peak, err
}

// changeIdentities changes one identity in a hundred of entities (a
// bundle's entities.json, an entity a line), spread over the file: its
// clearance goes up by one, from 5 back to 1 (the next identity with a
// clearance, when the hundredth has none). It returns the entities
// and how many identities it changed.
func changeIdentities(entities []byte) ([]byte, int) {
	lines := bytes.Split(entities, []byte("\n"))
	identities, changed, due := 0, 0, false
	for i, line := range lines {
		if !bytes.HasPrefix(line, []byte(`{"uid":{"type":"`+workload.Namespace+`::User"`)) &&
			!bytes.HasPrefix(line, []byte(`{"uid":{"type":"`+workload.Namespace+`::ServiceAccount"`)) {
			continue
		}
		identities++
		due = due || identities%100 == 0
		m := clearanceRE.FindSubmatchIndex(line)
		if !due || m == nil {
			// An identity with no clearance passes the change on to
			// the next one with one.
			continue
		}
		due = false
		n, _ := strconv.Atoi(string(line[m[2]:m[3]]))
		lines[i] = slices.Concat(line[:m[2]], []byte(strconv.Itoa(n%5+1)), line[m[3]:])
		changed++
	}
	return bytes.Join(lines, []byte("\n")), changed
}

var clearanceRE = regexp.MustCompile(`"clearance":(\d+)`)

// moveUsers moves one user in a hundred of entities (a bundle's
// entities.json, an entity a line), spread over the file, to the group
// of the next user in another group: of the users in exactly one group,
// the only kind it moves, so that the parents stay sorted. It returns
// the entities and how many users it moved.
func moveUsers(entities []byte) ([]byte, int) {
	lines := bytes.Split(entities, []byte("\n"))
	// groupOf[i] is the group id's place in line i, or nil.
	groupOf := make([][]int, len(lines))
	for i, line := range lines {
		if bytes.HasPrefix(line, []byte(`{"uid":{"type":"`+workload.Namespace+`::User"`)) {
			groupOf[i] = oneGroupRE.FindSubmatchIndex(line)
		}
	}
	users, moved := 0, 0
	for i, m := range groupOf {
		if m == nil {
			continue
		}
		if users++; users%100 != 0 {
			continue
		}
		group := lines[i][m[2]:m[3]]
		for j := i + 1; j < len(lines); j++ {
			if n := groupOf[j]; n != nil && !bytes.Equal(lines[j][n[2]:n[3]], group) {
				lines[i] = slices.Concat(lines[i][:m[2]], lines[j][n[2]:n[3]], lines[i][m[3]:])
				moved++
				break
			}
		}
	}
	return bytes.Join(lines, []byte("\n")), moved
}

// oneGroupRE finds the group of a user in exactly one group (its only
// parent of that type, before its team).
var oneGroupRE = regexp.MustCompile(`"parents":\[\{"type":"` + workload.Namespace + `::Group","id":"([^"]+)"\}(?:,\{"type":"` + workload.Namespace + `::Team"[^}]*\})?\]`)

// waitServing asks the server for its status until it serves revision
// rev, and returns how long it says the activation took.
func waitServing(ctx context.Context, pdp *client.Client, srv *proc.Child, rev string) (time.Duration, error) {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		if done, err := srv.Exited(); done {
			return 0, fmt.Errorf("the server exited: %v", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := pdp.Status(cctx)
		cancel()
		if err == nil && s.GetServing() && s.GetBundle().GetRevision() == rev {
			for _, a := range s.GetRecentActivations() {
				if a.GetBundle().GetRevision() == rev {
					return a.GetDuration().AsDuration(), nil
				}
			}
			return 0, fmt.Errorf("%s serves but its activation is not in the status", rev)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("the server did not serve %s within 10 minutes", rev)
}

// freeAddr returns a loopback address with a free port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
