package decisionlog

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestFailedFsyncBeforeRotationIsNotALostEntry writes a sync-mode log
// whose file is /dev/null (through a symbolic link at its path), on which
// the kernel fails fsync(2) with EINVAL while every write succeeds: the
// fsync the sink makes before a rotation fails, with every byte written.
// No Record may then say its entry was not written (the PDP would answer
// UNAVAILABLE for a decision the log shows): the failure is counted in
// Stats.Errors and warned about, and the log is not losing entries.
func TestFailedFsyncBeforeRotationIsNotALostEntry(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "decisions.log")
	if err := os.Symlink(os.DevNull, path); err != nil {
		t.Fatal(err)
	}
	h := &recordingHandler{}
	l := mustOpen(t, Options{Path: path, Sync: true, MaxSizeMB: 1, Logger: slog.New(h)})
	// About 1.3 MB: one rotation, after which the path holds a new,
	// regular file.
	const n = 1000
	for i := range n {
		if err := l.Record(t.Context(), bigEntry(i)); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("no rotation happened: %v %v", fi, err)
	}
	st := l.Stats()
	if st.Errors != 1 || st.Dropped != 0 || st.Written != n || st.Losing || st.LastError != "" {
		t.Fatalf("stats = %+v, want 1 error, %d written, nothing dropped, not losing", st, n)
	}
	if got := h.count(syncFailedMsg); got != 1 {
		t.Fatalf("%d warnings %q, want 1", got, syncFailedMsg)
	}
	mustClose(t, l)
}
