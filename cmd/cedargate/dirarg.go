package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle/repo"
)

// dirArg accepts the optional identity-repository argument DIR of the
// commands that read one, as git and go do for the current directory:
// absent means ".". Absent, the current directory must hold
// cedargate.yaml, so that a command run in the wrong directory says so
// instead of finding nothing wrong with it.
func dirArg() cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := atMostDir(cmd, a); err != nil {
			return err
		}
		if len(a) == 0 {
			if _, err := os.Stat(filepath.Join(".", repo.ConfigFile)); err != nil {
				return usageError{fmt.Errorf("%s: the current directory holds no %s; give the identity repository's DIR, or run it there", cmd.CommandPath(), repo.ConfigFile)}
			}
		}
		return nil
	}
}

// atMostDir refuses more than one argument: DIR, default ".".
func atMostDir(cmd *cobra.Command, a []string) error {
	if len(a) > 1 {
		return usageError{fmt.Errorf("%s takes at most one argument (DIR, default .), got %d", cmd.CommandPath(), len(a))}
	}
	return nil
}

// repoDir is the DIR dirArg accepted.
func repoDir(a []string) string {
	if len(a) == 0 {
		return "."
	}
	return a[0]
}
