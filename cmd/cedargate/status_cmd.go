package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/oci"
	"github.com/cedargate/cedargate/pdp/client"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

func statusCmd() *cobra.Command {
	var conn connFlags
	var addrs []string
	var asJSON bool
	var wait time.Duration
	var exp expectFlags
	cmd := &cobra.Command{
		Use:   "status --addr ADDR [--addr ADDR ...] [--wait DURATION] [--expect REVISION|oci://HOST/REPOSITORY:CHANNEL]",
		Short: "Show what running PDPs serve, and whether they drift",
		Long: `Status asks the PDP at --addr which bundle it serves (revision, digest,
environment, when it was activated), its last failed activation and its
recent activation attempts, how its reads of the bundle source and its
decision log are going (when it reports them), and what it does with
request entities that shadow bundle entities. --json prints one JSON
document whose shape docs/cli.md documents.

Given several --addr (repeat the flag or separate addresses with commas),
it prints one line per replica and reports drift: replicas serving
different revisions, or none. Exit code 1 when replicas drift, 3 when a
replica does not answer.

--wait D asks again (every 100ms) until each replica answers and serves a
bundle, for at most D: a script that starts serve in the background waits
for it with "cedargate status --wait 30s" rather than a sleep. A replica
that still does not answer, or serves nothing, by then is an error.

--expect REV exits 1 when any replica serves another revision than REV
(or one it is not a prefix of); --expect oci://HOST/REPOSITORY:CHANNEL
expects what the registry channel names, revision and digest.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := conn.validate(); err != nil {
				return err
			}
			if asJSON && len(addrs) > 1 {
				return usageError{fmt.Errorf("--json prints one replica's status; give one --addr")}
			}
			want, err := exp.target(cmd)
			if err != nil {
				return err
			}
			statuses := make([]*pb.GetStatusResponse, len(addrs))
			errs := make([]error, len(addrs))
			var wg sync.WaitGroup
			for i, addr := range addrs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i], errs[i] = conn.statusWait(cmd.Context(), addr, wait)
				}()
			}
			wg.Wait()
			w := cmd.OutOrStdout()
			if len(addrs) == 1 {
				if errs[0] != nil {
					return codeError{exitFailure, fmt.Errorf("no status from %s: %w", addrs[0], errs[0])}
				}
				if asJSON {
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					if err := enc.Encode(newStatusJSON(statuses[0])); err != nil {
						return err
					}
				} else {
					printStatus(w, statuses[0])
				}
				if asJSON {
					// The verdict must not break the JSON document.
					return checkExpected(cmd.ErrOrStderr(), want, addrs, statuses, false)
				}
				return checkExpected(w, want, addrs, statuses, true)
			}
			err = printFleet(w, addrs, statuses, errs)
			var ce codeError
			if want == nil || (errors.As(err, &ce) && ce.code == exitFailure) {
				return err
			}
			if xerr := checkExpected(w, want, addrs, statuses, true); xerr != nil {
				return xerr
			}
			return err
		},
	}
	cmd.Flags().StringSliceVar(&addrs, "addr", []string{"127.0.0.1:9191"}, "PDP gRPC address; repeat for several replicas")
	conn.addTLS(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON (one replica)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "ask again until every replica answers and serves a bundle, for at most this long")
	exp.add(cmd)
	return cmd
}

// statusWait asks addr for its status until it answers serving a bundle,
// for at most wait; with wait 0 it asks once. Once wait has passed it
// returns the last error, or an error when the replica serves nothing.
func (c *connFlags) statusWait(ctx context.Context, addr string, wait time.Duration) (*pb.GetStatusResponse, error) {
	deadline := time.Now().Add(wait)
	for {
		st, err := c.status(ctx, addr)
		if wait <= 0 || (err == nil && st.GetServing()) {
			return st, err
		}
		if !time.Now().Before(deadline) {
			if err == nil {
				err = fmt.Errorf("serves no bundle after --wait %s", wait)
			}
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *connFlags) status(ctx context.Context, addr string) (*pb.GetStatusResponse, error) {
	cc, err := c.dialAddr(addr)
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return client.New(cc).Status(ctx)
}

func printStatus(w io.Writer, st *pb.GetStatusResponse) {
	if !st.GetServing() {
		fmt.Fprintln(w, "serving:    nothing (no active bundle)")
	} else {
		b := st.GetBundle()
		fmt.Fprintf(w, "serving:    %s\nenvironment: %s\ndigest:     %s\nactivated:  %s\n", b.GetRevision(), b.GetEnvironment(), b.GetDigest(),
			st.GetActivationTime().AsTime().Format(time.RFC3339))
		bi := st.GetBuild()
		fmt.Fprintf(w, "bundle:     %d policies (%d grants), %d entities, built by %s\n", bi.GetPolicyCount(), bi.GetGrantCount(), bi.GetEntityCount(), bi.GetCompilerVersion())
	}
	fmt.Fprintf(w, "source:     %s\nreplica:    %s, cedargate %s, up since %s\n", st.GetSource(), st.GetHostname(), st.GetVersion(), st.GetStartTime().AsTime().Format(time.RFC3339))
	printSourceStatus(w, st.GetSourceStatus())
	if d := st.GetDecisionLog(); d != nil {
		printDecisionLog(w, d)
	}
	if m := st.GetRequestEntities(); m != pb.RequestEntitiesMode_REQUEST_ENTITIES_MODE_UNSPECIFIED {
		fmt.Fprintf(w, "request entities: %s\n", entityModeName(m))
	}
	if f := st.GetLastFailedActivation(); f != nil {
		fmt.Fprintf(w, "last failure: %s at %s: %s\n", f.GetBundle().GetRevision(), f.GetTime().AsTime().Format(time.RFC3339), f.GetError())
	}
	if len(st.GetRecentActivations()) > 0 {
		fmt.Fprintln(w, "recent activations:")
		for _, a := range st.GetRecentActivations() {
			fmt.Fprintf(w, "  %s  %-7s %s (%s)", a.GetTime().AsTime().Format(time.RFC3339), activationResultName(a.GetResult()), a.GetBundle().GetRevision(), a.GetDuration().AsDuration().Round(time.Millisecond))
			if a.GetError() != "" {
				fmt.Fprintf(w, ": %s", a.GetError())
			}
			fmt.Fprintln(w)
		}
	}
}

// printSourceStatus prints how the replica's reads of its source went:
//
//	source reads: last success 2026-11-23T14:05:00Z; names r2 (91d4a0c55e17); 2 errors, the last at 2026-11-23T14:06:00Z: ...; max staleness 5m0s, STALE
func printSourceStatus(w io.Writer, s *pb.SourceStatus) {
	if s == nil {
		return
	}
	parts := []string{"last success " + orNever(s.GetLastSuccessTime())}
	if t := s.GetTarget(); t != nil {
		parts = append(parts, fmt.Sprintf("names %s (%s)", t.GetRevision(), bundle.ShortDigest(t.GetDigest())))
	}
	if s.GetErrorCount() > 0 || s.GetLastError() != "" {
		e := fmt.Sprintf("%d errors", s.GetErrorCount())
		if s.GetLastError() != "" {
			e += fmt.Sprintf(", the last at %s: %s", orNever(s.GetLastErrorTime()), s.GetLastError())
		}
		parts = append(parts, e)
	}
	if ms := s.GetMaxStaleness(); ms != nil {
		st := "max staleness " + ms.AsDuration().String()
		if s.GetStale() {
			st += ", STALE (not serving)"
		}
		parts = append(parts, st)
	}
	fmt.Fprintf(w, "source reads: %s\n", strings.Join(parts, "; "))
}

// printDecisionLog prints the state of the replica's decision log:
//
//	decision log: /var/log/cedargate/decisions.log (sync, required): 1200 written, 0 dropped, 0 write errors
func printDecisionLog(w io.Writer, d *pb.DecisionLogStatus) {
	var modes []string
	if d.GetSync() {
		modes = append(modes, "sync")
	}
	if d.GetRequired() {
		modes = append(modes, "required")
	}
	path := d.GetPath()
	if len(modes) > 0 {
		path += " (" + strings.Join(modes, ", ") + ")"
	}
	fmt.Fprintf(w, "decision log: %s: %d written, %d dropped, %d write errors", path, d.GetWritten(), d.GetDropped(), d.GetWriteErrors())
	if d.GetLosing() {
		fmt.Fprint(w, ", LOSING ENTRIES")
	}
	if d.GetLastError() != "" {
		fmt.Fprintf(w, "; last error at %s: %s", orNever(d.GetLastErrorTime()), d.GetLastError())
	}
	fmt.Fprintln(w)
}

// orNever is t in RFC 3339, or "never" when it is absent.
func orNever(t *timestamppb.Timestamp) string {
	if t == nil {
		return "never"
	}
	return t.AsTime().Format(time.RFC3339)
}

// printFleet prints one line per replica and fails when they do not all
// serve the same bundle.
func printFleet(w io.Writer, addrs []string, statuses []*pb.GetStatusResponse, errs []error) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPLICA\tREVISION\tDIGEST\tENVIRONMENT\tACTIVATED\tLAST FAILURE\t")
	serving := map[string]bool{}
	unreachable := 0
	for i, addr := range addrs {
		if errs[i] != nil {
			unreachable++
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\tno answer: %v\t\n", addr, errs[i])
			continue
		}
		st := statuses[i]
		rev, digest, env, at := "(none)", "-", "-", "-"
		if st.GetServing() {
			b := st.GetBundle()
			rev, digest, env, at = b.GetRevision(), bundle.ShortDigest(b.GetDigest()), b.GetEnvironment(), st.GetActivationTime().AsTime().Format(time.RFC3339)
		}
		serving[rev+" "+digest] = true
		failure := "-"
		if f := st.GetLastFailedActivation(); f != nil {
			failure = f.GetBundle().GetRevision() + ": " + f.GetError()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", addr, rev, digest, env, at, failure)
	}
	_ = tw.Flush()
	switch {
	case unreachable > 0:
		return codeError{exitFailure, fmt.Errorf("%d of %d replicas did not answer", unreachable, len(addrs))}
	case len(serving) > 1:
		fmt.Fprintf(w, "DRIFT: the replicas serve %d different bundles\n", len(serving))
		return codeError{code: exitProblems}
	}
	fmt.Fprintln(w, "in step: every replica serves the same bundle")
	return nil
}

// expectFlags are status's --expect and the flags that read a channel it
// names.
type expectFlags struct {
	registryFlags
	expect     string
	verifyKeys []string
}

func (f *expectFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.expect, "expect", "", "exit 1 unless every replica serves this revision (or one it is a prefix of), or what the registry channel oci://HOST/REPOSITORY:CHANNEL names")
	f.registryFlags.add(cmd)
	cmd.Flags().StringArrayVar(&f.verifyKeys, "verify-key", nil, "with --expect oci://…: ed25519 public key (PEM) the channel must be signed by (repeat for several)")
}

// expected is what every replica should serve: a revision (or a prefix of
// one) and, when a channel named it, its digest.
type expected struct {
	revision, digest, from string
}

// matches reports whether a replica's status serves the expected bundle.
func (e *expected) matches(st *pb.GetStatusResponse) bool {
	b := st.GetBundle()
	if !st.GetServing() || b == nil || !strings.HasPrefix(b.GetRevision(), e.revision) {
		return false
	}
	return e.digest == "" || b.GetDigest() == e.digest
}

// target reads --expect: nil when it is not given; a registry channel is
// read now.
func (f *expectFlags) target(cmd *cobra.Command) (*expected, error) {
	if f.expect == "" {
		for _, name := range []string{"plain-http", "verify-key"} {
			if cmd.Flags().Changed(name) {
				return nil, usageError{fmt.Errorf("--%s applies to --expect oci://…", name)}
			}
		}
		return nil, nil
	}
	if !oci.IsReference(f.expect) {
		return &expected{revision: f.expect, from: "--expect"}, nil
	}
	ch, err := oci.ParseChannel(f.expect)
	if err != nil {
		return nil, usageError{fmt.Errorf("--expect: %w", err)}
	}
	keys, err := loadPublicKeys(f.verifyKeys)
	if err != nil {
		return nil, err
	}
	repo, err := f.open(ch, 0)
	if err != nil {
		return nil, err
	}
	c, err := repo.ReadChannel(cmd.Context(), ch.Tag, keys)
	if err != nil {
		return nil, codeError{exitFailure, fmt.Errorf("--expect: %w", err)}
	}
	return &expected{revision: c.Active.Revision, digest: c.Active.Digest, from: fmt.Sprintf("%s (sequence %d)", ch, c.Sequence)}, nil
}

// checkExpected says which replicas serve what want names (nil: nothing
// is expected) and fails with exit 1 when any does not. Replicas that did
// not answer are left to the caller. verbose prints the verdict even when
// every replica is on target.
func checkExpected(w io.Writer, want *expected, addrs []string, statuses []*pb.GetStatusResponse, verbose bool) error {
	if want == nil {
		return nil
	}
	name := want.revision
	if want.digest != "" {
		name += " (" + bundle.ShortDigest(want.digest) + ")"
	}
	off := 0
	for i, st := range statuses {
		if st == nil || want.matches(st) {
			continue
		}
		off++
		serves := "nothing"
		if b := st.GetBundle(); b != nil && st.GetServing() {
			serves = b.GetRevision() + " (" + bundle.ShortDigest(b.GetDigest()) + ")"
		}
		fmt.Fprintf(w, "OFF TARGET: %s serves %s, expected %s from %s\n", addrs[i], serves, name, want.from)
	}
	if off > 0 {
		return codeError{exitProblems, fmt.Errorf("%d of %d replicas do not serve %s", off, len(addrs), name)}
	}
	if verbose {
		fmt.Fprintf(w, "on target: every replica serves %s from %s\n", name, want.from)
	}
	return nil
}
