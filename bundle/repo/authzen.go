package repo

import (
	"slices"
	"strings"

	"github.com/cedargate/cedargate/bundle/diag"
)

// AuthZEN is the `authzen:` section of cedargate.yaml: how requests of the
// OpenID AuthZEN Authorization API map to Cedar (docs/authzen.md). The
// compiler resolves it against the schema into the bundle's mapping
// (bundle.AuthZEN); without the section, pdp/authzen maps by name.
type AuthZEN struct {
	// Pos is where the section is written.
	Pos diag.Position
	// Types map AuthZEN subject and resource types to Cedar entity types,
	// as written (User, or Acme::User); nil when the section lists none.
	Types []NameMapping
	// Actions map AuthZEN action names to Cedar actions, as written (an
	// action id, read, or a UID, Acme::Action::"read"); nil when the
	// section lists none.
	Actions []NameMapping
	// ActionProperties is the context attribute that holds an AuthZEN
	// action's properties; empty puts them at the top of the context.
	ActionProperties Setting
	// UnknownSubjects and UnknownResources are deny or decide, empty when
	// not written; UndeclaredProperties is drop or keep.
	UnknownSubjects, UnknownResources, UndeclaredProperties Setting
}

// NameMapping is one entry of authzen.types or authzen.actions.
type NameMapping struct {
	// From is the AuthZEN name, To the Cedar name as written.
	From, To string
	// Pos is where the entry is written.
	Pos diag.Position
}

// The values of the authzen section's settings.
var (
	authzenUnknown    = []string{"deny", "decide"}
	authzenUndeclared = []string{"drop", "keep"}
)

// parseAuthZEN reads the authzen section n of cedargate.yaml, reporting
// every problem of its form; whether its names exist is the compiler's
// to say, against the schema.
func (d *decoder) parseAuthZEN(n *node) *AuthZEN {
	a := &AuthZEN{Pos: n.pos}
	f := d.fields(n, "authzen")
	a.Types = d.nameMappings(f, "types", func(to string) bool { return isCedarPath(to) },
		"is not a Cedar entity type (User, or Acme::User)")
	a.Actions = d.nameMappings(f, "actions", func(to string) bool {
		uid, err := ParseEntityUID(to)
		if err != nil {
			return !strings.ContainsAny(to, `":`)
		}
		return strings.HasSuffix(string(uid.Type), "Action")
	}, `is not an action (an action id such as read, or a UID such as Acme::Action::"read")`)
	setting := func(key string, allowed []string) Setting {
		v := f.get(key)
		if v == nil {
			return Setting{}
		}
		s, ok := f.scalar(key, v)
		if ok && !slices.Contains(allowed, s) {
			d.errorf(v.pos, "authzen", "%s must be %s, not %q", key, strings.Join(allowed, " or "), s)
		}
		return Setting{Value: s, Pos: v.pos}
	}
	a.UnknownSubjects = setting("unknown_subjects", authzenUnknown)
	a.UnknownResources = setting("unknown_resources", authzenUnknown)
	a.UndeclaredProperties = setting("undeclared_properties", authzenUndeclared)
	if v := f.get("action_properties"); v != nil {
		if s, ok := f.scalar("action_properties", v); ok {
			if s == "" || strings.ContainsAny(s, "\x00\n") {
				d.errorf(v.pos, "authzen", "action_properties must name a context attribute")
			}
			a.ActionProperties = Setting{Value: s, Pos: v.pos}
		}
	}
	f.done()
	return a
}

// nameMappings reads a mapping of names (authzen.types, authzen.actions):
// a YAML mapping of AuthZEN names to Cedar names, each target checked by
// valid. Written empty, it maps nothing, which is an error: every request
// would be refused.
func (d *decoder) nameMappings(f *fields, key string, valid func(string) bool, invalid string) []NameMapping {
	v := f.get(key)
	if v == nil {
		if f.written(key) {
			d.errorf(f.n.get(key).pos, "authzen", "%s maps nothing, so every request would be refused; leave it out to map by name", key)
		}
		return nil
	}
	if v.kind != mapNode {
		d.errorf(v.pos, "authzen", "%s must map AuthZEN names to Cedar names, found %s", key, v.describe())
		return nil
	}
	if len(v.keys) == 0 {
		d.errorf(v.pos, "authzen", "%s maps nothing, so every request would be refused; leave it out to map by name", key)
		return nil
	}
	out := make([]NameMapping, 0, len(v.keys))
	for i, k := range v.keys {
		to := v.values[i]
		if k.text == "" {
			d.errorf(k.pos, "authzen", "%s: an empty AuthZEN name", key)
			continue
		}
		if to.kind != scalarNode || to.text == "" {
			d.errorf(to.pos, "authzen", "%s: %s must map to one Cedar name, found %s", key, k.text, to.describe())
			continue
		}
		if !valid(to.text) {
			d.errorf(to.pos, "authzen", "%s: %s maps to %q, which %s", key, k.text, to.text, invalid)
			continue
		}
		out = append(out, NameMapping{From: k.text, To: to.text, Pos: k.pos})
	}
	return out
}
