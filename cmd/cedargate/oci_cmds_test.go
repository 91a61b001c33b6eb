package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
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
