package build

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/internal/gittest"
)

// gitIn runs git in dir as user t at a fixed date (see gittest.Run).
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.Run(t, dir, "t", "2026-11-20T00:00:00Z", args...)
}

// TestCompileRevision compiles a repository at an earlier commit, after
// the work tree has moved on, and at a commit that does not compile: the
// first is the earlier content with the commit as its revision, the
// second an error that names the revision and its first problem.
func TestCompileRevision(t *testing.T) {
	dir := scaffold(t)
	gitIn(t, dir, "init", "-q")
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-qm", "scaffold")
	good := gitIn(t, dir, "rev-parse", "HEAD")
	before, err := Compile(t.Context(), dir, "prod", "work")
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "identities", "broken.yaml")
	if err := os.WriteFile(broken, []byte("kind: User\nname: bob\ngroups: [no-such-group]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-qm", "broken")
	if err := os.Remove(broken); err != nil { // the work tree builds again
		t.Fatal(err)
	}

	got, c, err := CompileRevision(t.Context(), dir, good[:8], "prod")
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash != good || got.Bundle.Manifest.Revision != good || got.Bundle.Manifest.BuildTime.IsZero() {
		t.Fatalf("commit %+v, manifest %+v; want revision %s with its time", c, got.Bundle.Manifest, good)
	}
	if len(got.Bundle.Policies) != len(before.Bundle.Policies) || string(got.Bundle.Entities) != string(before.Bundle.Entities) {
		t.Fatal("the revision compiled to something else than the same content in the work tree")
	}

	_, _, err = CompileRevision(t.Context(), dir, "HEAD", "prod")
	var re *RevisionError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "revision HEAD (") || !strings.Contains(err.Error(), "identities/broken.yaml:3") {
		t.Fatalf("broken revision: %v, want a RevisionError naming HEAD and identities/broken.yaml:3", err)
	}
	if _, _, err := CompileRevision(t.Context(), dir, "v9.9", "prod"); err == nil || !strings.Contains(err.Error(), "v9.9 does not exist") {
		t.Fatalf("missing revision: %v", err)
	}
}
