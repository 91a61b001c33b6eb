package main

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle/access/review"
	"github.com/cedargate/cedargate/internal/atomicfile"
)

// reviewFormats are review's --format values, the default first.
var reviewFormats = []string{"html", "csv", "json"}

func reviewCmd() *cobra.Command {
	var env, format, out, at string
	cmd := &cobra.Command{
		Use:   "review [DIR] --env ENV [--format html|csv|json] [--out FILE] [--at T]",
		Short: "Write the access-review (attestation) report of an environment",
		Long: `Review compiles environment ENV of the identity repository DIR (default
.) as it is on disk, runs the guardrails and the effective-access engine,
and writes the access-review report owners and auditors attest: per owning team,
every user and service account with its owner, teams and groups,
entitlements (profile, approver, ticket, expiry), effective access
(allow and conditional), credential rotation and review status,
exceptions that apply to it and guardrail findings about it.

Identities are listed most urgent first within each team: guardrail
errors, then overdue reviews, rotations and expired identities, then
expired or expiring (within 30 days) grants and exceptions and
warnings, then the rest; by kind and name within each. Identities in no
team come first, in an "unowned" section. A summary of counts per team
leads the report.

--format html (the default) writes one self-contained page (no external
assets, no script) that reads in a browser and prints, listing at most
10 resources per action and policy; csv one row per identity and access
entry, entitlement or exception; json one document, every triple.
docs/cli.md documents the CSV columns and the JSON shape. --out writes
FILE atomically instead of standard output. Everything is judged at --at
(default now): pin it for reproducible reports.

Exit code 2 when DIR does not build for ENV.`,
		Args: dirArg(),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format, reviewFormats...); err != nil {
				return err
			}
			when, err := parseAt(at)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := compileSource(ctx, repoDir(a), env, "", when)
			if err != nil {
				return inputError(ctx, err)
			}
			rep, err := review.New(ctx, c, when)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			switch format {
			case "csv":
				err = review.WriteCSV(&buf, rep)
			case "json":
				err = review.WriteJSON(&buf, rep)
			default:
				err = review.WriteHTML(&buf, rep)
			}
			if err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(buf.Bytes())
				return err
			}
			if err := committed(cmd.ErrOrStderr(), atomicfile.Writer{}.WriteFile(ctx, out, buf.Bytes(), 0o644)); err != nil {
				return fmt.Errorf("writing the report: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment to review (required when the repository declares environments)")
	formatFlag(cmd, &format, reviewFormats...)
	cmd.Flags().StringVar(&out, "out", "", "write the report to FILE, atomically, instead of standard output")
	atFlag(cmd, &at)
	return cmd
}
