package workload

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/internal/version"
)

// Building a repository of a million identities with `cedargate build`
// needs more memory than an ordinary machine has (the compiler holds
// every identity file's parsed YAML, and every entity as cedar-go values,
// at once). The scale benchmarks serve such repositories all the same:
// Bundle writes the bundle the compiler would write, straight from the
// model. TestBundleMatchesTheCompiler holds it to the compiler: for the
// repositories the compiler builds, the two bundles hold the same
// policies, grants, entities and schema, to the byte.

// Bundle returns the bundle `cedargate build --env prod` compiles the
// repository into, with revision as its revision. Its manifest has the
// counts and earliest expiry the compiler's has; the source digest and
// build time are left empty.
func (r *Repo) Bundle(revision string) (*bundle.Bundle, error) {
	m := r.m
	s := m.spec
	files, lay := r.render()
	schemaText, err := compile.MergedSchema(files["schema.cedarschema"], Namespace)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	w := &bundleWriter{r: r, lay: lay, ents: types.EntityMap{}, parents: map[types.EntityUID][]types.EntityUID{}}
	w.entities()
	if !s.RBAC {
		if err := w.policyFile("policies/abac.cedar", files["policies/abac.cedar"]); err != nil {
			return nil, err
		}
	}
	if err := w.grants(); err != nil {
		return nil, err
	}
	if err := w.expiries(); err != nil {
		return nil, err
	}
	for uid, ps := range w.parents {
		e := w.ents[uid]
		e.Parents = types.NewEntityUIDSet(append(slices.Collect(e.Parents.All()), ps...)...)
		w.ents[uid] = e
	}
	slices.SortFunc(w.b.Policies, func(a, b bundle.Policy) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(w.b.Grants, func(a, b bundle.Grant) int { return strings.Compare(a.ID, b.ID) })
	b := &w.b
	b.Schema, b.Entities = schemaText, compile.EntitiesJSON(w.ents)
	b.Manifest = bundle.Manifest{FormatVersion: bundle.FormatVersion, Name: "bench-" + s.Name, Revision: revision,
		Environment: Env, CompilerVersion: "cedargate " + version.Version,
		Counts: bundle.Counts{Entities: len(w.ents), Policies: len(b.Policies)}}
	expiry := func(t *time.Time) {
		if t != nil && (b.Manifest.EarliestExpiry == nil || t.Before(*b.Manifest.EarliestExpiry)) {
			b.Manifest.EarliestExpiry = t
		}
	}
	for i := range b.Grants {
		if b.Grants[i].Origin != compile.OriginExpiry {
			b.Manifest.Counts.Grants++
		}
		expiry(b.Grants[i].NotBefore)
		expiry(b.Grants[i].NotAfter)
	}
	return b, nil
}

// bundleWriter assembles a Bundle.
type bundleWriter struct {
	r   *Repo
	lay layout
	b   bundle.Bundle
	// ents are the bundle's entities; parents the parents grants give
	// them, added last.
	ents    types.EntityMap
	parents map[types.EntityUID][]types.EntityUID
}

func buid(typ, id string) types.EntityUID {
	return types.NewEntityUID(types.EntityType(Namespace+"::"+typ), types.String(id))
}

// principalUID is the entity of principal i in prod.
func (m *model) principalUID(i int) types.EntityUID {
	p := &m.principals[i]
	if p.sa {
		return buid("ServiceAccount", p.name+"-"+Env)
	}
	return buid("User", p.name)
}

func (w *bundleWriter) add(uid types.EntityUID, parents []types.EntityUID, attrs types.RecordMap) {
	w.ents[uid] = types.Entity{UID: uid, Parents: types.NewEntityUIDSet(parents...), Attributes: types.NewRecord(attrs), Tags: types.Record{}}
}

// entities adds the identity objects, resources and actions, as the
// compiler makes them in prod.
func (w *bundleWriter) entities() {
	m := w.r.m
	memberOf := make([][]types.EntityUID, len(m.principals))
	for t, members := range m.teams {
		w.add(buid("Team", teamName(t)), nil, nil)
		for _, p := range members {
			memberOf[p] = append(memberOf[p], buid("Team", teamName(t)))
		}
	}
	groups := func(gs []int) []types.EntityUID {
		out := make([]types.EntityUID, len(gs))
		for i, g := range gs {
			out[i] = buid("Group", m.groups[g].name)
		}
		return out
	}
	for i := range m.groups {
		w.add(buid("Group", m.groups[i].name), groups(m.groups[i].parents), nil)
	}
	for i := range m.principals {
		p := &m.principals[i]
		parents := append(groups(p.groups), memberOf[i]...)
		if p.sa {
			w.add(m.principalUID(i), parents, types.RecordMap{"spiffe_id": types.String(fmt.Sprintf("spiffe://bench.example/%s/ns/%s/sa/%s", Env, teamName(p.team), p.name))})
			continue
		}
		employment := "employee"
		if p.contractor {
			employment = "contractor"
		}
		w.add(m.principalUID(i), parents, types.RecordMap{"department": types.String(p.dept), "employment": types.String(employment), "clearance": types.Long(p.clearance)})
	}
	w.add(buid("User", approver), nil, types.RecordMap{"department": types.String("security"), "employment": types.String("employee"), "clearance": types.Long(5)})
	for i := range m.resources {
		res := &m.resources[i]
		var parents []types.EntityUID
		if res.parent >= 0 {
			parents = []types.EntityUID{w.resourceUID(res.parent)}
		}
		attrs := types.RecordMap{}
		switch res.kind {
		case kService:
			attrs["tier"], attrs["environment"] = types.String(res.attr), types.String(Env)
		case kDatabase:
			attrs["engine"] = types.String(res.attr)
		case kTable:
			attrs["classification"] = types.String(res.attr)
			if res.customerInProd {
				attrs["classification"] = types.String("customer")
			}
		case kFolder:
			attrs["department"] = types.String(res.attr)
		}
		w.add(w.resourceUID(i), parents, attrs)
	}
	for _, a := range []string{"read", "write", "delete", "list", "deploy", "admin", "migrate", "publish", "consume"} {
		uid := buid("Action", a)
		w.ents[uid] = types.Entity{UID: uid}
	}
}

func (w *bundleWriter) resourceUID(i int) types.EntityUID {
	res := &w.r.m.resources[i]
	return buid(resourceKinds[res.kind].typ, res.name)
}

// policyFile adds a file of hand-written policies as the compiler does.
func (w *bundleWriter) policyFile(path string, data []byte) error {
	list, err := cedar.NewPolicyListFromBytes(path, data)
	if err != nil {
		return err
	}
	for _, p := range list {
		pos := p.Position()
		w.b.Policies = append(w.b.Policies, bundle.Policy{ID: string(p.Annotations()["id"]), Source: fmt.Sprintf("%s:%d:%d", path, pos.Line, pos.Column),
			Origin: compile.OriginPolicy, Cedar: string(p.MarshalCedar())})
	}
	return nil
}

// template adds a template policy written as text.
func (w *bundleWriter) template(id, source, origin, text string) error {
	list, err := cedar.NewPolicyListFromBytes("", []byte(text))
	if err != nil || len(list) != 1 {
		return fmt.Errorf("template %s: %v", id, err)
	}
	w.b.Policies = append(w.b.Policies, bundle.Policy{ID: id, Source: source, Origin: origin, Template: true, Cedar: string(list[0].MarshalCedar())})
	return nil
}

func (p docPos) at(col int) string { return fmt.Sprintf("%s:%d:%d", p.file, p.line, col) }

func uidOf(u types.EntityUID) bundle.UID { return bundle.UID{Type: string(u.Type), ID: string(u.ID)} }

// grants adds the grants in force in prod, and the templates of the
// profiles they grant.
func (w *bundleWriter) grants() error {
	m := w.r.m
	granted := make([]bool, len(m.profiles))
	for i := range m.grants {
		g := &m.grants[i]
		if g.staging {
			continue
		}
		var subject types.EntityUID
		members := true
		switch g.subjKind {
		case subjGroup:
			subject = buid("Group", m.groups[g.subj].name)
		case subjTeam:
			subject = buid("Team", teamName(g.subj))
		default:
			subject, members = m.principalUID(g.subj), false
		}
		profile := buid("AccessProfile", m.profiles[g.profile].name)
		prefix, origin := "entitlement", compile.OriginEntitlement
		if g.exception {
			prefix, origin = "exception", compile.OriginException
		}
		var notAfter *time.Time
		if g.expires != nil {
			t := *g.expires
			if !g.exception {
				t = t.UTC().Truncate(24 * time.Hour)
			}
			notAfter = &t
		}
		w.b.Grants = append(w.b.Grants, bundle.Grant{ID: fmt.Sprintf("%s:grant-%06d", prefix, i), Source: w.lay.grants[i].at(1), Origin: origin,
			Principal: uidOf(subject), Parent: uidOf(profile), Members: members, NotAfter: notAfter})
		w.parents[subject] = append(w.parents[subject], profile)
		granted[g.profile] = true
	}
	for i, pr := range m.profiles {
		if !granted[i] {
			continue
		}
		uid := buid("AccessProfile", pr.name)
		w.ents[uid] = types.Entity{UID: uid}
		n := 0
		for _, p := range pr.perms {
			acts := make([]string, len(p.actions))
			for k, a := range p.actions {
				acts[k] = buid("Action", a).String()
			}
			action := "action == " + acts[0]
			if len(acts) > 1 {
				action = "action in [" + strings.Join(acts, ", ") + "]"
			}
			for _, sel := range p.selectors {
				res := "resource is " + Namespace + "::" + resourceKinds[p.kind].typ
				if sel >= 0 {
					res = "resource in " + w.resourceUID(sel).String()
				}
				text := fmt.Sprintf("permit (\n  principal in %s,\n  %s,\n  %s\n)", uid, action, res)
				if p.when != "" {
					text += "\nwhen { " + p.when + " }"
				}
				if err := w.template(fmt.Sprintf("profile:%s#%d", pr.name, n), w.lay.profiles[i].at(1), compile.OriginProfile, text+";"); err != nil {
					return err
				}
				n++
			}
		}
	}
	return nil
}

// expiries adds every service account's expiry, and the template that
// forbids expired accounts everything.
func (w *bundleWriter) expiries() error {
	m := w.r.m
	if m.spec.RBAC {
		return nil
	}
	set := buid("Expired", "ServiceAccount")
	any := false
	for i := range m.principals {
		p := &m.principals[i]
		if !p.sa {
			continue
		}
		any = true
		uid := m.principalUID(i)
		t := p.expires.UTC().Truncate(24 * time.Hour)
		// expires: is the account document's fourth line, its value at
		// column 10.
		pos := w.lay.principals[i]
		pos.line += 3
		w.b.Grants = append(w.b.Grants, bundle.Grant{ID: "expired:ServiceAccount/" + string(uid.ID), Source: pos.at(10), Origin: compile.OriginExpiry,
			Principal: uidOf(uid), Parent: uidOf(set), NotBefore: &t})
		w.parents[uid] = append(w.parents[uid], set)
	}
	if !any {
		return nil
	}
	w.ents[set] = types.Entity{UID: set}
	return w.template("expired:ServiceAccount", "cedargate.yaml:1:1", compile.OriginExpiry, fmt.Sprintf("forbid (principal in %s, action, resource);", set))
}
