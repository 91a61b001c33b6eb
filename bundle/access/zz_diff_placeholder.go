package access

import (
	"cmp"
	"slices"
	"time"
)

// Diff is a stand-in with the signature and semantics of the lead's
// affected-only Diff, computed from both whole tables; this file goes
// when main's Diff is merged.
func Diff(from, to *Analyzer, at time.Time) (gained, lost []Entry, err error) {
	a, err := from.Query(Query{At: at})
	if err != nil {
		return nil, nil, err
	}
	b, err := to.Query(Query{At: at})
	if err != nil {
		return nil, nil, err
	}
	cmpT := func(x, y Entry) int {
		return cmp.Or(compareUID(x.Principal, y.Principal), compareUID(x.Action, y.Action), compareUID(x.Resource, y.Resource))
	}
	sameConds := func(x, y Entry) bool {
		return slices.EqualFunc(x.Conditions, y.Conditions, func(c, d Condition) bool { return c.Policy == d.Policy && c.Text == d.Text })
	}
	i, j := 0, 0
	for i < len(a.Entries) || j < len(b.Entries) {
		var c int
		switch {
		case i == len(a.Entries):
			c = 1
		case j == len(b.Entries):
			c = -1
		default:
			c = cmpT(a.Entries[i], b.Entries[j])
		}
		switch {
		case c < 0:
			lost = append(lost, a.Entries[i])
			i++
		case c > 0:
			gained = append(gained, b.Entries[j])
			j++
		default:
			x, y := a.Entries[i], b.Entries[j]
			switch {
			case x.Access == Allow && y.Access == Conditional:
				lost = append(lost, x)
			case x.Access == Conditional && y.Access == Allow:
				gained = append(gained, y)
			case x.Access == Conditional && !sameConds(x, y):
				lost, gained = append(lost, x), append(gained, y)
			}
			i++
			j++
		}
	}
	return gained, lost, nil
}
