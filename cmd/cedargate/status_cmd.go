package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/client"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

func statusCmd() *cobra.Command {
	var conn connFlags
	var addrs []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status --addr ADDR [--addr ADDR ...]",
		Short: "Show what running PDPs serve, and whether they drift",
		Long: `Status asks the PDP at --addr which bundle it serves (revision, digest,
environment, when it was activated), its last failed activation and its
recent activation attempts.

Given several --addr (repeat the flag or separate addresses with commas),
it prints one line per replica and reports drift: replicas serving
different revisions, or none. Exit code 1 when replicas drift, 3 when a
replica does not answer.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := conn.validate(); err != nil {
				return err
			}
			if asJSON && len(addrs) > 1 {
				return usageError{fmt.Errorf("--json prints one replica's status; give one --addr")}
			}
			statuses := make([]*pb.GetStatusResponse, len(addrs))
			errs := make([]error, len(addrs))
			var wg sync.WaitGroup
			for i, addr := range addrs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i], errs[i] = conn.status(cmd.Context(), addr)
				}()
			}
			wg.Wait()
			w := cmd.OutOrStdout()
			if len(addrs) == 1 {
				if errs[0] != nil {
					return codeError{exitFailure, fmt.Errorf("no status from %s: %w", addrs[0], errs[0])}
				}
				if asJSON {
					out, _ := protojson.MarshalOptions{Multiline: true}.Marshal(statuses[0])
					fmt.Fprintln(w, string(out))
					return nil
				}
				printStatus(w, statuses[0])
				return nil
			}
			return printFleet(w, addrs, statuses, errs)
		},
	}
	cmd.Flags().StringSliceVar(&addrs, "addr", []string{"127.0.0.1:9191"}, "PDP gRPC address; repeat for several replicas")
	conn.addTLS(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON (one replica)")
	return cmd
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

// printSourceStatus adds, when the replica's last read of its store
// failed, a line saying since when it has not confirmed what it serves.
func printSourceStatus(w io.Writer, src *pb.SourceStatus) {
	if src.GetLastError() == "" {
		return
	}
	since := "never read"
	if t := src.GetLastSuccessTime(); t != nil {
		since = "last read " + t.AsTime().Format(time.RFC3339)
	}
	stale := ""
	if src.GetStale() {
		stale = fmt.Sprintf(", stale (over --max-staleness %s): not serving", src.GetMaxStaleness().AsDuration())
	}
	fmt.Fprintf(w, "source error: %s (%s, %d failed reads%s)\n", src.GetLastError(), since, src.GetErrorCount(), stale)
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
	if f := st.GetLastFailedActivation(); f != nil {
		fmt.Fprintf(w, "last failure: %s at %s: %s\n", f.GetBundle().GetRevision(), f.GetTime().AsTime().Format(time.RFC3339), f.GetError())
	}
	printSourceStatus(w, st.GetSourceStatus())
	if len(st.GetRecentActivations()) > 0 {
		fmt.Fprintln(w, "recent activations:")
		for _, a := range st.GetRecentActivations() {
			result := strings.ToLower(strings.TrimPrefix(a.GetResult().String(), "ACTIVATION_RESULT_"))
			fmt.Fprintf(w, "  %s  %-7s %s (%s)", a.GetTime().AsTime().Format(time.RFC3339), result, a.GetBundle().GetRevision(), a.GetDuration().AsDuration().Round(time.Millisecond))
			if a.GetError() != "" {
				fmt.Fprintf(w, ": %s", a.GetError())
			}
			fmt.Fprintln(w)
		}
	}
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
