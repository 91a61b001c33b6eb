package change

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle/repo"
)

// Change says what happened to an identity object between two revisions.
type Change string

// The changes an identity object can go through.
const (
	Added   Change = "added"
	Removed Change = "removed"
	Changed Change = "changed"
)

// IdentityChange is one identity object added, removed or changed.
type IdentityChange struct {
	Kind repo.Kind `json:"kind"`
	// Name is the object's name: its `name:`, for an unnamed Entitlement
	// "subject:profile" and an unnamed Exception "rule:subject", for a
	// Resource "Type/name" with the type qualified.
	Name   string `json:"name"`
	Change Change `json:"change"`
	// Fields are the fields whose value differs, in the order the
	// identity format documents them; for an added object every field it
	// sets (From empty), for a removed one every field it had (To empty).
	Fields []FieldChange `json:"fields"`
}

// FieldChange is one field's value before and after; "" is unset.
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
	// Note qualifies a change of expiry: "extended" when it moved later,
	// "no longer expires", "shortened" or "now expires". The JSON leaves
	// it out: it follows from From and To.
	Note string `json:"-"`
}

// identityKey is how objects are matched across revisions: by kind and
// name, never by file or position, so moving or reordering objects
// changes nothing.
type identityKey struct {
	kind repo.Kind
	name string
}

// field is one field of an object as compared: its value written
// canonically (lists sorted, dates and durations in one form), and the
// instant for an expiry.
type field struct {
	name  string
	value string
	at    *time.Time
}

// identities is what diff keeps of a revision's identity objects: a
// small summary, so the repository itself can be dropped.
type identities map[identityKey][]field

// summarize records every identity object of view's environment.
func summarize(view *repo.View) (identities, error) {
	out := identities{}
	var err error
	add := func(m *repo.Meta, name string, fs ...field) {
		if name == "" {
			name = strings.TrimPrefix(m.Key(), string(m.Kind)+"/")
		}
		fs = append([]field{{name: "description", value: m.Description}}, fs...)
		fs = slices.DeleteFunc(fs, func(f field) bool { return f.value == "" })
		// Clones, so that no value holds on to the file it was read
		// from once the repository is dropped.
		for i := range fs {
			fs[i].value = strings.Clone(fs[i].value)
		}
		out[identityKey{m.Kind, strings.Clone(name)}] = slices.Clip(fs)
	}
	attrs := func(a repo.Attrs) []field {
		var fs []field
		for _, name := range slices.Sorted(maps.Keys(a)) {
			v, e := canonicalJSON(a[name])
			if e != nil && err == nil {
				err = fmt.Errorf("%s: attribute %s: %w", a[name].Pos(), name, e)
			}
			fs = append(fs, field{name: "attributes." + name, value: v})
		}
		return fs
	}
	for _, u := range view.Users {
		add(&u.Meta, "", append([]field{{name: "groups", value: tokens(u.Groups)}}, attrs(u.Attributes)...)...)
	}
	for _, s := range view.ServiceAccounts {
		fs := []field{
			{name: "owner", value: s.Owner},
			expiry(s.Expires),
			{name: "groups", value: tokens(s.Groups)},
			{name: "spiffe_ids", value: tokens(s.SPIFFEIDs)},
		}
		if c := s.Credential; c != nil {
			fs = append(fs, field{name: "credential.type", value: c.Type},
				field{name: "credential.rotation", value: duration(c.Rotation)},
				field{name: "credential.last_rotated", value: instant(c.LastRotated)})
		}
		if r := s.Review; r != nil {
			fs = append(fs, field{name: "review.cadence", value: duration(r.Cadence)},
				field{name: "review.last_review", value: instant(r.LastReview)})
		}
		add(&s.Meta, "", append(fs, attrs(s.Attributes)...)...)
	}
	for _, g := range view.Groups {
		add(&g.Meta, "", append([]field{{name: "groups", value: tokens(g.Groups)}}, attrs(g.Attributes)...)...)
	}
	for _, t := range view.Teams {
		add(&t.Meta, "", field{name: "members", value: tokens(t.Members)})
	}
	for _, r := range view.Resources {
		add(&r.Meta, r.Type+"/"+r.Name, append([]field{{name: "parents", value: tokens(r.Parents)}}, attrs(r.Attributes)...)...)
	}
	for _, p := range view.Profiles {
		add(&p.Meta, "", field{name: "permissions", value: permissions(p.Permissions)})
	}
	for _, e := range view.Entitlements {
		add(&e.Meta, "", field{name: "subject", value: e.Subject}, field{name: "profile", value: e.Profile},
			field{name: "approved_by", value: e.ApprovedBy}, expiry(e.Expires),
			field{name: "ticket", value: e.Ticket}, field{name: "reason", value: e.Reason})
	}
	for _, e := range view.Exceptions {
		add(&e.Meta, "", field{name: "subject", value: e.Subject}, field{name: "rule", value: e.Rule},
			field{name: "profile", value: e.Profile}, field{name: "approved_by", value: e.ApprovedBy},
			expiry(e.Expires), field{name: "ticket", value: e.Ticket}, field{name: "reason", value: e.Reason})
	}
	return out, err
}

// compareIdentities lists the objects added, removed or changed from
// from to to, sorted by kind (in the documentation's order) and name.
func compareIdentities(from, to identities) []IdentityChange {
	keys := slices.Collect(maps.Keys(from))
	for k := range to {
		if _, ok := from[k]; !ok {
			keys = append(keys, k)
		}
	}
	order := map[repo.Kind]int{}
	for i, k := range repo.Kinds() {
		order[k] = i
	}
	slices.SortFunc(keys, func(a, b identityKey) int {
		if c := order[a.kind] - order[b.kind]; c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	out := []IdentityChange{}
	for _, k := range keys {
		before, inFrom := from[k]
		after, inTo := to[k]
		c := IdentityChange{Kind: k.kind, Name: k.name, Change: Changed, Fields: compareFields(before, after)}
		switch {
		case !inFrom:
			c.Change = Added
		case !inTo:
			c.Change = Removed
		case len(c.Fields) == 0:
			continue
		}
		out = append(out, c)
	}
	return out
}

// compareFields lists the fields whose values differ, in before's order
// and then after's for fields before lacks.
func compareFields(before, after []field) []FieldChange {
	out := []FieldChange{}
	find := func(fs []field, name string) field {
		for _, f := range fs {
			if f.name == name {
				return f
			}
		}
		return field{name: name}
	}
	names := make([]string, 0, len(before)+len(after))
	for _, f := range before {
		names = append(names, f.name)
	}
	for _, f := range after {
		if !slices.Contains(names, f.name) {
			names = append(names, f.name)
		}
	}
	for _, name := range names {
		b, a := find(before, name), find(after, name)
		if b.value == a.value {
			continue
		}
		fc := FieldChange{Field: name, From: b.value, To: a.value}
		if name == "expires" && before != nil && after != nil {
			fc.Note = expiryNote(b.at, a.at)
		}
		out = append(out, fc)
	}
	return out
}

// expiryNote says how an expiry moved from before to after (nil: never).
func expiryNote(before, after *time.Time) string {
	switch {
	case before == nil:
		return "now expires"
	case after == nil:
		return "no longer expires"
	case after.After(*before):
		return "extended"
	}
	return "shortened"
}

// expiry is the expires field of t.
func expiry(t *time.Time) field {
	return field{name: "expires", value: instant(t), at: t}
}

// instant writes t as a date when it is midnight UTC, as the identity
// files usually do, and in RFC 3339 otherwise.
func instant(t *time.Time) string {
	switch {
	case t == nil:
		return ""
	case t.UTC().Truncate(24 * time.Hour).Equal(*t):
		return t.UTC().Format(time.DateOnly)
	}
	return t.UTC().Format(time.RFC3339)
}

// duration writes d as the identity files do ("90d"), or "" when unset.
func duration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return repo.FormatDuration(d)
}

// tokens writes a list whose order means nothing as a sorted set,
// "[a, b]", or "" when empty.
func tokens(ts []repo.Token) string {
	if len(ts) == 0 {
		return ""
	}
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.Text
	}
	return list(s)
}

// list writes s sorted and deduplicated, "[a, b]".
func list(s []string) string {
	s = slices.Compact(slices.Sorted(slices.Values(s)))
	return "[" + strings.Join(s, ", ") + "]"
}

// permissions writes an access profile's permissions, each as "actions
// [read] on [api] when {...}", as a set.
func permissions(ps []repo.Permission) string {
	var s []string
	for _, p := range ps {
		one := tokens(p.Actions) + " on " + tokens(p.Resources)
		if w := strings.Join(strings.Fields(p.When), " "); w != "" {
			one += " when " + w
		}
		s = append(s, one)
	}
	if len(s) == 0 {
		return ""
	}
	return strings.Join(slices.Compact(slices.Sorted(slices.Values(s))), "; ")
}

// canonicalJSON writes an attribute value as JSON with object keys
// sorted, so that reordering a map's keys changes nothing.
func canonicalJSON(v *repo.Value) (string, error) {
	raw, err := v.JSON()
	if err != nil {
		return "", err
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return "", err
	}
	var out bytes.Buffer
	e := json.NewEncoder(&out)
	e.SetEscapeHTML(false)
	err = e.Encode(x)
	return strings.TrimSuffix(out.String(), "\n"), err
}
