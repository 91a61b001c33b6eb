package authzen_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/internal/testpki"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/authzen"
)

// The certification test sends every request of the AuthZEN Authorization
// API 1.0 certification scenario (testdata/certification-1_0-scenario.md,
// the working group's document as published) to a real PDP serving the
// fixture of examples/authzen over HTTPS on loopback, and checks the
// status, the response's structure and, since the fixture is ours, every
// decision and search result, not only the eight the harness validates.
//
// The requests are read from the document itself: each JSON request block
// under a section with an anchor (c-2-2-1, …) is a case, named by the
// anchor and its position in the section, and the table below must say
// what each one expects. A request the document adds, or one the table
// names that the document no longer has, fails the test. The scenario's
// requirements that have no JSON request (content type, malformed and
// empty bodies, X-Request-ID, idempotency, discovery) are cases of their
// own after the table.

// scenarioRequests reads the request bodies of the scenario document, by
// case name ("c-2-4-1#2": the third request of section c-2-4-1). A JSON
// block is a response, not a request, when it holds a decision, results,
// or PDP metadata.
func scenarioRequests(t *testing.T) (map[string]string, []string) {
	t.Helper()
	doc, err := os.ReadFile("testdata/certification-1_0-scenario.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`^#+ .*\{#(c-[0-9-]+)\}\s*$`)
	reqs := map[string]string{}
	var order []string
	section := ""
	n := 0
	lines := strings.Split(string(doc), "\n")
	for i := 0; i < len(lines); i++ {
		if m := heading.FindStringSubmatch(lines[i]); m != nil {
			section, n = m[1], 0
			continue
		}
		if strings.TrimSpace(lines[i]) != "~~~ json" {
			continue
		}
		var block []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "~~~"; i++ {
			block = append(block, lines[i])
		}
		body := strings.Join(block, "\n")
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("section %s: a JSON block that is not JSON: %v\n%s", section, err, body)
		}
		if isResponse(v) {
			continue
		}
		name := fmt.Sprintf("%s#%d", section, n)
		n++
		reqs[name] = body
		order = append(order, name)
	}
	return reqs, order
}

func isResponse(v map[string]any) bool {
	for _, k := range []string{"decision", "results", "policy_decision_point"} {
		if _, ok := v[k]; ok {
			return true
		}
	}
	if evs, ok := v["evaluations"].([]any); ok && len(evs) > 0 {
		if first, ok := evs[0].(map[string]any); ok {
			_, ok := first["decision"]
			return ok
		}
	}
	return false
}

// expectation is what a scenario request must get.
type expectation struct {
	path string
	// status is the expected status; 200 unless set.
	status int
	// decision is a single evaluation's expected decision.
	decision *bool
	// decisions are the expected decisions of an evaluations request.
	decisions []bool
	// results are the expected search results: ids (subject, resource)
	// or names (action), in order.
	results []string
	// more says a search page must have a non-empty next_token.
	more bool
}

var (
	yes = new(true)
	no  = new(false)
)

const (
	eval  = authzen.EvaluationPath
	evals = authzen.EvaluationsPath
	subj  = authzen.SearchSubjectPath
	res   = authzen.SearchResourcePath
	act   = authzen.SearchActionPath
)

// expectations covers every request of the scenario.
var expectations = map[string]expectation{
	// Basic, Core and Properties: the fixture's rules 1 to 8 and the
	// structural cases.
	"c-2-2-1#0": {path: eval, decision: yes},
	"c-2-2-2#0": {path: eval, decision: no},
	"c-2-2-3#0": {path: eval, decision: yes},
	"c-2-2-4#0": {path: eval, decision: no},
	"c-2-2-5#0": {path: eval, decision: yes},
	"c-2-2-6#0": {path: eval, decision: yes},
	"c-2-2-7#0": {path: eval, decision: no},
	"c-2-2-8#0": {path: eval, decision: yes},
	"c-2-2-9#0": {path: eval, decision: yes},
	// Missing members, missing sub-members, members of the wrong type.
	"c-2-4-1#0": {path: eval, status: 400},
	"c-2-4-1#1": {path: eval, status: 400},
	"c-2-4-1#2": {path: eval, status: 400},
	"c-2-4-2#0": {path: eval, status: 400},
	"c-2-4-2#1": {path: eval, status: 400},
	"c-2-4-2#2": {path: eval, status: 400},
	"c-2-4-2#3": {path: eval, status: 400},
	"c-2-4-2#4": {path: eval, status: 400},
	"c-2-4-6#0": {path: eval, status: 400},
	"c-2-4-6#1": {path: eval, status: 400},

	// Batch. alice reads record-2 too (c-3-2-1, c-3-2-6), which the
	// scenario leaves to the implementer.
	"c-3-2-1#0": {path: evals, decisions: []bool{true, true}},
	"c-3-2-2#0": {path: evals, decisions: []bool{true, false}},
	"c-3-2-3#0": {path: evals, decisions: []bool{true, false}},
	"c-3-2-4#0": {path: evals, decisions: []bool{false, true}},
	"c-3-2-5#0": {path: evals, decisions: []bool{true, false}},
	"c-3-2-6#0": {path: evals, decisions: []bool{true, true}},
	"c-3-2-7#0": {path: evals, decisions: []bool{true, false}},
	// The second evaluation lacks a resource: false, with the error in
	// its context (checked below).
	"c-3-4-1#0": {path: evals, decisions: []bool{true, false}},
	"c-3-4-2#0": {path: evals, decision: yes},
	"c-3-4-3#0": {path: evals, decision: yes},

	// Search. The fixture's results are exactly these.
	"c-4-2-1#0": {path: subj, results: []string{"alice", "bob"}},
	"c-4-2-2#0": {path: subj, results: []string{"alice", "bob"}},
	"c-4-2-3#0": {path: subj, results: []string{"alice", "bob"}},
	"c-4-2-4#0": {path: subj, results: []string{"bob"}},
	"c-4-3-1#0": {path: res, results: []string{"record-1", "record-2"}},
	"c-4-3-2#0": {path: res, results: []string{"record-1", "record-2"}},
	"c-4-3-3#0": {path: res, results: []string{"record-1", "record-2"}},
	"c-4-3-4#0": {path: res, results: []string{"record-2"}},
	"c-4-4-1#0": {path: act, results: []string{"read", "write"}},
	"c-4-4-2#0": {path: act, results: []string{"read", "write"}},
	"c-4-4-3#0": {path: act, results: []string{"read", "write"}},
	// A page of one, then the page its token continues (the token is
	// put in the request below).
	"c-4-5-1#0": {path: subj, results: []string{"alice"}, more: true},
	"c-4-5-2#0": {path: subj, results: []string{"bob"}},
	"c-4-6-1#0": {path: act, results: []string{}},
	"c-4-6-2#0": {path: subj, results: []string{}},
	"c-4-7-1#0": {path: subj, status: 400},
	"c-4-7-1#1": {path: res, status: 400},
	"c-4-7-1#2": {path: act, status: 400},
	"c-4-7-2#0": {path: subj, status: 400},
	"c-4-7-2#1": {path: res, status: 400},
	"c-4-7-2#2": {path: act, status: 400},
}

// startTLS serves the fixture over HTTPS, with popts, and returns the
// server and a client that trusts it.
func startTLS(t *testing.T, popts pdp.Options) (*server, *http.Client) {
	t.Helper()
	pki := testpki.New(t)
	popts.HTTPTLS = pki.ServerConfig(false)
	s := start(t, fixtureStore(t), authzen.Options{}, popts)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.ClientConfig(nil), ForceAttemptHTTP2: true}}
	t.Cleanup(c.CloseIdleConnections)
	return s, c
}

// TestCertificationScenario runs the scenario against a PDP as deployed
// by default and against one that validates requests against the schema
// (serve --validate-requests): the scenario's extra properties and context
// members, which the schema does not declare, are left out, so that the
// answers are the same.
func TestCertificationScenario(t *testing.T) {
	for _, validate := range []bool{false, true} {
		t.Run(fmt.Sprintf("validate=%v", validate), func(t *testing.T) {
			certify(t, pdp.Options{ValidateRequests: validate})
		})
	}
}

// certify sends the scenario's requests to a PDP started with popts.
func certify(t *testing.T, popts pdp.Options) {
	reqs, order := scenarioRequests(t)
	for name := range expectations {
		if _, ok := reqs[name]; !ok {
			t.Errorf("the table expects %s, which the scenario does not have", name)
		}
	}
	if len(order) < 50 {
		t.Fatalf("read %d requests from the scenario; it has 50", len(order))
	}
	s, client := startTLS(t, popts)
	nextToken := ""
	for i, name := range order {
		want, ok := expectations[name]
		if !ok {
			t.Errorf("the scenario's request %s has no expectation:\n%s", name, reqs[name])
			continue
		}
		t.Run(name, func(t *testing.T) {
			body := reqs[name]
			if strings.Contains(body, "<next_token from previous response>") {
				if nextToken == "" {
					t.Fatal("c-4-5-1 gave no next_token to continue")
				}
				body = strings.Replace(body, "<next_token from previous response>", nextToken, 1)
			}
			// Every request carries an X-Request-ID, which must come back
			// (c-2-5-1, c-5).
			rid := fmt.Sprintf("cert-%d-%s", i, name)
			r := s.do(t, client, http.MethodPost, want.path, body, "Content-Type", "application/json", "X-Request-ID", rid)
			if got := r.header.Get("X-Request-ID"); got != rid {
				t.Errorf("X-Request-ID = %q, want %q echoed", got, rid)
			}
			checkReply(t, r, want, body)
			if name == "c-4-5-1#0" {
				nextToken, _ = r.body["page"].(map[string]any)["next_token"].(string)
			}
			if name == "c-3-4-1#0" {
				second := r.body["evaluations"].([]any)[1].(map[string]any)
				msg, _ := second["context"].(map[string]any)["error"].(map[string]any)["message"].(string)
				if !strings.Contains(msg, "resource") || !strings.Contains(msg, "required") {
					t.Errorf("the failed evaluation's context says %v, want that its resource is required", second["context"])
				}
			}
		})
	}
}

// checkReply checks a reply against what the scenario (and the fixture)
// expect of it.
func checkReply(t *testing.T, r reply, want expectation, body string) {
	t.Helper()
	status := want.status
	if status == 0 {
		status = http.StatusOK
	}
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if r.body == nil {
		t.Fatalf("body %q is not a JSON object", r.raw)
	}
	if status != http.StatusOK {
		e, _ := r.body["error"].(map[string]any)
		if msg, _ := e["message"].(string); msg == "" || e["status"] != float64(status) {
			t.Errorf("error body %s, want {\"error\": {\"status\": %d, \"message\": …}}", r.raw, status)
		}
		return
	}
	switch {
	case want.decision != nil:
		checkDecision(t, r.body, *want.decision)
		if _, ok := r.body["evaluations"]; ok {
			t.Errorf("a single evaluation's reply has evaluations: %s", r.raw)
		}
	case want.decisions != nil:
		evs, ok := r.body["evaluations"].([]any)
		if !ok {
			t.Fatalf("no evaluations array: %s", r.raw)
		}
		var req struct{ Evaluations []any }
		_ = json.Unmarshal([]byte(body), &req)
		if len(evs) != len(req.Evaluations) || len(evs) != len(want.decisions) {
			t.Fatalf("%d evaluations answered for %d asked, want %d: %s", len(evs), len(req.Evaluations), len(want.decisions), r.raw)
		}
		for k, ev := range evs {
			m, ok := ev.(map[string]any)
			if !ok {
				t.Fatalf("evaluation %d is not an object: %s", k, r.raw)
			}
			checkDecision(t, m, want.decisions[k])
		}
		if _, ok := r.body["decision"]; ok {
			t.Errorf("top-level decision beside evaluations: %s", r.raw)
		}
	case want.results != nil:
		checkResults(t, r, want, body)
	default:
		t.Fatal("the expectation checks nothing")
	}
}

// checkDecision checks a Decision object: a boolean decision of the
// expected value, and a context that is an object if present.
func checkDecision(t *testing.T, d map[string]any, want bool) {
	t.Helper()
	got, ok := d["decision"].(bool)
	if !ok {
		t.Fatalf("decision is %#v, not a boolean", d["decision"])
	}
	if got != want {
		t.Errorf("decision %v, want %v (%v)", got, want, d)
	}
	if c, ok := d["context"]; ok {
		if _, ok := c.(map[string]any); !ok {
			t.Errorf("context %#v is not an object", c)
		}
	}
}

// checkResults checks a search reply: results of the kind searched for,
// the expected ones in order, and a page with a string next_token that is
// empty exactly when there is no more.
func checkResults(t *testing.T, r reply, want expectation, body string) {
	t.Helper()
	results, ok := r.body["results"].([]any)
	if !ok {
		t.Fatalf("results is %#v, not an array", r.body["results"])
	}
	var req struct {
		Subject, Resource struct{ Type string }
	}
	_ = json.Unmarshal([]byte(body), &req)
	var got []string
	for _, x := range results {
		m, _ := x.(map[string]any)
		switch want.path {
		case act:
			name, ok := m["name"].(string)
			if !ok || len(m) != 1 {
				t.Fatalf("action result %v is not {\"name\": …}", x)
			}
			got = append(got, name)
		default:
			wantType := req.Subject.Type
			if want.path == res {
				wantType = req.Resource.Type
			}
			id, ok := m["id"].(string)
			if !ok || m["type"] != wantType || len(m) != 2 {
				t.Fatalf("result %v is not {\"type\": %q, \"id\": …}", x, wantType)
			}
			got = append(got, id)
		}
	}
	if !slices.Equal(got, want.results) && !(len(got) == 0 && len(want.results) == 0) {
		t.Errorf("results %v, want %v", got, want.results)
	}
	page, ok := r.body["page"].(map[string]any)
	if !ok {
		t.Fatalf("page is %#v, not an object", r.body["page"])
	}
	next, ok := page["next_token"].(string)
	if !ok || (next != "") != want.more {
		t.Errorf("page.next_token %#v, want a string, non-empty: %v", page["next_token"], want.more)
	}
	if page["count"] != float64(len(results)) {
		t.Errorf("page.count %v for %d results", page["count"], len(results))
	}
	// The page object comes first, as the specification recommends.
	if !bytes.HasPrefix(bytes.TrimSpace(r.raw), []byte(`{"page":`)) {
		t.Errorf("page is not the first member: %s", r.raw)
	}
}

// TestCertificationTransport covers the scenario's requirements that
// have no JSON request in the document: the content type (c-2-4-3),
// malformed and empty bodies (c-2-4-4, c-2-4-5), X-Request-ID absent
// (c-2-5-2), idempotency (c-2-6) and discovery (c-6), over HTTPS.
func TestCertificationTransport(t *testing.T) {
	s, client := startTLS(t, pdp.Options{})
	rule1 := `{"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}`
	for _, tt := range []struct {
		name, path, contentType, body string
	}{
		{"c-2-4-3 text/plain", eval, "text/plain", rule1},
		{"c-2-4-3 no content type", eval, "", rule1},
		{"c-2-4-3 form", evals, "application/x-www-form-urlencoded", rule1},
		{"c-2-4-3 another charset", eval, "application/json; charset=latin1", rule1},
		{"c-2-4-4 malformed JSON", eval, "application/json", `{"subject": {"type": "user", "id": "alice"`},
		{"c-2-4-4 not JSON", subj, "application/json", `subject=alice`},
		{"c-2-4-5 empty body", eval, "application/json", ``},
		{"c-2-4-5 empty body, batch", evals, "application/json", ``},
		{"c-2-4-5 empty body, search", act, "application/json", ``},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, client, http.MethodPost, tt.path, tt.body, "Content-Type", tt.contentType)
			checkReply(t, r, expectation{status: 400}, tt.body)
		})
	}

	t.Run("c-2-4-3 JSON with a UTF-8 charset is accepted", func(t *testing.T) {
		r := s.do(t, client, http.MethodPost, eval, rule1, "Content-Type", "application/json; charset=UTF-8")
		checkReply(t, r, expectation{path: eval, decision: yes}, rule1)
	})

	t.Run("c-2-5-2 and c-2-6 no X-Request-ID, the same decision each time", func(t *testing.T) {
		for range 5 {
			r := s.do(t, client, http.MethodPost, eval, rule1, "Content-Type", "application/json")
			checkReply(t, r, expectation{path: eval, decision: yes}, rule1)
			if id := r.header.Get("X-Request-ID"); id != "" {
				t.Errorf("X-Request-ID %q in the reply to a request without one", id)
			}
		}
	})

	t.Run("c-6 discovery", func(t *testing.T) {
		r := s.do(t, client, http.MethodGet, authzen.MetadataPath, "")
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("status %d, Content-Type %q: %s", r.status, r.header.Get("Content-Type"), r.raw)
		}
		if r.header.Get("Cache-Control") == "" {
			t.Error("no Cache-Control on the metadata")
		}
		if r.body["policy_decision_point"] != s.url {
			t.Errorf("policy_decision_point %v, want the base URL used, %s", r.body["policy_decision_point"], s.url)
		}
		for key, path := range map[string]string{
			"access_evaluation_endpoint": eval, "access_evaluations_endpoint": evals,
			"search_subject_endpoint": subj, "search_resource_endpoint": res, "search_action_endpoint": act,
		} {
			u, _ := r.body[key].(string)
			parsed, err := url.Parse(u)
			if err != nil || parsed.Scheme != "https" || u != s.url+path {
				t.Errorf("%s = %q, want the HTTPS URL %s", key, u, s.url+path)
				continue
			}
			// Each URL the metadata gives answers.
			body := rule1
			if path != eval && path != evals {
				body = `{"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}`
			}
			got := s.do(t, client, http.MethodPost, strings.TrimPrefix(u, s.url), body, "Content-Type", "application/json")
			if got.status != http.StatusOK {
				t.Errorf("%s answered %d: %s", u, got.status, got.raw)
			}
		}
		for k := range r.body {
			if !strings.HasSuffix(k, "_endpoint") && k != "policy_decision_point" {
				t.Errorf("unexpected metadata member %s", k)
			}
		}
	})
}
