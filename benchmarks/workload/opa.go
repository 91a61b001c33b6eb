package workload

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// OPAPolicy is the RBAC workload in Rego: the decision cedargate makes
// from the generated grant policies, over the data [Repo.OPAData] exports.
// It gives OPA the same advantage cedargate's engine has: ancestor sets
// computed before any request (cedargate computes them when it loads a
// bundle; here they are in the data), and grants indexed by subject, so
// a decision looks up the principal's subjects instead of scanning every
// grant.
const OPAPolicy = `package cedargate.rbac

# The principal's subjects: itself and every group and team it is in,
# directly or through nesting.
subjects contains input.principal

subjects contains s if some s in data.ancestors[input.principal]

# The resource and everything it is in (a table's database).
resource_scope contains input.resource

resource_scope contains r if some r in data.ancestors[input.resource]

default allow := false

# A grant compiled from a profile permission: actions, and either one
# resource (and everything in it) or every resource of a type.
allow if {
	some s in subjects
	some g in data.grants[s]
	input.action in g.actions
	covers(g)
}

covers(g) if resource_scope[g.resource]

covers(g) if g.type == input.resource_type
`

// opaGrant is one generated policy, as OPA data.
type opaGrant struct {
	Actions  []string `json:"actions"`
	Resource string   `json:"resource,omitempty"`
	Type     string   `json:"type,omitempty"`
}

// cedarUID renders a uid the way OPA data and input name entities: as
// Cedar writes it.
func cedarUID(typ, id string) string { return Namespace + "::" + typ + "::" + strconv.Quote(id) }

// OPAData exports the RBAC model as the data document OPAPolicy reads:
// "ancestors" maps every principal and resource that has ancestors to all
// of them, and "grants" maps each grant subject to the grants it holds.
// Only grants in force in prod at Spec.Now are exported, and only RBAC
// repositories can be exported: the ABAC policies have no Rego
// counterpart here.
func (r *Repo) OPAData() ([]byte, error) {
	if !r.Spec.RBAC {
		return nil, fmt.Errorf("repository %s is not an RBAC repository: its ABAC policies have no Rego counterpart", r.Spec.Name)
	}
	m := r.m
	ancestors := map[string][]string{}
	groupUID := func(g int) string { return cedarUID("Group", m.groups[g].name) }
	groupAnc := make([][]string, len(m.groups))
	for _, level := range m.levels {
		for _, gi := range level {
			seen := map[string]bool{}
			for _, p := range m.groups[gi].parents {
				seen[groupUID(p)] = true
				for _, a := range groupAnc[p] {
					seen[a] = true
				}
			}
			groupAnc[gi] = slices.Sorted(maps.Keys(seen))
		}
	}
	for i, p := range m.principals {
		seen := map[string]bool{cedarUID("Team", teamName(p.team)): true}
		for _, g := range p.groups {
			seen[groupUID(g)] = true
			for _, a := range groupAnc[g] {
				seen[a] = true
			}
		}
		ancestors[principalKey(m, i)] = slices.Sorted(maps.Keys(seen))
	}
	for _, res := range m.resources {
		if res.parent >= 0 {
			parent := m.resources[res.parent]
			ancestors[cedarUID(resourceKinds[res.kind].typ, res.name)] = []string{cedarUID(resourceKinds[parent.kind].typ, parent.name)}
		}
	}
	grants := map[string][]opaGrant{}
	for _, g := range m.grants {
		if g.staging || g.expired || g.exception {
			continue
		}
		var subj string
		switch g.subjKind {
		case subjGroup:
			subj = groupUID(g.subj)
		case subjTeam:
			subj = cedarUID("Team", teamName(g.subj))
		default:
			subj = principalKey(m, g.subj)
		}
		for _, perm := range m.profiles[g.profile].perms {
			acts := make([]string, len(perm.actions))
			for i, a := range perm.actions {
				acts[i] = cedarUID("Action", a)
			}
			slices.Sort(acts)
			for _, sel := range perm.selectors {
				og := opaGrant{Actions: acts}
				if sel < 0 {
					og.Type = Namespace + "::" + resourceKinds[perm.kind].typ
				} else {
					og.Resource = cedarUID(resourceKinds[m.resources[sel].kind].typ, m.resources[sel].name)
				}
				grants[subj] = append(grants[subj], og)
			}
		}
	}
	// encoding/json writes map keys sorted: the export is deterministic.
	return json.Marshal(map[string]any{"ancestors": ancestors, "grants": grants})
}

// WriteOPA writes what OPA serves the repository from into dir, creating
// it if missing: data.json ([Repo.OPAData]) and policy.rego (OPAPolicy).
func (r *Repo) WriteOPA(dir string) error {
	data, err := r.OPAData()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "data.json"), data, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "policy.rego"), []byte(OPAPolicy), 0o644)
}

func principalKey(m *model, i int) string {
	p := &m.principals[i]
	if p.sa {
		return cedarUID("ServiceAccount", p.name+"-"+Env)
	}
	return cedarUID("User", p.name)
}

// OPAInput is the input document OPAPolicy decides, for one request.
type OPAInput struct {
	Principal    string `json:"principal"`
	Action       string `json:"action"`
	Resource     string `json:"resource"`
	ResourceType string `json:"resource_type"`
}

// ToOPAInput converts a request to OPA's input; context and request
// entities have no place in the RBAC workload and are dropped.
func ToOPAInput(req *pb.AuthorizeRequest) OPAInput {
	u := func(e *pb.EntityRef) string { return e.Type + "::" + strconv.Quote(e.Id) }
	return OPAInput{Principal: u(req.Principal), Action: u(req.Action), Resource: u(req.Resource), ResourceType: req.Resource.Type}
}
