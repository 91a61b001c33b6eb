package gitrev

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/internal/gittest"
)

// commitAt commits everything under dir as author "who" at date, and
// returns the commit's hash.
func commitAt(t *testing.T, dir, who, date, msg string) string {
	t.Helper()
	gittest.Run(t, dir, who, date, "add", "-A", ".")
	gittest.Run(t, dir, who, date, "commit", "-qm", msg)
	return gittest.Run(t, dir, who, date, "rev-parse", "HEAD")
}

// TestBlameAtARevision blames lines of a file in a subdirectory at an
// earlier commit, after a later commit changed them: the lines and the
// commits are the earlier revision's, and ReadFile returns the file as it
// was then.
func TestBlameAtARevision(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "ids")
	if err := os.MkdirAll(filepath.Join(sub, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(sub, "policies", "p.cedar")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitCmd(t, root, "init", "-q")
	write("one\ntwo\nthree\n")
	first := commitAt(t, root, "alice", "2026-11-01T10:00:00+02:00", "first\n\nbody")
	write("one\nTWO\nthree\n")
	second := commitAt(t, root, "bob", "2026-11-02T00:00:00Z", "second")
	write("ONE\nTWO\nTHREE\n")
	commitAt(t, root, "carol", "2026-11-03T00:00:00Z", "third")
	write("work tree\n")

	lines, err := Blame(t.Context(), sub, second, "policies/p.cedar", 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		text, commit, author string
	}{{"one", first, "alice"}, {"TWO", second, "bob"}, {"three", first, "alice"}}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d: %+v", len(lines), len(want), lines)
	}
	for i, w := range want {
		l := lines[i]
		if l.Number != i+1 || l.Text != w.text || l.Change.Commit != w.commit || l.Change.Author != w.author {
			t.Errorf("line %d: %+v, want %q by %s in %s", i+1, l, w.text, w.author, w.commit)
		}
	}
	c := lines[0].Change
	if c.Email != "alice@example.org" || c.Subject != "first" || c.Date.Format(time.RFC3339) != "2026-11-01T10:00:00+02:00" {
		t.Errorf("first commit as blamed: %+v", c)
	}
	if got := Latest(lines); got.Commit != second {
		t.Errorf("Latest = %s, want the second commit %s", got.Commit, second)
	}
	if got := Latest(lines[:1]); got.Commit != first {
		t.Errorf("Latest of line 1 = %s, want the first commit", got.Commit)
	}

	if in, err := InWorkTree(t.Context(), sub); !in || err != nil {
		t.Fatalf("InWorkTree(%s) = %v, %v", sub, in, err)
	}
	if in, err := InWorkTree(t.Context(), t.TempDir()); in || err != nil {
		t.Fatalf("InWorkTree(a directory outside Git) = %v, %v", in, err)
	}

	data, err := ReadFile(t.Context(), sub, first, "policies/p.cedar", 100)
	if err != nil || string(data) != "one\ntwo\nthree\n" {
		t.Fatalf("ReadFile at the first commit: %q, %v", data, err)
	}

	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"a file that did not exist then", func() error {
			_, err := ReadFile(t.Context(), sub, first, "policies/q.cedar", 100)
			return err
		}, "policies/q.cedar did not exist at revision"},
		{"a file over the limit", func() error {
			_, err := ReadFile(t.Context(), sub, first, "policies/p.cedar", 5)
			return err
		}, "is 14 bytes, more than 5"},
		{"lines past the end", func() error {
			_, err := Blame(t.Context(), sub, first, "policies/p.cedar", 2, 9)
			return err
		}, "blame policies/p.cedar at"},
		{"a revision that is an option", func() error {
			_, err := Blame(t.Context(), sub, "--output=x", "policies/p.cedar", 1, 1)
			return err
		}, "is not a Git revision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
