package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/cedargate/cedargate/internal/atomicfile"
)

// committed sorts out an error from a change to the store that may have
// been made all the same: one wrapping atomicfile.ErrNotDurable says the
// change is in place (PDPs already serve an activation) but the directory
// could not be fsynced, so a crash of the machine may still undo it. That
// is a warning on stderr, not a failure: reporting a failed activation
// while replicas serve it would mislead whoever runs the command, or
// makes a script roll back. Other errors are returned as they are.
func committed(stderr io.Writer, err error) error {
	if errors.Is(err, atomicfile.ErrNotDurable) {
		fmt.Fprintf(stderr, "warning: %v (the change is made; check the disk)\n", err)
		return nil
	}
	return err
}
