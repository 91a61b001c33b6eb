package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes of a command stopped by a signal: 128 plus the signal's
// number, as shells report a process killed by it.
const (
	exitInterrupted = 128 + int(syscall.SIGINT)  // 130
	exitTerminated  = 128 + int(syscall.SIGTERM) // 143
)

// stoppedBy is the cause of a context cancelled by a signal.
type stoppedBy struct{ sig syscall.Signal }

func (s stoppedBy) Error() string {
	if s.sig == syscall.SIGINT {
		return "stopped by SIGINT"
	}
	return "stopped by SIGTERM"
}

// signalContext returns a context that the first SIGINT or SIGTERM
// cancels, with a stoppedBy cause, and a function that releases it. Every
// command runs under it (cmd.Context()): it stops at its next check,
// removes its temporary files and activates nothing. The first signal
// also restores the default behaviour, so a second one ends a command
// that does not stop at once. The returned function leaves the handler in
// place: a signal arriving after the command finished, while the process
// exits, must not kill it and turn its exit code into a signal's.
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(stoppedBy{sig.(syscall.Signal)})
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		cancel(nil)
	}
}

// cancelled reports whether err is what a cancelled context made an
// operation return: context.Canceled, or gRPC's code for it.
func cancelled(err error) bool {
	return errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled
}

// signalled returns the exit code of a command that a signal stopped, and
// false when none did.
func signalled(ctx context.Context) (stoppedBy, int, bool) {
	var s stoppedBy
	if !errors.As(context.Cause(ctx), &s) {
		return s, 0, false
	}
	if s.sig == syscall.SIGINT {
		return s, exitInterrupted, true
	}
	return s, exitTerminated, true
}
