package atomicfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteFileReplacesContentAndLeavesNoTemporaries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "active.json")
	for _, content := range []string{"first", "second, longer than the first", "3"} {
		if err := WriteFile(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Fatalf("content = %q, want %q", got, content)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", info.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the target: %v", len(entries), entries)
	}
}

func TestWriteFileIntoMissingDirectoryFailsCleanly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "f")
	if err := WriteFile(path, []byte("x"), 0o600); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
}

// TestWriteFileFailingAtEachStep makes each step of a write fail in turn
// and checks that the target keeps its old content until the rename and
// has the new one from it on, that no temporary file is left, and that
// only a failure after the rename says the write is in place but not
// yet durable (ErrNotDurable), with nothing removed after the rename.
func TestWriteFileFailingAtEachStep(t *testing.T) {
	steps := []Step{StepCreate, StepWrite, StepChmod, StepSync, StepClose, StepRename, StepSyncDir}
	for i, failing := range steps {
		t.Run(string(failing), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if err := WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			var seen []Step
			w := Writer{Hook: func(s Step, _ string) error {
				seen = append(seen, s)
				if s == failing {
					return errors.New("injected")
				}
				return nil
			}}
			err := w.WriteFile(context.Background(), path, []byte("new"), 0o644)
			if err == nil {
				t.Fatal("the write succeeded despite the failing step")
			}
			if !slices.Equal(seen[:i+1], steps[:i+1]) {
				t.Errorf("steps = %v, want %v first", seen, steps[:i+1])
			}
			committed := i > slices.Index(steps, StepRename)
			if errors.Is(err, ErrNotDurable) != committed {
				t.Errorf("WriteFile = %v: ErrNotDurable %v, want %v", err, !committed, committed)
			}
			if committed && len(seen) != i+1 {
				t.Errorf("steps = %v: nothing may follow the failed %s", seen, failing)
			}
			want := "old"
			if committed {
				want = "new"
			}
			if got, _ := os.ReadFile(path); string(got) != want {
				t.Errorf("content = %q, want %q", got, want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("directory holds %v, want only the target", entries)
			}
		})
	}
}

// TestWriteFileDoesNotCommitOnceCancelled checks that a write whose
// context ends before the rename leaves the old content and no temporary
// file.
func TestWriteFileDoesNotCommitOnceCancelled(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := Writer{Hook: func(s Step, _ string) error {
		if s == StepClose {
			cancel() // the signal arrives mid-write
		}
		return nil
	}}
	if err := w.WriteFile(ctx, path, []byte("new"), 0o644); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteFile = %v, want context.Canceled", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("content = %q, want old", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %v, want only the target", entries)
	}
}
