package access_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/access"
)

// TestWholeTableInParallel checks that a whole table, answered by several
// workers a chunk of principals at a time, is the table answered one
// principal at a time, in the same order, and that stopping early stops.
func TestWholeTableInParallel(t *testing.T) {
	var lines []string
	for i := range 400 {
		lines = append(lines, fmt.Sprintf(`{"uid":{"type":"User","id":"u%03d"},"parents":[{"type":"Group","id":"g%d"}],"attrs":{"level":%d}}`, i, i%3, i%5))
	}
	for i := range 3 {
		lines = append(lines, fmt.Sprintf(`{"uid":{"type":"Group","id":"g%d"},"parents":[],"attrs":{}}`, i))
	}
	for i := range 20 {
		lines = append(lines, fmt.Sprintf(`{"uid":{"type":"Doc","id":"d%02d"},"parents":[{"type":"Folder","id":"f%d"}],"attrs":{"tier":"%s"}}`, i, i%2, []string{"gold", "silver"}[i%2]))
	}
	lines = append(lines, `{"uid":{"type":"Folder","id":"f0"},"parents":[],"attrs":{}}`, `{"uid":{"type":"Folder","id":"f1"},"parents":[],"attrs":{}}`)
	b := &bundle.Bundle{Manifest: bundle.Manifest{Revision: "wide", Environment: "dev"}, Schema: []byte(diffSchema),
		Entities: []byte("[\n" + strings.Join(lines, ",\n") + "\n]\n"),
		Policies: []bundle.Policy{
			{ID: "a", Source: "p.cedar:1:1", Cedar: `permit (principal in Group::"g0", action, resource in Folder::"f0");`},
			{ID: "b", Source: "p.cedar:2:1", Cedar: `permit (principal is User, action == Action::"read", resource) when { principal.level > 1 };`},
			{ID: "c", Source: "p.cedar:3:1", Cedar: `forbid (principal in Group::"g1", action == Action::"write", resource) unless { context.mfa };`},
			{ID: "d", Source: "p.cedar:4:1", Cedar: `forbid (principal, action, resource is Doc) when { resource.tier == "silver" && principal.level == 4 };`},
		}}
	a, err := access.New(b)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := a.Query(access.Query{At: diffAt})
	if err != nil {
		t.Fatal(err)
	}
	var one []access.Entry
	for _, p := range a.Entities() {
		if p.Type != "User" && p.Type != "Group" {
			continue
		}
		tp, err := a.Query(access.Query{Principal: p, At: diffAt})
		if err != nil {
			t.Fatal(err)
		}
		one = append(one, tp.Entries...)
	}
	if len(whole.Entries) < 1000 || !slices.Equal(keys(whole.Entries), keys(one)) {
		t.Fatalf("whole table (%d entries) differs from one principal at a time (%d)", len(whole.Entries), len(one))
	}
	n := 0
	for range a.Each(access.Query{At: diffAt}) {
		if n++; n == 500 {
			break
		}
	}
	if n != 500 {
		t.Fatalf("stopped after %d entries, want 500", n)
	}
}
