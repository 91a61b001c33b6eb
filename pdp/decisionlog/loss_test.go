package decisionlog

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/internal/fulldisk"
)

// transitions collects OnLosingChange's calls.
type transitions chan bool

func (c transitions) wait(t *testing.T, want bool) {
	t.Helper()
	select {
	case got := <-c:
		if got != want {
			t.Fatalf("OnLosingChange(%v), want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for OnLosingChange(%v)", want)
	}
}

// TestFullDisk fills the disk under the log (a tmpfs where one can be
// mounted, /dev/full always) while entries are recorded, then gives it
// room again: every entry is written or counted as dropped, never lost
// silently; Stats and OnLosingChange say the log is losing entries while
// the disk is full and stop saying so once writes succeed again.
func TestFullDisk(t *testing.T) {
	for _, kind := range fulldisk.Kinds(t) {
		for _, sync := range []bool{false, true} {
			name := kind + "/async"
			if sync {
				name = kind + "/sync"
			}
			t.Run(name, func(t *testing.T) { testFullDisk(t, kind, sync) })
		}
	}
}

func testFullDisk(t *testing.T, kind string, sync bool) {
	d := fulldisk.New(t, kind, "decisions.log")
	changes := make(transitions, 16)
	l := mustOpen(t, Options{Path: d.File(), Sync: sync, OnFull: Block, BlockTimeout: time.Minute,
		checkEvery: 5 * time.Millisecond, LossWindow: 200 * time.Millisecond,
		OnLosingChange: func(losing bool) { changes <- losing }})
	const n = 300
	acked := map[int]bool{} // sync: entries whose Record said written
	record := func(from, to int) {
		for i := from; i < to; i++ {
			err := l.Record(t.Context(), entryFor(0, i))
			switch {
			case !sync && err != nil:
				t.Fatalf("Record %d: %v (async Records queue)", i, err)
			case sync && err == nil:
				acked[i] = true
			}
		}
	}
	record(0, 100)
	waitFor(t, "the first entries to be written", func() bool { return l.Written() == 100 })

	d.Fill(t)
	if kind == fulldisk.DevFull {
		// The file was moved aside: what is written before the log
		// notices goes there, and is not lost. Wait for the log to follow
		// its path to /dev/full.
		waitFor(t, "the log to reopen onto /dev/full", func() bool { return l.Stats().Errors > 0 })
	}
	record(100, 200)
	waitFor(t, "every entry to be written or dropped", func() bool { return l.Written()+l.Dropped() == 200 })
	changes.wait(t, true)
	st := l.Stats()
	if !st.Losing || st.Dropped == 0 || st.Errors == 0 || !strings.Contains(st.LastError, "no space left on device") ||
		st.LastErrorTime.IsZero() || st.Path != d.File() || st.Sync != sync {
		t.Fatalf("Stats %+v on a full disk", st)
	}
	if sync && len(acked) != int(l.Written()) {
		t.Fatalf("%d Records said written, Written %d", len(acked), l.Written())
	}

	d.MakeRoom(t)
	changes.wait(t, false)
	if st := l.Stats(); st.Losing || st.LastError != "" || !st.LastErrorTime.IsZero() {
		t.Fatalf("Stats %+v once the disk has room", st)
	}
	dropped := l.Dropped()
	record(200, n)
	mustClose(t, l)
	if l.Written()+l.Dropped() != n || l.Dropped() != dropped {
		t.Fatalf("Written %d + Dropped %d, want %d with %d dropped", l.Written(), l.Dropped(), n, dropped)
	}

	// The whole lines on the disk are exactly the entries written.
	seen := map[int]bool{}
	for _, line := range d.Lines(t) {
		if !json.Valid(line) {
			continue // a line torn by the full disk, then ended
		}
		_, i := parseID(t, line)
		if seen[i] {
			t.Fatalf("entry %d written twice", i)
		}
		seen[i] = true
		e := entryFor(0, i)
		checkLine(t, line, &e)
	}
	if len(seen) != int(l.Written()) {
		t.Fatalf("%d whole lines on disk, Written %d", len(seen), l.Written())
	}
	for i := range n {
		if (i < 100 || i >= 200 || acked[i]) && !seen[i] {
			t.Fatalf("entry %d is missing from the log", i)
		}
	}
	t.Logf("%s: %d written, %d dropped", kind, l.Written(), l.Dropped())
}

// TestLosingAfterADrop drops an entry for lack of room: Losing holds for
// the loss window, then clears, and OnLosingChange reports both changes.
func TestLosingAfterADrop(t *testing.T) {
	w := newGateWriter()
	changes := make(transitions, 4)
	l := mustOpen(t, Options{Path: "-", out: w, BufferSize: 1, checkEvery: 5 * time.Millisecond, LossWindow: time.Second,
		OnLosingChange: func(losing bool) { changes <- losing }})
	if l.Losing() {
		t.Fatal("Losing before anything happened")
	}
	_ = l.Record(t.Context(), entryFor(0, 0))
	w.waitEntered(t)
	_ = l.Record(t.Context(), entryFor(0, 1)) // fills the buffer
	if err := l.Record(t.Context(), entryFor(0, 2)); err != ErrDropped {
		t.Fatalf("Record into a full buffer = %v, want ErrDropped", err)
	}
	if st := l.Stats(); !st.Losing || st.Dropped != 1 || st.Errors != 0 || st.LastError != "" {
		t.Fatalf("Stats %+v after a drop", st)
	}
	close(w.gate)
	changes.wait(t, true)
	changes.wait(t, false)
	if l.Losing() {
		t.Fatal("Losing after the window")
	}
}
