package drift

import (
	"fmt"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/repo"
)

// DefaultUnusedAfter is how long an active credential may go unused before
// it is reported (credential-unused) unless Options say otherwise.
const DefaultUnusedAfter = 90 * 24 * time.Hour

// Options tune a comparison.
type Options struct {
	// At is the instant credentials and expiries are judged at; required.
	At time.Time
	// UnusedAfter is how long an active credential may go unused;
	// DefaultUnusedAfter when zero.
	UnusedAfter time.Duration
}

// The source names that select a default mapping.
const (
	SourceSCIM       = repo.SourceSCIM
	SourceKubernetes = repo.SourceKubernetes
	SourceAWSIAM     = repo.SourceAWSIAM
)

// Compare compares each snapshot with the identity code of v, mapping its
// objects as the inventory section of v's cedargate.yaml declares for the
// snapshot's source name, or by the default mapping of the type the name
// is. A snapshot whose source name selects no mapping is an error.
func Compare(v *repo.View, snaps []*inventory.Snapshot, opts Options) (*Report, error) {
	if opts.At.IsZero() {
		return nil, fmt.Errorf("drift: no instant to judge credentials at")
	}
	if opts.UnusedAfter == 0 {
		opts.UnusedAfter = DefaultUnusedAfter
	}
	c := &comparer{v: v, opts: opts, idx: newIndex(v), awsGroupNames: map[string]bool{}}
	// A Group that an IAM group of the same name stands for lives in AWS,
	// not in the identity provider: SCIM does not report it code-only.
	for _, s := range snaps {
		if m, err := v.Config.Source(s.Source); err == nil && m.Type == SourceAWSIAM {
			for _, o := range s.Objects {
				if o.Kind == inventory.Group {
					c.awsGroupNames[o.Name] = true
				}
			}
		}
	}
	rep := &Report{Env: v.Env, At: opts.At.UTC().Format(time.RFC3339), Findings: []Finding{}}
	for _, s := range snaps {
		rep.Sources = append(rep.Sources, s.Source)
		m, err := v.Config.Source(s.Source)
		if err != nil {
			return nil, fmt.Errorf("drift: %w", err)
		}
		var fs []Finding
		switch m.Type {
		case SourceSCIM:
			fs = c.scim(s, m)
		case SourceKubernetes:
			fs = c.kubernetes(s, m)
		default:
			fs = c.awsiam(s)
		}
		rep.Findings = append(rep.Findings, fs...)
	}
	sortFindings(rep.Findings)
	return rep, nil
}

// index finds identity objects by the fields live objects match on.
type index struct {
	users      map[string]*repo.User           // by name
	scimUsers  map[string]*repo.User           // by scim_username
	groups     map[string]*repo.Group          // by name
	scimGroups map[string]*repo.Group          // by scim_displayname
	k8s        map[string]*repo.ServiceAccount // by kubernetes entry
	arns       map[string]*repo.ServiceAccount
	// grants holds "Kind/name\x00profile" for each entitlement and
	// break-glass exception.
	grants map[string]bool
}

func newIndex(v *repo.View) *index {
	x := &index{users: map[string]*repo.User{}, scimUsers: map[string]*repo.User{}, groups: map[string]*repo.Group{}, scimGroups: map[string]*repo.Group{},
		k8s: map[string]*repo.ServiceAccount{}, arns: map[string]*repo.ServiceAccount{}, grants: map[string]bool{}}
	for _, u := range v.Users {
		x.users[u.Name] = u
		if u.SCIMUserName != "" {
			x.scimUsers[u.SCIMUserName] = u
		}
	}
	for _, g := range v.Groups {
		x.groups[g.Name] = g
		if g.SCIMDisplayName != "" {
			x.scimGroups[g.SCIMDisplayName] = g
		}
	}
	for _, sa := range v.ServiceAccounts {
		for _, t := range sa.Kubernetes {
			x.k8s[t.Text] = sa
		}
		if sa.AWSARN != "" {
			x.arns[sa.AWSARN] = sa
		}
	}
	for _, e := range v.Entitlements {
		x.grants[e.Subject+"\x00"+strings.TrimPrefix(e.Profile, "AccessProfile/")] = true
	}
	for _, e := range v.Exceptions {
		if e.Profile != "" {
			x.grants[e.Subject+"\x00"+strings.TrimPrefix(e.Profile, "AccessProfile/")] = true
		}
	}
	return x
}

// scimUser returns the code User a SCIM userName names: the one whose
// scim_username it is (rank 0), else the one named by it (rank 1), else
// the one named by its part before @ (rank 2); the last two only for a
// User writing no scim_username of its own.
func (x *index) scimUser(userName string) (*repo.User, int) {
	if u := x.scimUsers[userName]; u != nil {
		return u, 0
	}
	if u := x.users[userName]; u != nil && u.SCIMUserName == "" {
		return u, 1
	}
	if local, _, ok := strings.Cut(userName, "@"); ok {
		if u := x.users[local]; u != nil && u.SCIMUserName == "" {
			return u, 2
		}
	}
	return nil, 0
}

// scimGroup returns the code Group a SCIM displayName names: the one
// whose scim_displayname it is, else the one named by it that writes no
// scim_displayname of its own.
func (x *index) scimGroup(displayName string) *repo.Group {
	if g := x.scimGroups[displayName]; g != nil {
		return g
	}
	if g := x.groups[displayName]; g != nil && g.SCIMDisplayName == "" {
		return g
	}
	return nil
}

// groupName returns the group a groups: entry names.
func groupName(t repo.Token) string {
	if r, err := repo.ParseRef(t.Text); err == nil {
		return r.Name
	}
	return t.Text
}

type comparer struct {
	v    *repo.View
	opts Options
	idx  *index
	// awsGroupNames holds the names of the IAM groups the awsiam snapshots
	// of the comparison hold.
	awsGroupNames map[string]bool
}

func live(src string, o *inventory.Object, k Kind, code string, pos string, msg string) Finding {
	return Finding{Kind: k, Source: src, LiveKind: string(o.Kind), LiveID: o.ID, LiveKey: o.Key, Code: code, Pos: pos, Message: msg}
}

func liveOnly(src string, o *inventory.Object, hint string) Finding {
	msg := fmt.Sprintf("%s %s is live but not in code; %s", o.Kind, o.Key, hint)
	if !o.Active {
		msg += " (it is disabled live)"
	}
	return live(src, o, LiveOnly, "", "", msg)
}

func codeOnly(src string, m *repo.Meta, pos string, msg string) Finding {
	return Finding{Kind: CodeOnly, Source: src, Code: string(m.Kind) + "/" + m.Name, Pos: pos, Message: msg}
}
