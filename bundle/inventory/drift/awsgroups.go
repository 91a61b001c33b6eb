package drift

import (
	"fmt"
	"strings"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/repo"
)

// iamMember is the identity object an IAM user matches.
type iamMember struct {
	// code names it ("ServiceAccount/ci-deployer").
	code string
	meta *repo.Meta
	// groups are the groups code puts it in, directly.
	groups []repo.Token
}

// isIAMUser reports whether an awsiam object is an IAM user (arn:…:user/…),
// the only IAM principal that groups hold, rather than a role.
func isIAMUser(o *inventory.Object) bool {
	return strings.Contains(o.Key, ":user/")
}

// iamGroups compares the IAM group memberships of the IAM users that
// match identity code (members, by user ARN) with the groups code puts
// those identities in. An IAM group stands for the code Group of its name
// (GroupName, without its path); membership is direct on both sides, as
// for SCIM, since IAM groups do not nest.
//
// Three cases are membership findings:
//
//   - a matched user is in an IAM group named as a code Group that code
//     does not put the identity in;
//   - a matched user is in an IAM group that no code Group is named as:
//     the group's policies reach an identity code manages, and code does
//     not say so. This is the case a security engineer most needs to see
//     (access granted outside the repository), so it is reported rather
//     than left alone;
//   - code puts an identity in a Group, IAM has a group of that name, and
//     the user is not in it.
//
// IAM groups whose members are all unknown to code are left alone: their
// members are reported live-only already, and an empty IAM group grants
// nothing. A code Group with no IAM group of its name is not code-only
// here: most code Groups exist for decisions, not as IAM groups.
func (c *comparer) iamGroups(s *inventory.Snapshot, members map[string]iamMember) []Finding {
	byARN := map[string]*inventory.Object{}
	byName := map[string]*inventory.Object{}
	for i := range s.Objects {
		if g := &s.Objects[i]; g.Kind == inventory.Group {
			byARN[g.Key] = g
			byName[g.Name] = g
		}
	}
	var out []Finding
	for i := range s.Objects {
		u := &s.Objects[i]
		m, ok := members[u.Key]
		if !ok {
			continue
		}
		inCode := map[string]bool{}
		for _, t := range m.groups {
			inCode[groupName(t)] = true
		}
		liveIn := map[string]bool{}
		for _, arn := range u.Groups {
			g := byARN[arn]
			if g == nil {
				continue // the awsiam source refuses a GroupList it cannot resolve
			}
			liveIn[g.Name] = true
			switch {
			case inCode[g.Name]:
			case c.idx.groups[g.Name] != nil:
				out = append(out, live(s.Source, g, Membership, m.code, m.meta.FieldPos("groups").String(),
					fmt.Sprintf("IAM group %s has member %s, whom code does not put in Group %s; add %s to the account's groups, or remove the user from the IAM group", g.Name, u.Key, g.Name, g.Name)))
			default:
				out = append(out, live(s.Source, g, Membership, m.code, m.meta.FieldPos("groups").String(),
					fmt.Sprintf("IAM user %s is in IAM group %s, which code does not know: the group's policies reach %s outside code; add a Group %s and put the account in it, or remove the user from the IAM group", u.Key, g.Name, m.code, g.Name)))
			}
		}
		for _, t := range m.groups {
			name := groupName(t)
			if g := byName[name]; g != nil && !liveIn[name] {
				out = append(out, live(s.Source, g, Membership, m.code, t.Pos.String(),
					fmt.Sprintf("code puts %s in Group %s, but IAM group %s lacks its user %s; add the user to the IAM group, or remove %s from the account's groups", m.code, name, name, u.Key, name)))
			}
		}
	}
	return out
}
