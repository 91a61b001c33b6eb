package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// dirArg accepts the optional identity-repository argument DIR of the
// commands that read one, as git and go do for the current directory:
// absent means ".".
func dirArg() cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) > 1 {
			return usageError{fmt.Errorf("%s takes at most one argument (DIR, default .), got %d", cmd.CommandPath(), len(a))}
		}
		return nil
	}
}

// repoDir is the DIR dirArg accepted.
func repoDir(a []string) string {
	if len(a) == 0 {
		return "."
	}
	return a[0]
}
