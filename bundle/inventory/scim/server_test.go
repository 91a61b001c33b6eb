package scim

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/internal/scimtest"
)

var readAt = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func fixedNow() time.Time { return readAt }

// groupsFixture has more members than one page of users holds, so that
// resolving members needs every page.
var groupsFixture = map[string][]int{
	"admins":    {0, 249},
	"engineers": {1, 2, 3, 150, 200},
	"empty":     nil,
}

func TestServerReadsAllPages(t *testing.T) {
	d := newDirectory(t, 250, groupsFixture)
	var (
		mu       sync.Mutex // the server's goroutines append, the test reads
		requests []string
	)
	d.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		mu.Lock()
		requests = append(requests, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		next.ServeHTTP(w, r)
	})
	snap, err := d.source(t, token, Options{Now: fixedNow}).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	wantReq := []string{
		"/v2/Users?count=100&startIndex=1", "/v2/Users?count=100&startIndex=101", "/v2/Users?count=100&startIndex=201",
		"/v2/Groups?count=100&startIndex=1",
	}
	if !reflect.DeepEqual(requests, wantReq) {
		t.Errorf("requests:\n got %q\nwant %q", requests, wantReq)
	}
	if snap.Source != "scim" || !snap.Read.Equal(readAt) {
		t.Errorf("snapshot source %q read %v", snap.Source, snap.Read)
	}
	var users, groups []inventory.Object
	for _, o := range snap.Objects {
		if o.Kind == inventory.User {
			users = append(users, o)
		} else {
			groups = append(groups, o)
		}
	}
	if len(users) != 250 || len(groups) != 3 {
		t.Fatalf("got %d users, %d groups; want 250, 3", len(users), len(groups))
	}
	// Groups sort before Users (by Kind), each by Key.
	if snap.Objects[0].Key != "admins" || snap.Objects[3].Key != "user000@example.com" || snap.Objects[252].Key != "user249@example.com" {
		t.Errorf("objects not sorted by kind, then key: %q, %q, %q", snap.Objects[0].Key, snap.Objects[3].Key, snap.Objects[252].Key)
	}

	u := users[7]
	wantUser := inventory.Object{
		Kind: inventory.User, ID: d.userIDs[7], Key: "user007@example.com", Name: "user007",
		DisplayName: "User 7", Active: false,
		Attributes: map[string]string{"email": "user007@example.com", "externalId": "ext-7", "title": "Engineer", "department": "dept-3"},
		Created:    scimtest.Created,
		Origin:     d.URL + "/Users?count=100&startIndex=1#/Resources/7",
	}
	if !reflect.DeepEqual(u, wantUser) {
		t.Errorf("user 7:\n got %+v\nwant %+v", u, wantUser)
	}
	if u := users[200]; !u.Active || !reflect.DeepEqual(u.Groups, []string{"engineers"}) {
		t.Errorf("user 200: active %v groups %q; want true, [engineers]", u.Active, u.Groups)
	}

	want := map[string][]string{
		"admins":    {"user000@example.com", "user249@example.com"},
		"empty":     nil,
		"engineers": {"user001@example.com", "user002@example.com", "user003@example.com", "user150@example.com", "user200@example.com"},
	}
	for _, g := range groups {
		if !reflect.DeepEqual(g.Members, want[g.Key]) {
			t.Errorf("group %s members %q; want %q", g.Key, g.Members, want[g.Key])
		}
		if g.Name != g.Key || g.Attributes["unresolved_members"] != "" || !g.Created.Equal(scimtest.Created) {
			t.Errorf("group %s: %+v", g.Key, g)
		}
	}
}

func TestServerPageSize(t *testing.T) {
	d := newDirectory(t, 25, map[string][]int{"all": {0, 24}})
	var n atomic.Int32
	d.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		n.Add(1)
		next.ServeHTTP(w, r)
	})
	snap, err := d.source(t, token, Options{PageSize: 10, Name: "corp-idp"}).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := n.Load(); n != 4 || len(snap.Objects) != 26 || snap.Source != "corp-idp" {
		t.Errorf("%d requests, %d objects, source %q; want 4, 26, corp-idp", n, len(snap.Objects), snap.Source)
	}
}

func TestServerErrors(t *testing.T) {
	tests := []struct {
		name  string
		token string
		opts  Options
		wrap  func(d *directory) scimtest.Wrapper
		want  string // the error's message holds every line of it
	}{
		{name: "401", token: "wrong-token",
			want: "scim: GET {base}/Users?count=100&startIndex=1 (page 1): authentication failed (HTTP 401)"},
		{name: "403", wrap: func(*directory) scimtest.Wrapper {
			return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if strings.HasSuffix(r.URL.Path, "/Groups") {
					w.WriteHeader(http.StatusForbidden)
					return
				}
				next.ServeHTTP(w, r)
			}
		}, want: "scim: GET {base}/Groups?count=100&startIndex=1 (page 1): authorization failed (HTTP 403)"},
		{name: "server error mid-paging", wrap: func(*directory) scimtest.Wrapper {
			return scimtest.Fail(scimtest.Page("Users", 101), http.StatusBadGateway)
		}, want: "scim: GET {base}/Users?count=100&startIndex=101 (page 2): HTTP 502 Bad Gateway"},
		{name: "malformed page", wrap: func(*directory) scimtest.Wrapper {
			return scimtest.Rewrite(scimtest.Page("Users", 101), scimtest.Truncate)
		}, want: "scim: GET {base}/Users?count=100&startIndex=101 (page 2): malformed JSON: unexpected end of JSON input"},
		{name: "not a ListResponse", wrap: func(*directory) scimtest.Wrapper {
			return scimtest.Rewrite(scimtest.Page("Users", 1), func(b []byte) []byte {
				return bytes.Replace(b, []byte(listResponseURN), []byte("urn:example:List"), 1)
			})
		}, want: `(page 1): not a SCIM ListResponse: schemas ["urn:example:List"] does not hold urn:ietf:params:scim:api:messages:2.0:ListResponse`},
		{name: "loop: same page again", wrap: func(*directory) scimtest.Wrapper {
			return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				q := r.URL.Query()
				q.Set("startIndex", "1")
				r.URL.RawQuery = q.Encode()
				next.ServeHTTP(w, r)
			}
		}, want: "scim: GET {base}/Users?count=100&startIndex=101 (page 2): asked for startIndex 101, got a page starting at 1 (the server is not paging)"},
		{name: "loop: same ids again", wrap: func(*directory) scimtest.Wrapper { return scimtest.Loop },
			want: `scim: GET {base}/Users?count=100&startIndex=101 (page 2): resource Resources[0]: User id "id-00001" was returned before (the server is paging in a loop)`},
		{name: "empty page before totalResults", wrap: func(*directory) scimtest.Wrapper {
			return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if scimtest.Page("Users", 201)(r) {
					q := r.URL.Query()
					q.Set("count", "0")
					r.URL.RawQuery = q.Encode()
				}
				next.ServeHTTP(w, r)
			}
		}, want: "scim: GET {base}/Users?count=100&startIndex=201 (page 3): empty page after 200 of totalResults 250 resources"},
		{name: "totalResults changes", wrap: func(d *directory) scimtest.Wrapper {
			// A user is created, through the server's API, between pages 1 and 2.
			var once sync.Once
			return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if scimtest.Page("Users", 101)(r) {
					once.Do(func() {
						next.ServeHTTP(httptest.NewRecorder(), newPost(d, `{"schemas":["`+userURN+`"],"userName":"late@example.com"}`))
					})
				}
				next.ServeHTTP(w, r)
			}
		}, want: "scim: GET {base}/Users?count=100&startIndex=101 (page 2): totalResults changed from 250 to 251 while paging"},
		{name: "body too large", opts: Options{MaxBody: 4096},
			want: "scim: GET {base}/Users?count=100&startIndex=1 (page 1): response body larger than the limit of 4096 bytes (Options.MaxBody)"},
		{name: "totalResults above MaxObjects", opts: Options{MaxObjects: 200},
			want: "scim: GET {base}/Users?count=100&startIndex=1 (page 1): totalResults 250 would bring the objects read to 250, more than the limit of 200 (Options.MaxObjects)"},
		{name: "users and groups above MaxObjects", opts: Options{MaxObjects: 251},
			want: "scim: GET {base}/Groups?count=100&startIndex=1 (page 1): totalResults 3 would bring the objects read to 253, more than the limit of 251 (Options.MaxObjects)"},
		{name: "timeout", opts: Options{Timeout: time.Nanosecond},
			want: "scim: GET {base}/Users?count=100&startIndex=1 (page 1): context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A directory each, as some cases change theirs.
			d := newDirectory(t, 250, groupsFixture)
			if tt.wrap != nil {
				d.Wrap(tt.wrap(d))
			}
			tok := token
			if tt.token != "" {
				tok = tt.token
			}
			snap, err := d.source(t, tok, tt.opts).Read(context.Background())
			if snap != nil {
				t.Errorf("got a snapshot of %d objects, want none", len(snap.Objects))
			}
			want := strings.ReplaceAll(tt.want, "{base}", d.URL)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v\nwant it to hold %q", err, want)
			}
			if strings.Contains(err.Error(), tok) {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}

func newPost(d *directory, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, d.URL+"/Users", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/scim+json")
	return r
}

func TestNewServerRefuses(t *testing.T) {
	for _, tt := range []struct{ base, token, want string }{
		{"http://idp.example.com/scim/v2", "t", "must be an https:// URL"},
		{"https://idp.example.com/scim/v2?x=1", "t", "must not have a query"},
		{"https://idp.example.com/scim/v2", "", "no bearer token"},
	} {
		if _, err := NewServer(tt.base, tt.token, Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewServer(%q): %v, want %q", tt.base, err, tt.want)
		}
	}
}

func TestTokens(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := TokenFromFile(p); err != nil || got != token {
		t.Errorf("TokenFromFile = %q, %v", got, err)
	}
	os.WriteFile(p, []byte(" \n"), 0o600)
	if _, err := TokenFromFile(p); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty file: %v", err)
	}
	t.Setenv("CEDARGATE_TEST_SCIM_TOKEN", token)
	if got, err := TokenFromEnv("CEDARGATE_TEST_SCIM_TOKEN"); err != nil || got != token {
		t.Errorf("TokenFromEnv = %q, %v", got, err)
	}
	t.Setenv("CEDARGATE_TEST_SCIM_TOKEN", "")
	if _, err := TokenFromEnv("CEDARGATE_TEST_SCIM_TOKEN"); err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "CEDARGATE_TEST_SCIM_TOKEN") {
		t.Errorf("empty variable: %v", err)
	}
}
