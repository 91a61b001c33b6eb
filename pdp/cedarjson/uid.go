package cedarjson

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go/types"
)

// UID reads an entity UID as people write it: the Cedar form
// (Acme::User::"alice"), or the short form Type/id (User/alice,
// Acme::User/alice). A short type is resolved among the entity types the
// schema declares (User finds Acme::User), else qualified with the
// converter's namespace.
func (c *Converter) UID(text string) (types.EntityUID, error) {
	return c.uid(text, false, "")
}

// ActionUID reads an action UID: as UID, or a bare action name (read),
// which is the action of that name the schema declares (Acme::Action::"read").
func (c *Converter) ActionUID(text string) (types.EntityUID, error) {
	return c.uid(text, true, "")
}

// uid reads text; want, when set, is the entity type the schema expects
// there, which a short type naming it resolves to first.
func (c *Converter) uid(text string, action bool, want types.EntityType) (types.EntityUID, error) {
	var u types.EntityUID
	if strings.HasSuffix(text, `"`) && strings.Contains(text, `::"`) {
		if err := u.UnmarshalCedar([]byte(text)); err != nil {
			return u, fmt.Errorf("%q is not a Cedar entity UID (want Type::\"id\", e.g. User::\"alice\")", text)
		}
		return u, nil
	}
	typ, id, found := strings.Cut(text, "/")
	switch {
	case !found && action:
		typ, id = "Action", text
	case !found:
		return u, fmt.Errorf("%q is not an entity UID: write Type/id (User/alice) or a Cedar UID (User::\"alice\")", text)
	case typ == "" || id == "":
		return u, fmt.Errorf("%q is not an entity UID: write Type/id (User/alice)", text)
	}
	t, err := c.resolveType(typ, action, want)
	if err != nil {
		return u, fmt.Errorf("%q: %w", text, err)
	}
	return types.NewEntityUID(t, types.String(id)), nil
}

// resolveType finds the entity type a short type names.
func (c *Converter) resolveType(typ string, action bool, want types.EntityType) (types.EntityType, error) {
	if strings.Contains(typ, "::") {
		return types.EntityType(typ), nil
	}
	if want != "" && (string(want) == typ || strings.HasSuffix(string(want), "::"+typ)) {
		return want, nil
	}
	qualified := types.EntityType(typ)
	if c.namespace != "" {
		qualified = types.EntityType(c.namespace + "::" + typ)
	}
	if c.schema == nil {
		return qualified, nil
	}
	var found []types.EntityType
	for _, t := range c.declaredTypes(action) {
		if string(t) == typ || strings.HasSuffix(string(t), "::"+typ) {
			found = append(found, t)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case slices.Contains(found, qualified):
		return qualified, nil
	case len(found) > 1:
		names := make([]string, len(found))
		for i, f := range found {
			names[i] = string(f)
		}
		return "", fmt.Errorf("type %s is ambiguous: write one of %s", typ, strings.Join(names, ", "))
	}
	// The schema does not declare it: leave the decision (or the request
	// validation) to say so, as for a Cedar UID of an undeclared type.
	return qualified, nil
}

// declaredTypes lists the entity types of the schema, or for actions the
// types of its actions, sorted.
func (c *Converter) declaredTypes(action bool) []types.EntityType {
	var out []types.EntityType
	if action {
		for u := range c.schema.Actions {
			out = append(out, u.Type)
		}
	} else {
		for t := range c.schema.Entities {
			out = append(out, t)
		}
		for t := range c.schema.Enums {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
