package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/inventory/awsiam"
	"github.com/cedargate/cedargate/bundle/inventory/drift"
	"github.com/cedargate/cedargate/bundle/inventory/kubernetes"
	"github.com/cedargate/cedargate/bundle/inventory/scim"
	"github.com/cedargate/cedargate/bundle/repo"
)

// scimTokenEnv holds the SCIM bearer token unless --scim-token-file does.
const scimTokenEnv = "CEDARGATE_SCIM_TOKEN"

func driftCmd() *cobra.Command {
	var env, at, format, failOn, unused string
	var access scimAccess
	var sources []string
	formats := []string{"text", "markdown", "json"}
	cmd := &cobra.Command{
		Use:   "drift [DIR] --env ENV --source NAME=URL|FILE ...",
		Short: "Compare identity code with live directories (SCIM, Kubernetes, AWS IAM)",
		Long: `Drift reads the live directories given by --source, read-only, and
compares them with the identity code of environment ENV of the repository
DIR (default .). NAME selects the source's mapping: the one the inventory
section of cedargate.yaml declares for it, else the default mapping of the
type NAME is:

  scim=https://idp.example.com/scim/v2   a SCIM 2.0 server (bearer token from
                                         --scim-token-file or $CEDARGATE_SCIM_TOKEN;
                                         --scim-ca-file for an internal CA)
  scim=FILE                              a SCIM ListResponse file
  kubernetes=FILE                        kubectl get serviceaccounts,rolebindings,
                                         clusterrolebindings -A -o json output (repeatable)
  awsiam=FILE [awsiam=FILE]              aws iam get-account-authorization-details
                                         output, then optionally the credential report

Findings: live-only, code-only, membership, disabled, attribute,
binding-unknown, credential-stale, credential-on-expired,
credential-unused; docs/drift.md explains each and how to fix it in code. Credentials and expiries are
judged at --at.

Exit code 0 when the report is written, 3 when --fail-on names a kind
(or "any") that is found, 2 when the command line is wrong, the
repository has errors or a source cannot be read (no report is written
then: a report on part of a directory would call the rest drift).`,
		Args: dirArg(),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format, formats...); err != nil {
				return err
			}
			instant, err := parseAt(at)
			if err != nil {
				return err
			}
			gate, err := parseFailOn(failOn)
			if err != nil {
				return err
			}
			var unusedAfter time.Duration
			if unused != "" {
				if unusedAfter, err = repo.ParseDuration(unused); err != nil || unusedAfter <= 0 {
					return usageError{fmt.Errorf("--unused-after %q: want a positive duration such as 90d", unused)}
				}
			}
			ctx := cmd.Context()
			v, err := driftView(ctx, repoDir(a), env)
			if err != nil {
				return err
			}
			srcs, err := inventorySources(v.Config, sources, access)
			if err != nil {
				return err
			}
			var snaps []*inventory.Snapshot
			for _, s := range srcs {
				snap, err := s.Read(ctx)
				if err != nil {
					return inputError(ctx, err)
				}
				snaps = append(snaps, snap)
			}
			r, err := drift.Compare(v, snaps, drift.Options{At: instant, UnusedAfter: unusedAfter})
			if err != nil {
				return inputError(ctx, err)
			}
			out := cmd.OutOrStdout()
			switch format {
			case "markdown":
				err = drift.WriteMarkdown(out, r)
			case "json":
				err = drift.WriteJSON(out, r)
			default:
				err = drift.WriteText(out, r)
			}
			if err != nil {
				return err
			}
			if n := r.Count(gate...); n > 0 {
				return codeError{exitFailure, fmt.Errorf("%d finding(s) of kinds --fail-on %s", n, failOn)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&env, "env", "", "environment to compare (required when the repository declares environments)")
	f.StringArrayVar(&sources, "source", nil, "live directory to read, as NAME=URL|FILE (scim, kubernetes, awsiam; repeatable)")
	f.StringVar(&failOn, "fail-on", "", "exit 3 when findings of these kinds are found (comma-separated, or any)")
	f.StringVar(&unused, "unused-after", "90d", "report active credentials unused for longer than this")
	f.StringVar(&access.tokenFile, "scim-token-file", "", "file holding the SCIM bearer token (default: $"+scimTokenEnv+")")
	f.StringVar(&access.caFile, "scim-ca-file", "", "PEM file of CA certificates to trust for the SCIM server, besides the system's")
	atFlag(cmd, &at)
	formatFlag(cmd, &format, formats...)
	return cmd
}

// parseFailOn parses --fail-on: finding kinds, comma-separated, or "any".
func parseFailOn(s string) ([]drift.Kind, error) {
	var out []drift.Kind
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		switch {
		case k == "":
		case k == "any":
			out = append(out, drift.Kinds...)
		case slices.Contains(drift.Kinds, drift.Kind(k)):
			out = append(out, drift.Kind(k))
		default:
			var names []string
			for _, k := range drift.Kinds {
				names = append(names, string(k))
			}
			return nil, usageError{fmt.Errorf("--fail-on: unknown finding kind %q (want any, or some of %s)", k, strings.Join(names, ", "))}
		}
	}
	return out, nil
}

// inventorySources turns the --source values into sources, one per NAME
// in the order NAMEs first appear; cfg's inventory section says which type
// a NAME is, else NAME must be a type.
func inventorySources(cfg *repo.Config, values []string, access scimAccess) ([]inventory.Source, error) {
	if len(values) == 0 {
		return nil, usageError{fmt.Errorf("--source is required (NAME=URL|FILE, NAME one of scim, kubernetes, awsiam or a source cedargate.yaml declares)")}
	}
	var names []string
	byName := map[string][]string{}
	for _, v := range values {
		name, val, ok := strings.Cut(v, "=")
		if !ok || val == "" {
			return nil, usageError{fmt.Errorf("--source %q: want NAME=URL|FILE", v)}
		}
		if _, seen := byName[name]; !seen {
			names = append(names, name)
		}
		byName[name] = append(byName[name], val)
	}
	var out []inventory.Source
	for _, name := range names {
		vals := byName[name]
		m, err := cfg.Source(name)
		if err != nil {
			return nil, usageError{fmt.Errorf("--source %s: %w", name, err)}
		}
		switch m.Type {
		case drift.SourceSCIM:
			if len(vals) > 1 {
				return nil, usageError{fmt.Errorf("--source %s given %d times: give one server or one file (a root-level query holds Users and Groups together)", name, len(vals))}
			}
			s, err := access.source(name, vals[0])
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		case drift.SourceKubernetes:
			out = append(out, kubernetes.New(name, vals...))
		default:
			if len(vals) > 2 {
				return nil, usageError{fmt.Errorf("--source %s given %d times: give the authorization details, then optionally the credential report", name, len(vals))}
			}
			s := &awsiam.Source{Name: name, Details: vals[0]}
			if len(vals) == 2 {
				s.CredentialReport = vals[1]
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// scimAccess is how a SCIM server is reached: the file holding the bearer
// token (else $CEDARGATE_SCIM_TOKEN) and a CA bundle to trust besides the
// system's roots.
type scimAccess struct {
	tokenFile, caFile string
}

// source reads a SCIM server when v is a URL, else a file, into
// snapshots of source name.
func (a scimAccess) source(name, v string) (inventory.Source, error) {
	opts := scim.Options{Name: name}
	if !strings.Contains(v, "://") {
		return scim.NewFile(v, opts), nil
	}
	var tok string
	var err error
	if a.tokenFile != "" {
		tok, err = scim.TokenFromFile(a.tokenFile)
	} else {
		tok, err = scim.TokenFromEnv(scimTokenEnv)
	}
	if err != nil {
		return nil, usageError{err}
	}
	if a.caFile != "" {
		if opts.Client, err = scim.ClientTrusting(a.caFile); err != nil {
			return nil, usageError{err}
		}
	}
	s, err := scim.NewServer(v, tok, opts)
	if err != nil {
		return nil, usageError{err}
	}
	return s, nil
}

// driftView reads environment env of the repository at dir; identity code
// with errors is refused (exit 2), as drift against it would mislead.
func driftView(ctx context.Context, dir, env string) (*repo.View, error) {
	r, err := repo.Load(ctx, dir)
	if err != nil {
		return nil, inputError(ctx, err)
	}
	env, err = r.CheckEnv(env)
	if err != nil {
		return nil, err
	}
	v, problems := r.View(env)
	if problems.Errors() > 0 {
		return nil, codeError{exitUsage, fmt.Errorf("%s: identity code has errors; run cedargate lint:\n%s", dir, problems)}
	}
	return v, nil
}
