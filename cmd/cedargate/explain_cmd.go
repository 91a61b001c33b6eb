package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/internal/version"
	"github.com/cedargate/cedargate/pdp/decisionlog"
	"github.com/cedargate/cedargate/pdp/decisionlog/explain"
)

func explainCmd() *cobra.Command {
	var logPath, repoDir, format, revision string
	var maxLine int
	cmd := &cobra.Command{
		Use:   "explain DECISION_ID --decision-log FILE [--repo DIR]",
		Short: "Trace a logged decision to the source lines that made it",
		Long: `Explain finds the decision DECISION_ID in the decision log FILE (and in
its rotated backups beside it, compressed ones too), reads the identity
repository DIR (--repo, default .) with git at the revision of the bundle that decided (no
checkout: the work tree is neither read nor changed), and prints the
request, the decision and each determining policy or grant: what it is,
its path:line:column, its source lines at that revision (the whole
policy; for a grant, the Entitlement or Exception and the access profile
it grants) and the commit that last changed them by then. Policies that
failed to evaluate are shown too, with their error.

A bundle built from a modified work tree (revision <commit>-dirty-...) is
explained at its commit, with a warning. A bundle built with --revision,
or outside Git, names no commit: pass --revision with the commit it was
built from. When the revision rebuilds to another digest than the logged
one, the explanation says so: it may not match what decided.

Exit code 2 when the decision is not in the log, the line that mentions
it is not an entry, or the revision is not a commit of DIR or does not
build. --format json prints one JSON document whose shape docs/cli.md
documents.`,
		Args: args("DECISION_ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := requireFlag("decision-log", logPath); err != nil {
				return err
			}
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("--format must be text or json, not %q", format)}
			}
			if maxLine <= 0 {
				return usageError{fmt.Errorf("--max-line-bytes must be positive")}
			}
			ctx := cmd.Context()
			// Every failure here is about the input: the log, the id,
			// the repository or the revision.
			fail := func(err error) error {
				if ctx.Err() != nil {
					return err
				}
				return codeError{exitUsage, err}
			}
			found, err := decisionlog.Find(ctx, logPath, a[0], decisionlog.FindOptions{MaxLineBytes: maxLine, Stdin: cmd.InOrStdin()})
			if err != nil {
				return fail(err)
			}
			x, err := explain.Explain(ctx, explain.Options{Found: found, Repo: repoDir, Revision: revision, CompilerVersion: version.String()})
			if err != nil {
				return fail(err)
			}
			if format == "json" {
				return explain.WriteJSON(cmd.OutOrStdout(), x)
			}
			return explain.WriteText(cmd.OutOrStdout(), x)
		},
	}
	f := cmd.Flags()
	f.StringVar(&logPath, "decision-log", "", "decision log file to search, with its rotated backups; - for standard input (required)")
	f.StringVar(&repoDir, "repo", ".", "identity repository, in a Git work tree")
	f.StringVar(&format, "format", "text", "output format: text or json")
	f.StringVar(&revision, "revision", "", "Git revision to read DIR at instead of the logged one (for bundles built with --revision)")
	f.IntVar(&maxLine, "max-line-bytes", decisionlog.DefaultMaxLineBytes, "longest decision log line read, in bytes")
	return cmd
}
