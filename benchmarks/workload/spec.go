package workload

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Spec describes one generated identity repository. The same Spec always
// generates the same files and the same requests.
type Spec struct {
	// Name labels the repository in results and in cedargate.yaml.
	Name string
	// Seed drives every random choice.
	Seed uint64
	// Now is the instant the repository is written for: guardrails judge
	// it at Now (build with --now), service accounts and grants expire
	// after it, and requests carry it as context.now. Generate a
	// repository for the day it is served, or every account has expired.
	Now time.Time

	// Users and ServiceAccounts are the principals.
	Users, ServiceAccounts int
	// Teams own the service accounts; every principal is a member of one.
	Teams int
	// Groups are spread over Depth levels: level 0 holds the roots, and
	// every principal is a member of one or two groups of the deepest
	// level, so its membership is Depth groups deep.
	Groups, Depth int
	// Profiles are access profiles; Entitlements grant them (every profile
	// is granted at least once, so Entitlements >= Profiles) and
	// Exceptions are break-glass grants.
	Profiles, Entitlements, Exceptions int
	// Resources are services, databases, tables, queues and folders.
	Resources int
	// RBAC leaves out everything that is not role-based: hand-written ABAC
	// policies, `when` conditions, service account expiry and expiring
	// grants. The peer comparison with OPA uses it, so that both engines
	// decide exactly the same question.
	RBAC bool
}

// DefaultNow is the instant Specs are written for unless told otherwise:
// midnight UTC of the current day, so that repositories generated on the
// same day are identical.
func DefaultNow() time.Time { return time.Now().UTC().Truncate(24 * time.Hour) }

// sizes are the standard repositories of the benchmarks, by name. "1k",
// "10k", "100k" and "1m" are identity counts (users and service accounts);
// "p100" and "p10k" are shaped for the engine target of issue 4 (about 100
// policies over 1,000 entities, and 10,000 policies over 100,000
// entities); "depth1" and "depth10" differ only in how deeply groups nest.
// Size fills in Now; nothing writes to the map.
var sizes = map[string]Spec{
	"1k": {Name: "1k", Seed: 1, Users: 700, ServiceAccounts: 300, Teams: 10, Groups: 60, Depth: 4,
		Profiles: 100, Entitlements: 200, Exceptions: 5, Resources: 1000},
	"10k": {Name: "10k", Seed: 1, Users: 7000, ServiceAccounts: 3000, Teams: 50, Groups: 400, Depth: 6,
		Profiles: 1000, Entitlements: 2000, Exceptions: 20, Resources: 3000},
	"100k": {Name: "100k", Seed: 1, Users: 70000, ServiceAccounts: 30000, Teams: 200, Groups: 2000, Depth: 8,
		Profiles: 5000, Entitlements: 10000, Exceptions: 50, Resources: 10000},
	// 1m is the scale benchmark's largest (make bench-scale): ten times
	// 100k's principals and grants, with teams, groups, profiles and
	// resources grown as an organisation's grow, slower than its people.
	"1m": {Name: "1m", Seed: 1, Users: 700000, ServiceAccounts: 300000, Teams: 1000, Groups: 10000, Depth: 8,
		Profiles: 20000, Entitlements: 100000, Exceptions: 200, Resources: 50000},
	// 1m-shape is 1m's million identities in 1k's shape, for the scale
	// benchmark's shape-controlled Decide ratio (issue 15): groups 4
	// deep, about 1.5 grants per group and 2 per team, 2 entitlements
	// per profile and 10 resources per profile, as in 1k. A principal of
	// 1m reaches about five times the grants one of 1k does (more levels,
	// more grants per group), which costs decisions work the size alone
	// does not; this size tells the two apart. It does not replace 1m.
	"1m-shape": {Name: "1m-shape", Seed: 1, Users: 700000, ServiceAccounts: 300000, Teams: 1650, Groups: 10000, Depth: 4,
		Profiles: 16500, Entitlements: 33000, Exceptions: 200, Resources: 165000},
	"p100": {Name: "p100", Seed: 2, Users: 560, ServiceAccounts: 40, Teams: 5, Groups: 20, Depth: 3,
		Profiles: 15, Entitlements: 18, Exceptions: 1, Resources: 375},
	"p10k": {Name: "p10k", Seed: 2, Users: 60000, ServiceAccounts: 4000, Teams: 200, Groups: 2000, Depth: 6,
		Profiles: 1500, Entitlements: 2000, Exceptions: 10, Resources: 34000},
	"depth1": {Name: "depth1", Seed: 3, Users: 7000, ServiceAccounts: 3000, Teams: 50, Groups: 400, Depth: 1,
		Profiles: 1000, Entitlements: 2000, Exceptions: 20, Resources: 3000},
	"depth10": {Name: "depth10", Seed: 3, Users: 7000, ServiceAccounts: 3000, Teams: 50, Groups: 400, Depth: 10,
		Profiles: 1000, Entitlements: 2000, Exceptions: 20, Resources: 3000},
	"rbac10k": {Name: "rbac10k", Seed: 4, Users: 7000, ServiceAccounts: 3000, Teams: 50, Groups: 400, Depth: 6,
		Profiles: 1000, Entitlements: 2000, Resources: 3000, RBAC: true},
}

// Size returns the standard Spec called name, written for now.
func Size(name string, now time.Time) (Spec, error) {
	s, ok := sizes[name]
	if !ok {
		return Spec{}, fmt.Errorf("unknown size %q (known: %s)", name, strings.Join(SizeNames(), ", "))
	}
	s.Now = now.UTC()
	return s, nil
}

// SizeNames lists the standard sizes, sorted.
func SizeNames() []string {
	return slices.Sorted(maps.Keys(sizes))
}

// Check reports a Spec that cannot generate a valid repository.
func (s Spec) Check() error {
	switch {
	case s.Now.IsZero():
		return fmt.Errorf("spec %s: Now is not set", s.Name)
	case s.Users < 2:
		return fmt.Errorf("spec %s: need at least 2 users (one approves grants)", s.Name)
	case s.Teams < 1 || s.Depth < 1 || s.Groups < s.Depth:
		return fmt.Errorf("spec %s: need a team, Depth >= 1 and at least one group per level", s.Name)
	case s.Profiles < 1 || s.Entitlements < s.Profiles:
		return fmt.Errorf("spec %s: every profile must be granted: Entitlements (%d) >= Profiles (%d) >= 1", s.Name, s.Entitlements, s.Profiles)
	case s.Resources < len(resourceKinds):
		return fmt.Errorf("spec %s: need at least %d resources", s.Name, len(resourceKinds))
	case s.Groups/s.Depth > s.Users+s.ServiceAccounts:
		return fmt.Errorf("spec %s: more leaf groups than principals to fill them", s.Name)
	}
	return nil
}
