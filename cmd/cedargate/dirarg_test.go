package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cedargateIn runs the CLI with args in a child process whose working
// directory is dir.
func cedargateIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return cedargateAt(t, dir, os.Environ(), args...)
}

// TestDirDefaultsToCurrentDirectory runs every command that reads an
// identity repository without DIR, from inside the repository, and checks
// that it read that one; and that init writes into the current directory.
func TestDirDefaultsToCurrentDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "here")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if r := cedargateIn(t, dir, "init"); r.code != 0 || !strings.Contains(r.stdout, "initialised .\n") {
		t.Fatalf("init with no DIR: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "cedargate.yaml")); err != nil {
		t.Fatalf("init with no DIR wrote nothing into the current directory: %v", err)
	}
	store := filepath.Join(t.TempDir(), "store")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"lint"}, "no problems"},
		{[]string{"test"}, "6 passed"},
		{[]string{"build", "--env", "dev", "--store", store}, "for dev: 3 policies"},
		{[]string{"access", "--env", "dev", "--principal", "User/alice"}, "alice"},
		{[]string{"review", "--env", "dev", "--format", "csv"}, "deployer-dev"},
	} {
		t.Run(tt.args[0], func(t *testing.T) {
			r := cedargateIn(t, dir, tt.args...)
			if r.code != 0 || !strings.Contains(r.stdout, tt.want) {
				t.Errorf("cedargate %s in the repository: %+v, want exit 0 and %q", strings.Join(tt.args, " "), r, tt.want)
			}
		})
	}
}

// TestInitNeverOverwrites checks that init refuses, changing nothing, a
// directory holding any file it would write, not only cedargate.yaml.
func TestInitNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "schema.cedarschema")
	if err := os.WriteFile(schema, []byte("// mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeHash(t, dir)
	r := cedargate(t, "init", dir)
	if r.code != exitFailure || !strings.Contains(r.stderr, "already holds schema.cedarschema; init writes only into a directory without the files it creates") {
		t.Errorf("init over a schema: %+v", r)
	}
	if treeHash(t, dir) != before {
		t.Error("a refused init changed the directory")
	}
}
