package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/internal/atomicfile"
)

// child is a cedargate process that a test signals.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	// ready is when it said its signal handling was in place.
	ready time.Time
	done  chan struct{}
	// code is its exit code once done is closed; -1 if a signal killed
	// it.
	code int
	// exited is when it exited.
	exited time.Time
}

// startChild runs the CLI with args in a child process and waits until it
// has set up its signal handling (see mainSignalReady).
func startChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := &child{cmd: exec.Command(exe, args...), done: make(chan struct{})}
	c.cmd.Env = append(env, "CEDARGATE_MAIN=1", "CEDARGATE_SIGNAL_READY=1")
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	c.cmd.ExtraFiles = []*os.File{w}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		_ = c.cmd.Wait()
		c.exited = time.Now()
		c.code = c.cmd.ProcessState.ExitCode()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
	got := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 1))
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			<-c.done
			t.Fatalf("%v: no ready signal (%v); exit %d, stderr: %s", args, err, c.code, c.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%v did not start", args)
	}
	c.ready = time.Now()
	return c
}

func (c *child) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%v did not exit", c.cmd.Args)
	}
}

// environ is the test's environment with USER set to user (unset when
// empty).
func environ(user string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "USER=") {
			env = append(env, kv)
		}
	}
	if user != "" {
		env = append(env, "USER="+user)
	}
	return env
}

// storeState reads what a store says is active, and its history.
func storeState(t *testing.T, dir string) (string, []store.Activation) {
	t.Helper()
	st, err := store.OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := st.History()
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Active()
	if err != nil {
		return "", h
	}
	return p.Revision, h
}

// temporaries lists the temporary files of interrupted writes in a store.
func temporaries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{dir, filepath.Join(dir, store.BundlesDir)} {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if atomicfile.IsTemp(e.Name()) {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	return out
}

// TestSignalStopsACommandWaitingForTheStore holds the store's lock, as a
// slow writer would, runs a command that must wait for it, signals it, and
// checks it exits 130 (SIGINT) or 143 (SIGTERM) without touching the
// store: while the lock is held it cannot have activated anything.
func TestSignalStopsACommandWaitingForTheStore(t *testing.T) {
	acme := filepath.Join("..", "..", "examples", "acme")
	storeDir := filepath.Join(t.TempDir(), "store")
	for _, rev := range []string{"r1", "r2"} {
		if r := cedargate(t, "build", acme, "--env", "prod", "--store", storeDir, "--activate", "--now", refDate, "--revision", rev); r.code != 0 {
			t.Fatalf("build: %+v", r)
		}
	}
	tests := []struct {
		name string
		args []string
		sig  syscall.Signal
		code int
	}{
		{"rollout, SIGINT", []string{"rollout", "r1", "--store", storeDir}, syscall.SIGINT, exitInterrupted},
		{"rollback, SIGTERM", []string{"rollback", "--store", storeDir}, syscall.SIGTERM, exitTerminated},
		{"store repair, SIGTERM", []string{"store", "repair", "--store", storeDir}, syscall.SIGTERM, exitTerminated},
		{"build --activate, SIGINT", []string{"build", acme, "--env", "prod", "--store", storeDir, "--activate", "--now", refDate, "--revision", "r3"}, syscall.SIGINT, exitInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := treeHash(t, storeDir)
			lock, err := os.OpenFile(filepath.Join(storeDir, ".lock"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Close()
			if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
				t.Fatal(err)
			}
			c := startChild(t, environ("sam"), tt.args...)
			if err := c.cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			c.wait(t)
			_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
			name := map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[tt.sig]
			if c.code != tt.code || !strings.Contains(c.stderr.String(), "cedargate: stopped by "+name) {
				t.Fatalf("exit %d, stderr %q; want %d and stopped by %s", c.code, c.stderr.String(), tt.code, name)
			}
			if after := treeHash(t, storeDir); after != before {
				t.Errorf("the store changed")
			}
		})
	}
}

// TestBuildActivateStopsOnSIGTERM sends SIGTERM to `build --activate` of
// examples/acme at 50 random instants (seeded, so a failure can be rerun)
// spread over the measured duration of an uninterrupted build, each from
// the moment the process handles signals. After each, the process exited
// 143 with the active revision unchanged, or 0 (it finished first) with
// its revision active and recorded after the one before; no temporary file
// is left, and `store verify` passes.
func TestBuildActivateStopsOnSIGTERM(t *testing.T) {
	// Long and independent of other tests: it runs beside the other long
	// tests marked parallel, to keep make test within its 10-minute budget.
	t.Parallel()
	const runs, seed = 50, 20261123
	acme := filepath.Join("..", "..", "examples", "acme")
	storeDir := filepath.Join(t.TempDir(), "store")
	build := func(rev string) []string {
		return []string{"build", acme, "--env", "prod", "--store", storeDir, "--activate", "--now", refDate, "--revision", rev}
	}
	env := environ("sam")
	// Uninterrupted builds: the first creates the store, the slowest
	// sets the span the instants are drawn from.
	var span time.Duration
	for _, rev := range []string{"m1", "m2", "m3"} {
		c := startChild(t, env, build(rev)...)
		c.wait(t)
		if c.code != 0 {
			t.Fatalf("build %s: exit %d: %s", rev, c.code, c.stderr.String())
		}
		span = max(span, c.exited.Sub(c.ready))
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	outcomes := map[int]int{}
	for i := range runs {
		rev := "s" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		before, history := storeState(t, storeDir)
		// Up to a tenth past the measured span, so that some builds
		// finish before their signal.
		at := time.Duration(rng.Int64N(int64(span) * 11 / 10))
		c := startChild(t, env, build(rev)...)
		timer := time.NewTimer(at - time.Since(c.ready))
		select {
		case <-timer.C:
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		case <-c.done:
			timer.Stop()
		}
		c.wait(t)
		outcomes[c.code]++
		active, after := storeState(t, storeDir)
		what := "run " + rev + " signalled at " + at.String()
		switch c.code {
		case exitTerminated:
			if active != before || len(after) != len(history) {
				t.Fatalf("%s: exit 143, but %s is active (was %s) and history has %d entries (was %d)", what, active, before, len(after), len(history))
			}
			if !strings.Contains(c.stderr.String(), "stopped by SIGTERM") {
				t.Errorf("%s: exit 143 without saying so: %s", what, c.stderr.String())
			}
		case exitOK:
			if active != rev || len(after) != len(history)+1 || after[0].Revision != rev || after[0].Previous != before {
				t.Fatalf("%s: exit 0, but %s is active (want %s) after %s; history %v", what, active, rev, before, after[:min(2, len(after))])
			}
		default:
			t.Fatalf("%s: exit %d, want 0 or 143; stderr: %s", what, c.code, c.stderr.String())
		}
		if tmp := temporaries(t, storeDir); len(tmp) > 0 {
			t.Fatalf("%s: temporary files left: %v", what, tmp)
		}
		if r := cedargate(t, "store", "verify", "--store", storeDir); r.code != 0 {
			t.Fatalf("%s: store verify: exit %d\n%s%s", what, r.code, r.stdout, r.stderr)
		}
	}
	// The builds ran git in this checkout and were stopped while it ran:
	// it must not have left a lock file behind (git killed holding one
	// breaks the user's next git command).
	if out, err := exec.Command("git", "-C", acme, "rev-parse", "--absolute-git-dir").Output(); err == nil {
		lock := filepath.Join(strings.TrimSpace(string(out)), "index.lock")
		if _, err := os.Stat(lock); err == nil {
			t.Errorf("%s was left behind by a stopped build's git", lock)
		}
	}
	t.Logf("seed %d, instants over %v: %d stopped (143), %d finished first (0)", seed, span*11/10, outcomes[exitTerminated], outcomes[exitOK])
	if outcomes[exitTerminated] == 0 {
		t.Error("no build was stopped: the instants missed every build")
	}
}
