package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/report"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/internal/version"
)

func initCmd() *cobra.Command {
	var name, namespace string
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Scaffold an identity repository",
		Long: `Init writes a small, working identity repository into DIR (default the
current directory; created if missing, refused if it already holds
cedargate.yaml or any file init would write): settings with the
environments dev and prod, a schema, a team, two users, a group, a service
account, a resource, an access profile, an entitlement, a policy and three
decision tests. It builds, lints and tests clean as written; its dates
(expiry, review) count from today, so keep them up to date as you would a
real repository's. Init does not touch Git.

It prints the next command: a build of dev into the store stores/dev
beside DIR. When DIR is in a Git work tree, build refuses uncommitted
files, so the command carries --allow-dirty until you commit them (or
--revision, in a Git repository without commits).`,
		Args: atMostDir,
		RunE: func(cmd *cobra.Command, a []string) error {
			dir := repoDir(a)
			if err := build.Init(dir, build.InitOptions{Name: name, Namespace: namespace, Now: time.Now()}); err != nil {
				return err
			}
			return printInitNext(cmd, dir)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "repository name (default: the directory's name)")
	cmd.Flags().StringVar(&namespace, "namespace", "App", "Cedar namespace of the generated types and actions")
	return cmd
}

func buildCmd() *cobra.Command {
	var opts build.Options
	var sf storeFlags
	var signKey, now string
	var activate bool
	cmd := &cobra.Command{
		Use:   "build [DIR] --store STORE",
		Short: "Check and compile an identity repository into a bundle",
		Long: `Build reads the identity repository DIR (default .), compiles the environment --env,
runs the guardrails and the decision tests, and adds the resulting bundle to
the store STORE (created if missing; one store per environment). With
--activate the bundle also becomes the active one, as with rollout.

The revision is the Git commit of DIR. A work tree with uncommitted changes
is refused unless --allow-dirty, which marks the revision dirty. Outside Git
the revision derives from the source digest. --revision overrides both.
Building the same source twice gives byte-identical bundles.

In a container with a memory limit, the Go runtime's soft memory limit
(GOMEMLIMIT) is set to 90% of it, as serve does.

Every problem is printed as path:line:column: message (rule).`,
		Args: dirArg(),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := sf.check(); err != nil {
				return err
			}
			var err error
			if opts.Now, err = parseNow(now); err != nil {
				return err
			}
			if signKey != "" {
				if opts.SignKey, err = loadPrivateKey(signKey); err != nil {
					return err
				}
			}
			// A million identities' build holds gigabytes: in a runner
			// with a memory limit, the collector keeps under it rather
			// than the kernel killing the build. Only problems are
			// logged, on standard error.
			limitMemory(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn})), containerLimit(cmd.Context()))
			opts.CompilerVersion = version.String()
			out, err := build.Build(cmd.Context(), repoDir(a), opts)
			if err != nil {
				return err
			}
			printWarnings(cmd, out.Warnings)
			// The store decodes the archive to check it, and activation
			// decodes it again: the built bundle need not stay beside
			// them (at 100k identities it is tens of MiB).
			m, signature := out.Bundle.Manifest, out.Bundle.Signature
			out.Bundle = nil
			st, err := sf.create(cmd.Context(), m.Environment)
			if err != nil {
				return err
			}
			p, err := st.Put(cmd.Context(), out.Archive)
			if err != nil {
				return err
			}
			out.Archive = nil
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "built %s for %s: %d policies (%d grants), %d entities, %d tests passed\n",
				m.Revision, m.Environment, m.Counts.Policies, m.Counts.Grants, m.Counts.Entities, out.Tests.Passed)
			fmt.Fprintf(w, "digest %s", p.Digest)
			if signature != nil {
				fmt.Fprintf(w, ", signed by key %s", signature.KeyID)
			}
			fmt.Fprintf(w, "\nstored in %s\n", st.BundlePath(m.Revision))
			if activate {
				act, err := st.Activate(cmd.Context(), m.Revision, store.ActionBuild, time.Now())
				if err := committed(cmd.ErrOrStderr(), err); err != nil {
					return err
				}
				printActivation(w, act)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Env, "env", "", "environment to build (required when cedargate.yaml declares environments)")
	sf.add(cmd, storeUsage)
	f.BoolVar(&activate, "activate", false, "make the new bundle active")
	f.BoolVar(&opts.AllowDirty, "allow-dirty", false, "build from a work tree with uncommitted changes")
	f.StringVar(&opts.Revision, "revision", "", "revision to record instead of the Git commit")
	f.StringVar(&signKey, "sign-key", "", "ed25519 private key (PEM, PKCS #8) to sign the bundle with")
	nowFlag(cmd, &now)
	return cmd
}

func testCmd() *cobra.Command {
	var env, now, format string
	var o report.Options
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the decision tests of an identity repository",
		Long: `Test compiles DIR (default .) for --env (every environment when omitted) and decides each
case of tests/**/*.yaml with the PDP's engine. A failure prints path:line,
the expected and actual decisions and the determining policies.

-v lists every case; --coverage lists, per environment, the policies and
grants that determine no case's decision; --min-coverage P exits 1 when an
environment's tests exercise less than P percent of them. --format json,
junit, sarif or github prints a report for CI on standard output, every
case and finding in it, with the same exit codes.`,
		Args: dirArg(),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format, report.Formats()...); err != nil {
				return err
			}
			if o.MinCoverage < 0 || o.MinCoverage > 100 {
				return usageError{fmt.Errorf("--min-coverage must be a percentage from 0 to 100, not %g", o.MinCoverage)}
			}
			t, err := parseNow(now)
			if err != nil {
				return err
			}
			rep, err := build.Test(cmd.Context(), repoDir(a), env, t)
			if err != nil {
				return err
			}
			if format != string(report.Text) {
				o.Root, o.ToolVersion = ciRoot(repoDir(a)), version.String()
			}
			if err := report.Test(cmd.OutOrStdout(), report.Format(format), rep, o); err != nil {
				return err
			}
			below := report.BelowMinimum(rep, o.MinCoverage)
			for _, c := range below {
				fmt.Fprintln(cmd.ErrOrStderr(), report.Shortfall(c, o.MinCoverage))
			}
			if rep.Failures.Errors() > 0 {
				if format == string(report.Text) {
					return rep.Failures.Err()
				}
				// The report has every failure; say only that there were some.
				return codeError{exitProblems, errors.New(report.TestSummary(rep))}
			}
			if len(below) > 0 {
				return codeError{exitProblems, nil}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&env, "env", "", "environment to test (default: every environment)")
	formatFlag(cmd, &format, report.Formats()...)
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "list every case: result, environment, position, name, expected and actual decision")
	f.BoolVar(&o.Coverage, "coverage", false, "list the policies and grants no test exercises, per environment")
	f.Float64Var(&o.MinCoverage, "min-coverage", 0, "exit 1 when any environment's coverage is below this percentage")
	nowFlag(cmd, &now)
	return cmd
}

func lintCmd() *cobra.Command {
	var env, now, format string
	cmd := &cobra.Command{
		Use:   "lint [DIR]",
		Short: "Run the guardrails over an identity repository",
		Long: `Lint compiles DIR (default .) for --env (every environment when omitted) and runs the
guardrails. Each finding names its rule and path:line:column; rules with
severity error (the default) make lint exit 1. docs/guardrails.md lists the
rules and how to set their severity or waive them with an Exception.

--format json, junit, sarif or github prints a report for CI on standard
output, every finding in it, with the same exit codes.`,
		Args: dirArg(),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format, report.Formats()...); err != nil {
				return err
			}
			t, err := parseNow(now)
			if err != nil {
				return err
			}
			diags, err := build.Lint(cmd.Context(), repoDir(a), env, t)
			if err != nil {
				return err
			}
			if format != string(report.Text) {
				o := report.Options{Root: ciRoot(repoDir(a)), ToolVersion: version.String()}
				if err := report.Lint(cmd.OutOrStdout(), report.Format(format), diags, o); err != nil {
					return err
				}
				if n := diags.Errors(); n > 0 {
					return codeError{exitProblems, fmt.Errorf("%d error(s)", n)}
				}
				return nil
			}
			if err := diags.Err(); err != nil {
				return err
			}
			printWarnings(cmd, diags)
			if len(diags) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no problems")
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "no errors, %d warning(s)\n", len(diags))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment to lint (default: every environment)")
	formatFlag(cmd, &format, report.Formats()...)
	nowFlag(cmd, &now)
	return cmd
}

// ciRoot is dir relative to the working directory, with forward slashes:
// CI resolves SARIF and annotation paths against the checkout, where the
// command runs, not against the identity repository.
func ciRoot(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return filepath.ToSlash(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return filepath.ToSlash(dir)
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil {
		return filepath.ToSlash(dir)
	}
	return filepath.ToSlash(rel)
}

func keygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen --out PREFIX",
		Short: "Create an ed25519 key pair for signing bundles",
		Long: `Keygen writes PREFIX.key (private, PEM PKCS #8, mode 0600) and PREFIX.pub
(public, PEM). Build signs with --sign-key PREFIX.key; serve verifies with
--verify-key PREFIX.pub. openssl makes compatible keys:
  openssl genpkey -algorithm ed25519 -out PREFIX.key
  openssl pkey -in PREFIX.key -pubout -out PREFIX.pub`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlag("out", out); err != nil {
				return err
			}
			if _, err := os.Stat(out + ".key"); err == nil {
				return fmt.Errorf("%s.key exists; refusing to overwrite a key", out)
			}
			priv, pub, err := bundle.GenerateKey()
			if err != nil {
				return err
			}
			if err := os.WriteFile(out+".key", priv, 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(out+".pub", pub, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.key and %s.pub\n", out, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "path prefix of the key files (required)")
	return cmd
}

func printWarnings(cmd *cobra.Command, diags diag.List) {
	for _, d := range diags.Sorted() {
		if d.Severity == diag.Warning {
			fmt.Fprintln(cmd.ErrOrStderr(), d)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
