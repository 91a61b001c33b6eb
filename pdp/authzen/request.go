package authzen

import (
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
)

// This file reads the AuthZEN information model (subject, action,
// resource, context) into Cedar requests, as the model's mapping says.

// entityJSON is an AuthZEN subject or resource. A type or id that is
// absent, null or empty is missing alike: none is a valid one.
type entityJSON struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Properties jsontext.Value `json:"properties"`
}

// actionJSON is an AuthZEN action.
type actionJSON struct {
	Name       string         `json:"name"`
	Properties jsontext.Value `json:"properties"`
}

// evaluationJSON is an Access Evaluation request, and an item of an
// Access Evaluations request. Unknown members are ignored, as the
// specification requires.
type evaluationJSON struct {
	Subject  *entityJSON    `json:"subject"`
	Action   *actionJSON    `json:"action"`
	Resource *entityJSON    `json:"resource"`
	Context  jsontext.Value `json:"context"`
}

// refusal is an evaluation answered false without asking Cedar: its
// subject or resource is not in the bundle and the mapping denies
// unknown ones. It is not a decision, so it is not in the decision log.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

// given reports whether a JSON member was sent with a value other than
// null: AuthZEN treats a null member as an absent one.
func given(v jsontext.Value) bool { return len(v) > 0 && v.Kind() != 'n' }

// target is a subject or resource read from a request.
type target struct {
	uid types.EntityUID
	// attrs are its properties as attributes; nil when it has none.
	attrs types.RecordMap
}

// entity reads an AuthZEN subject or resource, field naming it
// ("subject"). needID says whether it must have an id (a search's target
// need not); its id is then left empty. A type the mapping does not
// resolve is an error whose Unwrap is an *unknownError.
func (m *model) entity(c *converter, field string, e *entityJSON, needID bool) (target, error) {
	var r target
	if err := c.shapeOf(field, e, needID); err != nil {
		return r, err
	}
	if needID {
		r.uid.ID = types.String(e.ID)
	}
	t, err := m.entityType(e.Type)
	if err != nil {
		return r, c.unknown(field+".type", err)
	}
	r.uid.Type = t
	if given(e.Properties) {
		shape, declared := m.shape(t)
		r.attrs = types.RecordMap{}
		c.push(field)
		c.push("properties")
		err := c.members(e.Properties, shape, declared, r.attrs)
		c.path = c.path[:len(c.path)-2]
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// shapeOf checks that an AuthZEN subject or resource has the members it
// needs: a type, and an id when needID is set.
func (c *converter) shapeOf(field string, e *entityJSON, needID bool) error {
	if e == nil {
		return c.missing(field)
	}
	if err := c.text(field, "type", e.Type); err != nil {
		return err
	}
	if needID {
		return c.text(field, "id", e.ID)
	}
	return nil
}

// actionOf reads an AuthZEN action: its UID (an *unknownError when the
// mapping does not resolve it).
func (m *model) actionOf(c *converter, a *actionJSON) (types.EntityUID, error) {
	if a == nil {
		return types.EntityUID{}, c.missing("action")
	}
	if err := c.text("action", "name", a.Name); err != nil {
		return types.EntityUID{}, err
	}
	uid, err := m.action(a.Name)
	if err != nil {
		return uid, c.unknown("action.name", err)
	}
	return uid, nil
}

// context reads a request's context and its action's properties into the
// Cedar context for action: the properties at the top of the context, or
// under the mapping's action_properties attribute. A name both give is an
// error rather than one silently winning.
func (m *model) context(c *converter, action types.EntityUID, props, ctx jsontext.Value) (types.Record, error) {
	if !given(props) && !given(ctx) {
		return types.Record{}, nil
	}
	shape, declared := m.contextShape(action)
	out := types.RecordMap{}
	if given(ctx) {
		c.push("context")
		err := c.members(ctx, shape, declared, out)
		c.pop()
		if err != nil {
			return types.Record{}, err
		}
	}
	if !given(props) {
		return types.NewRecord(out), nil
	}
	key := types.String(m.actionKey)
	pshape, pdeclared := shape, declared
	if key != "" {
		rec, ok := shape[key].Type.(resolved.RecordType)
		pshape, pdeclared = rec, ok
	}
	ap := types.RecordMap{}
	c.push("action")
	c.push("properties")
	err := c.members(props, pshape, pdeclared, ap)
	c.path = c.path[:len(c.path)-2]
	if err != nil {
		return types.Record{}, err
	}
	if key != "" {
		if _, dup := out[key]; dup {
			return types.Record{}, c.failAt("context."+m.actionKey, "is where the action's properties go (authzen.action_properties): the context cannot give it too")
		}
		out[key] = types.NewRecord(ap)
		return types.NewRecord(out), nil
	}
	for _, k := range slices.Sorted(maps.Keys(ap)) {
		if _, dup := out[k]; dup {
			return types.Record{}, c.failAt("action.properties."+string(k), "is also in context: a context attribute takes its value from one of them, not both")
		}
		out[k] = ap[k]
	}
	return types.NewRecord(out), nil
}

// request reads a whole evaluation into a Cedar request. A request whose
// subject or resource the bundle does not define, when the mapping
// denies unknown ones, is a *refusal.
func (m *model) request(c *converter, snap *engine.Snapshot, ev *evaluationJSON) (*engine.Request, error) {
	sub, err := m.entity(c, "subject", ev.Subject, true)
	if err != nil {
		return nil, err
	}
	res, err := m.entity(c, "resource", ev.Resource, true)
	if err != nil {
		return nil, err
	}
	act, err := m.actionOf(c, ev.Action)
	if err != nil {
		return nil, err
	}
	ctx, err := m.context(c, act, ev.Action.Properties, ev.Context)
	if err != nil {
		return nil, err
	}
	if err := m.known(snap, sub.uid, res.uid); err != nil {
		return nil, err
	}
	return m.assemble(c, sub, act, res, ctx)
}

// known refuses a subject or resource the bundle does not define when the
// mapping denies unknown ones.
func (m *model) known(snap *engine.Snapshot, sub, res types.EntityUID) error {
	if m.denySubjects && !snap.HasEntity(sub) {
		return &refusal{"the subject is not known to the PDP"}
	}
	if m.denyResource && !snap.HasEntity(res) {
		return &refusal{"the resource is not known to the PDP"}
	}
	return nil
}

// assemble makes the Cedar request: the subject's and the resource's
// properties become request entities, laid over the bundle's.
func (m *model) assemble(c *converter, sub target, act types.EntityUID, res target, ctx types.Record) (*engine.Request, error) {
	req := &engine.Request{Principal: sub.uid, Action: act, Resource: res.uid, Context: ctx}
	if sub.attrs != nil && res.attrs != nil && sub.uid == res.uid {
		return nil, c.failAt("resource.properties", "the resource is the subject: give its properties once, on the subject")
	}
	if sub.attrs != nil {
		req.Entities = append(req.Entities, types.Entity{UID: sub.uid, Attributes: types.NewRecord(sub.attrs)})
	}
	if res.attrs != nil {
		req.Entities = append(req.Entities, types.Entity{UID: res.uid, Attributes: types.NewRecord(res.attrs)})
	}
	return req, nil
}

// missing is the error of a required member that is absent (or null).
func (c *converter) missing(field string) error { return c.failAt(field, "required") }

// text checks member of field (subject, type), a required string: given,
// not empty, within the string limit. The path is built only for an
// error.
func (c *converter) text(field, member, s string) error {
	switch {
	case s == "":
		return c.failAt(field+"."+member, "required (a non-empty string)")
	case len(s) > c.lim.MaxStringBytes:
		return c.failAt(field+"."+member, "%d bytes, more than the limit of %d", len(s), c.lim.MaxStringBytes)
	}
	return nil
}

// unknown is the error of a type or action the mapping does not resolve.
func (c *converter) unknown(field string, err error) error {
	return &unknownField{FieldError: c.failAt(field, "%s", err.Error())}
}

// unknownField is a field naming a type or action the mapping does not
// resolve: an evaluation refuses it (400), a search finds nothing for it.
type unknownField struct{ *wire.FieldError }

func (u *unknownField) Unwrap() error { return u.FieldError }

// isUnknown reports whether err names a type or action the mapping does
// not resolve.
func isUnknown(err error) bool {
	var u *unknownField
	return errors.As(err, &u)
}

// failAt is an error about field, a path of member names from where the
// converter's path stands ("subject.type").
func (c *converter) failAt(field, format string, args ...any) *wire.FieldError {
	n := len(c.path)
	for _, k := range strings.Split(field, ".") {
		c.push(k)
	}
	err := c.fail(format, args...)
	c.path = c.path[:n]
	return err
}
