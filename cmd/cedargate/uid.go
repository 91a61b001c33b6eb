package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/access"
	"github.com/cedargate/cedargate/bundle/repo"
)

// resolveUID reads the UID flag names in the forms users write: a Cedar
// UID (Acme::User::"alice"), the short form decision tests use
// (User/alice, with or without the namespace), or for --action a bare
// action name (read). It must name one of the bundle's entities (for
// --action, one of its actions); otherwise the error suggests the
// closest that exist.
func resolveUID(a *access.Analyzer, flag, text string) (types.EntityUID, error) {
	known := a.Entities()
	if flag == "action" {
		known = a.Actions()
	}
	var u types.EntityUID
	if err := u.UnmarshalCedar([]byte(text)); err == nil {
		if slices.Contains(known, u) {
			return u, nil
		}
		return u, unknownUID(flag, text, known)
	}
	typ, id, ok := strings.Cut(text, "/")
	if !ok {
		if flag != "action" {
			return u, fmt.Errorf("--%s %q: write a Cedar UID (Acme::User::\"alice\") or Type/id (User/alice)", flag, text)
		}
		typ, id = "Action", text
	}
	var found []types.EntityUID
	for _, k := range known {
		if string(k.ID) == id && (string(k.Type) == typ || strings.HasSuffix(string(k.Type), "::"+typ)) {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return u, unknownUID(flag, text, known)
	}
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = f.String()
	}
	return u, fmt.Errorf("--%s %q is ambiguous: %s", flag, text, strings.Join(names, ", "))
}

// unknownUID says text names nothing the bundle has, and suggests the
// closest names that it has.
func unknownUID(flag, text string, known []types.EntityUID) error {
	what := "entity"
	if flag == "action" {
		what = "action"
	}
	msg := fmt.Sprintf("--%s %q: the bundle has no such %s", flag, text, what)
	if s := suggest(text, known); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return fmt.Errorf("%s", msg)
}

// suggest returns up to three known UIDs closest to text by edit
// distance (compared in short form, Type/id), closest first.
func suggest(text string, known []types.EntityUID) []string {
	type cand struct {
		s string
		d int
	}
	short := func(u types.EntityUID) string {
		t := string(u.Type)
		if i := strings.LastIndex(t, "::"); i >= 0 {
			t = t[i+2:]
		}
		return t + "/" + string(u.ID)
	}
	want := strings.ToLower(text)
	if i := strings.LastIndex(want, "::"); i >= 0 {
		// Acme::User::"alice" → user/alice for comparison.
		if j := strings.LastIndex(want[:i], "::"); j >= 0 {
			want = want[j+2:]
		}
		want = strings.ReplaceAll(strings.ReplaceAll(want, "::", "/"), `"`, "")
	}
	var cs []cand
	for _, k := range known {
		s := short(k)
		d := repo.EditDistance(want, strings.ToLower(s))
		if d2 := repo.EditDistance(want, strings.ToLower(string(k.ID))); d2 < d {
			d = d2
		}
		if d <= max(2, len(want)/3) {
			cs = append(cs, cand{k.String(), d})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.s, b.s)
	})
	var out []string
	for _, c := range cs[:min(3, len(cs))] {
		out = append(out, c.s)
	}
	return out
}
