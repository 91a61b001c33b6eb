package authzen_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/authzen"
	"github.com/cedargate/cedargate/pdp/wire"
)

// inProcess builds a PDP serving the fixture and returns its AuthZEN
// handler, to be called without a network (fuzzing, benchmarks). The
// server is not serving; it is shut down when the test ends.
func inProcess(t testing.TB, opts authzen.Options) http.Handler {
	t.Helper()
	var h http.Handler
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	popts := pdp.Options{Source: fixtureStore(t), Listen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0", Poll: -1,
		Clock: func() time.Time { return refNow }, Logger: opts.Logger,
		HTTP: func(s *pdp.Server) (http.Handler, error) {
			var err error
			h, err = authzen.New(s, opts)
			return h, err
		}}
	srv, err := pdp.New(popts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(t.Context()) })
	return h
}

// serveInProcess answers one request with h.
func serveInProcess(h http.Handler, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// checkAnswer fails unless w is a 200 or a 400, with a JSON object body,
// an error message for a 400.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, body []byte) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %q (for %q) is not a JSON object: %v", w.Body.Bytes(), body, err)
	}
	if w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("Content-Type %q", w.Header().Get("Content-Type"))
	}
	switch w.Code {
	case http.StatusOK:
		_, d := v["decision"]
		_, evs := v["evaluations"]
		_, res := v["results"]
		if !d && !evs && !res {
			t.Fatalf("200 without a decision, evaluations or results: %s (for %q)", w.Body.Bytes(), body)
		}
	case http.StatusBadRequest:
		e, _ := v["error"].(map[string]any)
		if msg, _ := e["message"].(string); msg == "" {
			t.Fatalf("400 without a message: %s", w.Body.Bytes())
		}
	default:
		t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.Bytes())
	}
}

// TestHostileBodies checks that malformed, mistyped, oversized and deep
// bodies are refused with 400 and a message saying what is wrong, before
// anything is decided.
func TestHostileBodies(t *testing.T) {
	lim := wire.Limits{MaxDepth: 8, MaxValues: 200, MaxSetElements: 50, MaxStringBytes: 256, MaxBatch: 10}
	s := start(t, fixtureStore(t), authzen.Options{Limits: lim, MaxBodyBytes: 64 << 10}, pdp.Options{})
	nest := func(n int, leaf string) string {
		return strings.Repeat(`{"a":`, n) + leaf + strings.Repeat(`}`, n)
	}
	props := func(p string) string {
		return evalBody("alice", "read", "record-1", `"subject": {"type": "user", "id": "alice", "properties": `+p+`}`)
	}
	for _, tt := range []struct {
		name, path, body, want string
	}{
		{"a body over the limit", authzen.EvaluationPath, `{"x": "` + strings.Repeat("a", 65<<10) + `"}`, "more than the limit of 65536"},
		{"not JSON", authzen.EvaluationPath, `{subject: alice}`, "not valid JSON"},
		{"a truncated object", authzen.EvaluationsPath, `{"evaluations": [`, "not valid JSON"},
		{"trailing data", authzen.EvaluationPath, evalBody("alice", "read", "record-1") + ` {}`, "not valid JSON"},
		{"an array", authzen.EvaluationPath, `[{"subject": {}}]`, "must be a JSON object"},
		{"null", authzen.SearchSubjectPath, `null`, "must be a JSON object"},
		{"a number", authzen.EvaluationPath, `42`, "must be a JSON object"},
		{"invalid UTF-8", authzen.EvaluationPath, strings.Replace(evalBody("alice", "read", "record-1"), "alice", "al\xffice", 1), "UTF-8"},
		{"a duplicate member", authzen.EvaluationPath, `{"subject": {"type": "user", "type": "admin", "id": "alice"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}`, "duplicate"},
		{"a subject of the wrong type", authzen.EvaluationPath, `{"subject": ["alice"], "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}`, "subject: must be an object, not an array"},
		{"an id of the wrong type", authzen.EvaluationPath, `{"subject": {"type": "user", "id": 7}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}`, "subject.id: must be a string, not a number"},
		{"evaluations of the wrong type", authzen.EvaluationsPath, `{"evaluations": {"0": {}}}`, "evaluations: must be an array"},
		{"an evaluation of the wrong type", authzen.EvaluationsPath, `{"evaluations": [{}, 3]}`, "evaluations[1]: must be an object"},
		{"options of the wrong type", authzen.EvaluationsPath, `{"evaluations": [{}], "options": {"evaluations_semantic": true}}`, "options.evaluations_semantic: must be a string"},
		{"too many evaluations", authzen.EvaluationsPath, `{"evaluations": [` + strings.TrimSuffix(strings.Repeat(`{},`, 11), ",") + `]}`, "11 evaluations, more than the limit of 10"},
		{"properties too deep", authzen.EvaluationPath, props(`{"role": ` + nest(8, `1`) + `}`), "nested deeper than the limit of 8"},
		{"properties deeper than JSON allows", authzen.EvaluationPath, props(`{"role": ` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`), "not valid JSON"},
		{"an ignored member deeper than JSON allows", authzen.EvaluationPath, evalBody("alice", "read", "record-1", `"future": `+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)), "not valid JSON"},
		{"too many values", authzen.EvaluationPath, props(`{"role": [[` + strings.TrimSuffix(strings.Repeat(`1,`, 49), ",") + `], [` + strings.TrimSuffix(strings.Repeat(`{"x": [1, 2, 3]},`, 45), ",") + `]]}`), "more than the limit of 200 values"},
		{"a set too large", authzen.EvaluationPath, props(`{"role": [` + strings.TrimSuffix(strings.Repeat(`1,`, 51), ",") + `]}`), "more than the limit of 50 elements"},
		{"a string too long", authzen.EvaluationPath, props(`{"role": "` + strings.Repeat("é", 129) + `"}`), "a string of 258 bytes"},
		{"an escaped string too long", authzen.EvaluationPath, props(`{"role": "` + strings.Repeat(`\u00e9`, 129) + `"}`), "a string of 258 bytes"},
		{"an id too long", authzen.EvaluationPath, evalBody(strings.Repeat("a", 257), "read", "record-1"), "subject.id: 257 bytes, more than the limit of 256"},
		{"a member name too long", authzen.EvaluationPath, props(`{"` + strings.Repeat("k", 257) + `": 1}`), "a member name of 257 bytes"},
		{"a number too large", authzen.EvaluationPath, props(`{"role": 99999999999999999999}`), "out of the range of a Cedar Long"},
		{"a Cedar escape with company", authzen.EvaluationPath, props(`{"role": {"__extn": {"fn": "ip", "arg": "10.0.0.1"}, "x": 1}}`), "has no other members"},
		{"a bad Cedar escape", authzen.EvaluationPath, props(`{"role": {"__extn": {"fn": "launch", "arg": "now"}}}`), "subject.properties.role"},
		{"a negative page limit", authzen.SearchSubjectPath, `{"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}, "page": {"limit": -1}}`, "page.limit: must be a non-negative integer"},
		{"a fractional page limit", authzen.SearchSubjectPath, `{"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}, "page": {"limit": 1.5}}`, "page.limit"},
		{"a forged page token", authzen.SearchSubjectPath, `{"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}, "page": {"token": "AAAA"}}`, "page.token: not a token this PDP issued"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, tt.path, tt.body)
			checkReply(t, r, expectation{status: 400}, tt.body)
			if msg := r.body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q, want it to say %q", msg, tt.want)
			}
		})
	}

	// A body whose length is not declared is cut at the limit all the same.
	req, _ := http.NewRequest(http.MethodPost, s.url+authzen.EvaluationPath, io.MultiReader(strings.NewReader(`{"x": "`), &endless{}))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("an endless body: %s", resp.Status)
	}
	if n := len(s.decisions(t)); n != 0 {
		t.Errorf("%d decisions made from hostile bodies", n)
	}
}

// endless is a reader of 'a's that never ends.
type endless struct{}

func (*endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// FuzzHandler sends arbitrary bodies to every endpoint of a handler
// serving the fixture: whatever the body, the answer is a 200 of the
// right shape or a 400 with a message, never a panic or another status.
func FuzzHandler(f *testing.F) {
	for _, seed := range []string{
		evalBody("alice", "read", "record-1"),
		evalBody("bob", "write", "record-2", `"subject": {"type": "user", "id": "bob", "properties": {"role": "admin", "x": [1, {"y": null}]}}`),
		evalBody("alice", "delete", "record-1", `"action": {"name": "delete", "properties": {"soft": true}}`, `"context": {"ip": {"__extn": {"fn": "ip", "arg": "10.0.0.1"}}}`),
		`{"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "evaluations": [{"resource": {"type": "record", "id": "record-1"}}, {}], "options": {"evaluations_semantic": "deny_on_first_deny"}}`,
		`{"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}, "page": {"limit": 1}}`,
		`{"subject": {"type": "user", "id": "alice"}, "resource": {"type": "record", "id": "record-1"}, "context": {"a": [1, 2, "3"]}}`,
		`{"evaluations": [{"subject": {"type": "user", "id": "alice", "properties": {"role": {"__entity": {"type": "Fixture::User", "id": "bob"}}}}}]}`,
		`[]`, `{`, `{"subject": null}`, "{\"a\": \"\xff\"}", `{"page": {"token": "AQ"}}`,
	} {
		for i := range 5 {
			f.Add(i, []byte(seed))
		}
	}
	h := inProcess(f, authzen.Options{})
	paths := []string{authzen.EvaluationPath, authzen.EvaluationsPath, authzen.SearchSubjectPath, authzen.SearchResourcePath, authzen.SearchActionPath}
	f.Fuzz(func(t *testing.T, path int, body []byte) {
		p := paths[(path%len(paths)+len(paths))%len(paths)]
		checkAnswer(t, serveInProcess(h, p, body), body)
	})
}

// TestFuzzSeedsAnswer runs the fuzz seeds' kind of request against the
// fixture once more with values at the limits, so that a plain go test
// exercises the paths the fuzzer starts from.
func TestFuzzSeedsAnswer(t *testing.T) {
	h := inProcess(t, authzen.Options{})
	// role is an attribute, at depth 1: its value may nest 15 levels more.
	role := func(objects int) string {
		return evalBody("alice", "read", "record-1", `"subject": {"type": "user", "id": "alice", "properties": {"role": `+
			strings.Repeat(`{"a":`, objects)+`1`+strings.Repeat(`}`, objects)+`}}`)
	}
	for objects, code := range map[int]int{wire.DefaultMaxDepth - 1: 200, wire.DefaultMaxDepth: 400} {
		body := role(objects)
		w := serveInProcess(h, authzen.EvaluationPath, []byte(body))
		checkAnswer(t, w, []byte(body))
		if w.Code != code {
			t.Errorf("an attribute nesting %d objects: %d, want %d: %s", objects, w.Code, code, w.Body.Bytes())
		}
	}
}
