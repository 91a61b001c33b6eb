package pdp

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/store"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// TestStatusIsNotServingOnceShutdownBegins serves a bundle over real gRPC
// and asks GetStatus before and after shutdown begins (Shutdown's first
// step, before it stops the gRPC server): serving, as the proto says, is
// true only while a bundle is active and the replica is not shutting
// down, in step with /readyz and gRPC health.
func TestStatusIsNotServingOnceShutdownBegins(t *testing.T) {
	repoDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repoDir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repoDir, "policies", "p.cedar"), []byte(`permit (principal == User::"a", action == Action::"read", resource == Doc::"d");`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := build.Build(t.Context(), repoDir, build.Options{Revision: "r1", CompilerVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Create(t.Context(), filepath.Join(t.TempDir(), "store"), out.Bundle.Manifest.Environment)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), out.Archive); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Activate(t.Context(), "r1", store.ActionRollout, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Source: st, Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Poll: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	conn, err := grpc.NewClient(s.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	admin := pb.NewAdminServiceClient(conn)
	status := func() *pb.GetStatusResponse {
		resp, err := admin.GetStatus(context.Background(), &pb.GetStatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := status(); !resp.GetServing() || resp.GetBundle().GetRevision() != "r1" {
		t.Fatalf("before shutdown: serving %v, bundle %v", resp.GetServing(), resp.GetBundle())
	}
	s.stopping.Store(true) // what Shutdown does first
	if resp := status(); resp.GetServing() || resp.GetBundle().GetRevision() != "r1" {
		t.Fatalf("shutting down: serving %v, bundle %v; want not serving, the bundle still reported", resp.GetServing(), resp.GetBundle())
	}
}
