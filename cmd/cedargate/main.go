// Command cedargate checks identity repositories, compiles them into signed
// bundles, serves decisions from them over gRPC, and rolls bundles forward
// and back. Run `cedargate --help` for the commands; docs/cli.md documents
// each one and the exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
)

// Exit codes, documented in docs/cli.md.
const (
	exitOK       = 0
	exitProblems = 1 // the repository has problems (a dirty work tree too), a test failed, check's decision is deny, or status finds drift
	exitUsage    = 2 // bad command line, including an --env the repository does not declare
	exitFailure  = 3 // the command could not do its work (I/O, store, network)
)

func main() {
	ctx, stop := signalContext(context.Background())
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	// A command a signal stopped exits 130 or 143; one that finished
	// first exited 0 above, and one that failed for another reason keeps
	// that reason's code (serve failing to flush its log exits 3).
	if sig, code, ok := signalled(ctx); ok && cancelled(err) {
		fmt.Fprintf(stderr, "cedargate: %v: %v\n", sig, err)
		return code
	}
	var f *diag.Failure
	var u usageError
	var c codeError
	switch {
	case errors.As(err, &f):
		fmt.Fprintln(stderr, f.Error())
		fmt.Fprintf(stderr, "%d error(s)\n", f.List.Errors())
		return exitProblems
	case errors.As(err, &c):
		if c.err != nil {
			fmt.Fprintf(stderr, "cedargate: %v\n", c.err)
		}
		return c.code
	case errors.As(err, &u), strings.HasPrefix(err.Error(), "unknown command"):
		fmt.Fprintf(stderr, "cedargate: %v\nRun 'cedargate --help' for usage.\n", err)
		return exitUsage
	case errors.Is(err, repo.ErrEnv):
		// "environment: --env ..." reads better without the sentinel's word.
		fmt.Fprintf(stderr, "cedargate: %s\n", strings.TrimPrefix(err.Error(), repo.ErrEnv.Error()+": "))
		return exitUsage
	case errors.Is(err, build.ErrDirty):
		fmt.Fprintf(stderr, "cedargate: %v\n", err)
		return exitProblems
	}
	fmt.Fprintf(stderr, "cedargate: %v\n", err)
	return exitFailure
}

// usageError is a mistake in the command line.
type usageError struct{ error }

// codeError ends a command with a specific exit code.
type codeError struct {
	code int
	err  error
}

func (c codeError) Error() string {
	if c.err == nil {
		return fmt.Sprintf("exit %d", c.code)
	}
	return c.err.Error()
}
