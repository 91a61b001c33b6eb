package access_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/access"
)

// TestDiffDifferential checks that Diff, which compares only the triples
// a change can reach, finds what comparing the two whole tables finds, on
// random bundles and random changes: a policy added, removed or
// rewritten, a window moved, an entity's parents or attributes changed,
// an entity added or removed.
func TestDiffDifferential(t *testing.T) {
	var changes int
	for seed := range uint64(300) {
		from := randomBundle(seed)
		to := mutate(from, seed)
		af, err := access.New(from)
		if err != nil {
			t.Fatal(err)
		}
		at, err := access.New(to)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, policyList(to))
		}
		gained, lost, err := access.Diff(af, at, diffAt)
		if err != nil {
			t.Fatal(err)
		}
		tf, _ := af.Query(access.Query{At: diffAt})
		tt, _ := at.Query(access.Query{At: diffAt})
		wantGained, wantLost := naiveDiff(tf.Entries, tt.Entries), naiveDiff(tt.Entries, tf.Entries)
		if !slices.Equal(keys(gained), keys(wantGained)) || !slices.Equal(keys(lost), keys(wantLost)) {
			t.Fatalf("seed %d:\nfrom:\n%s%s\nto:\n%s%s\ngained %v\nwant   %v\nlost %v\nwant %v", seed,
				policyList(from), from.Entities, policyList(to), to.Entities, keys(gained), keys(wantGained), keys(lost), keys(wantLost))
		}
		changes += len(gained) + len(lost)
	}
	if changes < 300 {
		t.Fatalf("weak test: only %d changes over 300 pairs", changes)
	}
}

// naiveDiff returns the entries of b that a lacks or gives less.
func naiveDiff(a, b []access.Entry) []access.Entry {
	var out []access.Entry
	for _, e := range b {
		i := slices.IndexFunc(a, func(x access.Entry) bool {
			return x.Principal == e.Principal && x.Action == e.Action && x.Resource == e.Resource
		})
		switch {
		case i < 0:
			out = append(out, e)
		case a[i].Access != e.Access && e.Access == access.Allow:
			out = append(out, e)
		case a[i].Access == e.Access && e.Access == access.Conditional && !slices.Equal(a[i].Conditions, e.Conditions):
			out = append(out, e)
		}
	}
	return out
}

// mutate returns a copy of b with one or two random changes.
func mutate(b *bundle.Bundle, seed uint64) *bundle.Bundle {
	r := rand.New(rand.NewPCG(seed, 7))
	donor := randomBundle(seed + 1000)
	out := *b
	out.Policies = slices.Clone(b.Policies)
	var ents []map[string]any
	if err := json.Unmarshal(b.Entities, &ents); err != nil {
		panic(err)
	}
	for range 1 + r.IntN(2) {
		switch r.IntN(6) {
		case 0: // a policy rewritten (the donor's may name entities b lacks)
			i := r.IntN(len(out.Policies))
			d := donor.Policies[r.IntN(len(donor.Policies))]
			d.ID, d.Source = out.Policies[i].ID, out.Policies[i].Source
			out.Policies[i] = d
		case 1: // a policy removed
			if len(out.Policies) > 1 {
				out.Policies = slices.Delete(out.Policies, 0, 1)
			}
		case 2: // a policy added
			d := donor.Policies[r.IntN(len(donor.Policies))]
			d.ID = "zz-added"
			if !slices.ContainsFunc(out.Policies, func(p bundle.Policy) bool { return p.ID == d.ID }) {
				out.Policies = append(out.Policies, d)
			}
		case 3: // a group's or folder's parents changed: its members' ancestry with it
			var containers []map[string]any
			for _, e := range ents {
				if typ := e["uid"].(map[string]any)["type"]; typ == "Group" || typ == "Folder" {
					containers = append(containers, e)
				}
			}
			e := containers[r.IntN(len(containers))]
			if ps, _ := e["parents"].([]any); len(ps) > 0 {
				e["parents"] = ps[1:]
			} else {
				for _, o := range containers {
					if o["uid"].(map[string]any)["type"] == e["uid"].(map[string]any)["type"] && o["uid"].(map[string]any)["id"] != e["uid"].(map[string]any)["id"] {
						e["parents"] = []any{o["uid"]}
						break
					}
				}
			}
		case 4: // an attribute changed
			e := ents[r.IntN(len(ents))]
			attrs, _ := e["attrs"].(map[string]any)
			if attrs == nil {
				attrs = map[string]any{}
				e["attrs"] = attrs
			}
			attrs["level"] = r.IntN(5)
			if e["uid"].(map[string]any)["type"] == "Doc" {
				delete(attrs, "level")
				attrs["tier"] = "gold"
			}
		case 5: // an entity removed
			if len(ents) > 1 {
				ents = slices.Delete(ents, len(ents)-1, len(ents))
			}
		}
	}
	slices.SortFunc(out.Policies, func(p, q bundle.Policy) int { return strings.Compare(p.ID, q.ID) })
	var lines []string
	for _, e := range ents {
		line, _ := json.Marshal(e)
		lines = append(lines, string(line))
	}
	out.Entities = []byte("[\n" + strings.Join(lines, ",\n") + "\n]\n")
	out.Manifest.Revision = fmt.Sprintf("seed-%d-mutated", seed)
	return &out
}
