package scim

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/cedargate/cedargate/internal/scimtest"
)

// directory is a running SCIM server (internal/scimtest: the elimity
// library on a loopback TLS port) and what was created in it.
type directory struct {
	*scimtest.Directory
	userIDs []string // in creation order
}

const token = "t0ken-never-printed"

// newDirectory starts a SCIM server holding users and groups created
// through its own API (POST /Users, POST /Groups): users with the
// attributes the source reads (every 50th, from the 7th, inactive), and
// groups whose members are the users at the given indexes.
func newDirectory(t *testing.T, users int, groups map[string][]int) *directory {
	t.Helper()
	d := &directory{Directory: scimtest.Start(t, token)}
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
		d.userIDs = append(d.userIDs, d.Create(t, "Users", u))
	}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		var ids []string
		for _, i := range groups[name] {
			ids = append(ids, d.userIDs[i])
		}
		d.AddGroup(t, name, ids...)
	}
	return d
}

// source returns a Server source reading d with opts (its client trusts
// d's certificate).
func (d *directory) source(t *testing.T, tok string, opts Options) *Server {
	t.Helper()
	opts.Client = d.Client()
	s, err := NewServer(d.URL, tok, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
