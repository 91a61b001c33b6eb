package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cedargate/cedargate/internal/gittest"
)

// readmeHeading is the README section whose first sh block TestReadme
// runs: renaming the section or dropping the block fails the test.
const readmeHeading = "## Using it"

// nobody is the unprivileged user the README runs as when the tests run
// as root (as CI does): the README promises it needs no privilege.
const nobody = 65534

// TestReadme runs the README's "Using it" block verbatim with sh -e, in a
// fresh empty directory, as an unprivileged user, with the cedargate
// binary on PATH and HOME in a temporary directory; any command that fails
// fails the test. The PDP the block starts is killed at the end whatever
// happens.
func TestReadme(t *testing.T) {
	block := readmeBlock(t)
	for _, addr := range []string{"127.0.0.1:9191", "127.0.0.1:9192"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("the README block listens on %s, which is taken on this machine: %v", addr, err)
		}
		l.Close()
	}
	root, work, path, cred := sandbox(t, nil)

	cmd := exec.Command("/bin/sh", "-e", "-c", block)
	cmd.Dir = work
	cmd.Env = []string{"HOME=" + filepath.Join(root, "home"), "PATH=" + path, "TMPDIR=" + filepath.Join(root, "tmp")}
	// Its own process group, so that the PDP started in the background
	// can be killed with the shell however the block ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	// Output goes to a file, not a pipe: a pipe would keep Wait waiting
	// for the background PDP, which inherits it, after the shell failed.
	outFile, err := os.Create(filepath.Join(root, "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd.Stdout, cmd.Stderr = outFile, outFile
	out := func() string { data, _ := os.ReadFile(outFile.Name()); return string(data) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the README block failed (%v):\n%s", err, out())
		}
	case <-time.After(3 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("the README block did not finish in 3 minutes:\n%s", out())
	}
	for _, want := range []string{"initialised identity", "ALLOW\n  by admins-manage-services", "rolled back to src-", "2 bundle(s), 2 verified"} {
		if !strings.Contains(out(), want) {
			t.Errorf("the README block's output lacks %q:\n%s", want, out())
		}
	}
	// The block ends by stopping the PDP: it must shut down gracefully,
	// which its log says last.
	serveLog := filepath.Join(work, "serve.log")
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(serveLog)
		if bytes.Contains(data, []byte(`"msg":"stopped"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the PDP did not stop gracefully after the block's kill; serve.log:\n%s", data)
		}
		time.Sleep(50 * time.Millisecond) // polling a file with a deadline
	}
}

// readmeBlock returns the first sh block after readmeHeading in README.md.
func readmeBlock(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n"+readmeHeading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", readmeHeading)
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	_, rest, ok := strings.Cut(section, "\n```sh\n")
	if !ok {
		t.Fatalf("README.md's %q section has no ```sh block", readmeHeading)
	}
	block, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatalf("README.md's %q block is not closed", readmeHeading)
	}
	return block + "\n"
}

// sandbox makes a fresh directory tree for running shell commands as a
// user would: work (empty, the current directory), home, tmp and bin,
// where "cedargate" runs this test binary as the CLI. When the test runs
// as root, the tree belongs to nobody and cred runs commands as nobody;
// otherwise cred is nil (the current user). prepare, when not nil, fills
// work first, as the user running the tests. It returns the tree's root,
// work, a PATH with bin first, and cred. The tree is removed at the end.
func sandbox(t *testing.T, prepare func(work string)) (root, work, path string, cred *syscall.Credential) {
	t.Helper()
	// Not t.TempDir: its parent is private to the user running the tests,
	// so nobody could not enter it.
	root, err := os.MkdirTemp("", "cedargate-sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	for _, d := range []string{"work", "home", "tmp", "bin"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin")
	if err := os.WriteFile(filepath.Join(bin, "cedargate.test"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/sh\nCEDARGATE_MAIN=1 exec " + shellQuote(filepath.Join(bin, "cedargate.test")) + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "cedargate"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(filepath.Join(root, "work"))
	}
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: nobody, Gid: nobody}
		giveToNobody(t, root)
	}
	return root, filepath.Join(root, "work"), bin + ":/usr/local/bin:/usr/bin:/bin", cred
}

// giveToNobody makes nobody the owner of everything under dir.
func giveToNobody(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInitNextCommandWorks runs init where a new user would (outside Git,
// in a Git repository without commits, in a Git work tree with commits)
// and then the command init prints after "next: ", verbatim, with sh -e:
// it must build.
func TestInitNextCommandWorks(t *testing.T) {
	for _, tt := range []struct {
		name string
		git  func(t *testing.T, dir string)
		dir  string
		want string
	}{
		{"outside Git", nil, "identity", "built src-"},
		{"outside Git, current directory", nil, ".", "built src-"},
		{"Git without commits", func(t *testing.T, dir string) { gittest.Run(t, dir, "alice", "", "init", "-q") }, "identity", "built scaffold"},
		{"Git work tree", func(t *testing.T, dir string) {
			gittest.Run(t, dir, "alice", "", "init", "-q")
			gittest.Run(t, dir, "alice", "2026-11-23T12:00:00Z", "commit", "-q", "--allow-empty", "-m", "start")
		}, "identity", "-dirty-"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// init . runs inside the directory it fills.
			sub := ""
			if tt.dir == "." {
				sub = "identity"
			}
			_, work, path, cred := sandbox(t, func(work string) {
				if err := os.MkdirAll(filepath.Join(work, sub), 0o755); err != nil {
					t.Fatal(err)
				}
				if tt.git != nil {
					tt.git(t, work)
				}
			})
			cwd := filepath.Join(work, sub)
			run := func(line string) string {
				t.Helper()
				cmd := exec.Command("/bin/sh", "-e", "-c", line)
				cmd.Dir = cwd
				cmd.Env = []string{"HOME=" + filepath.Join(filepath.Dir(work), "home"), "PATH=" + path}
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Fatal(err)
				}
				if err != nil {
					t.Fatalf("%s: %v\n%s", line, err, out)
				}
				return string(out)
			}
			out := run("cedargate init " + tt.dir)
			_, next, ok := strings.Cut(out, "\nnext: ")
			if !ok {
				t.Fatalf("init printed no next command:\n%s", out)
			}
			next = strings.TrimSuffix(next, "\n")
			if !strings.HasPrefix(next, "cedargate build") || strings.Contains(next, "\n") {
				t.Fatalf("init's next command is not one build command: %q", next)
			}
			if got := run(next); !strings.Contains(got, tt.want) || !strings.Contains(got, "activated ") {
				t.Errorf("%s printed:\n%s\nwant %q and an activation", next, got, tt.want)
			}
		})
	}
}
