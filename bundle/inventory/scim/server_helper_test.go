package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	elscim "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// created is the creation time the store records: fixed, so that no test
// depends on today's date.
var created = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)

// store is the in-memory backing of the SCIM server under test: the
// library validates each request against the RFC 7643 schemas and calls
// these handlers, as it would call a real provider's.
type store struct {
	mu     sync.Mutex
	next   int
	users  map[string]elscim.ResourceAttributes
	groups map[string]elscim.ResourceAttributes
}

// handler serves one resource type of a store.
type handler struct {
	s     *store
	group bool
}

func (h handler) table() map[string]elscim.ResourceAttributes {
	if h.group {
		return h.s.groups
	}
	return h.s.users
}

func (h handler) resource(id string, attrs elscim.ResourceAttributes) elscim.Resource {
	out := make(elscim.ResourceAttributes, len(attrs)+1)
	for k, v := range attrs {
		out[k] = v
	}
	var ext optional.String
	if e, ok := attrs["externalId"].(string); ok {
		ext = optional.NewString(e)
		delete(out, "externalId")
	}
	if !h.group {
		// As a provider does, list on each user the groups that hold it.
		var gs []any
		for _, gid := range sortedKeys(h.s.groups) {
			ms, _ := h.s.groups[gid]["members"].([]any)
			for _, m := range ms {
				if m.(map[string]any)["value"] == id {
					gs = append(gs, map[string]any{"value": gid, "display": h.s.groups[gid]["displayName"]})
				}
			}
		}
		if gs != nil {
			out["groups"] = gs
		}
	}
	return elscim.Resource{ID: id, ExternalID: ext, Attributes: out, Meta: elscim.Meta{Created: &created}}
}

func sortedKeys(m map[string]elscim.ResourceAttributes) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (h handler) Create(_ *http.Request, attrs elscim.ResourceAttributes) (elscim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.next++
	id := fmt.Sprintf("id-%05d", h.s.next)
	h.table()[id] = attrs
	return h.resource(id, attrs), nil
}

func (h handler) Get(_ *http.Request, id string) (elscim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	attrs, ok := h.table()[id]
	if !ok {
		return elscim.Resource{}, errors.ScimErrorResourceNotFound(id)
	}
	return h.resource(id, attrs), nil
}

func (h handler) GetAll(_ *http.Request, p elscim.ListRequestParams) (elscim.Page, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	ids := sortedKeys(h.table())
	page := elscim.Page{TotalResults: len(ids), Resources: []elscim.Resource{}}
	for i := p.StartIndex - 1; i < len(ids) && i < p.StartIndex-1+p.Count; i++ {
		page.Resources = append(page.Resources, h.resource(ids[i], h.table()[ids[i]]))
	}
	return page, nil
}

// The read-only source never changes resources; the store refuses to.
func (h handler) Replace(*http.Request, string, elscim.ResourceAttributes) (elscim.Resource, error) {
	return elscim.Resource{}, errors.ScimErrorMutability
}

func (h handler) Delete(*http.Request, string) error { return errors.ScimErrorMutability }

func (h handler) Patch(*http.Request, string, []elscim.PatchOperation) (elscim.Resource, error) {
	return elscim.Resource{}, errors.ScimErrorMutability
}

// directory is a running SCIM server and what was created in it.
type directory struct {
	ts      *httptest.Server
	base    string
	userIDs []string // in creation order
	// wrap, when set, sits in front of the library's server.
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

const token = "t0ken-never-printed"

// newDirectory starts a SCIM server on a loopback TLS port holding users
// and groups created through its own API (POST /Users, POST /Groups), and
// a bearer-token check in front of it.
func newDirectory(t *testing.T, users int, groups map[string][]int) *directory {
	t.Helper()
	st := &store{users: map[string]elscim.ResourceAttributes{}, groups: map[string]elscim.ResourceAttributes{}}
	srv, err := elscim.NewServer(&elscim.ServerArgs{
		ServiceProviderConfig: &elscim.ServiceProviderConfig{MaxResults: 100},
		ResourceTypes: []elscim.ResourceType{
			{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Schema: schema.CoreUserSchema(),
				SchemaExtensions: []elscim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
				Handler:          handler{s: st}},
			{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Schema: schema.CoreGroupSchema(),
				Handler: handler{s: st, group: true}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &directory{}
	d.ts = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if d.wrap != nil {
			d.wrap(w, r, srv)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(d.ts.Close)
	d.base = d.ts.URL + "/v2"
	for i := range users {
		u := map[string]any{
			"schemas":     []string{userURN, enterpriseURN},
			"userName":    fmt.Sprintf("user%03d@example.com", i),
			"displayName": fmt.Sprintf("User %d", i),
			"externalId":  "ext-" + strconv.Itoa(i),
			"title":       "Engineer",
			"active":      i%50 != 7,
			"emails": []map[string]any{
				{"value": fmt.Sprintf("u%d@home.example", i), "primary": false},
				{"value": fmt.Sprintf("user%03d@example.com", i), "primary": true},
			},
			enterpriseURN: map[string]any{"department": "dept-" + strconv.Itoa(i%4)},
		}
		d.userIDs = append(d.userIDs, d.post(t, "Users", u))
	}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		var ms []map[string]any
		for _, i := range groups[name] {
			ms = append(ms, map[string]any{"value": d.userIDs[i]})
		}
		d.post(t, "Groups", map[string]any{"schemas": []string{groupURN}, "displayName": name, "members": ms})
	}
	return d
}

// post creates a resource through the server's API and returns its id.
func (d *directory) post(t *testing.T, endpoint string, body any) string {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, d.base+"/"+endpoint, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := d.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %s", endpoint, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.ID
}

// source returns a Server source reading d with opts (its client trusts
// d's certificate).
func (d *directory) source(t *testing.T, tok string, opts Options) *Server {
	t.Helper()
	opts.Client = d.ts.Client()
	s, err := NewServer(d.base, tok, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
