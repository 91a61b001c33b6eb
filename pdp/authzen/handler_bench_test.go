package authzen_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/pdp/authzen"
)

// BenchmarkHandler measures the AuthZEN handler's own work per request,
// in process and without a network: reading and checking the body,
// mapping it to Cedar, deciding through the PDP (snapshot, metrics,
// decision id; no decision log) and writing the answer. Evaluations of 50
// report their cost per decision, the figure to set beside a single
// evaluation's (the load test, benchmarks/cmd/loadtest, measures the
// whole server against gRPC and OPA).
func BenchmarkHandler(b *testing.B) {
	h := inProcess(b, authzen.Options{})
	single := []byte(evalBody("alice", "write", "record-1"))
	props := []byte(evalBody("bob", "write", "record-2", `"subject": {"type": "user", "id": "bob", "properties": {"role": "admin"}}`,
		`"resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}`))
	var evs []string
	for i := range 50 {
		evs = append(evs, []string{`{"resource": {"type": "record", "id": "record-1"}}`, `{"resource": {"type": "record", "id": "record-2"}}`}[i%2])
	}
	batch := []byte(`{"subject": {"type": "user", "id": "alice"}, "action": {"name": "write"}, "evaluations": [` + strings.Join(evs, ",") + `]}`)
	search := []byte(`{"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}`)
	for _, bc := range []struct {
		name, path string
		body       []byte
		decisions  int
	}{
		{"evaluation", authzen.EvaluationPath, single, 1},
		{"evaluation-properties", authzen.EvaluationPath, props, 1},
		{"evaluations-50", authzen.EvaluationsPath, batch, 50},
		{"search-subject", authzen.SearchSubjectPath, search, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &sink{header: http.Header{}}
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, bc.path, bytes.NewReader(bc.body))
				req.Header.Set("Content-Type", "application/json")
				w.body.Reset()
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("%d %s", w.code, w.body.Bytes())
				}
			}
			if bc.decisions > 1 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.decisions), "ns/decision")
			}
		})
	}
}

// sink is a ResponseWriter a benchmark reuses: it keeps the status and
// the body, so that a failure can be shown, and costs nothing per request.
type sink struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (s *sink) Header() http.Header         { return s.header }
func (s *sink) Write(p []byte) (int, error) { return s.body.Write(p) }
func (s *sink) WriteHeader(code int)        { s.code = code }
