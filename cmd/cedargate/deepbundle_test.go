package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp/client"
)

// TestStoreRefusesADeepBundle puts into a store, as a hostile writer
// would, a bundle with a policy of a million nested brackets: cedar-go
// would overflow its stack parsing it, a fatal error that would crash
// every replica, at every restart. rollout refuses it, store verify
// reports it, and a serving PDP that finds it active refuses it and
// keeps answering with the last good bundle, all with an error that says
// what is wrong.
func TestStoreRefusesADeepBundle(t *testing.T) {
	dir := scaffoldToday(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if r := cedargate(t, "build", dir, "--env", "prod", "--store", storeDir, "--activate", "--revision", "r1"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	b, err := bundle.DecodeFile(bundlePath(t, storeDir, "r1"), bundle.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Manifest.Revision = "deep"
	b.Policies[0].Cedar = "permit (principal, action, resource) when { " +
		strings.Repeat("(", 1_000_000) + "true" + strings.Repeat(")", 1_000_000) + " };"
	archive, err := bundle.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, bundlePath(t, storeDir, "deep"), archive)
	const why = "Cedar expression nested deeper than 1024 levels"

	r := cedargate(t, "rollout", "deep", "--store", storeDir)
	if r.code != exitFailure || !strings.Contains(r.stderr, "not activating it") || !strings.Contains(r.stderr, why) {
		t.Fatalf("rollout of the deep bundle: %+v", r)
	}
	if h := cedargate(t, "history", "--store", storeDir); !strings.Contains(h.stdout, "r1 (active)") {
		t.Fatalf("history after the refused rollout:\n%s", h.stdout)
	}
	r = cedargate(t, "store", "verify", "--store", storeDir)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "bundles/deep.tar.gz: does not verify") || !strings.Contains(r.stdout+r.stderr, why) {
		t.Fatalf("store verify: %+v", r)
	}

	s := serve(t, "--store", storeDir, "--decision-log", "")
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := client.New(conn)
	ctx := context.Background()
	principal, _ := repo.ParseEntityUID(`App::ServiceAccount::"deployer-prod"`)
	action, _ := repo.ParseEntityUID(`App::Action::"read"`)
	resource, _ := repo.ParseEntityUID(`App::Service::"api"`)
	decide := func(when string) {
		d, err := c.Authorize(ctx, client.Request{Principal: principal, Action: action, Resource: resource})
		if err != nil || !d.Allow || d.Bundle.Revision != "r1" {
			t.Fatalf("%s: %+v %v, want ALLOW by r1", when, d, err)
		}
	}
	decide("before the deep bundle")
	// The state file names the deep bundle, as a hostile tool writes it.
	var st struct {
		Format  int                `json:"format"`
		Active  *store.Pointer     `json:"active"`
		History []store.Activation `json:"history"`
	}
	statePath := filepath.Join(storeDir, store.StateFile)
	data, _ := os.ReadFile(statePath)
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	deep := store.Pointer{Revision: "deep", Digest: b.Digest}
	st.Active = &deep
	st.History = append(st.History, store.Activation{Pointer: deep, Time: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), Action: "rollout", Previous: "r1", User: "mallory"})
	writeJSONFile(t, statePath, st)
	waitFor(t, "the deep bundle to be refused", func() bool {
		status, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f := status.GetLastFailedActivation()
		return f.GetBundle().GetRevision() == "deep" && strings.Contains(f.GetError(), why)
	})
	decide("after the deep bundle")
	select {
	case err := <-s.exit:
		t.Fatalf("serve exited: %v", err)
	default:
	}
}
