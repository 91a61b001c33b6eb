package main

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/cedargate/cedargate/bundle/store"
)

func storeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Check and mend a bundle store",
		Long: `The store commands check a bundle store (verify) and mend one whose state
is damaged or missing (repair). docs/operations.md describes the store's
files and what they guarantee.`,
		// Runnable, so that a mistyped subcommand is a usage error
		// (cobra prints help and succeeds for a group without Run).
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", a[0], cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(storeVerifyCmd(), storeRepairCmd())
	return cmd
}

// storeCheckFlags are the flags store verify and store repair share.
type storeCheckFlags struct {
	storeFlags
	keyFiles []string
}

func (f *storeCheckFlags) add(cmd *cobra.Command) {
	f.storeFlags.add(cmd, storeUsage)
	cmd.Flags().StringArrayVar(&f.keyFiles, "verify-key", nil, "ed25519 public key (PEM); bundles without a valid signature by one of the keys given do not verify (repeat for several)")
}

// keys checks the flags and reads the keys; a mistake in either is a
// usage error.
func (f *storeCheckFlags) keys() ([]ed25519.PublicKey, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	keys, err := loadPublicKeys(f.keyFiles)
	if err != nil {
		return nil, usageError{err}
	}
	return keys, nil
}

func storeVerifyCmd() *cobra.Command {
	var f storeCheckFlags
	cmd := &cobra.Command{
		Use:   "verify --store STORE",
		Short: "Check every bundle and the state of a store",
		Long: `Verify checks STORE without changing it: every bundle's integrity (its files
against its checksums), its signature when --verify-key is given, that its
manifest names its revision and the store's environment; and the state file:
that it can be read, that the active pointer and every history entry name a
bundle that is present with that digest and verifies, and that the active
revision is the last one activated. It prints each problem as
path: message and exits 1 when it finds any. It reads only, so it also runs
on a read-only mount.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := f.keys()
			if err != nil {
				return err
			}
			st, err := f.openReadOnly()
			if err != nil {
				return err
			}
			rep, err := st.Verify(cmd.Context(), keys)
			if err != nil {
				return err
			}
			printVerify(cmd.OutOrStdout(), f.dir, rep)
			if len(rep.Problems) > 0 {
				return codeError{code: exitProblems}
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func storeRepairCmd() *cobra.Command {
	var f storeCheckFlags
	cmd := &cobra.Command{
		Use:   "repair --store STORE",
		Short: "Rebuild a damaged or missing store state",
		Long: `Repair rebuilds the state file of STORE when it is damaged or missing, from
what can be read of it (or of the old format's active.json and
history.json) and the bundles present, keeping a copy of each damaged file.
It prints what it did and exactly what it could not recover, and exits 1
when anything was lost. It never activates a bundle that does not verify
(integrity, and signature with --verify-key). It makes active the revision
the salvaged active pointer names or, if that is lost, the history's last
activation: the state file records both in one write, so they agree (in an
old-format store, whose history.json was written second, the history may
lack the last activation, and repair says so). If neither survives, it
cannot tell, and nothing is active until you choose with rollout. A sound
state is left as it is; bundles that do not verify are reported, not
removed.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := f.keys()
			if err != nil {
				return err
			}
			st, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			rep, err := st.Repair(cmd.Context(), keys, time.Now())
			if err != nil {
				return err
			}
			printRepair(cmd.OutOrStdout(), rep)
			if len(rep.Lost) > 0 {
				return codeError{code: exitProblems}
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func printVerify(w io.Writer, dir string, rep *store.VerifyReport) {
	state := "state unreadable"
	switch {
	case !rep.StateRead:
	case rep.Active != nil:
		state = fmt.Sprintf("active %s; %d activation(s)", rep.Active.Revision, rep.Activations)
	default:
		state = fmt.Sprintf("nothing active; %d activation(s)", rep.Activations)
	}
	fmt.Fprintf(w, "store %s (environment %s): %d bundle(s), %d verified; %s\n",
		dir, orNone(rep.Environment), rep.Bundles, rep.Good, state)
	for _, f := range rep.Problems {
		fmt.Fprintln(w, f)
	}
	for _, f := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", f)
	}
	if len(rep.Problems) == 0 {
		fmt.Fprintln(w, "no problems")
	} else {
		fmt.Fprintf(w, "%d problem(s)\n", len(rep.Problems))
	}
}

func printRepair(w io.Writer, rep *store.RepairReport) {
	for _, d := range rep.Done {
		fmt.Fprintf(w, "done: %s\n", d)
	}
	for _, l := range rep.Lost {
		fmt.Fprintf(w, "not recovered: %s\n", l)
	}
	active := "nothing is active"
	if rep.Active != nil {
		active = rep.Active.Revision + " is active"
	}
	fmt.Fprintf(w, "%s; the history holds %d activation(s)\n", active, rep.Kept)
}
