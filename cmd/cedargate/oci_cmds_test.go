package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/internal/ocitest"
)

// ociFixture is a store with signed revisions of examples/acme for prod
// (r1, r2 unless others are named) and an unsigned one (u1), the key that
// signed them, and a registry.
type ociFixture struct {
	store, key, pub string
	reg             *ocitest.Registry
}

func newOCIFixture(t *testing.T, opts ocitest.Options, signed ...string) ociFixture {
	t.Helper()
	dir := t.TempDir()
	f := ociFixture{store: filepath.Join(dir, "store"), key: filepath.Join(dir, "bundle.key"), pub: filepath.Join(dir, "bundle.pub")}
	if r := cedargate(t, "keygen", "--out", filepath.Join(dir, "bundle")); r.code != 0 {
		t.Fatalf("keygen: %+v", r)
	}
	acme := filepath.Join("..", "..", "examples", "acme")
	if len(signed) == 0 {
		signed = []string{"r1", "r2"}
	}
	for _, rev := range append(signed, "u1") {
		args := []string{"build", acme, "--env", "prod", "--store", f.store, "--now", refDate, "--revision", rev}
		if rev != "u1" {
			args = append(args, "--sign-key", f.key)
		}
		if r := cedargate(t, args...); r.code != 0 {
			t.Fatalf("build %s: %+v", rev, r)
		}
	}
	f.reg = ocitest.Start(t, opts)
	return f
}

// normalizeOCI replaces what differs from run to run in the registry
// commands' output.
func normalizeOCI(out string, f ociFixture) string {
	out = strings.ReplaceAll(out, f.reg.Host, "HOST")
	out = normalize(out, f.store)
	out = strings.ReplaceAll(out, filepath.Dir(f.store), "DIR")
	out = regexp.MustCompile(`key [0-9a-f]{16}`).ReplaceAllString(out, "key KEYID")
	return out
}

// TestOCIPushRolloutRollbackHistory drives a registry channel from the
// command line as an operator would: push two revisions (and refuse an
// unsigned one), roll out, roll out again, roll back, and read the
// channel's history, as a table and as JSON. The transcript is a golden
// file.
func TestOCIPushRolloutRollbackHistory(t *testing.T) {
	f := newOCIFixture(t, ocitest.Options{})
	repo := "oci://" + f.reg.Host + "/acme/policy"
	channel := repo + ":prod"
	env := environ("sam")
	var transcript strings.Builder
	step := func(want int, args ...string) result {
		t.Helper()
		r := cedargateEnv(t, env, args...)
		transcript.WriteString("$ cedargate " + strings.Join(args, " ") + "\n" + r.stdout + r.stderr)
		if r.code != want {
			t.Fatalf("cedargate %s: exit %d, want %d\n%s%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
		}
		return r
	}
	step(0, "push", "--store", f.store, "--revision", "r1", repo, "--plain-http")
	step(0, "push", "--store", f.store, "--revision", "r1", repo, "--plain-http")
	step(0, "push", "--store", f.store, "--revision", "r2", repo, "--plain-http")
	step(3, "push", "--store", f.store, "--revision", "u1", repo, "--plain-http")
	step(0, "rollout", "r1", channel, "--sign-key", f.key, "--plain-http")
	step(0, "rollout", "r2", channel, "--sign-key", f.key, "--plain-http")
	step(0, "rollback", channel, "--sign-key", f.key, "--plain-http")
	step(0, "history", channel, "--plain-http", "--verify-key", f.pub)
	step(0, "history", channel, "--plain-http")
	r := cedargateEnv(t, env, "history", channel, "--plain-http", "--json")
	var moves []struct {
		Sequence uint64 `json:"sequence"`
		Action   string `json:"action"`
		Revision string `json:"revision"`
		User     string `json:"user"`
		Previous *struct {
			Revision string `json:"revision"`
		} `json:"previous"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &moves); err != nil {
		t.Fatal(err)
	}
	if len(moves) != 3 || moves[0].Sequence != 3 || moves[0].Action != "rollback" || moves[0].Revision != "r1" ||
		moves[0].Previous == nil || moves[0].Previous.Revision != "r2" || moves[0].User != "sam" {
		t.Fatalf("history --json: %+v", moves)
	}
	golden(t, "oci-history.txt", normalizeOCI(transcript.String(), f))
}

// TestOCICommandLineMistakes checks the usage errors of the registry
// commands, each exit 2 with a message that says what to write.
func TestOCICommandLineMistakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"push to a channel", []string{"push", "--store", "s", "--revision", "r1", "oci://r.example.com/p:prod"}, "name the repository alone"},
		{"push without revision", []string{"push", "--store", "s", "oci://r.example.com/p"}, "--revision is required"},
		{"rollout to a repository", []string{"rollout", "r1", "oci://r.example.com/p", "--sign-key", "k"}, "names no channel"},
		{"rollout to a revision tag", []string{"rollout", "r1", "oci://r.example.com/p:rev-r1", "--sign-key", "k"}, "name revisions' artifacts"},
		{"rollout with both", []string{"rollout", "r1", "oci://r.example.com/p:prod", "--store", "s", "--sign-key", "k"}, "not both"},
		{"rollout without key", []string{"rollout", "r1", "oci://r.example.com/p:prod"}, "--sign-key is required"},
		{"store rollout with a key", []string{"rollout", "r1", "--store", "s", "--sign-key", "k"}, "--sign-key applies to a registry channel"},
		{"rollback of a path", []string{"rollback", "/tmp/store"}, "takes 0 argument(s)"},
		{"history plain-http on a store", []string{"history", "--store", "s", "--plain-http"}, "--plain-http applies to a registry channel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cedargate(t, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want 2 with %q", r.code, r.stderr, tc.msg)
			}
		})
	}
}

// TestOCIPushWithDockerCredentials pushes to a registry that wants a
// password: refused without credentials (the message says docker login),
// accepted with them in $DOCKER_CONFIG/config.json.
func TestOCIPushWithDockerCredentials(t *testing.T) {
	f := newOCIFixture(t, ocitest.Options{User: "ci", Password: "s3cret"})
	repo := "oci://" + f.reg.Host + "/acme/policy"
	cfgDir := t.TempDir()
	env := append(os.Environ(), "DOCKER_CONFIG="+cfgDir)
	if r := cedargateEnv(t, env, "push", "--store", f.store, "--revision", "r1", repo, "--plain-http"); r.code != 3 || !strings.Contains(r.stderr, "docker login "+f.reg.Host) {
		t.Fatalf("push without credentials: %+v", r)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("ci:s3cret"))
	writeFile(t, filepath.Join(cfgDir, "config.json"), []byte(`{"auths": {"`+f.reg.Host+`": {"auth": "`+auth+`"}}}`))
	if r := cedargateEnv(t, env, "push", "--store", f.store, "--revision", "r1", repo, "--plain-http"); r.code != 0 || strings.Contains(r.stdout+r.stderr, "s3cret") {
		t.Fatalf("push with credentials: %+v", r)
	}
}

// TestOCIServeCommandLineMistakes checks serve's usage errors for a
// registry channel, each exit 2 before anything starts.
func TestOCIServeCommandLineMistakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"both sources", []string{"serve", "--store", "s", "--source", "oci://r.example.com/p:prod", "--cache", "c"}, "either --store or --source"},
		{"no cache", []string{"serve", "--source", "oci://r.example.com/p:prod"}, "--cache is required"},
		{"directory as source", []string{"serve", "--source", "/var/lib/store", "--cache", "c"}, "a directory is --store"},
		{"no channel", []string{"serve", "--source", "oci://r.example.com/p", "--cache", "c"}, "names no channel"},
		{"cache without source", []string{"serve", "--store", "s", "--cache", "c"}, "--cache applies to a registry channel"},
		{"no key", []string{"serve", "--source", "oci://r.example.com/p:prod", "--cache", "c"}, "--source needs --verify-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cedargate(t, append(tc.args, "--listen", "127.0.0.1:0", "--metrics-listen", "")...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want 2 with %q", r.code, r.stderr, tc.msg)
			}
		})
	}
}

// TestOCIStatusExpect runs a fleet of three replicas, two following a
// registry channel and one pinned to an old revision in a store of its
// own, and checks it with status --expect: against the channel and against
// a revision prefix it prints the fleet table, an OFF TARGET line for the
// pinned replica alone, and exits 1; the two followers alone are on
// target, exit 0.
func TestOCIStatusExpect(t *testing.T) {
	t.Parallel()
	f := newOCIFixture(t, ocitest.Options{})
	repoRef := "oci://" + f.reg.Host + "/acme/policy"
	channel := repoRef + ":prod"
	for _, args := range [][]string{
		{"push", "--store", f.store, "--revision", "r1", repoRef, "--plain-http"},
		{"push", "--store", f.store, "--revision", "r2", repoRef, "--plain-http"},
		{"rollout", "r2", channel, "--sign-key", f.key, "--plain-http"},
		{"rollout", "r1", "--store", f.store},
	} {
		if r := cedargate(t, args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	var addrs []string
	for range 2 {
		s := serve(t, "--source", channel, "--cache", filepath.Join(t.TempDir(), "cache"), "--verify-key", f.pub, "--plain-http", "--poll", "50ms", "--decision-log", "")
		addrs = append(addrs, s.addr)
	}
	pinned := serve(t, "--store", f.store, "--decision-log", "")
	followers := strings.Join(addrs, ",")
	fleet := followers + "," + pinned.addr
	if r := cedargate(t, "status", "--addr", followers, "--wait", "20s"); r.code != 0 {
		t.Fatalf("the followers did not start serving: %+v", r)
	}

	for _, tc := range []struct {
		name   string
		expect []string
		from   string
	}{
		{"channel", []string{"--expect", channel, "--plain-http", "--verify-key", f.pub}, channel + " (sequence 1)"},
		{"revision", []string{"--expect", "r2"}, "--expect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cedargate(t, append([]string{"status", "--addr", fleet}, tc.expect...)...)
			if r.code != 1 {
				t.Fatalf("status --expect of a fleet with a pinned replica: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			lines := strings.Split(r.stdout, "\n")
			if !strings.HasPrefix(lines[0], "REPLICA") || !strings.Contains(lines[3], pinned.addr) || !strings.Contains(lines[3], " r1 ") {
				t.Fatalf("table:\n%s", r.stdout)
			}
			for _, a := range addrs {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, a+" ") && strings.Contains(l, " r2 ") }) {
					t.Fatalf("no line for %s serving r2:\n%s", a, r.stdout)
				}
			}
			off := "OFF TARGET: " + pinned.addr + " serves r1 ("
			if !strings.Contains(r.stdout, off) || !strings.Contains(r.stdout, "from "+tc.from+"\n") || strings.Count(r.stdout, "OFF TARGET") != 1 {
				t.Fatalf("want one line %q…from %s:\n%s", off, tc.from, r.stdout)
			}
			if !strings.Contains(r.stderr, "1 of 3 replicas do not serve r2") {
				t.Fatalf("stderr: %q", r.stderr)
			}
		})
	}
	r := cedargate(t, "status", "--addr", followers, "--expect", channel, "--plain-http")
	if r.code != 0 || !strings.Contains(r.stdout, "on target: every replica serves r2") {
		t.Fatalf("status --expect of the followers: %+v", r)
	}
	if r := cedargate(t, "status", "--addr", pinned.addr, "--expect", "r2"); r.code != 1 || !strings.Contains(r.stdout, "OFF TARGET") {
		t.Fatalf("status --expect of the pinned replica alone: %+v", r)
	}
}
