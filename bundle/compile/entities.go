package compile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"
	exptypes "github.com/cedar-policy/cedar-go/x/exp/types"

	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/parallel"
)

// entities builds every entity of the bundle: identity objects, the
// repository's entity files and the schema's action entities.
func (c *compiler) entities() {
	c.out.Entities = Entities{}
	c.identityEntities()
	for _, f := range c.repo.Entities {
		c.entityFile(f)
	}
	c.checkSPIFFEIDs()
	// Resource parents may be defined in entity files, so they are checked
	// once every entity is known.
	for _, p := range c.parentRefs {
		if _, ok := c.out.Entities[p.uid]; !ok {
			c.diags.Errorf(p.at.Pos, "parent %s does not exist: declare it as a Resource or in entities/", p.uid)
		}
	}
	if c.out.Schema != nil {
		// Action entities come from the schema. An entity file may spell one
		// out too (Cedar's own entity files often do); validation then
		// checks it agrees with the schema, and it is kept as written.
		for uid, a := range c.out.Schema.Actions {
			if _, dup := c.entityPos[uid]; dup {
				continue
			}
			c.out.Entities[uid] = newEntity(types.Entity{UID: uid, Parents: a.Entity.Parents})
		}
	}
	// Nothing after reads where entities are, their SPIFFE ids nor the
	// parents to check: at 100k identities the first two are some 18 MB
	// of what compiling the policies next would hold.
	c.entityPos, c.spiffeIDs, c.parentRefs = nil, nil, nil
}

// parentRef is a Resource parent to check for existence.
type parentRef struct {
	uid types.EntityUID
	at  repo.Token
}

// jsonEntity is Cedar's JSON entity format, built from identity objects.
type jsonEntity struct {
	UID     jsonUID                    `json:"uid"`
	Parents []jsonUID                  `json:"parents"`
	Attrs   map[string]json.RawMessage `json:"attrs"`
}

type jsonUID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// identityEntities turns users, service accounts, groups, teams and
// resources into entities; group and team membership become parent edges.
// References are resolved in order, one object at a time; encoding the
// entities, most of a build's serial work, runs on every core a batch at
// a time (see identityBatch), so the result and its problems are those of
// one pass in order.
func (c *compiler) identityEntities() {
	v := c.view
	memberOf := map[*repo.Meta][]jsonUID{}
	for _, t := range v.Teams {
		for _, m := range t.Members {
			member := c.resolve(m, repo.KindUser, repo.KindServiceAccount)
			if member != nil {
				memberOf[member] = append(memberOf[member], c.uidOf(&t.Meta))
			}
		}
	}
	groups := func(tokens []repo.Token) []jsonUID {
		var out []jsonUID
		for _, g := range tokens {
			if m := c.resolve(g, repo.KindGroup); m != nil {
				out = append(out, c.uidOf(m))
			}
		}
		return out
	}
	batch := identityBatch{c: c}
	for _, u := range v.Users {
		before := len(c.diags)
		parents := append(groups(u.Groups), memberOf[&u.Meta]...)
		batch.add(before, identity{m: &u.Meta, uid: c.uidOf(&u.Meta), parents: parents, attrs: &u.Attributes})
	}
	for _, s := range v.ServiceAccounts {
		before := len(c.diags)
		// spiffe_id is always cedargate's on a ServiceAccount, even when the
		// account lists none or several (shared-identity reports those), so
		// that the workload identity front ends map callers by is always
		// the one guardrails check.
		extra := map[string]json.RawMessage{"spiffe_id": nil}
		if len(s.SPIFFEIDs) == 1 {
			id, _ := json.Marshal(s.SPIFFEIDs[0].Text)
			extra["spiffe_id"] = id
		}
		parents := append(groups(s.Groups), memberOf[&s.Meta]...)
		batch.add(before, identity{m: &s.Meta, uid: c.uidOf(&s.Meta), parents: parents, attrs: &s.Attributes, extra: extra})
	}
	for _, g := range v.Groups {
		before := len(c.diags)
		batch.add(before, identity{m: &g.Meta, uid: c.uidOf(&g.Meta), parents: groups(g.Groups), attrs: &g.Attributes})
	}
	for _, t := range v.Teams {
		before := len(c.diags)
		batch.add(before, identity{m: &t.Meta, uid: c.uidOf(&t.Meta)})
	}
	for _, r := range v.Resources {
		before := len(c.diags)
		var parents []jsonUID
		for _, p := range r.Parents {
			if uid, ok := c.resourceRef(p); ok {
				if c.repo.HasIdentities() && c.isMembershipType(uid.Type) {
					c.diags.Errorf(p.Pos, "%s cannot be a parent: access profiles are given by Entitlements and Exceptions", uid)
					continue
				}
				parents = append(parents, jsonUID{string(uid.Type), string(uid.ID)})
				c.parentRefs = append(c.parentRefs, parentRef{uid: uid, at: p})
			}
		}
		batch.add(before, identity{m: &r.Meta, uid: jsonUID{r.Type, r.Name}, parents: parents, attrs: &r.Attributes})
	}
	batch.flush()
}

// identityBatchSize is how many identity objects encode together: enough
// that every core has work for a while, few enough that the parsed
// entities waiting to be added stay a small part of the heap.
const identityBatchSize = 4096

// identityBatch collects identity objects, encodes them on every core
// when full and adds them to the result in the order they came.
type identityBatch struct {
	c   *compiler
	ids []identity
}

// identity is an identity object on its way to becoming an entity.
type identity struct {
	m       *repo.Meta
	uid     jsonUID
	parents []jsonUID
	// attrs are the object's own attributes (nil for a team), extra the
	// ones cedargate sets from its fields (a nil value reserves the name).
	attrs *repo.Attrs
	extra map[string]json.RawMessage
	// resolving are the problems resolving the object's references found,
	// reported before those of its entity.
	resolving diag.List
	// What encode made of it: the problems, and unless they hold an error
	// the entity.
	diags  diag.List
	parsed parsedEntity
}

// add queues id, whose references' problems were reported from index
// before of the compiler's list on: they move to id, to be reported in
// order when it is added.
func (b *identityBatch) add(before int, id identity) {
	c := b.c
	id.resolving = slices.Clone(c.diags[before:])
	c.diags = c.diags[:before]
	if b.ids == nil {
		b.ids = make([]identity, 0, identityBatchSize)
	}
	b.ids = append(b.ids, id)
	if len(b.ids) == identityBatchSize {
		b.flush()
	}
}

// flush encodes the queued objects, in parallel, and adds them in order.
func (b *identityBatch) flush() {
	c := b.c
	parallel.For(len(b.ids), func(i int) { c.encodeIdentity(&b.ids[i]) })
	for i := range b.ids {
		c.addIdentity(&b.ids[i])
		b.ids[i] = identity{}
	}
	b.ids = b.ids[:0]
}

// encodeIdentity encodes one identity object as an entity. It reads the
// compiler and writes only to id, so objects encode in parallel.
func (c *compiler) encodeIdentity(id *identity) {
	e := jsonEntity{UID: id.uid, Parents: id.parents, Attrs: map[string]json.RawMessage{}}
	if e.Parents == nil {
		e.Parents = []jsonUID{}
	}
	for k, v := range id.extra {
		if v != nil {
			e.Attrs[k] = v
		}
	}
	var attrs repo.Attrs
	if id.attrs != nil {
		attrs = *id.attrs
	}
	ok := true
	for name, v := range attrs {
		if _, clash := id.extra[name]; clash {
			id.diags.Errorf(v.Pos(), "attribute %q is set by cedargate from the object's fields", name)
			ok = false
			continue
		}
		raw, err := v.JSON()
		if err != nil {
			var f *diag.Failure
			if errors.As(err, &f) {
				for _, d := range f.List {
					d.Subject = id.m.Label()
					id.diags.Add(d)
				}
			}
			ok = false
			continue
		}
		e.Attrs[name] = raw
	}
	if !ok {
		return
	}
	data, err := json.Marshal(e)
	if err != nil {
		id.diags.Errorf(id.m.Pos, "%s: %v", id.m.Label(), err)
		return
	}
	var bad *diag.Diagnostic
	id.parsed, bad = c.parseEntity(id.uid.Type, data, id.m.Pos, id.m.Label)
	if bad != nil {
		id.diags.Add(*bad)
	}
	pointAtAttributes(id.diags, attrs)
}

// addIdentity adds the entity encodeIdentity made of id to the result,
// with the problems found on the way, and lets the object's attributes
// go when the options say so.
func (c *compiler) addIdentity(id *identity) {
	c.diags.Append(id.resolving)
	c.diags.Append(id.diags)
	if id.parsed.ok {
		before := len(c.diags)
		c.addParsed(id.parsed, id.m.Pos, id.m.Label)
		if id.attrs != nil {
			pointAtAttributes(c.diags[before:], *id.attrs)
		}
	}
	if id.attrs != nil {
		c.encoded(id.attrs)
	}
}

// pointAtAttributes points each of diags that names one of attrs (a
// schema mismatch, say) at that attribute.
func pointAtAttributes(diags diag.List, attrs repo.Attrs) {
	for i := range diags {
		for name, v := range attrs {
			if strings.Contains(diags[i].Message, strconv.Quote(name)) || strings.Contains(diags[i].Message, "`"+name+"`") {
				diags[i].Pos = v.Pos()
			}
		}
	}
}

// encoded is called with an object's attributes once its entity holds
// them, and drops them when the options say so.
func (c *compiler) encoded(attrs *repo.Attrs) {
	if c.opts.DropAttributes {
		*attrs = nil
	}
}

// uidOf returns the Cedar UID of a principal object (user, service
// account, group or team).
func (c *compiler) uidOf(m *repo.Meta) jsonUID {
	u := c.cfg.UID(m)
	return jsonUID{string(u.Type), string(u.ID)}
}

// resolve resolves a reference token among kinds, reporting failures at
// the token.
func (c *compiler) resolve(t repo.Token, kinds ...repo.Kind) *repo.Meta {
	ref, err := repo.ParseRef(t.Text)
	if err == nil {
		var m *repo.Meta
		if m, err = c.view.Resolve(ref, kinds...); err == nil {
			return m
		}
	}
	c.diags.Errorf(t.Pos, "%v", err)
	return nil
}

// resourceRef resolves a reference to any entity: a Resource object by
// bare name or Type/name, or a Cedar UID literal of an entity defined in
// the entity files.
func (c *compiler) resourceRef(t repo.Token) (types.EntityUID, bool) {
	ref, err := repo.ParseRef(t.Text)
	if err != nil {
		c.diags.Errorf(t.Pos, "%v", err)
		return types.EntityUID{}, false
	}
	if ref.Type == "" {
		var found []*repo.Resource
		for _, r := range c.view.Resources {
			if r.Name == ref.Name {
				found = append(found, r)
			}
		}
		switch len(found) {
		case 0:
			var names []string
			for _, r := range c.view.Resources {
				names = append(names, r.Name)
			}
			slices.Sort(names)
			hint := ""
			if s := repo.Suggest(ref.Name, names); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			c.diags.Errorf(t.Pos, "no Resource named %q in environment %q%s", ref.Name, c.view.Env, hint)
			return types.EntityUID{}, false
		case 1:
			return types.NewEntityUID(types.EntityType(found[0].Type), types.String(found[0].Name)), true
		}
		c.diags.Errorf(t.Pos, "resource %q is ambiguous: both %s/%s and %s/%s exist; write Type/name", ref.Name, found[0].Type, ref.Name, found[1].Type, ref.Name)
		return types.EntityUID{}, false
	}
	typ := ref.Type
	if !ref.Literal {
		typ = c.cfg.Qualify(typ)
	}
	return types.NewEntityUID(types.EntityType(typ), types.String(ref.Name)), true
}

// addEntityJSON parses one entity in Cedar's JSON format, of type typ
// when known, coercing attribute values to the types the schema declares,
// validates it and adds it to the result.
func (c *compiler) addEntityJSON(typ string, data []byte, pos diag.Position, subject string) {
	label := func() string { return subject }
	p, bad := c.parseEntity(typ, data, pos, label)
	if bad != nil {
		c.diags.Add(*bad)
		return
	}
	c.addParsed(p, pos, label)
}

// parsedEntity is an entity parseEntity made, with what adding it needs.
type parsedEntity struct {
	ok     bool
	uid    types.EntityUID
	entity Entity
	// spiffeID is the entity's spiffe_id attribute when it is a string.
	spiffeID  types.String
	hasSPIFFE bool
}

// parseEntity parses one entity in Cedar's JSON format, of type typ when
// known, coercing attribute values to the types the schema declares, and
// validates it. It only reads the compiler, so entities parse in
// parallel; label names the entity's object for a problem.
func (c *compiler) parseEntity(typ string, data []byte, pos diag.Position, label func() string) (parsedEntity, *diag.Diagnostic) {
	var e types.Entity
	var err error
	if c.out.Schema != nil {
		var coerced exptypes.Entity
		if err = coerced.UnmarshalJSONWithSchema(data, c.schemaFor(typ)); err == nil {
			e = types.Entity(coerced)
		} else if c.validator != nil {
			return parsedEntity{}, &diag.Diagnostic{Pos: pos, Subject: label(), Message: "does not match the schema: " + repo.Excerpt(err.Error())}
		}
	}
	// Without a schema, or with validation off and a non-conforming
	// entity, the entity is taken as written.
	if c.out.Schema == nil || err != nil {
		if err := e.UnmarshalJSON(data); err != nil {
			return parsedEntity{}, &diag.Diagnostic{Pos: pos, Subject: label(), Message: "invalid entity: " + repo.Excerpt(err.Error())}
		}
	}
	p := parsedEntity{ok: true, uid: e.UID}
	if v, ok := e.Attributes.Get("spiffe_id"); ok {
		p.spiffeID, p.hasSPIFFE = v.(types.String)
	}
	p.entity = newEntity(e)
	return p, nil
}

// addParsed adds an entity parseEntity made, unless one with its UID
// exists.
func (c *compiler) addParsed(p parsedEntity, pos diag.Position, label func() string) {
	if prev, dup := c.entityPos[p.uid]; dup {
		c.diags.Add(diag.Diagnostic{Pos: pos, Subject: label(), Message: fmt.Sprintf("entity %s is already defined at %s", p.uid, prev)})
		return
	}
	if p.hasSPIFFE {
		c.spiffeIDs[p.uid] = p.spiffeID
	}
	c.out.Entities[p.uid] = p.entity
	c.entityPos[p.uid] = pos
}

// schemaFor is the schema to coerce and validate an entity of type typ
// by ("" when unknown). UnmarshalJSONWithSchema builds a validator for
// every entity, and a validator's constructor enumerates every request
// environment of the schema's actions: with a hundred thousand entities,
// that was a fifth of a build's allocation. Only an action entity (type
// Action or ...::Action, as Cedar's validator tells them) is checked
// against the actions; for any other the schema without them gives the
// same coercion and the same verdict.
func (c *compiler) schemaFor(typ string) *resolved.Schema {
	if c.entitySchema == nil || typ == "" || typ == "Action" || strings.HasSuffix(typ, "::Action") {
		return c.out.Schema
	}
	return c.entitySchema
}

// entityFile reads a file of Cedar JSON entities, reporting each entity's
// problems at the line where it starts.
func (c *compiler) entityFile(f *repo.File) {
	lines := newLineIndex(f.Data)
	dec := jsontext.NewDecoder(bytes.NewReader(f.Data))
	fail := func(err error) {
		off := dec.InputOffset()
		var se *jsontext.SyntacticError
		if errors.As(err, &se) {
			off = se.ByteOffset
		}
		c.diags.Errorf(lines.pos(f.Path, off), "invalid JSON: %s", repo.Excerpt(err.Error()))
	}
	tok, err := dec.ReadToken()
	if err != nil {
		fail(err)
		return
	}
	if tok.Kind() != '[' {
		c.diags.Errorf(lines.pos(f.Path, 0), "an entities file holds a JSON array of entities")
		return
	}
	for dec.PeekKind() != ']' {
		start := dec.InputOffset()
		val, err := dec.ReadValue()
		if err != nil {
			fail(err)
			return
		}
		// InputOffset is before the comma and white space that precede
		// the value.
		start = skipSpace(f.Data, start)
		var probe struct {
			UID *types.EntityUID `json:"uid"`
		}
		subject := ""
		if jsonv2.Unmarshal(val, &probe) == nil && probe.UID != nil {
			subject = probe.UID.String()
		}
		pos := lines.pos(f.Path, start)
		if probe.UID != nil && c.repo.HasIdentities() && c.isIdentityType(probe.UID.Type) {
			// Guardrails check identity objects; an identity defined here
			// would escape every one of them (owner, expiry, review).
			c.diags.Errorf(pos, "%s: users, service accounts, groups and teams are declared in identities/, where the guardrails check them, not in entity files", subject)
			continue
		}
		typ := ""
		if probe.UID != nil {
			typ = string(probe.UID.Type)
		}
		c.addEntityJSON(typ, val, pos, subject)
		if probe.UID != nil && c.repo.HasIdentities() {
			c.checkMemberships(*probe.UID, pos, subject)
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		fail(err)
		return
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		c.diags.Errorf(lines.pos(f.Path, dec.InputOffset()), "unexpected data after the entities array")
	}
}

// checkMemberships refuses an entity of an entity file that is, or is a
// member of, an entity grants make principals members of: only a grant
// (an Entitlement or Exception, which the guardrails check) gives an
// access profile, and only an expiry makes an account expired.
func (c *compiler) checkMemberships(uid types.EntityUID, pos diag.Position, subject string) {
	e, ok := c.out.Entities[uid]
	if !ok || c.entityPos[uid] != pos {
		return
	}
	bad := c.isMembershipType(uid.Type)
	for _, p := range e.Parents {
		bad = bad || c.isMembershipType(p.Type)
	}
	if bad {
		c.diags.Errorf(pos, "%s: access profiles are given by Entitlements and Exceptions in identities/, and expiry by a ServiceAccount's expires:, not by entity files", subject)
		delete(c.out.Entities, uid)
		delete(c.entityPos, uid)
		delete(c.spiffeIDs, uid)
	}
}

// isMembershipType reports whether typ is one of the entity types whose
// members grants and expiries make.
func (c *compiler) isMembershipType(typ types.EntityType) bool {
	return string(typ) == c.cfg.Qualify(profileType) || string(typ) == c.cfg.Qualify(expiredType)
}

// isIdentityType reports whether typ is one of the entity types cedargate
// generates for identity kinds.
func (c *compiler) isIdentityType(typ types.EntityType) bool {
	for _, k := range []repo.Kind{repo.KindUser, repo.KindServiceAccount, repo.KindGroup, repo.KindTeam} {
		if string(typ) == c.cfg.Qualify(string(k)) {
			return true
		}
	}
	return false
}

// checkSPIFFEIDs refuses two entities claiming one SPIFFE id: front ends
// map a caller's workload identity to the entity that has it, which must
// be one.
func (c *compiler) checkSPIFFEIDs() {
	owner := map[string]types.EntityUID{}
	// Only the entities with a spiffe_id are sorted (by their text, as
	// reports name them): sorting every entity's text was most of the
	// check's time.
	type claim struct {
		uid  types.EntityUID
		text string
		id   types.String
	}
	claims := make([]claim, 0, len(c.spiffeIDs))
	for uid, id := range c.spiffeIDs {
		claims = append(claims, claim{uid, uid.String(), id})
	}
	slices.SortFunc(claims, func(a, b claim) int { return strings.Compare(a.text, b.text) })
	for _, cl := range claims {
		uid, id := cl.uid, cl.id
		if c.repo.HasIdentities() && string(uid.Type) != c.cfg.Qualify(string(repo.KindServiceAccount)) {
			// Front ends map a SPIFFE id to the entity that has it; only a
			// ServiceAccount, which the guardrails check, may be one.
			c.diags.Errorf(c.entityPos[uid], "%s: only a ServiceAccount may have a spiffe_id (it names a workload's identity)", uid)
			continue
		}
		if prev, dup := owner[string(id)]; dup {
			c.diags.Errorf(c.entityPos[uid], "%s: SPIFFE id %s is already the spiffe_id of %s (%s); a workload identity names one entity", uid, id, prev, c.entityPos[prev])
			continue
		}
		owner[string(id)] = uid
	}
}

func skipSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) && (data[off] == ' ' || data[off] == '\n' || data[off] == '\t' || data[off] == '\r' || data[off] == ',') {
		off++
	}
	return off
}

// lineIndex maps byte offsets to line and column.
type lineIndex []int

func newLineIndex(data []byte) lineIndex {
	idx := lineIndex{0}
	for i, b := range data {
		if b == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

func (l lineIndex) pos(file string, off int64) diag.Position {
	// l[0] is 0, so the line is the last start at or before off.
	line, found := slices.BinarySearch(l, int(off))
	if !found {
		line--
	}
	return diag.Position{File: file, Line: line + 1, Col: int(off) - l[line] + 1}
}
