package engine

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
)

// entitiesJSON writes n users in teams, with attribute records shared by
// many, as a bundle's entities.json; change rewrites user i's record.
func entitiesJSON(n int, change map[int]string) []byte {
	var b strings.Builder
	b.WriteString("[\n")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		dept := fmt.Sprintf(`"dept%d"`, i%7)
		if c, ok := change[i]; ok {
			dept = c
		}
		fmt.Fprintf(&b, `{"uid":{"type":"User","id":"u%06d"},"parents":[{"type":"Team","id":"t%d"}],"attrs":{"dept":%s,"level":%d}}`, i, i%13, dept, i%3)
	}
	b.WriteString("\n]")
	return []byte(b.String())
}

// sameEntities fails unless a and b define the same entities with the
// same parents, attributes and tags.
func sameEntities(t *testing.T, a, b *store) {
	t.Helper()
	if a.count != b.count || a.len() != b.len() {
		t.Fatalf("%d entities (%d defined), want %d (%d)", b.len(), b.count, a.len(), a.count)
	}
	for i := range int32(a.len()) {
		j, ok := b.find(a.uid(i))
		if !ok || a.defined[i] != b.defined[j] {
			t.Fatalf("%s: found %v, defined %v", a.uid(i), ok, a.defined[i])
		}
		want, _ := a.entity(i, nil).MarshalJSON()
		got, _ := b.entity(j, nil).MarshalJSON()
		if !bytes.Equal(got, want) {
			t.Fatalf("entity %s:\n got %s\nwant %s", a.uid(i), got, want)
		}
	}
}

// loadBeside encodes b and decodes it as the PDP activates a bundle:
// streaming its entities beside serving, or whole when serving is nil;
// and compiles it.
func loadBeside(t *testing.T, b *bundle.Bundle, serving *Snapshot) *Snapshot {
	t.Helper()
	archive, err := bundle.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	opts := bundle.DecodeOptions{}
	if serving != nil {
		opts.Entities = NewEntities(serving)
	}
	d, err := bundle.Decode(bytes.NewReader(archive), opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReadEntitiesBesideAServingStore reads entities beside the store of
// the snapshot serving: the same bytes share that store; entities that
// differ from it only in attributes share its shape (entities, parents,
// uid table) and the records of the attributes that did not change;
// entities that differ otherwise from some point on, or end sooner, give
// the store decoding them alone gives, with the records before that
// point shared.
func TestReadEntitiesBesideAServingStore(t *testing.T) {
	const n = 3*loadChunk + 100
	prevJSON := entitiesJSON(n, nil)
	prev, how, _, err := readEntities(bytes.NewReader(prevJSON), len(prevJSON), nil)
	if err != nil || how != ownStore {
		t.Fatal(err, how)
	}
	if got, how, moved, err := readEntities(bytes.NewReader(prevJSON), len(prevJSON), prev); err != nil || got != prev || how != sameStore || moved != nil {
		t.Fatalf("the same entities: %v, the serving store %v (%v)", err, got == prev, how)
	}
	// Team t7 of user 3*loadChunk+4 is t8, the rest the same.
	reparented := bytes.Replace(prevJSON, []byte(`"u012292"},"parents":[{"type":"Team","id":"t7"}]`), []byte(`"u012292"},"parents":[{"type":"Team","id":"t8"}]`), 1)
	if bytes.Equal(reparented, prevJSON) {
		t.Fatal("the test's change changed nothing")
	}
	// Users 3 and 8200 in other teams, 4101 in none.
	moved := bytes.Replace(prevJSON, []byte(`"u000003"},"parents":[{"type":"Team","id":"t3"}]`), []byte(`"u000003"},"parents":[{"type":"Team","id":"t4"},{"type":"Team","id":"t3"},{"type":"Team","id":"t4"}]`), 1)
	moved = bytes.Replace(moved, []byte(`"u004101"},"parents":[{"type":"Team","id":"t6"}]`), []byte(`"u004101"},"parents":[]`), 1)
	moved = bytes.Replace(moved, []byte(`"u008200"},"parents":[{"type":"Team","id":"t10"}]`), []byte(`"u008200"},"parents":[{"type":"Team","id":"t0"}]`), 1)
	newTeam := bytes.Replace(prevJSON, []byte(`"u000003"},"parents":[{"type":"Team","id":"t3"}]`), []byte(`"u000003"},"parents":[{"type":"Team","id":"t99"}]`), 1)
	renamed := bytes.Replace(prevJSON, []byte(`"id":"u000007"`), []byte(`"id":"x000007"`), 1)
	for name, c := range map[string]struct {
		next  []byte
		want  kin
		moved []string
	}{
		"attributes changed in the third chunk": {next: entitiesJSON(n, map[int]string{2*loadChunk + 5: `"moved"`}), want: sameShape},
		"attributes changed in the first chunk": {next: entitiesJSON(n, map[int]string{0: `"moved"`}), want: sameShape},
		"attributes changed in each chunk":      {next: entitiesJSON(n, map[int]string{1: `"a"`, loadChunk + 1: `"b"`, 2*loadChunk + 1: `"a"`, n - 1: `{"nested":true}`}), want: sameShape},
		"changed in the last entity":            {next: entitiesJSON(n, map[int]string{n - 1: `{"nested":true}`}), want: sameShape},
		"a parent changed in the last chunk":    {next: reparented, want: sameShape, moved: []string{"u012292"}},
		"parents changed in three chunks":       {next: moved, want: sameShape, moved: []string{"u000003", "u004101", "u008200"}},
		"a parent new to the store":             {next: newTeam, want: ownStore},
		"an entity renamed in the first chunk":  {next: renamed, want: ownStore},
		"fewer entities":                        {next: entitiesJSON(2*loadChunk, nil), want: ownStore},
		"more entities":                         {next: entitiesJSON(n+loadChunk, nil), want: ownStore},
	} {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(c.next, prevJSON) {
				t.Fatal("the test's change changed nothing")
			}
			want, _, _, err := readEntities(bytes.NewReader(c.next), len(c.next), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, how, moved, err := readEntities(bytes.NewReader(c.next), len(c.next), prev)
			if err != nil || how != c.want || got == prev {
				t.Fatalf("%v, %v, want %v", err, how, c.want)
			}
			sameEntities(t, want, got)
			if !slices.Equal(got.chunkSums, want.chunkSums) {
				t.Fatal("the chunk sums differ from those of decoding alone")
			}
			var movedIDs []string
			for _, j := range moved {
				movedIDs = append(movedIDs, got.id(j))
			}
			if !slices.Equal(movedIDs, c.moved) {
				t.Fatalf("moved %v, want %v", movedIDs, c.moved)
			}
			if shares := got.ids == prev.ids && &got.slots[0] == &prev.slots[0]; shares != (how == sameShape) {
				t.Fatalf("shares the serving store's uid table: %v", shares)
			}
			if shares := &got.parents[0] == &prev.parents[0]; shares != (how == sameShape && len(c.moved) == 0) {
				t.Fatalf("shares the serving store's parents: %v", shares)
			}
			if len(c.moved) > 0 && len(got.parentPool) != len(want.parentPool) {
				t.Fatalf("%d parents in the pool, want %d as decoded alone", len(got.parentPool), len(want.parentPool))
			}
			if how == sameShape {
				// Only the records some entity has are held, and the
				// serving ones are taken where they did not change.
				if len(got.records) != len(want.records) || len(got.recSums) != len(got.records) {
					t.Fatalf("%d records (%d sums), want %d", len(got.records), len(got.recSums), len(want.records))
				}
				u, _ := prev.lookup(types.EntityUID{Type: "User", ID: "u000002"})
				if got.attrs[u] != prev.attrs[u] || got.attrs[u] == 0 {
					t.Fatal("an unchanged entity's record was not the serving one's")
				}
			}
		})
	}
	// A duplicate after copied chunks is still refused.
	dup := bytes.Replace(entitiesJSON(n, nil), []byte(`"id":"u012290"`), []byte(`"id":"u000001"`), 1)
	if _, _, _, err := readEntities(bytes.NewReader(dup), len(dup), prev); err == nil || !strings.Contains(err.Error(), "duplicate entity") {
		t.Fatalf("a uid defined twice: %v", err)
	}
}

// TestShareCopiesEverySnapshotField shares a snapshot with grants,
// templates and policies, and holds every field of the shared one but
// those of its bundle (and the ones built lazily) to the serving one's: a
// field added to Snapshot and left out of share fails here.
func TestShareCopiesEverySnapshotField(t *testing.T) {
	sums := map[string][32]byte{bundle.PoliciesFile: {1}, bundle.GrantsFile: {2}}
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion, Revision: "r", Environment: "e"}, Sums: sums,
		Entities: []byte(`[
{"uid":{"type":"AccessProfile","id":"reader"},"parents":[],"attrs":{}},
{"uid":{"type":"User","id":"alice"},"parents":[{"type":"AccessProfile","id":"reader"},{"type":"Group","id":"eng"}],"attrs":{"spiffe_id":"spiffe://x/alice"}}
]`),
		Policies: []bundle.Policy{
			{ID: "profile:reader#0", Source: "p.yaml:1:1", Template: true, Cedar: `permit (principal in AccessProfile::"reader", action == Action::"read", resource);`},
			{ID: "w", Source: "x.cedar:1:1", NotBefore: &time.Time{}, Cedar: `permit (principal, action in [Action::"list"], resource is Doc) when { principal in AccessProfile::"reader" };`},
		},
		Grants: []bundle.Grant{{ID: "entitlement:User/alice:reader", Source: "g.yaml:7:1", Principal: bundle.UID{Type: "User", ID: "alice"}, Parent: bundle.UID{Type: "AccessProfile", ID: "reader"}}},
	}
	prev, err := New(b)
	if err != nil {
		t.Fatal(err)
	}
	// Only reloads beside a snapshot leave slack in its pools.
	prev.slack = 1
	next := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion, Revision: "r2", Environment: "e"}, Sums: sums,
		EntityReader: &Entities{serving: prev, st: prev.ents, shared: true}}
	s := share(next, 0)
	if s == nil || s.ref.Revision != "r2" {
		t.Fatalf("not shared: %+v", s)
	}
	own := map[string]bool{"ref": true, "manifest": true, "sums": true, "names": true, "analysis": true}
	pv, sv := reflect.ValueOf(prev).Elem(), reflect.ValueOf(s).Elem()
	for i := range pv.NumField() {
		name := pv.Type().Field(i).Name
		if own[name] {
			continue
		}
		if pv.Field(i).IsZero() {
			t.Errorf("Snapshot.%s is zero in the test's snapshot: give the bundle what sets it", name)
		}
		if want, got := fmt.Sprint(pv.Field(i)), fmt.Sprint(sv.Field(i)); got != want {
			t.Errorf("share does not share Snapshot.%s", name)
		}
	}
	// Another policies file: not shared.
	other := map[string][32]byte{bundle.PoliciesFile: {3}, bundle.GrantsFile: {2}}
	next = &bundle.Bundle{Manifest: next.Manifest, Sums: other, EntityReader: &Entities{serving: prev, st: prev.ents, shared: true}}
	if share(next, 0) != nil {
		t.Fatal("shared a snapshot whose policies changed")
	}
}

// TestReloadBesideServingDecides rolls bundles out beside a serving
// snapshot, as a hot reload does (Decode streaming into Entities): one
// whose entities changed only in an attribute shares the serving store's
// shape; one where users also moved to other teams, or where a team's
// last member left as another joined, shares its uid table and the
// serving snapshot's lists but the moved users' (reparent); one where a
// team lost its last member (a parent named only by it) has a store of
// its own, as one where a user is renamed does; each decides as the same
// bundle loaded alone.
func TestReloadBesideServingDecides(t *testing.T) {
	const n = 3*loadChunk + 100
	pol := []bundle.Policy{{ID: "team7", Source: "p.cedar:1:1",
		Cedar: `permit (principal in Team::"t7", action == Action::"read", resource) when { principal.dept != "moved" };`}}
	load := func(rev string, entities []byte, serving *Snapshot) *Snapshot {
		t.Helper()
		return loadBeside(t, &bundle.Bundle{
			Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion, Name: "t", Revision: rev, Environment: "prod"},
			Entities: entities, Policies: pol,
		}, serving)
	}
	// User 12 is alone in team t99.
	lonely := func(entities []byte) []byte {
		return bytes.Replace(entities, []byte(`"u000012"},"parents":[{"type":"Team","id":"t12"}]`), []byte(`"u000012"},"parents":[{"type":"Team","id":"t99"}]`), 1)
	}
	serving := load("a", lonely(entitiesJSON(n, nil)), nil)
	// u000020 and u000007 are in team t7 (i%13), u008196 in t6.
	changed := lonely(entitiesJSON(n, map[int]string{20: `"moved"`}))
	moved := bytes.Replace(changed, []byte(`"u008196"},"parents":[{"type":"Team","id":"t6"}]`), []byte(`"u008196"},"parents":[{"type":"Team","id":"t7"}]`), 1)
	joined := bytes.Replace(moved, []byte(`"u000100"},"parents":[{"type":"Team","id":"t9"}]`), []byte(`"u000100"},"parents":[{"type":"Team","id":"t99"}]`), 1)
	left := bytes.Replace(moved, []byte(`"u000012"},"parents":[{"type":"Team","id":"t99"}]`), []byte(`"u000012"},"parents":[{"type":"Team","id":"t3"}]`), 1)
	leftJoined := bytes.Replace(left, []byte(`"u000100"},"parents":[{"type":"Team","id":"t9"}]`), []byte(`"u000100"},"parents":[{"type":"Team","id":"t99"}]`), 1)
	renamed := bytes.Replace(moved, []byte(`"id":"u000100"`), []byte(`"id":"x000100"`), 1)
	for _, c := range [][2][]byte{{changed, lonely(entitiesJSON(n, nil))}, {moved, changed}, {joined, moved}, {left, moved}, {leftJoined, left}, {renamed, moved}} {
		if bytes.Equal(c[0], c[1]) {
			t.Fatal("a change of the test's changed nothing")
		}
	}
	allowed := func(s *Snapshot, user string) bool {
		return s.Decide(&Request{Principal: types.EntityUID{Type: "User", ID: types.String(user)},
			Action: types.EntityUID{Type: "Action", ID: "read"}, Resource: types.EntityUID{Type: "Doc", ID: "d"}}).Allow
	}
	if !allowed(serving, "u000020") || !allowed(serving, "u000007") || allowed(serving, "u008196") {
		t.Fatal("the serving snapshot decides wrong")
	}
	moves := map[string]bool{"u000020": false, "u000007": true, "u008196": true}
	for name, c := range map[string]struct {
		entities        []byte
		uids, reparents bool
		want            map[string]bool
	}{
		"an attribute changed":                      {changed, true, false, map[string]bool{"u000020": false, "u000007": true, "u008196": false}},
		"and a user moved in the third chunk":       {moved, true, true, moves},
		"and a user joined a team of one":           {joined, true, true, moves},
		"and the last member of a team left":        {left, false, false, moves},
		"and a member replaced the last":            {leftJoined, true, true, moves},
		"and a user was renamed in the first chunk": {renamed, false, false, moves},
	} {
		t.Run(name, func(t *testing.T) {
			got, alone := load("b", c.entities, serving), load("b", c.entities, nil)
			if shares := got.ents.ids == serving.ents.ids && &got.ents.slots[0] == &serving.ents.slots[0]; shares != c.uids {
				t.Fatalf("shares the serving store's uid table: %v, want %v", shares, c.uids)
			}
			if r := Reparented(got, serving); r != c.reparents {
				t.Fatalf("reparented: %v, want %v", r, c.reparents)
			}
			sameEntities(t, alone.ents, got.ents)
			for user, want := range c.want {
				if a, b := allowed(got, user), allowed(alone, user); a != want || b != want {
					t.Errorf("%s: allowed %v beside the serving snapshot, %v alone, want %v", user, a, b, want)
				}
			}
			t99 := []types.Entity{{UID: types.EntityUID{Type: "Team", ID: "t99"}}}
			if a, b := fmt.Sprint(got.Shadowing(t99, RefuseShadowing)), fmt.Sprint(alone.Shadowing(t99, RefuseShadowing)); a != b {
				t.Errorf("a request entity Team::\"t99\" shadows %s beside the serving snapshot, %s alone", a, b)
			}
			if !allowed(serving, "u000020") || allowed(serving, "u008196") {
				t.Error("the reload changed what the serving snapshot decides")
			}
		})
	}
}

// TestReparentSlackForcesAWholeBuild reloads bundles that each move 200
// of 2,000 users to the next team, every reload beside the snapshot the
// previous one made: the lists the moved users leave in the pools add
// up (slack) until they would pass a quarter of the pools, which grow
// by the lists of the users moved (2,026 entries, then 2,226, 2,426 and
// 2,626: the fourth reload's 800 would pass 656), and that reload builds
// the snapshot whole, with no slack; the next one moves users beside it
// again. Each decides as the same bundle loaded alone.
func TestReparentSlackForcesAWholeBuild(t *testing.T) {
	const n, teams, step = 2000, 13, 200
	var pol []bundle.Policy
	for k := range teams {
		pol = append(pol, bundle.Policy{ID: fmt.Sprintf("team%02d", k), Source: "p.cedar:1:1",
			Cedar: fmt.Sprintf(`permit (principal in Team::"t%d", action == Action::"read", resource == Doc::"d%d");`, k, k)})
	}
	// Reload r has users below r*step one team further.
	teamOf := func(r, i int) int {
		if i < r*step {
			return (i + 1) % teams
		}
		return i % teams
	}
	load := func(r int, serving *Snapshot) *Snapshot {
		t.Helper()
		var b strings.Builder
		b.WriteString("[\n")
		for i := range n {
			if i > 0 {
				b.WriteString(",\n")
			}
			fmt.Fprintf(&b, `{"uid":{"type":"User","id":"u%04d"},"parents":[{"type":"Team","id":"t%d"}],"attrs":{}}`, i, teamOf(r, i))
		}
		b.WriteString("\n]")
		return loadBeside(t, &bundle.Bundle{
			Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion, Name: "t", Revision: fmt.Sprint(r), Environment: "prod"},
			Entities: []byte(b.String()), Policies: pol,
		}, serving)
	}
	serving := load(0, nil)
	// The pools: a candidate per user (a user's targets are its team's),
	// a target and a candidate per team.
	pools := len(serving.tancPool) + len(serving.candPool)
	if pools != n+2*teams {
		t.Fatalf("%d entries in the pools, want %d", pools, n+2*teams)
	}
	for r, want := range []struct {
		reparented bool
		slack      int
	}{{true, step}, {true, 2 * step}, {true, 3 * step}, {false, 0}, {true, step}} {
		got := load(r+1, serving)
		if Reparented(got, serving) != want.reparented || got.slack != want.slack {
			t.Fatalf("reload %d: reparented %v with slack %d, want %v with %d (pools of %d)",
				r+1, Reparented(got, serving), got.slack, want.reparented, want.slack, pools)
		}
		alone := load(r+1, nil)
		for i := range n {
			user := types.EntityUID{Type: "User", ID: types.String(fmt.Sprintf("u%04d", i))}
			for k := range teams {
				req := &Request{Principal: user, Action: types.EntityUID{Type: "Action", ID: "read"},
					Resource: types.EntityUID{Type: "Doc", ID: types.String(fmt.Sprintf("d%d", k))}}
				if a, b := got.Decide(req).Allow, alone.Decide(req).Allow; a != b || a != (k == teamOf(r+1, i)) {
					t.Fatalf("reload %d: %s reads d%d: %v, alone %v", r+1, user.ID, k, a, b)
				}
			}
		}
		serving = got
	}
}
