package drift

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/repo"
)

// scim matches Users by the mapping's user key (userName by default; see
// index.scimUser) and Groups by displayName (see index.scimGroup), and
// compares group members both ways. It covers Users and Groups, so every
// unmatched one in code is code-only. A disabled live user that code does
// not declare is no drift: it is how a directory keeps a person who left.
func (c *comparer) scim(s *inventory.Snapshot, m repo.InventorySource) []Finding {
	var out []Finding
	// userKey is the value a live user is matched by; members name
	// users by userName, so they are translated through it.
	userKey := func(o *inventory.Object) string {
		if m.UserKey == repo.UserKeyUserName || m.UserKey == "" {
			return o.Key
		}
		return o.Attributes[m.UserKey]
	}
	keyOf := map[string]string{}
	for i := range s.Objects {
		if o := &s.Objects[i]; o.Kind == inventory.User {
			keyOf[o.Key] = userKey(o)
		}
	}
	seenUsers := map[*repo.User]bool{}
	// When several live users find one User (ana and ana@example.com),
	// the best-ranked match is that User, then the first in key order;
	// the others are live-only.
	type match struct {
		key  string
		rank int
	}
	best := map[*repo.User]match{}
	for _, o := range s.Objects {
		if o.Kind != inventory.User {
			continue
		}
		if u, rank := c.idx.scimUser(keyOf[o.Key]); u != nil {
			if b, ok := best[u]; !ok || rank < b.rank {
				best[u] = match{o.Key, rank}
			}
		}
	}
	seenGroups := map[*repo.Group]bool{}
	liveMembers := map[*repo.Group]map[*repo.User]bool{}
	for i := range s.Objects {
		o := &s.Objects[i]
		switch o.Kind {
		case inventory.User:
			u, _ := c.idx.scimUser(keyOf[o.Key])
			if u == nil {
				if !o.Active {
					continue
				}
				out = append(out, liveOnly(s.Source, o, fmt.Sprintf("add a User named %s (or give an existing User scim_username: %s), or remove it from the directory", o.Name, o.Key)))
				continue
			}
			if b := best[u]; b.key != o.Key {
				out = append(out, liveOnly(s.Source, o, fmt.Sprintf("User %s matches %s better; give the User scim_username: to say which one it is, and add the other", u.Name, b.key)))
				continue
			}
			seenUsers[u] = true
			if !o.Active {
				out = append(out, live(s.Source, o, Disabled, "User/"+u.Name, u.Pos.String(),
					fmt.Sprintf("live user %s is disabled, but code still declares User %s; remove the user from code (or enable the account live)", o.Key, u.Name)))
			}
			out = append(out, c.credentials(s.Source, o, &u.Meta, nil)...)
		case inventory.Group:
			g := c.idx.scimGroup(o.Key)
			if g == nil {
				out = append(out, liveOnly(s.Source, o, fmt.Sprintf("add a Group named %s, or remove it from the directory", o.Key)))
				continue
			}
			seenGroups[g] = true
			members := map[*repo.User]bool{}
			liveMembers[g] = members
			for _, m := range o.Members {
				u, _ := c.idx.scimUser(keyOf[m])
				if u == nil || best[u].key != m {
					// A member code does not know is reported as
					// live-only (or unresolved) on its own.
					continue
				}
				members[u] = true
				if !slices.ContainsFunc(u.Groups, func(t repo.Token) bool { return groupName(t) == g.Name }) {
					out = append(out, live(s.Source, o, Membership, "User/"+u.Name, u.FieldPos("groups").String(),
						fmt.Sprintf("live group %s has member %s, whom code does not put in Group %s; add %s to the user's groups, or remove the member live", o.Key, m, g.Name, g.Name)))
				}
			}
		}
	}
	// Reverse direction: memberships code declares that the live group
	// lacks, for users and groups both sides know.
	byName := map[*repo.Group]*inventory.Object{}
	for i := range s.Objects {
		if o := &s.Objects[i]; o.Kind == inventory.Group {
			if g := c.idx.scimGroup(o.Key); g != nil {
				byName[g] = o
			}
		}
	}
	for _, u := range c.v.Users {
		if !seenUsers[u] {
			out = append(out, codeOnly(s.Source, &u.Meta, u.Pos.String(), fmt.Sprintf("User %s has no live SCIM user (userName %s); provision it, or remove it from code", u.Name, scimNameOf(u))))
			continue
		}
		for _, t := range u.Groups {
			g := c.idx.groups[groupName(t)]
			if g == nil || !seenGroups[g] || liveMembers[g][u] {
				continue
			}
			o := byName[g]
			out = append(out, live(s.Source, o, Membership, "User/"+u.Name, t.Pos.String(),
				fmt.Sprintf("code puts User %s in Group %s, but the live group lacks the member; provision the membership, or remove the group from the user's groups", u.Name, g.Name)))
		}
	}
	for _, g := range c.v.Groups {
		if !seenGroups[g] && !c.awsGroupNames[g.Name] {
			dn := g.Name
			if g.SCIMDisplayName != "" {
				dn = g.SCIMDisplayName
			}
			out = append(out, codeOnly(s.Source, &g.Meta, g.Pos.String(), fmt.Sprintf("Group %s has no live SCIM group (displayName %s); provision it, or remove it from code", g.Name, dn)))
		}
	}
	return out
}

func scimNameOf(u *repo.User) string {
	if u.SCIMUserName != "" {
		return u.SCIMUserName
	}
	return u.Name + " or " + u.Name + "@…"
}

// irsaAnnotation is the attribute the kubernetes source gives the EKS
// workload-identity (IRSA) role of a ServiceAccount.
const irsaAnnotation = "annotation:eks.amazonaws.com/role-arn"

// kubernetes matches ServiceAccounts by the kubernetes field and checks
// bindings to subjects code knows. It covers ServiceAccounts that write a
// kubernetes field.
func (c *comparer) kubernetes(s *inventory.Snapshot, m repo.InventorySource) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for i := range s.Objects {
		o := &s.Objects[i]
		if slices.Contains(m.SkipNamespaces, o.Attributes["namespace"]) {
			continue
		}
		switch o.Kind {
		case inventory.ServiceAccount:
			sa := c.idx.k8s[o.Key]
			if sa == nil {
				// Kubernetes creates a "default" ServiceAccount in every
				// namespace; it is no one's drift.
				if strings.HasSuffix(o.Key, "/default") {
					continue
				}
				out = append(out, liveOnly(s.Source, o, fmt.Sprintf("add a ServiceAccount with kubernetes: %s, or delete it from the cluster", o.Key)))
				continue
			}
			seen[o.Key] = true
			// IRSA: the role the pod assumes is the annotation's; code
			// says which role the account is.
			if role := o.Attributes[irsaAnnotation]; role != "" && sa.AWSARN != "" && role != sa.AWSARN {
				out = append(out, live(s.Source, o, Attribute, "ServiceAccount/"+sa.Name, sa.FieldPos("aws_arn").String(),
					fmt.Sprintf("Kubernetes ServiceAccount %s assumes role %s (annotation eks.amazonaws.com/role-arn), but code says ServiceAccount %s is %s; fix the annotation, or aws_arn", o.Key, role, sa.Name, sa.AWSARN)))
			}
			out = append(out, c.credentials(s.Source, o, &sa.Meta, sa)...)
		case inventory.Binding:
			out = append(out, c.binding(s.Source, o)...)
		}
	}
	for _, sa := range c.v.ServiceAccounts {
		for _, t := range sa.Kubernetes {
			ns, _, _ := strings.Cut(t.Text, "/")
			if !seen[t.Text] && !slices.Contains(m.SkipNamespaces, ns) {
				out = append(out, codeOnly(s.Source, &sa.Meta, t.Pos.String(), fmt.Sprintf("ServiceAccount %s names Kubernetes ServiceAccount %s, which the cluster does not have; create it, or remove the entry from code", sa.Name, t.Text)))
			}
		}
	}
	return out
}

// binding reports, for each subject of a binding that is a Group or
// ServiceAccount code knows, each role the binding gives that code does
// not grant it: code grants a role when an Entitlement (or break-glass
// Exception) gives the subject an access profile named as the role
// (ClusterRole/edit → profile edit; Role/payments/ledger-reader →
// ledger-reader). Users and groups code does not know are left alone.
func (c *comparer) binding(src string, o *inventory.Object) []Finding {
	var out []Finding
	for _, m := range o.Members {
		kind, name, _ := strings.Cut(m, ":")
		var subject string
		var meta *repo.Meta
		switch kind {
		case "Group":
			if g := c.idx.groups[name]; g != nil {
				subject, meta = "Group/"+g.Name, &g.Meta
			}
		case "ServiceAccount":
			if sa := c.idx.k8s[name]; sa != nil {
				subject, meta = "ServiceAccount/"+sa.Name, &sa.Meta
			}
		}
		if meta == nil {
			continue
		}
		for _, role := range o.Roles {
			profile := role[strings.LastIndex(role, "/")+1:]
			if c.idx.grants[subject+"\x00"+profile] || c.idx.grants[meta.Name+"\x00"+profile] {
				continue
			}
			out = append(out, live(src, o, BindingUnknown, subject, meta.Pos.String(),
				fmt.Sprintf("binding %s gives %s to %s, which code does not grant; add an Entitlement of profile %s to %s, or delete the binding", o.Key, role, subject, profile, subject)))
		}
	}
	return out
}

// awsiam matches IAM roles and users to ServiceAccounts by aws_arn, and
// other IAM users to Users by name. It covers ServiceAccounts that write
// an aws_arn; people are usually not IAM users, so a code User without
// one is not code-only here. The matched users' IAM group memberships are
// compared by iamGroups.
func (c *comparer) awsiam(s *inventory.Snapshot) []Finding {
	var out []Finding
	seen := map[string]bool{}
	members := map[string]iamMember{}
	for i := range s.Objects {
		o := &s.Objects[i]
		if o.Kind != inventory.User && o.Kind != inventory.ServiceAccount {
			continue
		}
		if sa := c.idx.arns[o.Key]; sa != nil {
			seen[o.Key] = true
			if isIAMUser(o) {
				members[o.Key] = iamMember{"ServiceAccount/" + sa.Name, &sa.Meta, sa.Groups}
			}
			out = append(out, c.credentials(s.Source, o, &sa.Meta, sa)...)
			continue
		}
		if o.Kind == inventory.User {
			if u := c.idx.users[o.Name]; u != nil {
				members[o.Key] = iamMember{"User/" + u.Name, &u.Meta, u.Groups}
				out = append(out, c.credentials(s.Source, o, &u.Meta, nil)...)
				continue
			}
			out = append(out, liveOnly(s.Source, o, fmt.Sprintf("add a User named %s (or a ServiceAccount with aws_arn: %s), or delete it from IAM", o.Name, o.Key)))
			continue
		}
		out = append(out, liveOnly(s.Source, o, fmt.Sprintf("add a ServiceAccount with aws_arn: %s, or delete it from IAM", o.Key)))
	}
	for _, sa := range c.v.ServiceAccounts {
		if sa.AWSARN != "" && !seen[sa.AWSARN] {
			out = append(out, codeOnly(s.Source, &sa.Meta, sa.FieldPos("aws_arn").String(), fmt.Sprintf("ServiceAccount %s names %s, which IAM does not have; create it, or remove aws_arn from code", sa.Name, sa.AWSARN)))
		}
	}
	return append(out, c.iamGroups(s, members)...)
}

// credentials checks the active credentials of live object o, which
// matches the code object m (sa when it is a ServiceAccount).
func (c *comparer) credentials(src string, o *inventory.Object, m *repo.Meta, sa *repo.ServiceAccount) []Finding {
	var out []Finding
	at := c.opts.At
	code := string(m.Kind) + "/" + m.Name
	for _, cr := range o.Credentials {
		if !cr.Active {
			continue
		}
		name := cr.ID
		if sa != nil && sa.Expires != nil && !at.Before(*sa.Expires) {
			out = append(out, live(src, o, CredentialOnExpired, code, m.FieldPos("expires").String(),
				fmt.Sprintf("%s %s is active, but %s expired %s; disable the credential and remove the account from code, or extend expires", cr.Type, name, code, sa.Expires.UTC().Format(time.DateOnly))))
		}
		if sa != nil && cr.Type == "access-key" && !cr.Created.IsZero() {
			rotation, pos := c.v.Config.Guardrails.CredentialMaxRotation, m.Pos.String()
			if sa.Credential != nil && sa.Credential.Rotation > 0 {
				rotation, pos = sa.Credential.Rotation, m.FieldPos("credential.rotation").String()
			}
			if rotation > 0 && at.Sub(cr.Created) > rotation {
				out = append(out, live(src, o, CredentialStale, code, pos,
					fmt.Sprintf("%s %s was issued %s, %s ago, older than the rotation of %s; rotate it and update credential.last_rotated", cr.Type, name, cr.Created.UTC().Format(time.DateOnly), days(at.Sub(cr.Created)), days(rotation))))
			}
		}
		if cr.UsedKnown {
			last, what := cr.LastUsed, "last used"
			if last.IsZero() {
				last, what = cr.Created, "never used since it was issued"
			}
			if !last.IsZero() && at.Sub(last) > c.opts.UnusedAfter {
				out = append(out, live(src, o, CredentialUnused, code, m.Pos.String(),
					fmt.Sprintf("%s %s %s %s (%s ago, more than %s); disable it if nothing needs it", cr.Type, name, what, last.UTC().Format(time.DateOnly), days(at.Sub(last)), days(c.opts.UnusedAfter))))
			}
		}
	}
	return out
}

// days renders d in whole days, as rotations are written.
func days(d time.Duration) string {
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}
