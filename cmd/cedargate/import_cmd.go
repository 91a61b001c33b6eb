package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle/inventory/baseline"
	"github.com/cedargate/cedargate/bundle/repo"
)

func importCmd() *cobra.Command {
	var out, mapping, name string
	var access scimAccess
	var sources []string
	cmd := &cobra.Command{
		Use:   "import --source NAME=URL|FILE ... --out DIR",
		Short: "Write identity code for what live directories hold (SCIM, Kubernetes, AWS IAM)",
		Long: `Import reads the live directories given by --source, read-only, as drift
does, and writes a baseline identity repository for them into DIR (created
if missing; refused if it holds cedargate.yaml or any file import would
write):

  cedargate.yaml           the inventory section import used (so drift with
                           the same --source names reads them the same way),
                           and the guardrails that ask for what only people
                           know (owners, expiries, approvals, reviews)
                           lowered to warnings
  identities/NAME.yaml     per source: Users and Groups (scim), ServiceAccounts
                           with kubernetes or aws_arn, and each Kubernetes
                           role binding as an Entitlement to an access
                           profile named as the role
  schema.cedarschema       when role bindings were imported: the
                           KubernetesRole type and the assume action

The repository builds and lints with warnings that list the debt, and
cedargate drift against the same sources reports no live-only, code-only,
membership or binding findings. Importing the same directories twice
gives byte-identical files. Without --mapping, each NAME must be a source
type (scim, kubernetes, awsiam) and gets its default mapping; with
--mapping DIR, the inventory section of DIR's cedargate.yaml declares the
names (an existing repository, or a directory holding only that file).

Live objects left out (disabled users, roles whose names cannot name an
access profile), and IAM users imported as people the identity provider
does not hold, are listed on standard error. Exit code 0 when the
repository is written, 2 when the command line is wrong, a source cannot
be read or DIR holds the files (nothing is written then).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out is required: the directory to write the repository into")}
			}
			ctx := cmd.Context()
			cfg := &repo.Config{}
			if mapping != "" {
				r, err := repo.Load(ctx, mapping)
				if err != nil {
					return inputError(ctx, err)
				}
				if r.Problems.Errors() > 0 {
					return codeError{exitUsage, fmt.Errorf("--mapping %s: cedargate.yaml has errors:\n%s", mapping, r.Problems)}
				}
				cfg = r.Config
			}
			srcs, err := inventorySources(cfg, sources, access)
			if err != nil {
				return err
			}
			var in []baseline.Source
			for _, s := range srcs {
				snap, err := s.Read(ctx)
				if err != nil {
					return inputError(ctx, err)
				}
				m, err := cfg.Source(snap.Source)
				if err != nil {
					return usageError{err}
				}
				in = append(in, baseline.Source{Snapshot: snap, Mapping: m})
			}
			if name == "" {
				abs, err := filepath.Abs(out)
				if err != nil {
					return err
				}
				name = filepath.Base(abs)
			}
			res, err := baseline.Import(in, baseline.Options{Name: name})
			if err != nil {
				return usageError{err}
			}
			if err := res.Write(out); err != nil {
				return codeError{exitUsage, err}
			}
			printImport(cmd, out, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&sources, "source", nil, "live directory to read, as NAME=URL|FILE (as for drift; repeatable)")
	f.StringVar(&out, "out", "", "directory to write the repository into (required)")
	f.StringVar(&mapping, "mapping", "", "directory whose cedargate.yaml declares the sources (its inventory section)")
	f.StringVar(&name, "name", "", "repository name in cedargate.yaml (default: the --out directory's name)")
	f.StringVar(&access.tokenFile, "scim-token-file", "", "file holding the SCIM bearer token (default: $"+scimTokenEnv+")")
	f.StringVar(&access.caFile, "scim-ca-file", "", "PEM file of CA certificates to trust for the SCIM server, besides the system's")
	return cmd
}

// printImport says what was written and what was left out.
func printImport(cmd *cobra.Command, out string, res *baseline.Result) {
	var counts []string
	for _, k := range []repo.Kind{repo.KindUser, repo.KindGroup, repo.KindServiceAccount, repo.KindAccessProfile, repo.KindEntitlement} {
		if n := res.Counts[k]; n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, k))
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s\nnext: cedargate lint %s   (warnings list what to add: owners, expiries, approvals)\n", out, orNone(strings.Join(counts, ", ")), shellQuote(out))
	for _, n := range res.Notes {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s %s: %s\n", n.Source, n.Live, n.Why)
	}
}
