package pdp

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
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
	}{{"log-off", ""}, {"log-on", filepath.Join(b.TempDir(), "decisions.log")}} {
		b.Run(tc.name, func(b *testing.B) {
			srv, err := New(Options{Source: st, Listen: "127.0.0.1:0", Poll: -1, Clock: func() time.Time { return now },
				Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
				DecisionLog: decisionlog.Options{Path: tc.log, OnFull: decisionlog.Drop}})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown(context.Background())
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				resp, err := srv.authz.Authorize(ctx, req)
				if err != nil || resp.Decision != pb.Decision_DECISION_ALLOW {
					b.Fatalf("%v %v", resp, err)
				}
			}
		})
	}
}
