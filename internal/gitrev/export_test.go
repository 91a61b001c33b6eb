package gitrev

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExport exports a subdirectory of a Git repository at an earlier
// commit and checks that the files are the commit's, not the work tree's,
// that the work tree is untouched, and that a revision that does not
// exist, or a directory that did not exist then, is a clear error.
func TestExport(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "ids")
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(sub, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitCmd(t, root, "init", "-q")
	os.WriteFile(filepath.Join(root, "README"), []byte("before ids"), 0o644)
	gitCmd(t, root, "add", ".")
	gitCmd(t, root, "commit", "-qm", "readme")
	beforeIDs := gitCmd(t, root, "rev-parse", "HEAD")
	write("cedargate.yaml", "name: v1\n")
	write("identities/people.yaml", "kind: User\nname: alice\n")
	if err := os.Symlink("people.yaml", filepath.Join(sub, "identities", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	gitCmd(t, root, "add", ".")
	gitCmd(t, root, "commit", "-qm", "v1")
	v1 := gitCmd(t, root, "rev-parse", "HEAD")
	write("cedargate.yaml", "name: v2\n")
	gitCmd(t, root, "commit", "-qam", "v2")
	write("cedargate.yaml", "name: work tree\n")

	dst := t.TempDir()
	c, err := Export(t.Context(), sub, v1[:10], dst)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash != v1 || c.Time.IsZero() {
		t.Fatalf("commit %+v, want %s", c, v1)
	}
	for rel, want := range map[string]string{"cedargate.yaml": "name: v1\n", "identities/people.yaml": "kind: User\nname: alice\n"} {
		got, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", rel, got, err, want)
		}
	}
	if l, err := os.Readlink(filepath.Join(dst, "identities", "link.yaml")); err != nil || l != "people.yaml" {
		t.Errorf("symbolic link exported as %q, %v", l, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "README")); err == nil {
		t.Error("a file outside the directory was exported")
	}
	if got, _ := os.ReadFile(filepath.Join(sub, "cedargate.yaml")); string(got) != "name: work tree\n" {
		t.Errorf("the work tree changed: %q", got)
	}

	for _, tc := range []struct{ rev, want string }{
		{"no-such-branch", "does not exist"},
		{"--output=/tmp/x", "is not a Git revision"},
		{beforeIDs, "did not exist at revision"},
	} {
		_, err := Export(t.Context(), sub, tc.rev, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Export at %q: %v, want an error saying %q", tc.rev, err, tc.want)
		}
	}
}
