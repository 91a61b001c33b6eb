package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle/access/change"
)

// diffMemoryLimit is the soft limit diff puts on the Go heap unless
// GOMEMLIMIT sets one. Comparing two revisions of a 100k-identity
// repository holds at most about 900 MiB live (one compiled repository
// and the other revision's bundle, or both effective-access indexes);
// without a limit the collector lets the heap grow to twice what is
// live, about 2.5 GiB. With it, it collects more often near the limit
// instead, which there costs no measurable time.
const diffMemoryLimit = 1750 << 20

// exitGained is diff's exit code when --fail-on-gained finds access
// gained. It is the code other commands fail with; diff fails with 2.
const exitGained = exitFailure

func diffCmd() *cobra.Command {
	var env, from, to, at, format string
	var failOnGained bool
	formats := []string{"text", "markdown", "json"}
	cmd := &cobra.Command{
		Use:   "diff [DIR] --env ENV --from REV",
		Short: "Show the access and identities a change gains, loses or changes",
		Long: `Diff compiles environment ENV of the identity repository DIR (default .) at two Git
revisions, --from and --to (the work tree as it is on disk when --to is
absent), reading them with git without touching the work tree or any
store, and reports what the change does:

  - access gained and lost: each (principal, action, resource) triple
    with the policies or grants that allow it, grouped by principal; a
    triple that turns from allowed to conditional (or back), or whose
    conditions change, is one change showing both sides;
  - identity changes: identity objects added, removed or changed, field
    by field (owners, expiry, rotation, review, approvals, tickets,
    groups and members, permissions, exceptions); an expiry moved later
    says "extended".

Objects are matched by kind and name and access by triple, never by file
or position: moving objects between files or reordering them reports
nothing. Time-bound grants are judged at --at.

--format markdown is ready to post as a pull-request comment: a summary
line and tables first, details folded after. --format json prints one
JSON document whose shape docs/cli.md documents.

Exit code 0 when the report is written, 3 with --fail-on-gained when any
access is gained (the "no new access without sign-off" gate; for diff, 3
means only that), 2 when a revision does not exist or does not build
(the message names it and its first problem) or the command line is
wrong.`,
		Args: dirArg(),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := requireFlag("from", from); err != nil {
				return err
			}
			if err := checkFormat(format, formats...); err != nil {
				return err
			}
			instant, err := parseAt(at)
			if err != nil {
				return err
			}
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(diffMemoryLimit)
			}
			ctx := cmd.Context()
			// One revision at a time: snapshot keeps what the report
			// needs and lets the repository and compiler output go.
			before, err := snapshot(ctx, repoDir(a), env, from, instant)
			if err != nil {
				return inputError(ctx, err)
			}
			after, err := snapshot(ctx, repoDir(a), env, to, instant)
			if err != nil {
				return inputError(ctx, err)
			}
			r, err := change.Compare(before, after, instant)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch format {
			case "markdown":
				err = change.WriteMarkdown(out, r)
			case "json":
				err = change.WriteJSON(out, r)
			default:
				err = change.WriteText(out, r)
			}
			if err != nil {
				return err
			}
			if failOnGained && len(r.Gained) > 0 {
				return codeError{exitGained, fmt.Errorf("%d access gained (--fail-on-gained)", len(r.Gained))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&env, "env", "", "environment to compare (required when the repository declares environments)")
	f.StringVar(&from, "from", "", "Git revision before the change: a commit, branch or tag (required)")
	f.StringVar(&to, "to", "", "Git revision after the change (default: the work tree as it is on disk)")
	atFlag(cmd, &at)
	formatFlag(cmd, &format, formats...)
	f.BoolVar(&failOnGained, "fail-on-gained", false, "exit 3 when any access is gained")
	return cmd
}

// snapshot compiles env of the repository at dir at rev (the work tree
// when rev is empty) and keeps only what diff compares, so that the
// repository and the compiler's output are garbage once it returns.
func snapshot(ctx context.Context, dir, env, rev string, at time.Time) (*change.Side, error) {
	c, err := compileSource(ctx, dir, env, rev, at)
	if err != nil {
		if rev == "" {
			return nil, fmt.Errorf("work tree: %w", err)
		}
		return nil, err
	}
	return change.Snapshot(c)
}
