package workload

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Namespace is the Cedar namespace of every generated repository.
const Namespace = "Bench"

// Env is the environment the benchmarks build; the repositories also
// declare "staging", where a few grants live.
const Env = "prod"

// resourceKind is a resource entity type with the actions that apply to it
// and its share of the resources, in percent.
type resourceKind struct {
	typ     string
	prefix  string
	share   int
	actions []string
}

// resourceKinds lists the resource types. Tables live in databases, so
// every action on a database applies to tables too: a grant on a database
// covers its tables.
var resourceKinds = []resourceKind{
	{"Service", "svc", 20, []string{"read", "write", "deploy"}},
	{"Database", "db", 5, []string{"read", "write", "admin", "migrate"}},
	{"Table", "tbl", 50, []string{"read", "write", "delete", "admin", "migrate"}},
	{"Queue", "q", 10, []string{"read", "write", "publish", "consume"}},
	{"Folder", "folder", 15, []string{"read", "write", "delete", "list"}},
}

const (
	kService = iota
	kDatabase
	kTable
	kQueue
	kFolder
)

// departments are the values of User.department and Folder.department.
var departments = []string{"payments", "platform", "security", "data", "mobile", "web",
	"risk", "finance", "support", "growth", "ml", "infra"}

// principal is a user or a service account.
type principal struct {
	sa     bool
	name   string // for a service account, without the -${env} suffix
	team   int
	groups []int
	// users only
	dept       string
	contractor bool
	clearance  int
	// service accounts only
	expires    time.Time
	credential bool
	reviewed   time.Time
	rotated    time.Time
}

type group struct {
	name     string
	level    int
	parents  []int
	children []int
	members  []int // principals
}

type resource struct {
	kind   int
	name   string
	parent int // a table's database, or -1
	attr   string
	// customerInProd marks tables whose classification is overridden to
	// "customer" in prod.
	customerInProd bool
}

type permission struct {
	kind    int      // resource kind the permission is about
	actions []string // actions that apply to kind
	// selectors: a resource (index), or -1 for every resource of kind.
	selectors []int
	when      string
}

type profile struct {
	name  string
	perms []permission
}

// subject kinds of a grant.
const (
	subjPrincipal = iota
	subjGroup
	subjTeam
)

type grant struct {
	exception bool
	subjKind  int
	subj      int
	profile   int
	expires   *time.Time
	staging   bool // exists in staging only
	expired   bool
}

// model is a generated repository before rendering.
type model struct {
	spec       Spec
	principals []principal
	teams      [][]int // members
	groups     []group
	levels     [][]int // groups by level
	resources  []resource
	byKind     [][]int // resources by kind
	tables     map[int][]int
	profiles   []profile
	grants     []grant
}

func (m *model) leaves() []int { return m.levels[len(m.levels)-1] }

// newModel draws the repository. Every choice comes from one PCG stream,
// in a fixed order.
func newModel(s Spec) *model {
	r := rand.New(rand.NewPCG(s.Seed, 0x6365646172676174))
	m := &model{spec: s, tables: map[int][]int{}}
	day := 24 * time.Hour

	// Groups: equal levels, each group below the roots under one parent
	// (a tenth under two). The first groups of a level take the parents
	// in turn, so that no group is left without members.
	per := s.Groups / s.Depth
	m.levels = make([][]int, s.Depth)
	for lv := range s.Depth {
		n := per
		if lv == s.Depth-1 {
			n = s.Groups - per*(s.Depth-1)
		}
		for i := range n {
			g := group{name: fmt.Sprintf("g%d-%04d", lv, i), level: lv}
			idx := len(m.groups)
			if lv > 0 {
				up := m.levels[lv-1]
				p := up[i%len(up)]
				if i >= len(up) {
					p = up[r.IntN(len(up))]
				}
				g.parents = []int{p}
				if r.IntN(10) == 0 {
					if q := up[r.IntN(len(up))]; q != p {
						g.parents = append(g.parents, q)
					}
				}
			}
			m.groups = append(m.groups, g)
			m.levels[lv] = append(m.levels[lv], idx)
			for _, p := range g.parents {
				m.groups[p].children = append(m.groups[p].children, idx)
			}
		}
	}

	// Principals: users first, then service accounts.
	m.teams = make([][]int, s.Teams)
	leaves := m.leaves()
	total := s.Users + s.ServiceAccounts
	for i := range total {
		p := principal{team: i % s.Teams}
		if i < s.Users {
			p.name = fmt.Sprintf("u%06d", i)
			p.dept = departments[r.IntN(len(departments))]
			p.contractor = r.IntN(10) == 0
			p.clearance = 1 + r.IntN(5)
		} else {
			p.sa = true
			p.name = fmt.Sprintf("sa-%06d", i-s.Users)
			p.expires = s.Now.Add(time.Duration(30+r.IntN(330)) * day)
			p.credential = r.IntN(10) < 3
			p.reviewed = s.Now.Add(-time.Duration(r.IntN(60)) * day)
			p.rotated = s.Now.Add(-time.Duration(r.IntN(20)) * day)
		}
		first := leaves[i%len(leaves)]
		if i >= len(leaves) {
			first = leaves[r.IntN(len(leaves))]
		}
		p.groups = []int{first}
		if r.IntN(5) == 0 {
			if g := leaves[r.IntN(len(leaves))]; g != first {
				p.groups = append(p.groups, g)
			}
		}
		for _, g := range p.groups {
			m.groups[g].members = append(m.groups[g].members, i)
		}
		m.teams[p.team] = append(m.teams[p.team], i)
		m.principals = append(m.principals, p)
	}

	// Resources, by share; at least one of each kind.
	m.byKind = make([][]int, len(resourceKinds))
	for k, rk := range resourceKinds {
		n := max(1, s.Resources*rk.share/100)
		for i := range n {
			res := resource{kind: k, name: fmt.Sprintf("%s-%05d", rk.prefix, i), parent: -1}
			switch k {
			case kService:
				res.attr = []string{"critical", "public", "public", "standard", "standard", "standard", "standard", "standard", "standard", "standard"}[r.IntN(10)]
			case kDatabase:
				res.attr = []string{"postgres", "mysql", "spanner"}[r.IntN(3)]
			case kTable:
				dbs := m.byKind[kDatabase]
				res.parent = dbs[r.IntN(len(dbs))]
				res.attr = []string{"synthetic", "synthetic", "reference", "customer", "cardholder"}[r.IntN(5)]
				res.customerInProd = res.attr == "synthetic" && r.IntN(4) == 0
			case kFolder:
				res.attr = departments[r.IntN(len(departments))]
			}
			idx := len(m.resources)
			m.resources = append(m.resources, res)
			m.byKind[k] = append(m.byKind[k], idx)
			if res.parent >= 0 {
				m.tables[res.parent] = append(m.tables[res.parent], idx)
			}
		}
	}

	// Profiles.
	for i := range s.Profiles {
		pr := profile{name: fmt.Sprintf("ap-%05d", i)}
		for range 1 + r.IntN(3) {
			pr.perms = append(pr.perms, m.permission(r))
		}
		m.profiles = append(m.profiles, pr)
	}

	// Entitlements: first one per profile (so none is orphaned) and one per
	// root group (so the deep mix has grants to reach), then random.
	roots := m.levels[0]
	for i := range s.Entitlements {
		g := grant{profile: r.IntN(s.Profiles)}
		if i < s.Profiles {
			g.profile = i
		}
		switch x := r.IntN(100); {
		case i < len(roots):
			g.subjKind, g.subj = subjGroup, roots[i]
		case x < 45:
			g.subjKind, g.subj = subjGroup, r.IntN(len(m.groups))
		case x < 55:
			g.subjKind, g.subj = subjTeam, r.IntN(s.Teams)
		default:
			g.subjKind, g.subj = subjPrincipal, r.IntN(total)
		}
		if !s.RBAC {
			switch x := r.IntN(100); {
			case x < 20: // no expiry
			case x < 25 && i >= s.Profiles && i >= len(roots):
				t := s.Now.Add(-time.Duration(1+r.IntN(30)) * day)
				g.expires, g.expired = &t, true
			default:
				t := s.Now.Add(time.Duration(60+r.IntN(340)) * day)
				g.expires = &t
			}
			g.staging = i >= s.Profiles && i >= len(roots) && r.IntN(20) == 0
		}
		m.grants = append(m.grants, g)
	}
	if !s.RBAC {
		for range s.Exceptions {
			t := s.Now.Add(time.Duration(1+r.IntN(25)) * day)
			m.grants = append(m.grants, grant{exception: true, subjKind: subjPrincipal, subj: r.IntN(s.Users),
				profile: r.IntN(s.Profiles), expires: &t})
		}
	}
	return m
}

// permission draws one permission of a profile.
func (m *model) permission(r *rand.Rand) permission {
	k := pickKind(r)
	acts := resourceKinds[k].actions
	p := permission{kind: k, actions: []string{acts[r.IntN(len(acts))]}}
	if r.IntN(3) == 0 {
		if a := acts[r.IntN(len(acts))]; a != p.actions[0] {
			p.actions = append(p.actions, a)
		}
	}
	// Database actions cover tables; a table permission may instead name
	// the database (everything in it).
	for range 1 + r.IntN(2) {
		switch x := r.IntN(100); {
		case x < 8:
			p.selectors = append(p.selectors, -1)
		case x < 18 && k == kTable && !slices.Contains(p.actions, "delete"):
			p.selectors = append(p.selectors, m.byKind[kDatabase][r.IntN(len(m.byKind[kDatabase]))])
		default:
			p.selectors = append(p.selectors, m.byKind[k][r.IntN(len(m.byKind[k]))])
		}
	}
	if !m.spec.RBAC && r.IntN(10) == 0 {
		p.when = []string{
			`context.source_ip.isInRange(ip("10.0.0.0/8"))`,
			`context has mfa && context.mfa`,
		}[r.IntN(2)]
	}
	return p
}

func pickKind(r *rand.Rand) int {
	x := r.IntN(100)
	for k, rk := range resourceKinds {
		if x < rk.share {
			return k
		}
		x -= rk.share
	}
	return len(resourceKinds) - 1
}
