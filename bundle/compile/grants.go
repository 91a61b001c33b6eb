package compile

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
)

// Grants are data, not policies. An access profile compiles once, to
// template policies whose principal scope is `principal in` the
// profile's AccessProfile entity; a grant makes its subject a member of
// that entity (a parent edge) for the grant's validity window, which the
// bundle carries as a bundle.Grant. A ServiceAccount's expiry works the
// same way: from its expiry on, the account is a member of
// Expired::"ServiceAccount", which one template forbids everything. The
// bundle's policy count then follows the profiles, not the grants, while
// each decision still names the grant that allowed it (see
// bundle.Policy.Template) and time bounds stay exact (the decision
// engine hides a membership outside its window).

// Entity types of the memberships, in the repository namespace.
const (
	// profileType is the entity type of access profiles: who holds one is
	// a member of its entity.
	profileType = "AccessProfile"
	// expiredType is the entity type of the set that expired service
	// accounts join; its one entity is expiredSet.
	expiredType = "Expired"
	expiredSet  = "ServiceAccount"
)

// Grant is a compiled grant with what checking and explaining it needs.
type Grant struct {
	bundle.Grant
	Pos diag.Position
	// Object is the key ("Kind/name") of the identity object the grant
	// comes from: the Entitlement, Exception or ServiceAccount.
	Object string
}

// grantCheck is what validating a profile's policies for one kind of
// subject found: the problems by policy number, or the error that kept
// them from being generated.
type grantCheck struct {
	problems [][]string
	err      error
}

// grantCheckKey names a profile and a kind of subject: validation depends
// on the subject's type and on how the scope names it (== or in), never
// on which entity it is.
type grantCheckKey struct {
	profile string
	typ     types.EntityType
	members bool
}

// grant adds an entitlement or exception grant: a membership of its
// subject in the profile's entity, with the grant's expiry, and the
// checks of the policies it stands for: one per resource selector of each
// permission of the profile, with ids "<prefix>:<grant>#<n>" numbered in
// profile order.
func (c *compiler) grant(prefix, origin string, m *repo.Meta, subject, profileName string, expires *time.Time) {
	ref, err := repo.ParseRef(subject)
	if err != nil {
		c.diags.Add(diag.Diagnostic{Pos: m.FieldPos("subject"), Subject: m.Label(), Message: err.Error()})
		return
	}
	p := c.profile(profileName, m.FieldPos("profile"), m.Label())
	target, err := c.view.Resolve(ref, repo.KindUser, repo.KindServiceAccount, repo.KindGroup, repo.KindTeam)
	if err != nil {
		c.out.UnknownSubjects = append(c.out.UnknownSubjects, UnknownSubject{Grant: m, Err: err})
		return
	}
	if p == nil || !p.ok {
		return
	}
	// The id names the subject canonically (Kind/name), however it is
	// written, so that ids do not change when a reference is respelled.
	id := prefix + ":" + repo.GrantKey(m.Name, target.Key(), profileName)
	members := target.Kind != repo.KindUser && target.Kind != repo.KindServiceAccount
	uid := c.cfg.UID(target)
	if !c.checkGrant(p, uid, members, id, m) {
		return
	}
	p.granted = true
	c.member(uid, p.uid, Grant{Grant: bundle.Grant{ID: id, Source: m.Pos.String(), Origin: origin, Members: members, NotAfter: expires},
		Pos: m.Pos, Object: m.Key()})
}

// checkGrant reports at the grant the problems of the policies it stands
// for, as if each were written out with the grant's subject in its
// scope. It reports false when they cannot be generated at all.
func (c *compiler) checkGrant(p *profile, uid types.EntityUID, members bool, id string, m *repo.Meta) bool {
	key := grantCheckKey{profile: p.meta.Name, typ: uid.Type, members: members}
	chk, ok := c.grantChecks[key]
	if !ok {
		chk = c.validateGrant(p, uid, members)
		c.grantChecks[key] = chk
	}
	if chk.err != nil {
		// checkWhen reports a broken condition too, but a grant is never
		// dropped without an error where it is written.
		c.diags.Add(diag.Diagnostic{Pos: m.Pos, Subject: m.Label(), Message: fmt.Sprintf("cannot generate its policy from %s: %v", p.meta.Label(), chk.err)})
		return false
	}
	for n, msgs := range chk.problems {
		for _, msg := range msgs {
			c.diags.Add(diag.Diagnostic{Pos: m.Pos, Subject: fmt.Sprintf("policy %q", fmt.Sprintf("%s#%d", id, n)), Message: msg})
		}
	}
	return true
}

// validateGrant validates, against the schema, the policies of profile p
// written out for subject uid.
func (c *compiler) validateGrant(p *profile, uid types.EntityUID, members bool) grantCheck {
	var chk grantCheck
	for _, perm := range p.perms {
		for _, res := range perm.resources {
			pol, err := grantPolicy(grantScope(uid, members), perm, res)
			if err != nil {
				return grantCheck{err: err}
			}
			ast := (*expast.Policy)(pol.AST())
			var msgs []string
			if c.validator != nil {
				all := diag.Problems(c.validator.Policy("", ast))
				for _, msg := range all {
					if msg == noApplicableAction && slices.ContainsFunc(all, unknownEntity) {
						continue // follows from the unknown type or action
					}
					msgs = append(msgs, c.locate(ast, nil, msg).String())
				}
			}
			chk.problems = append(chk.problems, msgs)
		}
	}
	return chk
}

// grantScope is the principal scope of a grant's policies: `==` for a
// user or service account, `in` for a group or team, whose members hold
// the grant too.
func grantScope(uid types.EntityUID, members bool) string {
	if members {
		return "principal in " + uid.String()
	}
	return "principal == " + uid.String()
}

// grantPolicy parses the policy of one resource selector res of a
// permission with the principal scope given.
func grantPolicy(principal string, perm permission, res string) (*cedar.Policy, error) {
	text := fmt.Sprintf("permit (\n  %s,\n  %s,\n  %s\n)", principal, perm.action, res)
	if perm.when != "" {
		text += "\nwhen { " + perm.when + " }"
	}
	text += ";"
	list, err := cedar.NewPolicyListFromBytes("", []byte(text))
	if err == nil && len(list) != 1 {
		err = fmt.Errorf("it holds %d policies", len(list))
	}
	if err != nil {
		return nil, err
	}
	return list[0], nil
}

// templates generates the template policies of every profile granted in
// the environment: one per resource selector of each permission, with ids
// "profile:<name>#<n>", numbered as the policies of its grants are.
func (c *compiler) templates() {
	for _, ap := range c.view.Profiles {
		p := c.profiles[ap.Name]
		if p == nil || !p.granted {
			continue
		}
		c.out.Entities[p.uid] = newEntity(types.Entity{UID: p.uid})
		n := 0
		for _, perm := range p.perms {
			for _, res := range perm.resources {
				pol, err := grantPolicy("principal in "+p.uid.String(), perm, res)
				if err != nil {
					// Every grant of the profile has reported it.
					continue
				}
				c.add(Policy{Policy: bundle.Policy{ID: fmt.Sprintf("profile:%s#%d", ap.Name, n), Source: ap.Pos.String(), Origin: OriginProfile, Template: true},
					Pos: ap.Pos, Parsed: pol, Object: ap.Key(), When: perm.whenPos}, false, nil)
				n++
			}
		}
	}
}

// expiry adds, for a service account with an expiry, its membership in
// the expired set from that instant on, so that the expiry template
// denies it everything with no rebuild. The membership's id is
// "expired:ServiceAccount/<name>", the id decisions name it by.
func (c *compiler) expiry(s *repo.ServiceAccount) {
	if s.Expires == nil {
		return
	}
	set := types.NewEntityUID(types.EntityType(c.cfg.Qualify(expiredType)), expiredSet)
	if _, ok := c.out.Entities[set]; !ok {
		c.out.Entities[set] = newEntity(types.Entity{UID: set})
		// One template for every account. Its source is the settings
		// file, which says which repository it belongs to: decisions
		// name the account's membership, at its expires:, not the
		// template. It is not validated: in a schema where no action
		// applies to service accounts, strict validation would reject a
		// policy that can never match, and this one is correct by
		// construction.
		text := fmt.Sprintf("forbid (principal in %s, action, resource);", set)
		list, err := cedar.NewPolicyListFromBytes("", []byte(text))
		if err != nil {
			c.diags.Errorf(s.Pos, "generating expiry policy: %v", err)
			return
		}
		pos := diag.Position{File: repo.ConfigFile, Line: 1, Col: 1}
		c.add(Policy{Policy: bundle.Policy{ID: "expired:" + string(repo.KindServiceAccount), Source: pos.String(), Origin: OriginExpiry, Template: true},
			Pos: pos, Parsed: list[0], Object: string(repo.KindServiceAccount)}, false, nil)
	}
	pos := s.FieldPos("expires")
	c.member(c.cfg.UID(&s.Meta), set, Grant{Grant: bundle.Grant{ID: "expired:" + s.Key(), Source: pos.String(), Origin: OriginExpiry, NotBefore: s.Expires},
		Pos: pos, Object: s.Key()})
}

// member records grant g: uid is a member of parent while g is valid.
func (c *compiler) member(uid, parent types.EntityUID, g Grant) {
	g.Principal = bundle.UID{Type: string(uid.Type), ID: string(uid.ID)}
	g.Parent = bundle.UID{Type: string(parent.Type), ID: string(parent.ID)}
	c.out.Grants = append(c.out.Grants, g)
	c.edges[uid] = append(c.edges[uid], parent)
}

// memberships adds the parent edges of the grants to their subjects'
// entities.
func (c *compiler) memberships() {
	for uid, parents := range c.edges {
		if e, ok := c.out.Entities[uid]; ok {
			c.out.Entities[uid] = e.withParents(parents...)
		}
	}
	slices.SortFunc(c.out.Grants, func(a, b Grant) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(c.out.Grants); i++ {
		if a, b := c.out.Grants[i-1], c.out.Grants[i]; a.ID == b.ID {
			c.diags.Errorf(b.Pos, "grant id %q is already used by the grant at %s", b.ID, a.Pos)
		}
	}
}
