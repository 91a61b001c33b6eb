package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
)

func rolloutCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "rollout REVISION --store STORE",
		Short: "Make a stored revision active",
		Long: `Rollout makes REVISION (or a unique prefix of it) the active bundle of STORE.
The bundle is verified first. Running PDPs watching STORE activate it within
moments; requests in flight finish on the bundle they started with.`,
		Args: args("REVISION"),
		RunE: func(cmd *cobra.Command, a []string) error {
			st, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			act, err := st.Activate(cmd.Context(), a[0], store.ActionRollout, time.Now())
			if err := committed(cmd.ErrOrStderr(), err); err != nil {
				return err
			}
			printActivation(cmd.OutOrStdout(), act)
			return nil
		},
	}
	sf.add(cmd, storeUsage)
	return cmd
}

func rollbackCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "rollback --store STORE",
		Short: "Make the previously active revision active again",
		Long: `Rollback undoes the last activation of STORE: the revision that was active
before it becomes active again. Rolling back twice returns to where you
started.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			act, err := st.Rollback(cmd.Context(), time.Now())
			if err := committed(cmd.ErrOrStderr(), err); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rolled back to %s (was %s)\n", act.Revision, act.Previous)
			return nil
		},
	}
	sf.add(cmd, storeUsage)
	return cmd
}

func historyCmd() *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history --store STORE",
		Short: "List the activations of a store, newest first",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlag("store", dir); err != nil {
				return err
			}
			// Read-only: history also runs on the replicas' read-only mount.
			st, err := store.OpenReadOnly(dir)
			if err != nil {
				return err
			}
			h, err := st.History()
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(h)
			}
			active, _ := st.Active()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tACTION\tREVISION\tDIGEST\tPREVIOUS\tUSER\t")
			for i, a := range h {
				mark := ""
				if i == 0 && a.Pointer == active {
					mark = " (active)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s%s\t%s\t%s\t%s\t\n", a.Time.Format(time.RFC3339), a.Action, a.Revision, mark,
					bundle.ShortDigest(a.Digest), orNone(a.Previous), cmp.Or(a.User, store.UnknownUser))
			}
			return tw.Flush()
		},
	}
	storeFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the history as JSON")
	return cmd
}

// printActivation reports an activation by build --activate or rollout.
func printActivation(w io.Writer, act store.Activation) {
	fmt.Fprintf(w, "activated %s (previous: %s)\n", act.Revision, orNone(act.Previous))
}
