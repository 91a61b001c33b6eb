package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/pdp/client"
)

// TestServeKilledDuringLoad drives the real binary with Authorize calls
// from several goroutines over gRPC, keeps every decision id it receives,
// kills the server with SIGKILL in the middle of the load, and compares
// the ids with the decision log file.
//
// With --decision-log-sync every decision answered must be in the log:
// the answer left only after its entry was written. In the default
// asynchronous mode the entries still queued in the process die with it;
// the test reports how many answered decisions that was, as a measure of
// what async mode can lose, without asserting a number.
func TestServeKilledDuringLoad(t *testing.T) {
	dir := scaffoldToday(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if r := cedargate(t, "build", dir, "--env", "prod", "--store", storeDir, "--activate", "--revision", "r1"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	for _, tt := range []struct {
		name string
		sync bool
	}{{"sync", true}, {"async", false}} {
		t.Run(tt.name, func(t *testing.T) {
			logFile := filepath.Join(t.TempDir(), "decisions.log")
			args := []string{"--store", storeDir, "--decision-log", logFile}
			if tt.sync {
				args = append(args, "--decision-log-sync")
			}
			s := serve(t, args...)
			received := killDuringLoad(t, s, 3000)

			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			logged := map[string]bool{}
			lines := bytes.Split(data, []byte("\n"))
			for i, line := range lines {
				var e struct {
					ID string `json:"decision_id"`
				}
				if err := json.Unmarshal(line, &e); err != nil {
					// Only the last line, cut by the kill, may be torn.
					if i < len(lines)-1 {
						t.Fatalf("line %d of %d does not parse: %v", i+1, len(lines), err)
					}
					continue
				}
				logged[e.ID] = true
			}
			missing := 0
			for _, id := range received {
				if !logged[id] {
					missing++
				}
			}
			t.Logf("%s: %d decisions received before the kill, %d logged, %d received but not logged",
				tt.name, len(received), len(logged), missing)
			if tt.sync && missing > 0 {
				t.Fatalf("%d of %d decisions answered in sync mode are not in the log", missing, len(received))
			}
		})
	}
}

// killDuringLoad calls Authorize from 8 goroutines until at least n
// decisions have been received, kills s with SIGKILL while the calls go
// on, and returns the ids of every decision received.
func killDuringLoad(t *testing.T, s *served, n int) []string {
	t.Helper()
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := client.New(conn)
	req := client.Request{}
	req.Principal, _ = repo.ParseEntityUID(`App::ServiceAccount::"deployer-prod"`)
	req.Action, _ = repo.ParseEntityUID(`App::Action::"read"`)
	req.Resource, _ = repo.ParseEntityUID(`App::Service::"api"`)

	var (
		mu       sync.Mutex
		received []string
		enough   = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				d, err := c.Authorize(ctx, req)
				cancel()
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				received = append(received, d.ID)
				if len(received) >= n {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-enough:
	case err := <-s.exit:
		t.Fatalf("serve exited under load: %v", err)
	case <-time.After(time.Minute):
		t.Fatalf("fewer than %d decisions in a minute", n)
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	<-s.exit
	mu.Lock()
	defer mu.Unlock()
	return received
}
