package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLinksOutTheRepositoryLeakNothing runs the real build, lint and test
// on a repository whose cedargate.yaml, schema or identity file is a link
// to a file outside it that holds a secret (with a syntax error on the
// line that holds it, so a parser would quote it): each command fails,
// names the link, and prints neither the secret nor where it lives.
func TestLinksOutTheRepositoryLeakNothing(t *testing.T) {
	const marker = "SECRET-9d41a7-must-not-leak"
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "passwd-"+marker)
	if err := os.WriteFile(secret, []byte(marker+": [x\nroot:"+marker+":0:0::/root:/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := scaffold(t)
	links := []struct{ name, file string }{
		{"cedargate.yaml", "cedargate.yaml"},
		{"schema", "schema.cedarschema"},
		{"identity file", "identities/platform.yaml"},
	}
	for _, l := range links {
		t.Run(l.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, filepath.FromSlash(l.file))
			if err := os.Remove(link); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(secret, link); err != nil {
				t.Fatal(err)
			}
			store := filepath.Join(t.TempDir(), "store")
			for _, args := range [][]string{
				{"build", dir, "--env", "prod", "--store", store, "--now", refDate},
				{"lint", dir, "--env", "prod", "--now", refDate},
				{"test", dir, "--env", "prod", "--now", refDate},
			} {
				r := cedargate(t, args...)
				out := r.stdout + r.stderr
				if r.code != exitProblems {
					t.Errorf("%s: exit code %d, want %d\n%s", args[0], r.code, exitProblems, out)
				}
				want := l.file + ": symbolic link " + l.file + " points outside the repository"
				if !strings.Contains(out, want) {
					t.Errorf("%s: output does not contain\n  %s\ngot:\n%s", args[0], want, out)
				}
				if strings.Contains(out, marker) || strings.Contains(out, secretDir) {
					t.Errorf("%s: output shows the link's target:\n%s", args[0], out)
				}
			}
			if _, err := os.Stat(store); !os.IsNotExist(err) {
				t.Errorf("build wrote the store (%v)", err)
			}
		})
	}
}
