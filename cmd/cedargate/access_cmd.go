package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/access"
	"github.com/cedargate/cedargate/bundle/repo"
)

func accessCmd() *cobra.Command {
	var env, principal, resource, action, at, format, revision string
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "access [DIR] --env ENV [--principal UID] [--resource UID] [--action UID]",
		Short: "Show who can do what: the effective access a bundle grants",
		Long: `Access compiles the identity repository DIR (default .; as the work
tree is, nothing is stored) for ENV, or reads a built bundle from a store (--store S, the
active bundle or --revision R), and prints the (principal, action,
resource) triples it allows at --at (default now), each with the policies
or grants that allow it:

  --principal UID   what a principal can do
  --resource UID    who can do what on a resource
  --action UID      who can perform an action
  (any combination narrows; none prints the whole table)

UIDs may be written as Cedar UIDs (Acme::User::"alice") or in the short
form decision tests use (User/alice; an action by its name, read).
Triples are those of the bundle's own entities and the schema's actions,
with principal and resource types the action applies to.

Access is "allow" when the bundle allows the triple whatever the request
context, "conditional" when a policy that reads the context (source IP,
MFA, request time) decides it: its condition is printed with its source.
Time-bound grants count only if in force at --at.

Exit code 2 when an UID is not in the bundle (with suggestions), or the
repository or store bundle cannot be read or does not build.
--format json prints the document docs/cli.md describes; csv one row per
triple.`,
		Args: func(cmd *cobra.Command, a []string) error {
			if sf.dir != "" {
				return args()(cmd, a)
			}
			return dirArg()(cmd, a)
		},
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format, "text", "json", "csv"); err != nil {
				return err
			}
			when, err := parseAt(at)
			if err != nil {
				return err
			}
			if sf.dir == "" && revision != "" {
				return usageError{fmt.Errorf("--revision names a bundle in --store")}
			}
			ctx := cmd.Context()
			var b *bundle.Bundle
			// Compiled from DIR, conditions are located at their clause.
			var policyFiles []*repo.File
			if sf.dir != "" {
				b, err = storeBundle(&sf, revision)
			} else {
				if err = requireFlag("env", env); err != nil {
					return err
				}
				c, cerr := compileSource(ctx, repoDir(a), env, "", when)
				if cerr == nil {
					b, policyFiles = c.Bundle, c.Repo.Policies
				}
				err = cerr
			}
			if err != nil {
				return inputError(ctx, err)
			}
			an, err := access.New(b)
			if err != nil {
				return inputError(ctx, err)
			}
			an.LocateConditions(policyFiles)
			q := access.Query{At: when}
			for _, x := range []struct {
				flag, text string
				dst        *types.EntityUID
			}{{"principal", principal, &q.Principal}, {"action", action, &q.Action}, {"resource", resource, &q.Resource}} {
				if x.text == "" {
					continue
				}
				if *x.dst, err = resolveUID(an, x.flag, x.text); err != nil {
					return codeError{exitUsage, err}
				}
			}
			return writeTable(cmd.OutOrStdout(), an.Ref(), when, an.Each(q), format)
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment to compile (required with DIR)")
	cmd.Flags().StringVar(&principal, "principal", "", "only what this principal can do")
	cmd.Flags().StringVar(&resource, "resource", "", "only access to this resource")
	cmd.Flags().StringVar(&action, "action", "", "only this action")
	cmd.Flags().StringVar(&revision, "revision", "", "with --store: the stored revision (or unique prefix) to read instead of the active one")
	atFlag(cmd, &at)
	formatFlag(cmd, &format, "text", "json", "csv")
	sf.add(cmd, "read the bundle from this store instead of compiling DIR")
	return cmd
}

// storeBundle reads the active bundle of the store, or revision.
func storeBundle(sf *storeFlags, revision string) (*bundle.Bundle, error) {
	st, err := sf.openReadOnly()
	if err != nil {
		return nil, err
	}
	if revision == "" {
		p, err := st.Active()
		if err != nil {
			return nil, err
		}
		revision = p.Revision
	}
	return st.LoadRevision(revision, nil)
}

// writeTable prints the entries in format as they come: a whole table
// can have tens of millions.
func writeTable(out io.Writer, ref bundle.Ref, at time.Time, entries iter.Seq[access.Entry], format string) error {
	w := bufio.NewWriterSize(out, 1<<16)
	switch format {
	case "json":
		head, err := json.Marshal(struct {
			Bundle bundle.Ref `json:"bundle"`
			At     string     `json:"at"`
		}{ref, at.UTC().Format(time.RFC3339)})
		if err != nil {
			return err
		}
		// The document is {"bundle":…,"at":…,"entries":[…]}, written an
		// entry at a time.
		w.Write(head[:len(head)-1])
		w.WriteString(`,"entries":[`)
		sep := "\n  "
		for e := range entries {
			line, err := json.Marshal(e)
			if err != nil {
				return err
			}
			w.WriteString(sep)
			w.Write(line)
			sep = ",\n  "
		}
		w.WriteString("\n]}\n")
		return w.Flush()
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"principal", "action", "resource", "access", "policies", "conditions"})
		for e := range entries {
			_ = cw.Write([]string{e.Principal.String(), e.Action.String(), e.Resource.String(), string(e.Access),
				joinRefs(e.Policies), joinConditions(e.Conditions)})
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		return w.Flush()
	}
	fmt.Fprintf(w, "bundle %s at %s\n", refText(ref), at.UTC().Format(time.RFC3339))
	allow, cond := 0, 0
	// Aligned per principal: the tab writer holds one principal's lines.
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var last types.EntityUID
	for e := range entries {
		if e.Principal != last {
			_ = tw.Flush()
			fmt.Fprintf(tw, "\n%s\n", e.Principal)
			last = e.Principal
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.Access, e.Action, e.Resource, joinRefs(e.Policies))
		for _, c := range e.Conditions {
			fmt.Fprintf(tw, "  \t\t  %s\t%s (%s)\n", c.Text, c.Policy, c.Source)
		}
		if e.Access == access.Allow {
			allow++
		} else {
			cond++
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\n%d triples: %d allow, %d conditional\n", allow+cond, allow, cond)
	return w.Flush()
}

func joinRefs(refs []access.PolicyRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = fmt.Sprintf("%s (%s)", r.ID, r.Source)
	}
	return strings.Join(parts, "; ")
}

func joinConditions(cs []access.Condition) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s: %s (%s)", c.Policy, c.Text, c.Source)
	}
	return strings.Join(parts, "; ")
}

// refText names a bundle for people: a compiled one has no digest yet.
func refText(r bundle.Ref) string {
	if r.Digest == "" {
		return fmt.Sprintf("%s (%s)", r.Revision, r.Environment)
	}
	return r.String()
}
