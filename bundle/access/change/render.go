package change

import (
	"regexp"
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go/types"
)

// This file holds what the text and Markdown writers share: how a change
// is named and counted.

// Label names how the triple's access changed: "gained", "lost",
// "allow → conditional", "conditional → allow" or "conditions changed".
func (c AccessChange) Label() string {
	switch {
	case c.From == nil:
		return "gained"
	case c.To == nil:
		return "lost"
	case c.From.Access == c.To.Access:
		return "conditions changed"
	}
	return string(c.From.Access) + " → " + string(c.To.Access)
}

// principalCount is how many entries one principal gains and loses.
type principalCount struct {
	principal    types.EntityUID
	gained, lost int
}

// byPrincipal counts Gained and Lost per principal, in principal order.
func (r *Report) byPrincipal() []principalCount {
	counts := map[types.EntityUID]*principalCount{}
	at := func(p types.EntityUID) *principalCount {
		if counts[p] == nil {
			counts[p] = &principalCount{principal: p}
		}
		return counts[p]
	}
	for _, e := range r.Gained {
		at(e.Principal).gained++
	}
	for _, e := range r.Lost {
		at(e.Principal).lost++
	}
	out := make([]principalCount, 0, len(counts))
	for _, c := range counts {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b principalCount) int { return compareUID(a.principal, b.principal) })
	return out
}

// kindCount is how many identity objects of one kind were added, removed
// and changed.
type kindCount struct {
	kind                    string
	added, removed, changed int
}

// byKind counts identity changes per kind, in the documentation's order.
func (r *Report) byKind() []kindCount {
	var out []kindCount
	for _, c := range r.Identities {
		if len(out) == 0 || out[len(out)-1].kind != string(c.Kind) {
			out = append(out, kindCount{kind: string(c.Kind)})
		}
		kc := &out[len(out)-1]
		switch c.Change {
		case Added:
			kc.added++
		case Removed:
			kc.removed++
		default:
			kc.changed++
		}
	}
	return out
}

var spaces = regexp.MustCompile(`\s+`)

// oneLine collapses a condition's text, which may span lines, to one.
func oneLine(s string) string {
	return strings.TrimSpace(spaces.ReplaceAllString(s, " "))
}

// shortRevision abbreviates a commit hash to 12 digits and leaves
// anything else (a work tree's name) as it is.
func shortRevision(rev string) string {
	if len(rev) == 40 && strings.Trim(rev, "0123456789abcdef") == "" {
		return rev[:12]
	}
	return rev
}
