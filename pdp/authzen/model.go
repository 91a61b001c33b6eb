package authzen

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/access"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/pdp/cedarjson"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
)

// The settings of a mapping, as bundle.AuthZEN spells them.
const (
	// UnknownDeny answers false, without asking Cedar, for a subject or
	// resource the bundle does not define.
	UnknownDeny = "deny"
	// UnknownDecide lets Cedar decide for it, with its properties as its
	// only attributes and no parents.
	UnknownDecide = "decide"
	// UndeclaredDrop leaves out properties and context members the schema
	// does not declare.
	UndeclaredDrop = "drop"
	// UndeclaredKeep passes them to Cedar as they are.
	UndeclaredKeep = "keep"
)

// Defaults of a mapping's settings.
const (
	// DefaultUnknownSubjects: identities are code, so a subject the code
	// does not define is nobody.
	DefaultUnknownSubjects = UnknownDeny
	// DefaultUnknownResources: resources are often not in the code (a
	// document, a record of the application's), and policies about them
	// read the properties the request gives.
	DefaultUnknownResources = UnknownDecide
	// DefaultUndeclaredProperties: no policy of a bundle validated
	// against its schema can read what the schema does not declare, and
	// request validation would refuse it.
	DefaultUndeclaredProperties = UndeclaredDrop
)

// model is what the handler needs of one bundle, built when it is
// activated: the mapping resolved against the bundle's types and actions,
// and the schema for converting values. The effective-access index that
// searches use is built on the first search of the bundle: it costs
// activation time and memory in proportion to the bundle, which
// deployments that only evaluate should not pay. It is immutable, but for
// that once.
type model struct {
	conv *cedarjson.Converter
	// access returns the bundle's effective-access index.
	access func() (*access.Analyzer, error)
	ns     string
	// types maps AuthZEN types to entity types when the mapping lists
	// them; nil when types map by name, through byName.
	types  map[string]types.EntityType
	byName map[string][]types.EntityType
	// actions maps AuthZEN action names to actions when the mapping lists
	// them; nil when actions map by id, through byID.
	actions map[string]types.EntityUID
	byID    map[string][]types.EntityUID
	// names gives the AuthZEN names of each action, for action searches.
	names map[types.EntityUID][]string
	// actionKey is the context attribute action properties go under, ""
	// for the top of the context.
	actionKey                  string
	denySubjects, denyResource bool
	drop                       bool
}

// newModel builds the model of bundle b, whose snapshot is snap.
func newModel(b *bundle.Bundle, snap *engine.Snapshot) (*model, error) {
	mp := b.AuthZEN
	if mp == nil {
		mp = &bundle.AuthZEN{}
	}
	conv, err := cedarjson.NewFromSchemaText(b.Schema, mp.Namespace)
	if err != nil {
		return nil, fmt.Errorf("authzen: %w", err)
	}
	actions, err := access.Actions(b, snap)
	if err != nil {
		return nil, fmt.Errorf("authzen: %w", err)
	}
	m := &model{conv: conv, ns: mp.Namespace,
		access: sync.OnceValues(func() (*access.Analyzer, error) { return access.NewFromSnapshot(snap, b) }), actionKey: mp.ActionProperties, byName: map[string][]types.EntityType{},
		byID: map[string][]types.EntityUID{}, names: map[types.EntityUID][]string{}}
	var errs []error
	setting := func(name, v, def string, allowed ...string) string {
		if v == "" {
			return def
		}
		if !slices.Contains(allowed, v) {
			errs = append(errs, fmt.Errorf("%s must be %s, not %q", name, strings.Join(allowed, " or "), v))
		}
		return v
	}
	m.denySubjects = setting("unknown_subjects", mp.UnknownSubjects, DefaultUnknownSubjects, UnknownDeny, UnknownDecide) == UnknownDeny
	m.denyResource = setting("unknown_resources", mp.UnknownResources, DefaultUnknownResources, UnknownDeny, UnknownDecide) == UnknownDeny
	m.drop = setting("undeclared_properties", mp.UndeclaredProperties, DefaultUndeclaredProperties, UndeclaredDrop, UndeclaredKeep) == UndeclaredDrop

	for _, t := range knownTypes(conv.Schema(), snap) {
		k := normalName(string(t))
		m.byName[k] = append(m.byName[k], t)
	}
	if mp.Types != nil {
		m.types = make(map[string]types.EntityType, len(mp.Types))
		for name, t := range mp.Types {
			if _, err := types.NewEntityType(t); err != nil {
				errs = append(errs, fmt.Errorf("types: %q maps to %q, which is not a Cedar entity type", name, t))
			}
			m.types[name] = types.EntityType(t)
		}
	}
	for _, a := range actions {
		m.byID[string(a.ID)] = append(m.byID[string(a.ID)], a)
	}
	if mp.Actions != nil {
		m.actions = make(map[string]types.EntityUID, len(mp.Actions))
		for name, text := range mp.Actions {
			uid, err := repo.ParseEntityUID(text)
			if err != nil {
				errs = append(errs, fmt.Errorf("actions: %q maps to %q, which is not a Cedar action UID", name, text))
				continue
			}
			m.actions[name] = uid
			m.names[uid] = append(m.names[uid], name)
		}
		for _, l := range m.names {
			slices.Sort(l)
		}
	} else {
		// An action is answered by its id, or in full where the id alone
		// is ambiguous: the name a request would use for it.
		for _, a := range actions {
			if got, err := m.action(string(a.ID)); err == nil && got == a {
				m.names[a] = []string{string(a.ID)}
			} else {
				m.names[a] = []string{a.String()}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("authzen mapping: %w", err)
	}
	return m, nil
}

// knownTypes are the entity types AuthZEN types map to by name: the
// schema's, or without one those of the bundle's entities.
func knownTypes(s *resolved.Schema, snap *engine.Snapshot) []types.EntityType {
	seen := map[types.EntityType]bool{}
	if s != nil {
		for t := range s.Entities {
			seen[t] = true
		}
		for t := range s.Enums {
			seen[t] = true
		}
	} else {
		for e := range snap.Entities() {
			seen[e.UID.Type] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// normalName is the key by which an AuthZEN type finds an entity type of
// the same name: the name without its namespace, lower-cased, without
// underscores and hyphens, so that user, User, service_account and
// service-account find User and ServiceAccount.
func normalName(s string) string {
	if i := strings.LastIndex(s, "::"); i >= 0 {
		s = s[i+2:]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '_' || r == '-':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// unknownError is a type or action the mapping does not resolve: a
// request naming one is refused, never decided.
type unknownError struct{ msg string }

func (e *unknownError) Error() string { return e.msg }

// entityType resolves an AuthZEN subject or resource type.
func (m *model) entityType(name string) (types.EntityType, error) {
	if m.types != nil {
		if t, ok := m.types[name]; ok {
			return t, nil
		}
		return "", &unknownError{fmt.Sprintf("type %s is not mapped to a Cedar entity type (authzen.types in cedargate.yaml)", wire.Quote(name))}
	}
	found := m.byName[normalName(name)]
	if strings.Contains(name, "::") {
		// A Cedar type written out in full names itself.
		found = slices.DeleteFunc(slices.Clone(found), func(t types.EntityType) bool { return string(t) != name })
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", &unknownError{fmt.Sprintf("type %s names no entity type of the bundle", wire.Quote(name))}
	}
	for _, t := range found {
		if m.ns != "" && string(t) == m.ns+"::"+lastName(string(t)) {
			return t, nil
		}
	}
	return "", &unknownError{fmt.Sprintf("type %s is ambiguous (%s): name one in full, or map it in authzen.types in cedargate.yaml", wire.Quote(name), joinTypes(found))}
}

// resolveType is entityType for the converter's entity references.
func (m *model) resolveType(name string) (types.EntityType, bool) {
	t, err := m.entityType(name)
	return t, err == nil
}

// action resolves an AuthZEN action name.
func (m *model) action(name string) (types.EntityUID, error) {
	if m.actions != nil {
		if a, ok := m.actions[name]; ok {
			return a, nil
		}
		return types.EntityUID{}, &unknownError{fmt.Sprintf("action %s is not mapped to a Cedar action (authzen.actions in cedargate.yaml)", wire.Quote(name))}
	}
	found := m.byID[name]
	if uid, err := repo.ParseEntityUID(name); err == nil {
		// A Cedar action UID written out in full names itself.
		found = slices.DeleteFunc(slices.Clone(m.byID[string(uid.ID)]), func(a types.EntityUID) bool { return a != uid })
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return types.EntityUID{}, &unknownError{fmt.Sprintf("action %s is not an action of the bundle", wire.Quote(name))}
	}
	names := make([]string, len(found))
	for i, a := range found {
		if m.ns != "" && string(a.Type) == m.ns+"::Action" {
			return a, nil
		}
		names[i] = a.String()
	}
	slices.Sort(names)
	return types.EntityUID{}, &unknownError{fmt.Sprintf("action %s is ambiguous (%s): name one in full, or map it in authzen.actions in cedargate.yaml",
		wire.Quote(name), strings.Join(names, ", "))}
}

// shape returns the attributes the schema declares for entity type t, and
// whether it declares the type.
func (m *model) shape(t types.EntityType) (resolved.RecordType, bool) {
	s := m.conv.Schema()
	if s == nil {
		return nil, false
	}
	e, ok := s.Entities[t]
	return e.Shape, ok
}

// contextShape returns the context type the schema declares for action
// a, and whether it declares one.
func (m *model) contextShape(a types.EntityUID) (resolved.RecordType, bool) {
	return m.conv.ContextType(a)
}

func lastName(s string) string {
	if i := strings.LastIndex(s, "::"); i >= 0 {
		return s[i+2:]
	}
	return s
}

func joinTypes(ts []types.EntityType) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = string(t)
	}
	return strings.Join(parts, ", ")
}
