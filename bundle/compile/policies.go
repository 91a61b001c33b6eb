package compile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
)

// Origins of bundle policies and grants.
const (
	OriginPolicy      = "policy"
	OriginEntitlement = string(repo.KindEntitlement)
	OriginException   = string(repo.KindException)
	OriginExpiry      = string(repo.KindServiceAccount)
	// OriginProfile is the origin of a profile's template policies.
	OriginProfile = string(repo.KindAccessProfile)
)

func (c *compiler) policies() {
	for _, f := range c.repo.Policies {
		c.policyFile(f)
	}
	// Every profile is checked, granted or not: a broken profile nobody
	// holds yet must not wait for its first grant to fail.
	for _, ap := range c.view.Profiles {
		c.profile(ap.Name, ap.Pos, ap.Label())
	}
	for _, e := range c.view.Entitlements {
		c.grant("entitlement", OriginEntitlement, &e.Meta, e.Subject, e.Profile, e.Expires)
	}
	for _, e := range c.view.Exceptions {
		if e.IsGrant() {
			c.grant("exception", OriginException, &e.Meta, e.Subject, e.Profile, e.Expires)
		}
	}
	c.templates()
	for _, s := range c.view.ServiceAccounts {
		c.expiry(s)
	}
	c.memberships()
}

// policyFile adds a file of hand-written policies. A policy's id is its
// @id annotation, or "<path>#<n>" with n its 0-based index in the file.
func (c *compiler) policyFile(f *repo.File) {
	list, err := cedar.NewPolicyListFromBytes(f.Path, f.Data)
	if err != nil {
		c.diags.Add(cedarError(f.Path, string(f.Data), diag.Position{Line: 1, Col: 1}, err))
		return
	}
	for i, p := range list {
		id := fmt.Sprintf("%s#%d", f.Path, i)
		if a, ok := p.Annotations()["id"]; ok {
			id = string(a)
		}
		pos := diag.Position{File: f.Path, Line: p.Position().Line, Col: p.Position().Column}
		if id == "" {
			c.diags.Errorf(pos, "@id annotation is empty")
			continue
		}
		if err := repo.CheckIdent(id); err != nil {
			c.diags.Errorf(pos, "@id %q %v", id, err)
			continue
		}
		// The policy's text is read again only when it has problems.
		text := func() *policyText { return handWritten(f, p.Position().Offset, pos) }
		c.add(Policy{Policy: bundle.Policy{ID: id, Source: pos.String(), Origin: OriginPolicy}, Pos: pos, Parsed: p}, true, text)
	}
}

// add validates a policy against the schema and adds it. text, when not
// nil, reads the policy's source, where each problem is placed at its
// expression; otherwise problems are at the policy's position.
func (c *compiler) add(p Policy, validate bool, text func() *policyText) {
	if validate && c.validator != nil {
		ast := (*expast.Policy)(p.Parsed.AST())
		// One diagnostic per problem: the validator joins them in an
		// order that varies from run to run.
		msgs := diag.Problems(c.validator.Policy("", ast))
		var pt *policyText
		if len(msgs) > 0 && text != nil {
			pt = text()
		}
		for _, msg := range msgs {
			if msg == noApplicableAction && slices.ContainsFunc(msgs, unknownEntity) {
				continue // follows from the unknown type or action
			}
			pr := c.locate(ast, pt, msg)
			c.diags.Add(diag.Diagnostic{Pos: cmp.Or(pr.pos, p.Pos), Subject: fmt.Sprintf("policy %q", p.ID), Message: pr.String()})
		}
	}
	p.Cedar = string(p.Parsed.MarshalCedar())
	c.out.Policies = append(c.out.Policies, p)
}

// noApplicableAction is what the validator says, too, of a scope that
// names an unknown type or action.
const noApplicableAction = "unable to find an applicable action given the policy scope constraints"

func unknownEntity(msg string) bool {
	return unknownType.MatchString(msg) || unknownAct.MatchString(msg)
}

// String renders the problem with its hint.
func (pr problem) String() string {
	if pr.hint == "" {
		return pr.msg
	}
	return pr.msg + " (" + pr.hint + ")"
}

// profile is an access profile resolved to Cedar scope text, once per
// profile however many grants use it.
type profile struct {
	meta *repo.AccessProfile
	ok   bool
	// uid is the profile's entity, which its holders are members of;
	// granted is set once a grant that compiles holds it.
	uid     types.EntityUID
	granted bool
	// perms holds, per permission, the action scope, the resource scopes
	// and the when clause.
	perms []permission
}

type permission struct {
	action    string
	resources []string
	when      string
	// whenPos is where when is written (see Policy.When).
	whenPos diag.Position
}

func (c *compiler) profile(name string, at diag.Position, subject string) *profile {
	if p, ok := c.profiles[name]; ok {
		return p
	}
	if c.profileMeta == nil {
		// Every profile is compiled, and grants name them: a search of
		// the list for each was quadratic (some 3 s at a million
		// identities).
		c.profileMeta = make(map[string]*repo.AccessProfile, len(c.view.Profiles))
		for _, ap := range c.view.Profiles {
			c.profileMeta[ap.Name] = ap
		}
	}
	meta := c.profileMeta[name]
	if meta == nil {
		var names []string
		for _, ap := range c.view.Profiles {
			names = append(names, ap.Name)
		}
		msg := fmt.Sprintf("no AccessProfile named %q in environment %q", name, c.view.Env)
		if len(names) > 0 {
			msg += " (profiles: " + strings.Join(names, ", ") + ")"
		}
		c.diags.Add(diag.Diagnostic{Pos: at, Subject: subject, Message: msg})
		return nil
	}
	p := &profile{meta: meta, ok: true, uid: types.NewEntityUID(types.EntityType(c.cfg.Qualify(profileType)), types.String(meta.Name))}
	before := c.diags.Errors()
	for _, perm := range meta.Permissions {
		out := permission{action: c.actionScope(perm.Actions), when: perm.When, whenPos: perm.WhenPos}
		if perm.WhenText.Line > 0 {
			out.whenPos = perm.WhenText
		}
		for _, r := range perm.Resources {
			out.resources = append(out.resources, c.resourceScope(r))
		}
		if perm.When != "" && c.checkWhen(meta, perm) {
			c.validateWhen(meta, perm, out)
		}
		p.perms = append(p.perms, out)
	}
	p.ok = c.diags.Errors() == before
	c.profiles[name] = p
	return p
}

// checkWhen parses a permission's condition on its own, so that a syntax
// error is reported at its line and column in the YAML file. It reports
// whether the condition parses.
func (c *compiler) checkWhen(meta *repo.AccessProfile, perm repo.Permission) bool {
	const prefix = "permit (principal, action, resource) when { "
	text := prefix + perm.When + " };"
	list, err := cedar.NewPolicyListFromBytes("", []byte(text))
	if err == nil && len(list) != 1 {
		c.diags.Add(diag.Diagnostic{Pos: perm.WhenPos, Subject: meta.Label(), Message: "when: must be one Cedar expression; it closes the condition and starts another policy"})
		return false
	}
	if err == nil {
		return true
	}
	base := perm.WhenPos
	if perm.WhenText.Line > 0 {
		base = perm.WhenText
	}
	d := cedarError(perm.WhenPos.File, text, diag.Position{Line: base.Line, Col: base.Col - len(prefix)}, err)
	if end := base.Col + utf8.RuneCountInString(perm.When); d.Pos.Line == base.Line && d.Pos.Col > end {
		// Past the condition, in the text that closes it: the condition
		// ends early.
		d.Pos.Col = end
		d.Message = strings.NewReplacer("found `}`", "found the end of the condition", "found `;`", "found the end of the condition").Replace(d.Message)
	}
	if perm.WhenText.Line == 0 {
		d.Pos = perm.WhenPos
	}
	d.Subject = meta.Label()
	d.Message = "when: " + d.Message
	c.diags.Add(d)
	return false
}

// validateWhen validates a permission's condition against the schema,
// once, for every principal its actions allow and on each of its
// resources, and reports each problem at its expression in the YAML file.
// A grant's policy then only narrows the principal, so a condition that
// passes here passes in every grant, and one that fails is reported here
// once, whether the profile is granted to nobody or to many.
func (c *compiler) validateWhen(meta *repo.AccessProfile, perm repo.Permission, out permission) {
	if c.validator == nil {
		return
	}
	text := condition(perm)
	seen := map[string]bool{}
	for _, res := range out.resources {
		scope := fmt.Sprintf("permit (principal, %s, %s)", out.action, res)
		bare, err1 := cedar.NewPolicyListFromBytes("", []byte(scope+";"))
		full, err2 := cedar.NewPolicyListFromBytes("", []byte(scope+" when { "+perm.When+" };"))
		if err1 != nil || err2 != nil || len(bare) != 1 || len(full) != 1 {
			continue
		}
		// Problems of the scope alone (an action that does not apply to
		// a resource type) belong to the grants, where they are reported.
		scopeOnly := map[string]bool{}
		for _, msg := range diag.Problems(c.validator.Policy("", (*expast.Policy)(bare[0].AST()))) {
			scopeOnly[msg] = true
		}
		ast := (*expast.Policy)(full[0].AST())
		for _, msg := range diag.Problems(c.validator.Policy("", ast)) {
			if scopeOnly[msg] || seen[msg] {
				continue
			}
			seen[msg] = true
			pr := c.locate(ast, text, msg)
			if hint := c.principalTypeHint(msg); hint != "" {
				pr.hint = hint
			}
			c.diags.Add(diag.Diagnostic{Pos: cmp.Or(pr.pos, perm.WhenPos), Subject: meta.Label(), Message: "when: " + pr.String()})
		}
	}
}

// actionScope renders the action part of a policy scope.
func (c *compiler) actionScope(actions []repo.Token) string {
	var uids []string
	for _, a := range actions {
		if a.Text == "*" {
			if len(actions) > 1 {
				c.diags.Errorf(a.Pos, "\"*\" already means every action; list it alone")
			}
			return "action"
		}
		uid, err := c.actionUID(a.Text)
		if err != nil {
			c.diags.Errorf(a.Pos, "%v", err)
			continue
		}
		uids = append(uids, uid.String())
	}
	if len(uids) == 1 {
		return "action == " + uids[0]
	}
	return "action in [" + strings.Join(uids, ", ") + "]"
}

// actionUID resolves an action name (read, or Acme::Action::"read") and
// checks that the schema declares it.
func (c *compiler) actionUID(s string) (types.EntityUID, error) {
	uid := types.NewEntityUID(types.EntityType(c.cfg.Qualify("Action")), types.String(s))
	if strings.Contains(s, `::"`) {
		var err error
		if uid, err = repo.ParseEntityUID(s); err != nil {
			return uid, err
		}
	}
	if c.out.Schema == nil {
		return uid, nil
	}
	if _, ok := c.out.Schema.Actions[uid]; ok {
		return uid, nil
	}
	var names []string
	for a := range c.out.Schema.Actions {
		if a.Type == uid.Type {
			names = append(names, string(a.ID))
		}
	}
	slices.Sort(names)
	return uid, fmt.Errorf("unknown action %s (the schema declares: %s)", uid, strings.Join(names, ", "))
}

// resourceScope renders the resource part of a policy scope for one
// resource selector: "*", "Type/*", or a reference to one resource.
func (c *compiler) resourceScope(t repo.Token) string {
	if t.Text == "*" {
		return "resource"
	}
	if typ, ok := strings.CutSuffix(t.Text, "/*"); ok {
		if _, err := types.NewEntityType(typ); err != nil {
			c.diags.Errorf(t.Pos, "%q is not a Cedar entity type", typ)
			return "resource"
		}
		typ = c.cfg.Qualify(typ)
		if c.out.Schema != nil {
			if _, known := c.out.Schema.Entities[types.EntityType(typ)]; !known {
				c.diags.Errorf(t.Pos, "unknown entity type %s (%s)", typ, c.typeHint(typ))
			}
		}
		return "resource is " + typ
	}
	uid, ok := c.resourceRef(t)
	if !ok {
		return "resource"
	}
	if _, exists := c.out.Entities[uid]; !exists {
		var ids []string
		for e := range c.out.Entities {
			if e.Type == uid.Type {
				ids = append(ids, string(e.ID))
			}
		}
		slices.Sort(ids)
		hint := ""
		if s := repo.Suggest(string(uid.ID), ids); s != "" {
			hint = fmt.Sprintf(" (did you mean %s?)", types.NewEntityUID(uid.Type, types.String(s)))
		}
		c.diags.Errorf(t.Pos, "no entity %s in environment %q%s: declare it as a Resource or in entities/", uid, c.view.Env, hint)
	}
	return "resource in " + uid.String()
}
