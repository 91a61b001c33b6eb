package pdp

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp/decisionlog"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// BenchmarkAuthorizeHandler measures the server's own work per Authorize,
// above the engine and below gRPC: taking the snapshot, decoding,
// deciding, metrics, the decision id and, in the log case, queueing the
// decision log entry. It uses the scaffold `cedargate init` writes.
func BenchmarkAuthorizeHandler(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "repo")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	if err := build.Init(dir, build.InitOptions{Now: now}); err != nil {
		b.Fatal(err)
	}
	out, err := build.Build(b.Context(), dir, build.Options{Env: "prod", Now: now})
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Create(b.Context(), filepath.Join(b.TempDir(), "store"), "prod")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Put(b.Context(), out.Archive); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Activate(b.Context(), out.Bundle.Manifest.Revision, store.ActionBuild, now); err != nil {
		b.Fatal(err)
	}
	req := &pb.AuthorizeRequest{
		Principal: &pb.EntityRef{Type: "App::ServiceAccount", Id: "deployer-prod"},
		Action:    &pb.EntityRef{Type: "App::Action", Id: "read"},
		Resource:  &pb.EntityRef{Type: "App::Service", Id: "api"},
	}
	for _, tc := range []struct {
		name string
		log  string
		sync bool
	}{
		{"log-off", "", false},
		{"log-on", filepath.Join(b.TempDir(), "decisions.log"), false},
		{"log-sync", filepath.Join(b.TempDir(), "sync.log"), true},
	} {
		srv, err := New(Options{Source: st, Listen: "127.0.0.1:0", Poll: -1, Clock: func() time.Time { return now },
			Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
			DecisionLog: decisionlog.Options{Path: tc.log, OnFull: decisionlog.Drop, Sync: tc.sync}})
		if err != nil {
			b.Fatal(err)
		}
		authorize := func(b *testing.B) {
			resp, err := srv.authz.Authorize(context.Background(), req)
			if err != nil || resp.Decision != pb.Decision_DECISION_ALLOW {
				b.Fatalf("%v %v", resp, err)
			}
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				authorize(b)
			}
		})
		// Callers in parallel, as under load: CPU per decision is what
		// the process spent (all its threads: the log's writer too)
		// divided by the decisions, and sync mode can share writes.
		b.Run(tc.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			cpu0 := processCPU(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					authorize(b)
				}
			})
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
		if err := srv.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
