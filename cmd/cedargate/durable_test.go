package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/internal/atomicfile"
)

// TestStoreChangeNotYetDurableIsAWarning gets, from a real write whose
// directory fsync fails after the rename (the step-failure hook), the
// error rollout, rollback and build --activate see when the store's
// state is in place but not yet durable: committed makes it a warning on
// stderr and no error (exit 0), since replicas already serve the change;
// a write that failed before its rename stays an error.
func TestStoreChangeNotYetDurableIsAWarning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	write := func(failing atomicfile.Step) error {
		w := atomicfile.Writer{Hook: func(s atomicfile.Step, _ string) error {
			if s == failing {
				return errors.New("input/output error")
			}
			return nil
		}}
		return w.WriteFile(context.Background(), path, []byte("{}"), 0o644)
	}
	var stderr bytes.Buffer
	if err := committed(&stderr, write(atomicfile.StepSyncDir)); err != nil {
		t.Fatalf("a committed change: %v, want no error", err)
	}
	if got := stderr.String(); !strings.HasPrefix(got, "warning: in place, but not yet durable: "+path+" was replaced") ||
		!strings.Contains(got, "input/output error") {
		t.Fatalf("stderr = %q", got)
	}
	stderr.Reset()
	if err := committed(&stderr, write(atomicfile.StepRename)); err == nil || stderr.Len() > 0 {
		t.Fatalf("a failed change: %v, stderr %q; want the error and no warning", err, stderr.String())
	}
}
