package workload

// Repo is a generated identity repository: its files, and the model that
// request mixes and the OPA export are drawn from.
type Repo struct {
	// Spec is what the repository was generated from.
	Spec Spec
	m    *model
}

// Generate draws the repository s describes.
func Generate(s Spec) (*Repo, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	return &Repo{Spec: s, m: newModel(s)}, nil
}

// Counts summarises a generated repository, for results tables.
type Counts struct {
	Users, ServiceAccounts, Teams, Groups, Resources, Profiles, Entitlements, Exceptions int
}

// Counts returns how many objects of each kind the repository holds.
func (r *Repo) Counts() Counts {
	c := Counts{Users: r.Spec.Users, ServiceAccounts: r.Spec.ServiceAccounts, Teams: len(r.m.teams),
		Groups: len(r.m.groups), Resources: len(r.m.resources), Profiles: len(r.m.profiles)}
	for _, g := range r.m.grants {
		if g.exception {
			c.Exceptions++
		} else {
			c.Entitlements++
		}
	}
	return c
}
