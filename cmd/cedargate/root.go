package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/version"
)

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "cedargate",
		Short: "Change control for identity and access, decided by Cedar",
		Long: `cedargate checks identity code (users, service accounts, groups, access
profiles, entitlements, exceptions and Cedar policies kept in Git), compiles it
into signed, versioned bundles per environment, and serves decisions from them
over gRPC with hot reload, a decision log and Prometheus metrics.

Exit codes: 0 success (check: allow), 1 problems found (check: deny;
status: replicas drift; store verify and repair: problems left in the
store), 2 bad command line, 3 the command failed (I/O, store, network),
130 and 143 stopped by SIGINT or SIGTERM (nothing is activated after the
signal; serve stops gracefully and exits 0).`,
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		initCmd(), buildCmd(), testCmd(), lintCmd(), keygenCmd(),
		rolloutCmd(), rollbackCmd(), historyCmd(), storeCmd(),
		serveCmd(), checkCmd(), statusCmd(), demoCmd(),
	)
	root.AddCommand(explainCmd())
	root.AddCommand(accessCmd())
	root.AddCommand(diffCmd())
	root.AddCommand(driftCmd())
	root.AddCommand(importCmd())
	root.AddCommand(reviewCmd())
	root.AddCommand(evalCmd())
	root.AddCommand(pushCmd())
	return root
}

// args returns a cobra.Args that wants exactly n arguments, naming them.
func args(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) != len(names) {
			return usageError{fmt.Errorf("%s takes %d argument(s) (%v), got %d", cmd.CommandPath(), len(names), names, len(a))}
		}
		return nil
	}
}

// nowFlag adds --now, the instant guardrails and tests judge time by.
func nowFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "now", "", "judge expiry and review dates as of this instant (RFC 3339 or YYYY-MM-DD) instead of the current time")
}

// storeUsage is the help of --store.
const storeUsage = "bundle store directory (required)"

// storeFlag adds --store alone, for commands that read no bundle (see
// storeFlags for those that do).
func storeFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "store", "", storeUsage)
}

func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := repo.ParseTime(s)
	if err != nil {
		return t, usageError{fmt.Errorf("--now: %w", err)}
	}
	return t, nil
}

func requireFlag(name, value string) error {
	if value == "" {
		return usageError{fmt.Errorf("--%s is required", name)}
	}
	return nil
}
