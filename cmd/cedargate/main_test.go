package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The test binary doubles as the cedargate binary: with CEDARGATE_MAIN set
// it runs main(), so tests exercise the real command line, exit codes and
// output in a separate process, as a user would.
func TestMain(m *testing.M) {
	if os.Getenv("CEDARGATE_MAIN") == "1" {
		if os.Getenv("CEDARGATE_SIGNAL_READY") == "1" {
			os.Exit(mainSignalReady())
		}
		main()
		return
	}
	os.Exit(m.Run())
}

// mainSignalReady is main, telling the test through file descriptor 3 when
// its signal handling is in place: a signal sent before that would kill
// the process, as it kills any process that has not asked for it, instead
// of stopping the command.
func mainSignalReady() int {
	ctx, stop := signalContext(context.Background())
	defer stop()
	ready := os.NewFile(3, "ready")
	_, _ = ready.Write([]byte{1})
	_ = ready.Close()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// result is what a cedargate run printed and how it exited.
type result struct {
	code           int
	stdout, stderr string
}

// cedargate runs the CLI with args in a child process.
func cedargate(t *testing.T, args ...string) result {
	t.Helper()
	return cedargateEnv(t, os.Environ(), args...)
}

// cedargateEnv runs the CLI with args in a child process whose
// environment is env.
func cedargateEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return cedargateAt(t, "", env, args...)
}

// cedargateAt runs the CLI with args in a child process whose working
// directory is dir ("" for the test's) and whose environment is env.
func cedargateAt(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = append(env, "CEDARGATE_MAIN=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// refDate is the instant every test judges dates by, so results do not
// depend on the day the tests run.
const refDate = "2026-11-23"

// scaffoldToday writes `cedargate init`'s repository, dated from today as
// init dates it, into a new directory. Tests that serve decisions by the
// clock use it, so that its grants are live whenever the tests run.
func scaffoldToday(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if r := cedargate(t, "init", dir); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	return dir
}

// scaffold writes `cedargate init`'s repository dated refDate into a new
// directory, for tests that judge guardrails with --now refDate.
func scaffold(t *testing.T) string {
	t.Helper()
	dir := scaffoldToday(t)
	// init dates the repository from the clock; rewrite the dates to the
	// reference date so the guardrails judge them as of refDate.
	ref, _ := time.Parse(time.DateOnly, refDate)
	now := time.Now().UTC().Truncate(24 * time.Hour)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		for _, months := range []int{0, 3, 6} {
			data = bytes.ReplaceAll(data, []byte(now.AddDate(0, months, 0).Format(time.DateOnly)), []byte(ref.AddDate(0, months, 0).Format(time.DateOnly)))
		}
		return os.WriteFile(p, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// treeHash hashes every file name and content under dir.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	var paths []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	slices.Sort(paths)
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		h.Write([]byte(p))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}
