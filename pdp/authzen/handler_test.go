package authzen_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/internal/promtest"
	"github.com/cedargate/cedargate/internal/testpki"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/authzen"
)

// evalBody is an Access Evaluation request of subject (type user), action
// and resource (type record), with extra members (`"name": value`) added
// or, for subject, action and resource, put in their place.
func evalBody(subject, action, resource string, extra ...string) string {
	parts := []string{
		fmt.Sprintf(`"subject": {"type": "user", "id": %q}`, subject),
		fmt.Sprintf(`"action": {"name": %q}`, action),
		fmt.Sprintf(`"resource": {"type": "record", "id": %q}`, resource),
	}
	for _, e := range extra {
		replaced := false
		for i, p := range parts {
			if name, _, _ := strings.Cut(p, ":"); strings.HasPrefix(e, name+":") {
				parts[i], replaced = e, true
			}
		}
		if !replaced {
			parts = append(parts, e)
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// TestDecisionsAreLoggedAsAuthZEN checks that every evaluation is a
// decision in the PDP's log, with the id the reply gives, the bundle
// revision, "frontend":"authzen" and the caller's identity proved by mTLS;
// and that they are counted with the gRPC API's.
func TestDecisionsAreLoggedAsAuthZEN(t *testing.T) {
	pki := testpki.New(t)
	s := start(t, fixtureStore(t), authzen.Options{}, pdp.Options{HTTPTLS: pki.ServerConfig(true), MetricsListen: "127.0.0.1:0"})
	pep := pki.Client("spiffe://example.org/ns/gw/sa/gateway", "gateway")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.ClientConfig(&pep)}}
	defer client.CloseIdleConnections()

	one := s.do(t, client, http.MethodPost, authzen.EvaluationPath, evalBody("alice", "read", "record-1"), "Content-Type", "application/json")
	batch := s.do(t, client, http.MethodPost, authzen.EvaluationsPath,
		`{"subject": {"type": "user", "id": "bob"}, "resource": {"type": "record", "id": "record-1"},
		  "evaluations": [{"action": {"name": "read"}}, {"action": {"name": "write"}}, {"action": {"name": "nonsense"}}]}`,
		"Content-Type", "application/json")
	if one.status != 200 || batch.status != 200 {
		t.Fatalf("replies %d %s, %d %s", one.status, one.raw, batch.status, batch.raw)
	}
	ids := []string{one.body["context"].(map[string]any)["decision_id"].(string)}
	for _, ev := range batch.body["evaluations"].([]any)[:2] {
		ids = append(ids, ev.(map[string]any)["context"].(map[string]any)["decision_id"].(string))
	}

	// A client without a certificate is not let in: mTLS is required.
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.ClientConfig(nil)}}
	defer plain.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, s.url+authzen.EvaluationPath, strings.NewReader(evalBody("alice", "read", "record-1")))
	if resp, err := plain.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate got %s", resp.Status)
	}

	m := promtest.Scrape(t, s.srv.MetricsAddr().String())
	for series, want := range map[string]float64{
		`cedargate_decisions_total{decision="allow"}`:                             2,
		`cedargate_decisions_total{decision="deny"}`:                              1,
		`cedargate_authzen_requests_total{code="200",endpoint="evaluation"}`:      1,
		`cedargate_authzen_requests_total{code="200",endpoint="evaluations"}`:     1,
		`cedargate_unknown_entities_total{role="principal"}`:                      0,
		`cedargate_decision_log_dropped_total`:                                    0,
		`cedargate_authzen_requests_total{code="200",endpoint="search_subject"}`:  0,
		`cedargate_authzen_requests_total{code="400",endpoint="search_resource"}`: 0,
	} {
		if got, ok := m[series]; (ok || want != 0) && got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}

	lines := s.decisions(t)
	if len(lines) != 3 {
		t.Fatalf("%d decisions logged, want 3: %v", len(lines), lines)
	}
	want := []struct{ principal, action, decision string }{
		{`Fixture::User::"alice"`, `Fixture::Action::"read"`, "allow"},
		{`Fixture::User::"bob"`, `Fixture::Action::"read"`, "allow"},
		{`Fixture::User::"bob"`, `Fixture::Action::"write"`, "deny"},
	}
	for i, l := range lines {
		if l["decision_id"] != ids[i] || l["principal"] != want[i].principal || l["action"] != want[i].action || l["decision"] != want[i].decision {
			t.Errorf("line %d: %v, want decision %s of %+v", i, l, ids[i], want[i])
		}
		if l["frontend"] != "authzen" || l["caller"] != "spiffe://example.org/ns/gw/sa/gateway" {
			t.Errorf("line %d: frontend %v, caller %v", i, l["frontend"], l["caller"])
		}
		if l["bundle"].(map[string]any)["revision"] != revision {
			t.Errorf("line %d: bundle %v", i, l["bundle"])
		}
	}
}

// TestEvaluationSemantics checks the three evaluation semantics on the
// same evaluations: all answered, answers up to the first deny, answers up
// to the first permit; and that an unknown semantic is refused.
func TestEvaluationSemantics(t *testing.T) {
	s := startFixture(t)
	batch := func(semantic string) string {
		opts := ""
		if semantic != "" {
			opts = fmt.Sprintf(`, "options": {"evaluations_semantic": %q, "another_option": [1]}`, semantic)
		}
		return `{"subject": {"type": "user", "id": "bob"}, "resource": {"type": "record", "id": "record-1"},
			"evaluations": [{"action": {"name": "read"}}, {"action": {"name": "write"}}, {"action": {"name": "read"}},
			                {"action": {"name": "write"}, "resource": {"type": "record", "id": "record-2"}}]` + opts + `}`
	}
	for _, tt := range []struct {
		semantic string
		want     []bool
	}{
		{"", []bool{true, false, true, true}},
		{authzen.ExecuteAll, []bool{true, false, true, true}},
		{authzen.DenyOnFirstDeny, []bool{true, false}},
		{authzen.PermitOnFirstPermit, []bool{true}},
	} {
		t.Run("semantic "+tt.semantic, func(t *testing.T) {
			r := s.post(t, authzen.EvaluationsPath, batch(tt.semantic))
			checkReply(t, r, expectation{path: authzen.EvaluationsPath, decisions: tt.want}, `{"evaluations": [`+strings.Repeat(`{},`, len(tt.want)-1)+`{}]}`)
		})
	}
	r := s.post(t, authzen.EvaluationsPath, batch("deny_on_first_permit"))
	if r.status != 400 || !strings.Contains(string(r.raw), "evaluations_semantic") {
		t.Errorf("unknown semantic: %d %s", r.status, r.raw)
	}

	// deny_on_first_deny stops at an evaluation that cannot be decided, too.
	r = s.post(t, authzen.EvaluationsPath, `{"action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"},
		"options": {"evaluations_semantic": "deny_on_first_deny"},
		"evaluations": [{"subject": {"type": "user", "id": "alice"}}, {"subject": {"type": "robot", "id": "r2"}}, {"subject": {"type": "user", "id": "bob"}}]}`)
	checkReply(t, r, expectation{path: authzen.EvaluationsPath, decisions: []bool{true, false}}, `{"evaluations": [{}, {}]}`)
	if !strings.Contains(string(r.raw), `"status":400`) || !strings.Contains(string(r.raw), `evaluations[1].subject.type`) {
		t.Errorf("the undecidable evaluation's context: %s", r.raw)
	}
}

// TestMappingRefusesWhatItDoesNotKnow checks that a type or action the
// bundle does not have is a 400 naming the field, never a decision; that
// a subject the bundle does not define is refused (false, not logged);
// and that a resource it does not define is decided with its properties.
func TestMappingRefusesWhatItDoesNotKnow(t *testing.T) {
	s := startFixture(t)
	for _, tt := range []struct{ name, body, field string }{
		{"unknown subject type", `{"subject": {"type": "robot", "id": "r2"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}`, "subject.type"},
		{"unknown resource type", `{"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "resource": {"type": "spaceship", "id": "x"}}`, "resource.type"},
		{"unknown action", evalBody("alice", "launch", "record-1"), "action.name"},
		{"empty id", evalBody("", "read", "record-1"), "subject.id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, authzen.EvaluationPath, tt.body)
			checkReply(t, r, expectation{status: 400}, tt.body)
			if msg := r.body["error"].(map[string]any)["message"].(string); !strings.HasPrefix(msg, tt.field+": ") {
				t.Errorf("message %q does not name %s", msg, tt.field)
			}
		})
	}

	// An unknown subject is refused, whatever its properties claim.
	r := s.post(t, authzen.EvaluationPath, `{"subject": {"type": "user", "id": "mallory", "properties": {"role": "admin"}},
		"action": {"name": "write"}, "resource": {"type": "record", "id": "record-2"}}`)
	checkReply(t, r, expectation{path: authzen.EvaluationPath, decision: no}, "")
	if r.body["context"].(map[string]any)["reason"] != "the subject is not known to the PDP" {
		t.Errorf("refusal context %v", r.body["context"])
	}

	// An unknown resource is decided with the properties the request gives.
	unknownRecord := `"resource": {"type": "record", "id": "record-9", "properties": {"status": "archived"}}`
	for subject, want := range map[string]*bool{"alice": no, "bob": yes} {
		body := fmt.Sprintf(`{"subject": {"type": "user", "id": %q}, "action": {"name": "write"}, %s}`, subject, unknownRecord)
		checkReply(t, s.post(t, authzen.EvaluationPath, body), expectation{path: authzen.EvaluationPath, decision: want}, body)
	}

	lines := s.decisions(t)
	if len(lines) != 2 {
		t.Fatalf("%d decisions logged, want the 2 of the unknown record: %v", len(lines), lines)
	}
	for _, l := range lines {
		if l["resource"] != `Fixture::Record::"record-9"` {
			t.Errorf("logged %v", l)
		}
	}
}

// TestPropertiesAndContext checks how properties and context reach
// Cedar: properties override the bundle's attributes for the request
// only, action properties land in the context, a member the schema does
// not declare is left out, and a value Cedar cannot hold, or one given
// twice, is a 400 naming it.
func TestPropertiesAndContext(t *testing.T) {
	s := startFixture(t)
	for _, tt := range []struct {
		name, body string
		want       *bool
		refused    string
	}{
		{"a property overrides the bundle's attribute", evalBody("alice", "write", "record-2", `"subject": {"type": "user", "id": "alice", "properties": {"role": "admin"}}`), yes, ""},
		{"the bundle's attributes stand for the next request", evalBody("alice", "write", "record-2"), no, ""},
		{"properties never change memberships", evalBody("bob", "write", "record-1", `"subject": {"type": "user", "id": "bob", "properties": {"role": "editor", "parents": ["editors"]}}`), no, ""},
		{"a record's status from its properties", `{"subject": {"type": "user", "id": "alice"}, "action": {"name": "write"}, "resource": {"type": "record", "id": "record-2", "properties": {"status": "active"}}}`, yes, ""},
		{"action properties are the context", evalBody("alice", "delete", "record-1", `"action": {"name": "delete", "properties": {"soft": true}}`), yes, ""},
		{"context gives soft too", evalBody("alice", "delete", "record-1", `"context": {"soft": true}`), yes, ""},
		{"undeclared members are left out", evalBody("alice", "read", "record-1", `"context": {"time": 1.5e300, "ip": ["x"]}`, `"subject": {"type": "user", "id": "alice", "properties": {"shoe_size": 44.5}}`), yes, ""},
		{"null members are absent", evalBody("alice", "delete", "record-1", `"action": {"name": "delete", "properties": {"soft": null}}`), no, ""},
		{"a member both give", evalBody("alice", "delete", "record-1", `"action": {"name": "delete", "properties": {"soft": true}}`, `"context": {"soft": false}`), nil, "action.properties.soft: is also in context"},
		{"a fraction", evalBody("alice", "read", "record-1", `"subject": {"type": "user", "id": "alice", "properties": {"role": 1.5}}`), nil, "subject.properties.role: 1.5 is not an integer"},
		{"properties not an object", evalBody("alice", "read", "record-1", `"resource": {"type": "record", "id": "record-1", "properties": ["x"]}`), nil, "resource.properties: must be a JSON object"},
		{"context not an object", evalBody("alice", "read", "record-1", `"context": "now"`), nil, "context: must be a JSON object"},
		{"a null in an array", evalBody("alice", "read", "record-1", `"subject": {"type": "user", "id": "alice", "properties": {"role": [null]}}`), nil, "subject.properties.role[0]: null is not a Cedar value"},
	} {
		t.Run(tt.name, func(t *testing.T) { checkEvaluation(t, s, tt.body, tt.want, tt.refused) })
	}
}

// checkEvaluation sends an Access Evaluation request and checks its
// decision, or, when refused is set, that it is refused with 400 and a
// message that starts so.
func checkEvaluation(t *testing.T, s *server, body string, want *bool, refused string) {
	t.Helper()
	r := s.post(t, authzen.EvaluationPath, body)
	if refused != "" {
		checkReply(t, r, expectation{status: 400}, body)
		if msg := r.body["error"].(map[string]any)["message"].(string); !strings.HasPrefix(msg, refused) {
			t.Errorf("message %q, want it to start %q", msg, refused)
		}
		return
	}
	checkReply(t, r, expectation{path: authzen.EvaluationPath, decision: want}, body)
}

// TestHTTPRules checks the HTTP side: methods, unknown paths, the
// X-Request-ID on every reply, and JSON errors throughout.
func TestHTTPRules(t *testing.T) {
	s := startFixture(t)
	body := evalBody("alice", "read", "record-1")
	for _, tt := range []struct {
		name, method, path string
		status             int
		allow              string
	}{
		{"GET an evaluation", http.MethodGet, authzen.EvaluationPath, 405, "POST"},
		{"PUT a search", http.MethodPut, authzen.SearchSubjectPath, 405, "POST"},
		{"POST the metadata", http.MethodPost, authzen.MetadataPath, 405, "GET, HEAD"},
		{"an unknown path", http.MethodPost, "/access/v2/evaluation", 404, ""},
		{"the root", http.MethodGet, "/", 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, http.DefaultClient, tt.method, tt.path, body, "Content-Type", "application/json", "X-Request-ID", "rid-"+tt.name)
			checkReply(t, r, expectation{status: tt.status}, body)
			if r.header.Get("Allow") != tt.allow {
				t.Errorf("Allow %q, want %q", r.header.Get("Allow"), tt.allow)
			}
			if r.header.Get("X-Request-ID") != "rid-"+tt.name {
				t.Errorf("X-Request-ID %q not echoed", r.header.Get("X-Request-ID"))
			}
		})
	}
}

// TestBearerTokens checks the optional bearer-token authentication: 401
// with WWW-Authenticate without a valid token (and nothing decided), any
// configured token accepted, the metadata public.
func TestBearerTokens(t *testing.T) {
	s := start(t, fixtureStore(t), authzen.Options{Tokens: []string{"old-token", "new-token"}}, pdp.Options{})
	body := evalBody("alice", "read", "record-1")
	for _, tt := range []struct {
		name, auth string
		status     int
		challenge  string
	}{
		{"no token", "", 401, `Bearer realm="cedargate"`},
		{"another scheme", "Basic YWxpY2U6c2VjcmV0", 401, `Bearer realm="cedargate"`},
		{"a wrong token", "Bearer new-tokem", 401, `Bearer realm="cedargate", error="invalid_token"`},
		{"a prefix of a token", "Bearer new", 401, `Bearer realm="cedargate", error="invalid_token"`},
		{"the new token", "Bearer new-token", 200, ""},
		{"the old token", "bearer old-token", 200, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, authzen.EvaluationPath, body, "Authorization", tt.auth, "X-Request-ID", "r1")
			if r.status != tt.status || r.header.Get("WWW-Authenticate") != tt.challenge || r.header.Get("X-Request-ID") != "r1" {
				t.Fatalf("%d, WWW-Authenticate %q, X-Request-ID %q: %s", r.status, r.header.Get("WWW-Authenticate"), r.header.Get("X-Request-ID"), r.raw)
			}
			if tt.status == 401 {
				checkReply(t, r, expectation{status: 401}, body)
			}
		})
	}
	if r := s.do(t, http.DefaultClient, http.MethodGet, authzen.MetadataPath, ""); r.status != 200 {
		t.Errorf("metadata without a token: %d", r.status)
	}
	if n := len(s.decisions(t)); n != 2 {
		t.Errorf("%d decisions logged, want the 2 authenticated ones", n)
	}
}

// TestNoActiveBundle checks that without an active bundle the API answers
// 503, never a decision, and the metadata still answers.
func TestNoActiveBundle(t *testing.T) {
	st, err := store.Create(context.Background(), filepath.Join(t.TempDir(), "store"), "default")
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, st, authzen.Options{}, pdp.Options{})
	for _, path := range []string{authzen.EvaluationPath, authzen.EvaluationsPath, authzen.SearchActionPath} {
		r := s.post(t, path, evalBody("alice", "read", "record-1"))
		checkReply(t, r, expectation{status: 503}, "")
	}
	if r := s.do(t, http.DefaultClient, http.MethodGet, authzen.MetadataPath, ""); r.status != 200 {
		t.Errorf("metadata: %d", r.status)
	}
}

// TestMetadataBaseURL checks that a configured base URL is the PDP's
// identifier whatever the request's host, and that a bad one is refused.
func TestMetadataBaseURL(t *testing.T) {
	s := start(t, fixtureStore(t), authzen.Options{BaseURL: "https://pdp.example.com/"}, pdp.Options{})
	r := s.do(t, http.DefaultClient, http.MethodGet, authzen.MetadataPath, "")
	if r.body["policy_decision_point"] != "https://pdp.example.com" || r.body["search_action_endpoint"] != "https://pdp.example.com/access/v1/search/action" {
		t.Errorf("metadata %s", r.raw)
	}
	for _, bad := range []string{"pdp.example.com", "https://pdp.example.com/?x=1", "ftp://pdp"} {
		_, err := pdp.New(pdp.Options{Source: fixtureStore(t), Listen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0",
			HTTP: authzen.HTTP(authzen.Options{BaseURL: bad})})
		if err == nil || !strings.Contains(err.Error(), "base URL") {
			t.Errorf("base URL %q: %v", bad, err)
		}
	}
}

// TestShutdownFinishesRequestsInFlight checks that a graceful shutdown
// lets an AuthZEN request that has begun finish, and that its decision is
// in the decision log flushed after it, as gRPC's are.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	s := startFixture(t)
	body := evalBody("alice", "read", "record-1")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The headers, asking to continue: the server answers 100 Continue
	// when the handler starts reading the body, so the request is then in
	// flight, in the handler.
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: pdp\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", authzen.EvaluationPath, len(body))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(conn)
	if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("before the body: %q, %v", line, err)
	}
	if line, err := rd.ReadString('\n'); err != nil || line != "\r\n" {
		t.Fatalf("after 100 Continue: %q, %v", line, err)
	}
	stopped := make(chan []map[string]any)
	go func() { stopped <- s.decisions(t) }()
	// Shutdown has begun once the listener refuses new connections.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the HTTP listener still accepts connections 20s into shutdown")
		}
		runtime.Gosched()
	}
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(reply), `"decision":true`) {
		t.Fatalf("the request in flight got %s %s", resp.Status, reply)
	}
	lines := <-stopped
	if len(lines) != 1 || !strings.Contains(string(reply), lines[0]["decision_id"].(string)) {
		t.Fatalf("decision log after shutdown: %v; reply %s", lines, reply)
	}
}
