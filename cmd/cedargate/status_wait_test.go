package main

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestStatusWaitGivesUp checks that status --wait asks again for the
// whole wait when nothing answers, then fails as a single status does
// (the README's block relies on the success side: it waits for serve).
func TestStatusWaitGivesUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	r := cedargate(t, "status", "--addr", addr, "--wait", "700ms")
	if took := time.Since(start); took < 700*time.Millisecond {
		t.Errorf("status --wait 700ms gave up after %s", took)
	}
	if r.code != exitFailure || !strings.Contains(r.stderr, "no status from "+addr) {
		t.Errorf("status --wait with nothing listening: %+v", r)
	}
}

// TestStatusWaitNeedsABundle checks that status --wait waits for a PDP
// that serves a bundle, not merely one that answers: serve on an empty
// store answers at once, serving nothing.
func TestStatusWaitNeedsABundle(t *testing.T) {
	s := serve(t, "--store", t.TempDir())
	r := cedargate(t, "status", "--addr", s.addr, "--wait", "300ms")
	if r.code != exitFailure || !strings.Contains(r.stderr, "serves no bundle after --wait 300ms") {
		t.Errorf("status --wait on a PDP serving nothing: %+v", r)
	}
	if r := cedargate(t, "status", "--addr", s.addr); r.code != 0 || !strings.Contains(r.stdout, "serving:    nothing") {
		t.Errorf("status without --wait on a PDP serving nothing: %+v", r)
	}
}
