package scim

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
)

// TestFileRootQuery reads Users and Groups saved together, as a root-level
// query (GET /) returns them: kinds told by meta.resourceType or schemas,
// nested groups and members outside the file.
func TestFileRootQuery(t *testing.T) {
	snap, err := NewFile("testdata/root-query.json", Options{Now: fixedNow}).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Kind               inventory.Kind
		ID, Key, Name      string
		Active             bool
		Members, Groups    []string
		Email, Dept, Unres string
		Created            time.Time
	}
	var got []row
	for _, o := range snap.Objects {
		got = append(got, row{o.Kind, o.ID, o.Key, o.Name, o.Active, o.Members, o.Groups,
			o.Attributes["email"], o.Attributes["department"], o.Attributes["unresolved_members"], o.Created})
	}
	want := []row{
		{Kind: inventory.Group, ID: "g-ops", Key: "Platform Ops", Name: "Platform-Ops", Active: true,
			Members: []string{"ana@example.com", "oncall", "u-gone"}, Unres: "u-gone",
			Created: time.Date(2023, 5, 4, 10, 0, 0, 0, time.UTC)},
		{Kind: inventory.Group, ID: "g-none", Key: "nobody", Name: "nobody", Active: true},
		{Kind: inventory.Group, ID: "g-oncall", Key: "oncall", Name: "oncall", Active: true, Members: []string{"Bo Chen"}},
		{Kind: inventory.User, ID: "u-bo", Key: "Bo Chen", Name: "Bo-Chen", Active: false, Groups: []string{"oncall"}},
		{Kind: inventory.User, ID: "u-ana", Key: "ana@example.com", Name: "ana", Active: true,
			Groups: []string{"Platform Ops"}, Email: "ana@example.com", Dept: "Platform",
			Created: time.Date(2022, 1, 10, 8, 0, 0, 0, time.UTC)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("objects:\n got %+v\nwant %+v", got, want)
	}
	if o := snap.Objects[0].Origin; o != "testdata/root-query.json#/Resources/0" {
		t.Errorf("origin %q", o)
	}
}

// TestFileSavedFromServer reads a page saved from the real server, as
// `curl -H "Authorization: Bearer …" "$BASE/Users?count=100"` saves it.
func TestFileSavedFromServer(t *testing.T) {
	d := newDirectory(t, 30, map[string][]int{"all": {0, 29}})
	save := func(path, name string) string {
		req, _ := http.NewRequest(http.MethodGet, d.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := d.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	users, err := NewFile(save("/Users?count=100", "users.json"), Options{}).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(users.Objects) != 30 || users.Objects[29].Key != "user029@example.com" || users.Objects[29].Groups[0] != "all" {
		t.Errorf("users: %d objects, last %+v", len(users.Objects), users.Objects[len(users.Objects)-1])
	}

	// Groups alone: the member ids are not users of this file.
	groups, err := NewFile(save("/Groups", "groups.json"), Options{}).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g := groups.Objects[0]
	if want := d.userIDs[0] + "," + d.userIDs[29]; g.Attributes["unresolved_members"] != want {
		t.Errorf("unresolved_members %q, want %q", g.Attributes["unresolved_members"], want)
	}

	// One page of several is refused, not read as the directory.
	p := save("/Users?count=10", "page1.json")
	_, err = NewFile(p, Options{}).Read(context.Background())
	if want := p + ": the file holds 10 of totalResults 30 resources; save all of them in one response (add count=30 to the query)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("one page: %v\nwant %q", err, want)
	}
}

func TestFileErrors(t *testing.T) {
	root, err := os.ReadFile("testdata/root-query.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content string
		opts    Options
		want    string
	}{
		{"too large", string(root), Options{MaxBody: 1024}, "{file}: file larger than the limit of 1024 bytes (Options.MaxBody)"},
		{"exactly the limit", string(root), Options{MaxBody: int64(len(root))}, ""},
		{"too many objects", string(root), Options{MaxObjects: 4}, "{file}: more than 4 objects (Options.MaxObjects)"},
		{"malformed", `{"schemas": [`, Options{}, "{file}: malformed JSON: unexpected end of JSON input"},
		{"not a ListResponse", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"x","userName":"x"}`, Options{},
			`{file}: not a SCIM ListResponse: schemas ["urn:ietf:params:scim:schemas:core:2.0:User"]`},
		{"no totalResults", `{"schemas":["` + listResponseURN + `"],"Resources":[]}`, Options{}, "{file}: ListResponse has no totalResults"},
		{"unknown kind", `{"schemas":["` + listResponseURN + `"],"totalResults":1,"Resources":[{"id":"x","meta":{"resourceType":"Device"}}]}`, Options{},
			`{file}: resource Resources[0] (id "x") is neither a User nor a Group (meta.resourceType "Device"`},
		{"duplicate id", `{"schemas":["` + listResponseURN + `"],"totalResults":2,"Resources":[{"id":"x","userName":"a","meta":{"resourceType":"User"}},{"id":"x","userName":"b","meta":{"resourceType":"User"}}]}`, Options{},
			`{file}: resource Resources[1]: User id "x" was returned before`},
		{"no userName", `{"schemas":["` + listResponseURN + `"],"totalResults":1,"Resources":[{"id":"x","meta":{"resourceType":"User"}}]}`, Options{},
			`{file}#/Resources/0: User "x" has no userName`},
		{"bad created", `{"schemas":["` + listResponseURN + `"],"totalResults":1,"Resources":[{"id":"x","userName":"a","meta":{"resourceType":"User","created":"yesterday"}}]}`, Options{},
			`{file}#/Resources/0: "x" has meta.created "yesterday", not an RFC 3339 time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "list.json")
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			snap, err := NewFile(p, tt.opts).Read(context.Background())
			if tt.want == "" {
				if err != nil || snap == nil {
					t.Fatalf("got %v, want a snapshot", err)
				}
				return
			}
			if snap != nil {
				t.Errorf("got a snapshot of %d objects, want none", len(snap.Objects))
			}
			want := "scim: " + strings.ReplaceAll(tt.want, "{file}", p)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v\nwant it to hold %q", err, want)
			}
		})
	}
}

func TestIdentityName(t *testing.T) {
	for in, want := range map[string]string{
		"ana@example.com":      "ana",
		"first.last@corp.io":   "first.last",
		"Bo Chen":              "Bo-Chen",
		"corp\\ana":            "corp\\ana",
		"eng/platform:#\"x'`y": "eng-platform---x--y",
		"a\u202eb\tc":          "a-b-c",
		"@team":                "@team",
	} {
		if got := IdentityName(in); got != want {
			t.Errorf("IdentityName(%q) = %q, want %q", in, got, want)
		}
	}
}
