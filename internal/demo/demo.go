// Package demo is `cedargate demo`: it builds the example identity
// repository, serves it from a PDP on loopback, asks it a handful of
// meaningful questions over gRPC, prints the answers and the decision log,
// and stops. Everything it does is what the commands do one by one.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/internal/version"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/client"
	"github.com/cedargate/cedargate/pdp/decisionlog"
)

// referenceDate is the instant examples/acme is written for: its review,
// rotation and expiry dates are relative to it. The demo judges the
// guardrails and makes its decisions as of this date (its PDP's clock
// starts there), so it shows the same thing whenever it runs; a
// production PDP uses the real clock.
var referenceDate = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// Defaults of Options.Repo and Options.Env, also the defaults of the demo
// command's flags.
const (
	// DefaultRepo is the example identity repository, relative to the
	// cedargate checkout (slash-separated).
	DefaultRepo = "examples/acme"
	// DefaultEnv is the environment of DefaultRepo the demo builds.
	DefaultEnv = "prod"
)

// Options configure a demo run.
type Options struct {
	// Repo is the identity repository; default DefaultRepo.
	Repo string
	// Env is the environment to build; default DefaultEnv.
	Env string
	// Out receives the demo's output.
	Out io.Writer
}

// scenario is one question the demo asks.
type scenario struct {
	title     string
	principal types.EntityUID
	action    string
	resource  types.EntityUID
	mfa       bool
	want      bool
}

func uid(typ, id string) types.EntityUID {
	return types.NewEntityUID(types.EntityType("Acme::"+typ), types.String(id))
}

var scenarios = []scenario{
	{"a payments engineer reads customer transactions (granted to her group)", uid("User", "maria.chen"), "read", uid("Table", "transactions"), false, true},
	{"the ledger workload writes its entries (granted to its service account)", uid("ServiceAccount", "ledger-prod"), "write", uid("Table", "transactions"), false, true},
	{"a contractor reads customer transactions (granted, but a forbid guards customer data)", uid("User", "jordan.lee"), "read", uid("Table", "transactions"), false, false},
	{"the same contractor reads the ledger (his q3-reconciliation grant expired on 2026-10-01)", uid("User", "jordan.lee"), "read", uid("Service", "ledger"), false, false},
	{"the payments engineer changes data without MFA (people need MFA to change data)", uid("User", "maria.chen"), "write", uid("Table", "transactions"), false, false},
	{"... and with MFA (in prod her group may only read)", uid("User", "maria.chen"), "write", uid("Table", "transactions"), true, false},
}

// Run performs the demo.
func Run(ctx context.Context, opts Options) error {
	if opts.Repo == "" {
		opts.Repo = filepath.FromSlash(DefaultRepo)
	}
	if opts.Env == "" {
		opts.Env = DefaultEnv
	}
	out := opts.Out
	if _, err := os.Stat(filepath.Join(opts.Repo, "cedargate.yaml")); err != nil {
		return fmt.Errorf("no identity repository at %s (run the demo from the cedargate checkout, or pass --repo): %w", opts.Repo, err)
	}
	work, err := os.MkdirTemp("", "cedargate-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	fmt.Fprintf(out, "== 1. build %s for %s (guardrails and tests as of %s)\n", opts.Repo, opts.Env, referenceDate.Format(time.DateOnly))
	built, err := build.Build(ctx, opts.Repo, build.Options{Env: opts.Env, Now: referenceDate, AllowDirty: true, CompilerVersion: version.String()})
	if err != nil {
		return err
	}
	for _, w := range built.Warnings {
		fmt.Fprintf(out, "   %s\n", w)
	}
	m := built.Bundle.Manifest
	fmt.Fprintf(out, "   revision %s: %d policies (%d from grants), %d entities, %d decision tests passed\n",
		m.Revision, m.Counts.Policies, m.Counts.Grants, m.Counts.Entities, built.Tests.Passed)
	st, err := store.Create(ctx, filepath.Join(work, "store"), m.Environment)
	if err != nil {
		return err
	}
	if _, err := st.Put(ctx, built.Archive); err != nil {
		return err
	}
	if _, err := st.Activate(ctx, m.Revision, store.ActionBuild, time.Now()); err != nil {
		return err
	}

	logPath := filepath.Join(work, "decisions.log")
	started := time.Now()
	srv, err := pdp.New(pdp.Options{
		Source: st, Listen: "127.0.0.1:0",
		Clock:       func() time.Time { return referenceDate.Add(time.Since(started)) },
		DecisionLog: decisionlog.Options{Path: logPath, OnFull: decisionlog.Block},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx) }()
	fmt.Fprintf(out, "\n== 2. serve it: PDP on %s, bundle %s (%s), its clock set to %s\n", srv.Addr(), m.Revision,
		bundle.ShortDigest(built.Bundle.Digest), referenceDate.Format(time.DateOnly))

	fmt.Fprintf(out, "\n== 3. ask it over gRPC\n")
	askErr := ask(ctx, srv.Addr().String(), out)
	stop()
	if err := <-served; err != nil {
		return err
	}
	if askErr != nil {
		return askErr
	}

	fmt.Fprintf(out, "\n== 4. the decision log (flushed at shutdown), one JSON line per decision\n")
	data, err := os.ReadFile(logPath)
	if err != nil {
		return err
	}
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		fmt.Fprintf(out, "   %s\n", line)
	}
	fmt.Fprintf(out, "\nDone. Next: cedargate build %s --env %s --store /tmp/acme-%s --activate --now %s, then cedargate serve --store /tmp/acme-%s\n",
		opts.Repo, opts.Env, opts.Env, referenceDate.Format(time.DateOnly), opts.Env)
	return nil
}

func ask(ctx context.Context, addr string, out io.Writer) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	c := client.New(conn)
	now := types.NewDatetime(referenceDate)
	ip, _ := types.ParseIPAddr("10.8.1.20")
	for i, s := range scenarios {
		ctxRec := types.RecordMap{"source_ip": ip, "now": now}
		if s.mfa {
			ctxRec["mfa"] = types.True
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		d, err := c.Authorize(rctx, client.Request{Principal: s.principal, Action: types.NewEntityUID("Acme::Action", types.String(s.action)),
			Resource: s.resource, Context: types.NewRecord(ctxRec)})
		cancel()
		if err != nil {
			return fmt.Errorf("asking the PDP: %w", err)
		}
		word := "DENY "
		if d.Allow {
			word = "ALLOW"
		}
		fmt.Fprintf(out, "   %d. %s\n      %s %s %s %s", i+1, s.title, word, s.principal, s.action, s.resource)
		if s.mfa {
			fmt.Fprint(out, " (mfa)")
		}
		fmt.Fprintln(out)
		var by []string
		for _, r := range d.Reasons {
			by = append(by, fmt.Sprintf("%s at %s", r.ID, r.Source))
		}
		if len(by) == 0 {
			by = append(by, "no policy applies: default deny")
		}
		fmt.Fprintf(out, "      because %s\n", strings.Join(by, "; "))
		if d.Allow != s.want {
			return fmt.Errorf("scenario %d: the PDP answered %v, the example expects the opposite", i+1, d.Allow)
		}
	}
	return nil
}
