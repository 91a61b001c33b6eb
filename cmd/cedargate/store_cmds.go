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
	var cf channelFlags
	cmd := &cobra.Command{
		Use:   "rollout REVISION --store STORE | REVISION oci://HOST/REPOSITORY:CHANNEL --sign-key KEY",
		Short: "Make a stored revision active, or move a registry channel to a pushed one",
		Long: `Rollout makes REVISION (or a unique prefix of it) the active bundle of STORE.
The bundle is verified first. Running PDPs watching STORE activate it within
moments; requests in flight finish on the bundle they started with.

Given a registry channel (oci://HOST/REPOSITORY:CHANNEL) instead of --store,
it moves the channel to REVISION, which "cedargate push" uploaded: the
bundle is downloaded and verified (its signature by a --verify-key, or by
the --sign-key's key), and the channel's new document, with the next
sequence number and the move in its history, is signed with --sign-key and
written in one PUT. Replicas serving the channel ("serve --source")
activate it at their next poll. A rollout that another one overwrote is an
error (exit 3). docs/oci.md describes channels.`,
		Args: storeOrChannel("REVISION"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ch, err := channelArg(cmd, a, 1)
			if err != nil {
				return err
			}
			if ch != nil {
				return rolloutChannel(cmd, *ch, a[0], &sf, &cf)
			}
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
	cf.add(cmd)
	return cmd
}

func rollbackCmd() *cobra.Command {
	var sf storeFlags
	var cf channelFlags
	cmd := &cobra.Command{
		Use:   "rollback --store STORE | oci://HOST/REPOSITORY:CHANNEL --sign-key KEY",
		Short: "Make the previously active revision active again",
		Long: `Rollback undoes the last activation of STORE: the revision that was active
before it becomes active again. Rolling back twice returns to where you
started.

Given a registry channel (oci://HOST/REPOSITORY:CHANNEL) instead of --store,
it moves the channel back to what it named before its last move, as the
channel's own history says: it needs no local state and works from any
machine. The flags are rollout's.`,
		Args: storeOrChannel(),
		RunE: func(cmd *cobra.Command, a []string) error {
			ch, err := channelArg(cmd, a, 0)
			if err != nil {
				return err
			}
			if ch != nil {
				return rollbackChannel(cmd, *ch, &sf, &cf)
			}
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
	cf.add(cmd)
	return cmd
}

func historyCmd() *cobra.Command {
	var dir string
	var asJSON bool
	var rf registryFlags
	var verifyKeys []string
	cmd := &cobra.Command{
		Use:   "history --store STORE | oci://HOST/REPOSITORY:CHANNEL",
		Short: "List the activations of a store, or the moves of a registry channel, newest first",
		Long: `History lists the activations of STORE, newest first.

Given a registry channel (oci://HOST/REPOSITORY:CHANNEL) instead of --store,
it lists the channel's moves as its document records them (the last 50),
with their sequence numbers; with --verify-key it checks the channel's
signature first.`,
		Args: storeOrChannel(),
		RunE: func(cmd *cobra.Command, a []string) error {
			ch, err := channelArg(cmd, a, 0)
			if err != nil {
				return err
			}
			if ch != nil {
				return historyChannel(cmd, *ch, &rf, verifyKeys, asJSON)
			}
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
	rf.add(cmd)
	cmd.Flags().StringArrayVar(&verifyKeys, "verify-key", nil, "with oci://…: ed25519 public key (PEM); the channel must be signed by one of the keys given (repeat for several)")
	return cmd
}

// printActivation reports an activation by build --activate or rollout.
func printActivation(w io.Writer, act store.Activation) {
	fmt.Fprintf(w, "activated %s (previous: %s)\n", act.Revision, orNone(act.Previous))
}
