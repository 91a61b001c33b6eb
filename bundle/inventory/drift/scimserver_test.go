package drift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	elscim "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/inventory/scim"
	"github.com/cedargate/cedargate/bundle/repo"
)

// A SCIM server for drift tests: github.com/elimity-com/scim on a
// loopback TLS port, filled through its own API. It is a smaller copy of
// the one bundle/inventory/scim tests its reader with (there, in a test
// file, it cannot be imported); the store lists resources in id order.

type scimStore struct {
	mu     sync.Mutex
	next   int
	tables [2]map[string]elscim.ResourceAttributes // users, groups
}

type scimHandler struct {
	s     *scimStore
	table int
}

func (h scimHandler) Create(_ *http.Request, attrs elscim.ResourceAttributes) (elscim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.next++
	id := fmt.Sprintf("id-%05d", h.s.next)
	h.s.tables[h.table][id] = attrs
	return elscim.Resource{ID: id, Attributes: attrs}, nil
}

func (h scimHandler) Get(_ *http.Request, id string) (elscim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	attrs, ok := h.s.tables[h.table][id]
	if !ok {
		return elscim.Resource{}, errors.ScimErrorResourceNotFound(id)
	}
	return elscim.Resource{ID: id, Attributes: attrs}, nil
}

func (h scimHandler) GetAll(_ *http.Request, p elscim.ListRequestParams) (elscim.Page, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	t := h.s.tables[h.table]
	ids := make([]string, 0, len(t))
	for id := range t {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	page := elscim.Page{TotalResults: len(ids), Resources: []elscim.Resource{}}
	for i := p.StartIndex - 1; i < len(ids) && i < p.StartIndex-1+p.Count; i++ {
		page.Resources = append(page.Resources, elscim.Resource{ID: ids[i], Attributes: t[ids[i]]})
	}
	return page, nil
}

func (h scimHandler) Replace(*http.Request, string, elscim.ResourceAttributes) (elscim.Resource, error) {
	return elscim.Resource{}, errors.ScimErrorMutability
}

func (h scimHandler) Delete(*http.Request, string) error { return errors.ScimErrorMutability }

func (h scimHandler) Patch(*http.Request, string, []elscim.PatchOperation) (elscim.Resource, error) {
	return elscim.Resource{}, errors.ScimErrorMutability
}

const scimToken = "drift-test-token"

// scimDirectory starts the server holding users (userNames) and groups
// (displayName → member userNames), created with POST /Users and
// /Groups, and returns a source reading it in pages of two.
func scimDirectory(t *testing.T, users []string, groups map[string][]string) inventory.Source {
	t.Helper()
	st := &scimStore{tables: [2]map[string]elscim.ResourceAttributes{{}, {}}}
	srv, err := elscim.NewServer(&elscim.ServerArgs{
		ServiceProviderConfig: &elscim.ServiceProviderConfig{MaxResults: 100},
		ResourceTypes: []elscim.ResourceType{
			{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Schema: schema.CoreUserSchema(), Handler: scimHandler{s: st}},
			{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Schema: schema.CoreGroupSchema(), Handler: scimHandler{s: st, table: 1}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+scimToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	base := ts.URL + "/v2"
	post := func(endpoint string, body any) string {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, base+"/"+endpoint, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+scimToken)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			ID string `json:"id"`
		}
		if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&out) != nil {
			t.Fatalf("POST %s: %s", endpoint, resp.Status)
		}
		return out.ID
	}
	ids := map[string]string{}
	for _, u := range users {
		ids[u] = post("Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": u, "active": true})
	}
	for name, members := range groups {
		var ms []map[string]any
		for _, m := range members {
			ms = append(ms, map[string]any{"value": ids[m]})
		}
		post("Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name, "members": ms})
	}
	s, err := scim.NewServer(base, scimToken, scim.Options{Client: ts.Client(), PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSCIMServer runs drift against a real SCIM server read over several
// pages: a live-only user, a code-only user and a changed membership.
func TestSCIMServer(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"cedargate.yaml": "name: scim-drift\n",
		"identities/people.yaml": `kind: User
name: ana
groups: [oncall]
---
kind: User
name: bo
---
kind: User
name: dee
groups: [oncall]
---
kind: User
name: gone
---
kind: Group
name: oncall
`,
	}
	for name, content := range files {
		writeFile(t, dir, name, content)
	}
	r, err := repo.Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	v, problems := r.View("")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	src := scimDirectory(t, []string{"ana@example.com", "bo@example.com", "cy@example.com", "dee@example.com"},
		map[string][]string{"oncall": {"ana@example.com", "bo@example.com"}})
	snap, err := src.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Compare(v, []*inventory.Snapshot{snap}, Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, fmt.Sprintf("%s %s %s %s", f.Kind, f.LiveKey, f.Code, f.Pos))
	}
	want := []string{
		"live-only cy@example.com  ",
		"code-only  User/gone identities/people.yaml:12:1",
		"membership oncall User/bo identities/people.yaml:5:1",
		"membership oncall User/dee identities/people.yaml:10:10",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%q\nwant\n%q", got, want)
	}
}
