package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp/client"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// bombBytes is how much the gzip bomb inflates to: 900 MB of zeros, which
// gzip's fastest level packs into about 1.1 MB.
const bombBytes = 900 << 20

// memoryBound is how much a process may grow while it refuses the bomb.
const memoryBound = 64 << 20

// writeBomb writes to path, streaming, a bundle archive whose manifest is
// plausible and whose entities.json is bombBytes of zeros, its size
// declared honestly in its tar header, as an attacker with write access to
// the store would.
func writeBomb(t *testing.T, path, rev string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	manifest := []byte(`{"format_version": 1, "revision": "` + rev + `", "environment": "prod"}`)
	write := func(name string, size int64, r io.Reader) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, r); err != nil {
			t.Fatal(err)
		}
	}
	write(bundle.ManifestFile, int64(len(manifest)), bytes.NewReader(manifest))
	write(bundle.EntitiesFile, bombBytes, io.LimitReader(zeros{}, bombBytes))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// maxRSS runs the CLI with args in a child process and returns its result
// and its peak resident set size, in bytes, as the kernel measured it.
func maxRSS(t *testing.T, args ...string) (result, int64) {
	t.Helper()
	exe, _ := os.Executable()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "CEDARGATE_MAIN=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return result{code, stdout.String(), stderr.String()}, ru.Maxrss << 10 // Linux reports KiB
}

// procStatus returns a field of /proc/PID/status (VmRSS, VmHWM), in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// copyDir copies the regular files under src to dst, keeping the layout.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGzipBombIsRefusedWithBoundedMemory puts a gzip bomb (about 1 MB
// that inflates to 900 MB) in a store. `rollout` refuses it without
// inflating it; a serving PDP that finds it active refuses it too, grows by
// less than 64 MiB while doing so (its peak RSS, from /proc, against its
// RSS before), keeps answering ALLOW and DENY with the last good bundle
// over gRPC, reports the failure in GetStatus, and does not read the bomb
// again on the polls that follow. Memory is what is asserted, not time.
func TestGzipBombIsRefusedWithBoundedMemory(t *testing.T) {
	// Long and independent of other tests: it runs beside the other long
	// tests marked parallel, to keep make test within its 10-minute budget.
	t.Parallel()
	dir := scaffoldToday(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	for _, args := range [][]string{{"--activate", "--revision", "r1"}, {"--revision", "bomb"}} {
		if r := cedargate(t, append([]string{"build", dir, "--env", "prod", "--store", storeDir}, args...)...); r.code != 0 {
			t.Fatalf("build %v: %+v", args, r)
		}
	}
	// A copy of the store in which the revision "bomb" is rolled out while
	// its file is still a good bundle; the bomb replaces it afterwards, in
	// both stores, as a hostile writer would.
	bombed := filepath.Join(t.TempDir(), "bombed")
	copyDir(t, storeDir, bombed)
	if r := cedargate(t, "rollout", "bomb", "--store", bombed); r.code != 0 {
		t.Fatalf("rollout in the copy: %+v", r)
	}
	bombFile := bundlePath(t, storeDir, "bomb")
	writeBomb(t, bombFile, "bomb")
	info, _ := os.Stat(bombFile)
	t.Logf("gzip bomb: %d bytes, inflating to %d", info.Size(), bombBytes)
	copyFile(t, bombFile, bundlePath(t, bombed, "bomb"))

	t.Run("rollout", func(t *testing.T) {
		base, baseRSS := maxRSS(t, "rollout", "r1", "--store", storeDir)
		if base.code != 0 {
			t.Fatalf("rollout r1: %+v", base)
		}
		r, rss := maxRSS(t, "rollout", "bomb", "--store", storeDir)
		if r.code != exitFailure || !strings.Contains(r.stderr, "bundle too large") {
			t.Fatalf("rollout of the bomb: %+v", r)
		}
		t.Logf("rollout peak RSS: %d MiB refusing the bomb, %d MiB rolling out r1", rss>>20, baseRSS>>20)
		if rss-baseRSS > memoryBound {
			t.Fatalf("rollout of the bomb peaked at %d MiB, %d MiB above a good rollout", rss>>20, (rss-baseRSS)>>20)
		}
		if h := cedargate(t, "history", "--store", storeDir); !strings.Contains(h.stdout, "r1 (active)") {
			t.Fatalf("history after the refused rollout:\n%s", h.stdout)
		}
	})

	t.Run("serve", func(t *testing.T) {
		const poll = 50 * time.Millisecond
		s := serve(t, "--store", storeDir, "--decision-log", "", "--poll", poll.String())
		pid := s.cmd.Process.Pid
		conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c := client.New(conn)
		ctx := context.Background()
		principal, _ := repo.ParseEntityUID(`App::ServiceAccount::"deployer-prod"`)
		resource, _ := repo.ParseEntityUID(`App::Service::"api"`)
		decide := func(action string) client.Decision {
			a, _ := repo.ParseEntityUID(`App::Action::"` + action + `"`)
			d, err := c.Authorize(ctx, client.Request{Principal: principal, Action: a, Resource: resource})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		checkDecisions := func(when string) {
			if d := decide("read"); !d.Allow || d.Bundle.Revision != "r1" {
				t.Fatalf("%s: read = %+v, want ALLOW by r1", when, d)
			}
			if d := decide("write"); d.Allow || d.Bundle.Revision != "r1" {
				t.Fatalf("%s: write = %+v, want DENY by r1", when, d)
			}
		}
		checkDecisions("before the bomb")

		// Reset the peak RSS to the current one (clear_refs 5), so that
		// VmHWM measures the refusal only.
		before := procStatus(t, pid, "VmRSS")
		if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0); err != nil {
			t.Fatal(err)
		}
		// The store directory is replaced by the copy whose active
		// revision is the bomb, as a sync tool swaps a tree.
		if err := os.Rename(storeDir, storeDir+".old"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(bombed, storeDir); err != nil {
			t.Fatal(err)
		}
		var failure *pb.Activation
		waitFor(t, "the bomb to be refused", func() bool {
			st, err := c.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			failure = st.GetLastFailedActivation()
			return failure.GetBundle().GetRevision() == "bomb"
		})
		peak := procStatus(t, pid, "VmHWM")
		t.Logf("serve RSS: %d MiB before, peak %d MiB while refusing the bomb", before>>20, peak>>20)
		if peak-before > memoryBound {
			t.Fatalf("serve grew by %d MiB refusing the bomb, more than %d MiB", (peak-before)>>20, memoryBound>>20)
		}
		if !strings.Contains(failure.GetError(), "bundle too large") {
			t.Fatalf("last failed activation: %v", failure)
		}
		checkDecisions("after the bomb")

		// Ten more polls read the store (the source's last success moves
		// on), and none of them reads the bomb again: still one failure.
		refusedAt := failure.GetTime().AsTime()
		var st *pb.GetStatusResponse
		waitFor(t, "ten more polls of the store", func() bool {
			if st, err = c.Status(ctx); err != nil {
				t.Fatal(err)
			}
			return st.GetSourceStatus().GetLastSuccessTime().AsTime().After(refusedAt.Add(10 * poll))
		})
		failures := 0
		for _, a := range st.GetRecentActivations() {
			if a.GetResult() == pb.ActivationResult_ACTIVATION_RESULT_FAILURE {
				failures++
			}
		}
		if failures != 1 {
			t.Fatalf("%d failed activations after ten polls, want the bomb refused once: %v", failures, st.GetRecentActivations())
		}
	})
}

// waitFor polls cond until it holds, failing the test after 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bundlePath is where the store at dir keeps the bundle of rev.
func bundlePath(t *testing.T, dir, rev string) string {
	t.Helper()
	st, err := store.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return st.BundlePath(rev)
}

// copyFile copies one file.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
