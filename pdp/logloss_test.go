package pdp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/internal/fulldisk"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/decisionlog"
	"github.com/cedargate/cedargate/pdp/engine"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// load calls Authorize from several goroutines until stopped, like a busy
// enforcement point, and keeps what came back.
type load struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	answered []string // decision ids received
	refused  int      // UNAVAILABLE answers: no decision received
}

func startLoad(t *testing.T, h *harness) *load {
	l := &load{stop: make(chan struct{})}
	for range 4 {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				d, err := h.client.Authorize(ctx, readPlan())
				cancel()
				l.mu.Lock()
				switch {
				case err == nil:
					l.answered = append(l.answered, d.ID)
				case status.Code(err) == codes.Unavailable:
					l.refused++
				default:
					t.Errorf("Authorize: %v", err)
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// counts returns how many decisions were answered and refused so far.
func (l *load) counts() (answered, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.answered), l.refused
}

// waitFor waits until n more decisions have been answered.
func (l *load) waitFor(t *testing.T, n int) {
	t.Helper()
	from, _ := l.counts()
	eventually(t, strconv.Itoa(n)+" more decisions", func() bool { a, _ := l.counts(); return a >= from+n })
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

// logAccount is the decision log's account of itself, as GetStatus and
// /metrics give it, once every decision made has been written or dropped.
type logAccount struct {
	status                   *pb.DecisionLogStatus
	decisions                int
	written, dropped, errors int
}

// settle waits for the decision log to account for every decision made,
// then checks that GetStatus and the metrics agree.
func settle(t *testing.T, h *harness) logAccount {
	t.Helper()
	var a logAccount
	num := func(series string) int {
		v, err := strconv.ParseFloat(metric(t, h, series), 64)
		if err != nil {
			t.Fatalf("metric %s: %v", series, err)
		}
		return int(v)
	}
	eventually(t, "the decision log to account for every decision", func() bool {
		a.decisions = num(`cedargate_decisions_total{decision="allow"}`) + num(`cedargate_decisions_total{decision="deny"}`)
		a.written, a.dropped = num("cedargate_decision_log_written_total"), num("cedargate_decision_log_dropped_total")
		return a.written+a.dropped == a.decisions
	})
	a.errors = num("cedargate_decision_log_errors_total")
	st, err := h.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a.status = st.GetDecisionLog()
	if got := a.status; got == nil || int(got.GetWritten()) != a.written || int(got.GetDropped()) != a.dropped || int(got.GetWriteErrors()) != a.errors {
		t.Fatalf("GetStatus decision_log %v; metrics say written %d, dropped %d, errors %d", got, a.written, a.dropped, a.errors)
	}
	return a
}

// loggedIDs returns the decision ids of the whole lines in data.
func loggedIDs(t *testing.T, lines [][]byte) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, line := range lines {
		var e struct {
			ID string `json:"decision_id"`
		}
		if json.Unmarshal(line, &e) == nil && e.ID != "" {
			ids[e.ID]++
		}
	}
	return ids
}

func fileLines(t *testing.T, data []byte) [][]byte { return slices.Collect(bytes.Lines(data)) }

func activeStore(t *testing.T) *store.Store {
	t.Helper()
	st := buildInto(t, filepath.Join(t.TempDir(), "store"), "allow", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDecisionLogFollowsItsFileUnderLoad deletes or renames the decision
// log file while clients are being answered: new entries appear in a new
// file at the path, and every decision answered is in the old file or the
// new one, with nothing dropped and the metrics and GetStatus agreeing.
func TestDecisionLogFollowsItsFileUnderLoad(t *testing.T) {
	tests := []struct {
		name string
		// move returns how to read the old file's content afterwards.
		move func(t *testing.T, path string) func() []byte
	}{
		{"deleted", func(t *testing.T, path string) func() []byte {
			f, err := os.Open(path) // what was written stays readable through f
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			return func() []byte {
				data, err := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
		}},
		{"renamed", func(t *testing.T, path string) func() []byte {
			if err := os.Rename(path, path+".shipped"); err != nil {
				t.Fatal(err)
			}
			return func() []byte {
				data, err := os.ReadFile(path + ".shipped")
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logDir := t.TempDir()
			path := filepath.Join(logDir, "decisions.log")
			h := start(t, activeStore(t), func(o *pdp.Options) { o.DecisionLog = decisionLog(logDir) })
			l := startLoad(t, h)
			l.waitFor(t, 200)

			old := tt.move(t, path)
			moved := time.Now()
			eventually(t, "new entries at the path", func() bool {
				data, err := os.ReadFile(path)
				return err == nil && len(data) > 0
			})
			t.Logf("%s: new entries at the path %v later", tt.name, time.Since(moved).Round(time.Millisecond))
			l.waitFor(t, 200)
			l.finish()

			a := settle(t, h)
			if a.dropped != 0 || a.errors != 0 || a.status.GetLosing() {
				t.Fatalf("decision log account %+v: want nothing dropped, no error", a)
			}
			if a.decisions != len(l.answered) {
				t.Fatalf("%d decisions made, %d answered", a.decisions, len(l.answered))
			}
			h.stop(t)
			oldIDs := loggedIDs(t, fileLines(t, old()))
			newIDs := loggedIDs(t, readFileLines(t, path))
			if len(oldIDs) == 0 || len(newIDs) == 0 || len(oldIDs)+len(newIDs) != a.written {
				t.Fatalf("%d entries in the old file, %d in the new one, %d written", len(oldIDs), len(newIDs), a.written)
			}
			for _, id := range l.answered {
				if oldIDs[id]+newIDs[id] != 1 {
					t.Fatalf("decision %s is logged %d times", id, oldIDs[id]+newIDs[id])
				}
			}
			if !strings.Contains(h.logs.String(), "decision log file was moved or deleted: reopened it at its path") {
				t.Fatal("the reopen was not logged")
			}
		})
	}
}

func readFileLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileLines(t, data)
}

// health returns the gRPC health of service and the HTTP status of
// /readyz.
func health(t *testing.T, h *harness, service string) (healthpb.HealthCheckResponse_ServingStatus, int) {
	t.Helper()
	resp, err := healthpb.NewHealthClient(h.conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.Get("http://" + h.srv.MetricsAddr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return resp.GetStatus(), r.StatusCode
}

// waitHealth waits until gRPC health (the server and the decision
// service) and /readyz all say serving, or all say not.
func waitHealth(t *testing.T, h *harness, serving bool) {
	t.Helper()
	want, wantHTTP := healthpb.HealthCheckResponse_NOT_SERVING, http.StatusServiceUnavailable
	if serving {
		want, wantHTTP = healthpb.HealthCheckResponse_SERVING, http.StatusOK
	}
	eventually(t, "health "+want.String(), func() bool {
		for _, svc := range []string{"", "cedargate.v1.AuthorizationService"} {
			if st, code := health(t, h, svc); st != want || code != wantHTTP {
				return false
			}
		}
		return true
	})
}

// TestDecisionLogOnAFullDisk fills the disk under the decision log while
// clients are being answered, then gives it room again, in each mode:
//
//   - async: every decision is answered; entries that cannot be written
//     are counted, health stays SERVING;
//   - async, required: the same, but health (gRPC and /readyz) is
//     NOT_SERVING while entries are lost, and SERVING again after;
//   - sync, required: a decision whose entry was not written is not
//     answered (UNAVAILABLE), in-process front ends (Server.Decide, which
//     Envoy's ext_authz uses) included, so every decision answered is in
//     the log.
//
// In every mode written + dropped is every decision made, and GetStatus
// and the metrics agree.
func TestDecisionLogOnAFullDisk(t *testing.T) {
	modes := []struct {
		name           string
		sync, required bool
	}{
		{"async", false, false},
		{"async-required", false, true},
		{"sync-required", true, true},
	}
	for _, kind := range fulldisk.Kinds(t) {
		for _, m := range modes {
			t.Run(kind+"/"+m.name, func(t *testing.T) {
				d := fulldisk.New(t, kind, "decisions.log")
				h := start(t, activeStore(t), func(o *pdp.Options) {
					o.DecisionLog = decisionLog(d.Path)
					o.DecisionLog.Sync = m.sync
					o.DecisionLog.LossWindow = 300 * time.Millisecond
					o.DecisionLogRequired = m.required
				})
				waitHealth(t, h, true)
				l := startLoad(t, h)
				l.waitFor(t, 100)

				d.Fill(t)
				eventually(t, "entries to be dropped", func() bool {
					st, err := h.client.Status(context.Background())
					return err == nil && st.GetDecisionLog().GetDropped() > 0 && st.GetDecisionLog().GetLosing()
				})
				if m.required {
					waitHealth(t, h, false)
				} else {
					waitHealth(t, h, true)
				}
				st, err := h.client.Status(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if dl := st.GetDecisionLog(); !strings.Contains(dl.GetLastError(), "no space left on device") || dl.GetLastErrorTime() == nil ||
					dl.GetPath() != d.File() || dl.GetSync() != m.sync || dl.GetRequired() != m.required {
					t.Fatalf("GetStatus decision_log on a full disk: %v", dl)
				}
				direct := 0 // decisions made by Server.Decide, not by the load
				if m.sync {
					_, refused := l.counts()
					eventually(t, "decisions refused", func() bool { _, r := l.counts(); return r > refused })
					_, err := h.srv.Decide(context.Background(), func(*engine.Snapshot, time.Time) (*engine.Request, error) {
						return &engine.Request{Principal: readPlan().Principal, Action: readPlan().Action, Resource: readPlan().Resource}, nil
					})
					if status.Code(err) != codes.Unavailable {
						t.Fatalf("Decide on a full disk in sync mode = %v, want UNAVAILABLE", err)
					}
					direct++
				}

				d.MakeRoom(t)
				waitHealth(t, h, true)
				eventually(t, "the loss to end", func() bool {
					st, err := h.client.Status(context.Background())
					return err == nil && !st.GetDecisionLog().GetLosing() && st.GetDecisionLog().GetLastError() == ""
				})
				l.waitFor(t, 100)
				l.finish()

				a := settle(t, h)
				answered, refused := l.counts()
				if a.dropped == 0 || a.errors == 0 || a.decisions != answered+refused+direct {
					t.Fatalf("account %+v; %d answered, %d refused: want drops and errors counted, every decision made answered or refused", a, answered, refused)
				}
				if !m.sync && !m.required && refused != 0 {
					t.Fatalf("%d decisions refused in async mode", refused)
				}
				h.stop(t)
				logged := loggedIDs(t, d.Lines(t))
				total := 0
				for _, n := range logged {
					total += n
				}
				if total != a.written || len(logged) != a.written {
					t.Fatalf("%d whole entries (%d distinct) on disk, written %d", total, len(logged), a.written)
				}
				missing := 0
				for _, id := range l.answered {
					if logged[id] == 0 {
						missing++
					}
				}
				if m.sync && missing != 0 {
					t.Fatalf("%d decisions answered in sync mode are not in the log", missing)
				}
				t.Logf("%d answered (%d of them not logged), %d refused; written %d, dropped %d, %d write errors",
					answered, missing, refused, a.written, a.dropped, a.errors)
			})
		}
	}
}

// TestRequiredRefusesWhatTheLogDrops gives the decision log a buffer of
// one entry, so that under load it drops entries at once: with
// --decision-log-required those decisions are refused (UNAVAILABLE), not
// answered, so every decision answered is in the log.
func TestRequiredRefusesWhatTheLogDrops(t *testing.T) {
	logDir := t.TempDir()
	h := start(t, activeStore(t), func(o *pdp.Options) {
		o.DecisionLog = decisionLog(logDir)
		o.DecisionLog.BufferSize, o.DecisionLog.OnFull = 1, decisionlog.Drop
		o.DecisionLogRequired = true
	})
	l := startLoad(t, h)
	eventually(t, "decisions answered and refused", func() bool { a, r := l.counts(); return a >= 100 && r > 0 })
	l.finish()
	a := settle(t, h)
	answered, refused := l.counts()
	if a.errors != 0 || a.dropped != refused || a.written != answered {
		t.Fatalf("account %+v; %d answered, %d refused: want every refusal a drop, every answer written", a, answered, refused)
	}
	h.stop(t)
	logged := loggedIDs(t, readFileLines(t, filepath.Join(logDir, "decisions.log")))
	for _, id := range l.answered {
		if logged[id] != 1 {
			t.Fatalf("decision %s answered, logged %d times", id, logged[id])
		}
	}
	t.Logf("%d answered, all logged; %d refused", answered, refused)
}
