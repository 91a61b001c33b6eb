// Package scimtest runs a real SCIM 2.0 service provider for the tests and
// benchmarks of the SCIM inventory source and of cedargate drift: the
// server of github.com/elimity-com/scim, which checks every request
// against the RFC 7643 schemas and answers as RFC 7644 says, on a loopback
// TLS port (net/http/httptest), over an in-memory store, behind a
// bearer-token check.
//
// A test fills a Directory through its own API (POST /Users, POST
// /Groups), as a provisioning client would, and may put a Wrapper in front
// of the library to break it the ways real providers break: a failed page,
// a malformed body, a paging loop.
//
// The store lists resources in the order they were created, which is also
// id order (ids are "id-00001", "id-00002", …), and lists on each user the
// groups that hold it, as providers do. It refuses to change a resource
// once created (PUT, PATCH, DELETE): the sources under test are read-only,
// and a request that tries is a bug worth failing on. Listing a page costs
// the page, not the directory, so benchmarks can serve tens of thousands
// of users.
//
// It lives in a package of its own, not in a _test.go file, so that the
// tests of bundle/inventory/scim, bundle/inventory/drift and cmd/cedargate
// and the benchmarks all run the same server.
package scimtest

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	elscim "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// The schema URNs of the resources a Directory serves (RFC 7643).
const (
	UserSchema           = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// MaxResults is the most resources the server returns on one page,
// whatever count a client asks for: what many providers cap a page at.
const MaxResults = 100

// Created is the creation time recorded for every resource: fixed, so
// that no test depends on today's date.
var Created = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)

// Wrapper sits in front of the library's server: it may answer r itself,
// change r, or pass it to next and rewrite the answer.
type Wrapper func(w http.ResponseWriter, r *http.Request, next http.Handler)

// Directory is a running SCIM server and what was created in it.
type Directory struct {
	// URL is the SCIM base URL (https://127.0.0.1:PORT/v2), under which
	// /Users and /Groups are served.
	URL string
	// Token is the bearer token the server accepts; a request without it
	// gets 401 before it reaches the library.
	Token string

	ts   *httptest.Server
	wrap atomic.Pointer[Wrapper]
}

// Start starts a Directory accepting token, empty, until tb ends.
func Start(tb testing.TB, token string) *Directory {
	tb.Helper()
	st := &store{}
	srv, err := elscim.NewServer(&elscim.ServerArgs{
		ServiceProviderConfig: &elscim.ServiceProviderConfig{MaxResults: MaxResults},
		ResourceTypes: []elscim.ResourceType{
			{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Schema: schema.CoreUserSchema(),
				SchemaExtensions: []elscim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
				Handler:          handler{s: st, t: &st.users}},
			{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Schema: schema.CoreGroupSchema(),
				Handler: handler{s: st, t: &st.groups}},
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	d := &Directory{Token: token}
	d.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if wrap := d.wrap.Load(); wrap != nil {
			(*wrap)(w, r, srv)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	// Clients that refuse the test CA (on purpose) would log a handshake
	// error each; the test asserts on what the client says.
	d.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	d.ts.StartTLS()
	tb.Cleanup(d.ts.Close)
	d.URL = d.ts.URL + "/v2"
	return d
}

// Wrap puts w in front of the library's server for the requests that
// follow; nil takes it away.
func (d *Directory) Wrap(w Wrapper) {
	if w == nil {
		d.wrap.Store(nil)
		return
	}
	d.wrap.Store(&w)
}

// Client returns an HTTP client that trusts the server's certificate.
func (d *Directory) Client() *http.Client { return d.ts.Client() }

// CertPEM returns the server's self-signed certificate in PEM, for a CA
// file a client (cedargate drift --scim-ca-file) is told to trust.
func (d *Directory) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.ts.Certificate().Raw})
}

// Create creates a resource through the server's API (POST
// {URL}/endpoint with body as JSON) and returns its id.
func (d *Directory) Create(tb testing.TB, endpoint string, body any) string {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, d.URL+"/"+endpoint, bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+d.Token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := d.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		tb.Fatalf("POST %s: %s", endpoint, resp.Status)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.ID == "" {
		tb.Fatalf("POST %s: no id in the answer (%v)", endpoint, err)
	}
	return out.ID
}

// AddUser creates a User with userName and active, and nothing else, and
// returns its id.
func (d *Directory) AddUser(tb testing.TB, userName string, active bool) string {
	tb.Helper()
	return d.Create(tb, "Users", map[string]any{"schemas": []string{UserSchema}, "userName": userName, "active": active})
}

// AddGroup creates a Group named displayName whose members are the
// resources of memberIDs, and returns its id.
func (d *Directory) AddGroup(tb testing.TB, displayName string, memberIDs ...string) string {
	tb.Helper()
	ms := make([]map[string]any, 0, len(memberIDs))
	for _, id := range memberIDs {
		ms = append(ms, map[string]any{"value": id})
	}
	return d.Create(tb, "Groups", map[string]any{"schemas": []string{GroupSchema}, "displayName": displayName, "members": ms})
}

// table holds one resource type, in creation (and id) order.
type table struct {
	ids   []string
	attrs map[string]elscim.ResourceAttributes
}

// store is the in-memory backing of the server: the library calls its
// handlers, as it would call a real provider's.
type store struct {
	mu            sync.Mutex
	next          int
	users, groups table
	// memberOf lists, for a member id, the groups that hold it
	// ({"value": id, "display": name}), in creation order.
	memberOf map[string][]any
}

// handler serves one resource type of a store.
type handler struct {
	s *store
	t *table
}

var _ elscim.ResourceHandler = handler{}

// resource renders a stored resource as the library wants it: externalId
// apart, and on a user the groups that hold it.
func (h handler) resource(id string) elscim.Resource {
	attrs := h.t.attrs[id]
	out := maps.Clone(attrs)
	var ext optional.String
	if e, ok := attrs["externalId"].(string); ok {
		ext = optional.NewString(e)
		delete(out, "externalId")
	}
	if h.t == &h.s.users {
		if gs := h.s.memberOf[id]; gs != nil {
			out["groups"] = gs
		}
	}
	return elscim.Resource{ID: id, ExternalID: ext, Attributes: out, Meta: elscim.Meta{Created: &Created}}
}

func (h handler) Create(_ *http.Request, attrs elscim.ResourceAttributes) (elscim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.next++
	id := fmt.Sprintf("id-%05d", h.s.next)
	if h.t.attrs == nil {
		h.t.attrs = map[string]elscim.ResourceAttributes{}
	}
	h.t.ids = append(h.t.ids, id)
	h.t.attrs[id] = attrs
	if h.t == &h.s.groups {
		if h.s.memberOf == nil {
			h.s.memberOf = map[string][]any{}
		}
		ms, _ := attrs["members"].([]any)
		for _, m := range ms {
			if mid, ok := m.(map[string]any)["value"].(string); ok {
				h.s.memberOf[mid] = append(h.s.memberOf[mid], map[string]any{"value": id, "display": attrs["displayName"]})
			}
		}
	}
	return h.resource(id), nil
}

func (h handler) Get(_ *http.Request, id string) (elscim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if _, ok := h.t.attrs[id]; !ok {
		return elscim.Resource{}, errors.ScimErrorResourceNotFound(id)
	}
	return h.resource(id), nil
}

func (h handler) GetAll(_ *http.Request, p elscim.ListRequestParams) (elscim.Page, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	page := elscim.Page{TotalResults: len(h.t.ids), Resources: []elscim.Resource{}}
	for i := max(p.StartIndex-1, 0); i < len(h.t.ids) && i < p.StartIndex-1+p.Count; i++ {
		page.Resources = append(page.Resources, h.resource(h.t.ids[i]))
	}
	return page, nil
}

func (h handler) Replace(*http.Request, string, elscim.ResourceAttributes) (elscim.Resource, error) {
	return elscim.Resource{}, errors.ScimErrorMutability
}

func (h handler) Delete(*http.Request, string) error { return errors.ScimErrorMutability }

func (h handler) Patch(*http.Request, string, []elscim.PatchOperation) (elscim.Resource, error) {
	return elscim.Resource{}, errors.ScimErrorMutability
}
