package baseline

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/repo"
)

// scim imports Groups (named by displayName, with scim_displayname when
// the name had to change) and active Users (with scim_username when the
// value the mapping matches by is not their name), each user in the
// groups that list it as a member. Disabled users are left out: drift
// does not report a disabled account code lacks.
func (im *importer) scim(s Source) {
	src, m := s.Mapping.Name, s.Mapping
	im.scimRead = true
	groups := map[string]*object{} // by displayName
	for i := range s.Snapshot.Objects {
		o := &s.Snapshot.Objects[i]
		if o.Kind != inventory.Group {
			continue
		}
		name := im.name(repo.KindGroup, o.Key)
		g := &object{kind: repo.KindGroup}
		g.set("name", name)
		if name != o.Key {
			g.set("scim_displayname", o.Key)
		}
		groups[o.Key] = g
		im.groups[name] = g
		im.add(src, g)
	}
	// A group's members are users (by userName) and nested groups (by
	// displayName); each gets the group in its groups.
	memberOf := map[string][]string{}
	for i := range s.Snapshot.Objects {
		o := &s.Snapshot.Objects[i]
		if o.Kind != inventory.Group {
			continue
		}
		for _, member := range o.Members {
			memberOf[member] = append(memberOf[member], o.Key)
		}
	}
	for dn, g := range groups {
		for _, parent := range memberOf[dn] {
			if p := groups[parent]; p != nil && p != g {
				g.appendTo("groups", p.get("name").(string))
			}
		}
	}
	for i := range s.Snapshot.Objects {
		o := &s.Snapshot.Objects[i]
		if o.Kind != inventory.User {
			continue
		}
		if !o.Active {
			im.note(src, o, "not imported: disabled in the directory")
			continue
		}
		key := o.Key
		if m.UserKey != repo.UserKeyUserName && m.UserKey != "" {
			key = o.Attributes[m.UserKey]
			if key == "" {
				im.note(src, o, fmt.Sprintf("not imported: has no %s, which the mapping matches users by", m.UserKey))
				continue
			}
		}
		local := key
		if at := strings.LastIndexByte(local, '@'); at > 0 {
			local = local[:at]
		}
		name := im.name(repo.KindUser, local)
		u := &object{kind: repo.KindUser}
		u.set("name", name)
		if name != key {
			u.set("scim_username", key)
		}
		if o.DisplayName != "" {
			u.set("description", o.DisplayName)
		}
		for _, dn := range memberOf[o.Key] {
			if g := groups[dn]; g != nil {
				u.appendTo("groups", g.get("name").(string))
			}
		}
		im.users[name] = u
		im.add(src, u)
	}
}

// kubernetes imports ServiceAccounts (but each namespace's default and
// those in skip_namespaces) with their kubernetes field, and each binding
// of a role to an imported ServiceAccount or Group as an Entitlement to an
// access profile named as the role.
func (im *importer) kubernetes(s Source) {
	src, m := s.Mapping.Name, s.Mapping
	skip := func(o *inventory.Object) bool {
		return slices.Contains(m.SkipNamespaces, o.Attributes["namespace"])
	}
	for i := range s.Snapshot.Objects {
		o := &s.Snapshot.Objects[i]
		if o.Kind != inventory.ServiceAccount || skip(o) || strings.HasSuffix(o.Key, "/default") {
			continue
		}
		if im.k8s[o.Key] != nil {
			continue // the same account in two files of one source
		}
		sa := &object{kind: repo.KindServiceAccount}
		sa.set("name", im.name(repo.KindServiceAccount, o.Name))
		sa.set("kubernetes", o.Key)
		if role := o.Attributes["annotation:eks.amazonaws.com/role-arn"]; role != "" && im.irsa[role] == nil {
			im.irsa[role] = sa
		}
		im.k8s[o.Key] = sa
		im.add(src, sa)
	}
	profiles := map[string]*object{}
	granted := map[string]bool{}
	for i := range s.Snapshot.Objects {
		o := &s.Snapshot.Objects[i]
		if o.Kind != inventory.Binding || skip(o) {
			continue
		}
		for _, member := range o.Members {
			kind, name, _ := strings.Cut(member, ":")
			var subject string
			switch kind {
			case "ServiceAccount":
				if sa := im.k8s[name]; sa != nil {
					subject = "ServiceAccount/" + sa.get("name").(string)
				}
			case "Group":
				if im.groups[name] != nil {
					subject = "Group/" + name
				}
			}
			if subject == "" {
				continue // drift leaves subjects code does not know alone
			}
			for _, role := range o.Roles {
				profile := role[strings.LastIndex(role, "/")+1:]
				if inventory.IdentityName(profile) != profile {
					im.note(src, o, fmt.Sprintf("not imported: gives %s, whose name cannot name an access profile (drift reports the binding as binding-unknown)", role))
					continue
				}
				p := profiles[profile]
				if p == nil {
					p = im.profile(src, profile)
					profiles[profile] = p
				}
				im.roleResource(src, p, role)
				if granted[subject+"\x00"+profile] {
					continue
				}
				granted[subject+"\x00"+profile] = true
				e := &object{kind: repo.KindEntitlement, comment: "From " + o.Key + "."}
				e.set("subject", subject)
				e.set("profile", profile)
				im.add(src, e)
			}
		}
	}
}

// profile returns a new access profile named name, granting the roles
// added to it by roleResource.
func (im *importer) profile(src, name string) *object {
	im.roles = true
	p := &object{kind: repo.KindAccessProfile}
	p.set("name", name)
	p.set("description", "Kubernetes roles named "+name+"; their rules stay in the cluster.")
	im.add(src, p)
	return p
}

// roleResource adds the Kubernetes role (ClusterRole/edit,
// Role/payments/reader) to profile p, writing its resource once.
func (im *importer) roleResource(src string, p *object, role string) {
	name := strings.ToLower(inventory.IdentityName(strings.ReplaceAll(role, "/", ".")))
	if key := string(repo.KindResource) + "/" + name; !im.names[key] {
		im.names[key] = true
		r := &object{kind: repo.KindResource}
		r.set("type", roleType)
		r.set("name", name)
		r.set("description", "Kubernetes "+role+".")
		im.add(src, r)
	}
	b, _ := p.get("permissions").(block)
	var resources []string
	if len(b) == 2 {
		resources = strings.Split(strings.TrimSuffix(strings.TrimPrefix(b[1], "  resources: ["), "]"), ", ")
	}
	ref := roleType + "/" + name
	if !slices.Contains(resources, ref) {
		resources = append(resources, ref)
		slices.Sort(resources)
	}
	p.set("permissions", block{"- actions: [" + roleAction + "]", "  resources: [" + strings.Join(resources, ", ") + "]"})
}

// awsiam imports IAM roles and users IAM holds as software as
// ServiceAccounts with their aws_arn (joining the Kubernetes
// ServiceAccount that assumes the role through EKS IRSA), with the date of
// their newest active access key; IAM users that are people as Users,
// unless a User of that name was imported already; and each IAM user's
// groups as Groups of the same name.
func (im *importer) awsiam(s Source) {
	src := s.Mapping.Name
	for i := range s.Snapshot.Objects {
		o := &s.Snapshot.Objects[i]
		var id *object
		switch o.Kind {
		case inventory.ServiceAccount:
			if sa := im.irsa[o.Key]; sa != nil && sa.get("aws_arn") == nil {
				sa.set("aws_arn", o.Key)
				credential(sa, o)
				continue
			}
			id = &object{kind: repo.KindServiceAccount}
			id.set("name", im.name(repo.KindServiceAccount, o.Name))
			id.set("aws_arn", o.Key)
			credential(id, o)
			im.add(src, id)
		case inventory.User:
			name := inventory.IdentityName(o.Name)
			if id = im.users[name]; id == nil {
				id = &object{kind: repo.KindUser}
				id.set("name", im.name(repo.KindUser, o.Name))
				id.comment = "IAM user " + o.Key + "."
				im.users[name] = id
				im.add(src, id)
				if im.scimRead {
					im.note(src, o, fmt.Sprintf("imported as User %s, a person the identity provider does not hold: drift reports it code-only against the SCIM source until one of the directories changes", id.get("name")))
				}
			}
		default:
			continue
		}
		im.iamGroups(src, s.Snapshot, o, id)
	}
}

// iamGroups puts id, the identity of IAM user o, in a Group named as each
// IAM group o is in (drift matches IAM groups to code Groups by name),
// writing the Group when no source wrote one of that name.
func (im *importer) iamGroups(src string, snap *inventory.Snapshot, o *inventory.Object, id *object) {
	for _, arn := range o.Groups {
		i := slices.IndexFunc(snap.Objects, func(g inventory.Object) bool { return g.Kind == inventory.Group && g.Key == arn })
		if i < 0 {
			continue
		}
		name := snap.Objects[i].Name
		if im.groups[name] == nil {
			g := &object{kind: repo.KindGroup, comment: "IAM group " + arn + "."}
			g.set("name", name)
			im.names[string(repo.KindGroup)+"/"+name] = true
			im.groups[name] = g
			im.add(src, g)
		}
		id.appendTo("groups", name)
	}
}

// credential writes the newest active access key of o as sa's credential.
func credential(sa *object, o *inventory.Object) {
	var newest *inventory.Credential
	for i := range o.Credentials {
		c := &o.Credentials[i]
		if c.Active && c.Type == "access-key" && !c.Created.IsZero() && (newest == nil || c.Created.After(newest.Created)) {
			newest = c
		}
	}
	if newest != nil {
		sa.set("credential", block{"type: access-key", "last_rotated: " + date(newest.Created)})
	}
}
