package gitrev

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/internal/gittest"
)

// gitCmd runs git in dir as user t at a fixed date (see gittest.Run).
func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.Run(t, dir, "t", "2026-11-01T00:00:00Z", args...)
}

func TestDescribe(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "identities-repo")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if info, err := Describe(context.Background(), root); err != nil || info.InGit {
		t.Fatalf("outside Git: %+v, %v", info, err)
	}
	gitCmd(t, root, "init", "-q")
	if _, err := Describe(context.Background(), root); err == nil || !strings.Contains(err.Error(), "without commits") {
		t.Fatalf("repository without commits: %v", err)
	}
	os.WriteFile(filepath.Join(sub, "a.yaml"), []byte("a"), 0o644)
	gitCmd(t, root, "add", ".")
	gitCmd(t, root, "commit", "-qm", "identities")
	first := gitCmd(t, root, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(root, "README"), []byte("docs"), 0o644)
	gitCmd(t, root, "add", ".")
	gitCmd(t, root, "commit", "-qm", "docs elsewhere")

	info, err := Describe(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	if !info.InGit || info.Dirty || info.Commit != first || info.Time.Format("2006-01-02") != "2026-11-01" {
		t.Fatalf("clean subdirectory: %+v, want commit %s (the last that changed it)", info, first)
	}
	os.WriteFile(filepath.Join(sub, "b.yaml"), []byte("b"), 0o644)
	if info, _ := Describe(context.Background(), sub); !info.Dirty || len(info.Changes) != 1 {
		t.Fatalf("untracked file: %+v, want dirty", info)
	}
	if info, _ := Describe(context.Background(), root); info.Commit == first {
		t.Fatalf("repository root revision = %s, want HEAD", info.Commit)
	}
}

// TestDescribeCancelled checks that a cancelled Describe says so, rather
// than mistaking its killed git for an answer ("not a work tree", "no
// commits").
func TestDescribeCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Describe(ctx, "."); !errors.Is(err, context.Canceled) {
		t.Fatalf("Describe with a cancelled context = %v, want context.Canceled", err)
	}
}
