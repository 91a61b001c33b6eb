package drift

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/inventory/scim"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/scimtest"
)

const scimToken = "drift-test-token"

// scimDirectory starts a real SCIM server (internal/scimtest) holding
// users (userNames) and groups (displayName → member userNames), created
// with POST /Users and /Groups, and returns a source reading it in pages
// of two.
func scimDirectory(t *testing.T, users []string, groups map[string][]string) inventory.Source {
	t.Helper()
	d := scimtest.Start(t, scimToken)
	ids := map[string]string{}
	for _, u := range users {
		ids[u] = d.AddUser(t, u, true)
	}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		var ms []string
		for _, m := range groups[name] {
			ms = append(ms, ids[m])
		}
		d.AddGroup(t, name, ms...)
	}
	s, err := scim.NewServer(d.URL, d.Token, scim.Options{Client: d.Client(), PageSize: 2})
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
