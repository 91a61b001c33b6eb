package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// Mix is a kind of request stream.
type Mix string

// The request mixes.
const (
	// Allow draws requests that a live grant allows: a grant, a principal
	// it reaches (through teams and nested groups), one of its actions and
	// a resource it covers, with a context that passes the ABAC policies.
	// A few are still denied by them (contractors and customer tables).
	Allow Mix = "allow"
	// Deny draws a random principal, resource and applicable action, and a
	// context without MFA: nearly all are denied, most by default.
	Deny Mix = "deny"
	// Deep draws requests allowed by a grant to a root group, made by a
	// principal of the deepest level: membership through every level.
	Deep Mix = "deep"
	// Entities sends the resource with the request: a Document (owner,
	// classification, level, department, in a bundle Folder) and a second,
	// related document, decided by the document policies.
	Entities Mix = "entities"
	// Context draws Allow requests with a large context: about 60 values
	// in headers, claims, labels and a nested record besides the fields the
	// policies read.
	Context Mix = "context"
)

// Mixes lists every mix, in a stable order.
func Mixes() []Mix { return []Mix{Allow, Deny, Deep, Entities, Context} }

// ParseMix returns the mix called name.
func ParseMix(name string) (Mix, error) {
	mixes := Mixes()
	for _, m := range mixes {
		if string(m) == name {
			return m, nil
		}
	}
	names := make([]string, len(mixes))
	for i, m := range mixes {
		names[i] = string(m)
	}
	return "", fmt.Errorf("unknown mix %q (known: %s)", name, strings.Join(names, ", "))
}

// Requests draws n requests of mix. The same repository, mix and n give
// the same requests. RBAC repositories carry no context (their policies
// read none) and support only Allow and Deny.
func (r *Repo) Requests(mix Mix, n int) ([]*pb.AuthorizeRequest, error) {
	if r.Spec.RBAC && mix != Allow && mix != Deny {
		return nil, fmt.Errorf("mix %s needs the ABAC policies, which RBAC repository %s leaves out", mix, r.Spec.Name)
	}
	seed := r.Spec.Seed
	for _, c := range mix {
		seed = seed*31 + uint64(c)
	}
	g := &drawer{m: r.m, r: rand.New(rand.NewPCG(seed, uint64(n)))}
	out := make([]*pb.AuthorizeRequest, 0, n)
	for len(out) < n {
		var req *pb.AuthorizeRequest
		switch mix {
		case Allow:
			req = g.allowed(g.liveGrant(false))
		case Deny:
			req = g.random()
		case Deep:
			req = g.allowed(g.liveGrant(true))
		case Entities:
			req = g.documents()
		case Context:
			req = g.allowed(g.liveGrant(false))
			g.heavyContext(req)
		default:
			return nil, fmt.Errorf("unknown mix %q", mix)
		}
		out = append(out, req)
	}
	return out, nil
}

// drawer draws requests from a model.
type drawer struct {
	m *model
	r *rand.Rand
}

func uid(typ, id string) *pb.EntityRef { return &pb.EntityRef{Type: Namespace + "::" + typ, Id: id} }

func action(a string) *pb.EntityRef { return uid("Action", a) }

func (g *drawer) principalUID(i int) *pb.EntityRef {
	p := &g.m.principals[i]
	if p.sa {
		return uid("ServiceAccount", p.name+"-"+Env)
	}
	return uid("User", p.name)
}

func (g *drawer) resourceUID(i int) *pb.EntityRef {
	res := &g.m.resources[i]
	return uid(resourceKinds[res.kind].typ, res.name)
}

// liveGrant picks a grant in force in prod at Spec.Now; with roots, one
// to a root group.
func (g *drawer) liveGrant(roots bool) *grant {
	for {
		gr := &g.m.grants[g.r.IntN(len(g.m.grants))]
		if gr.staging || gr.expired {
			continue
		}
		if roots && (gr.subjKind != subjGroup || g.m.groups[gr.subj].level != 0) {
			continue
		}
		return gr
	}
}

// member picks a principal the grant's subject reaches, descending the
// group hierarchy to its deepest level.
func (g *drawer) member(gr *grant) int {
	switch gr.subjKind {
	case subjTeam:
		ms := g.m.teams[gr.subj]
		return ms[g.r.IntN(len(ms))]
	case subjGroup:
		grp := &g.m.groups[gr.subj]
		for len(grp.children) > 0 {
			grp = &g.m.groups[grp.children[g.r.IntN(len(grp.children))]]
		}
		return grp.members[g.r.IntN(len(grp.members))]
	}
	return gr.subj
}

// allowed draws a request gr allows.
func (g *drawer) allowed(gr *grant) *pb.AuthorizeRequest {
	m := g.m
	p := g.member(gr)
	perms := m.profiles[gr.profile].perms
	perm := &perms[g.r.IntN(len(perms))]
	act := perm.actions[g.r.IntN(len(perm.actions))]
	var res int
	switch sel := perm.selectors[g.r.IntN(len(perm.selectors))]; {
	case sel < 0:
		all := m.byKind[perm.kind]
		res = all[g.r.IntN(len(all))]
	case m.resources[sel].kind == kDatabase && perm.kind == kTable && len(m.tables[sel]) > 0:
		// A table permission naming its database: any table in it.
		ts := m.tables[sel]
		res = ts[g.r.IntN(len(ts))]
	default:
		res = sel
	}
	return &pb.AuthorizeRequest{Principal: g.principalUID(p), Action: action(act), Resource: g.resourceUID(res),
		Context: g.context(true)}
}

// random draws a principal, a resource and an action that applies to it.
func (g *drawer) random() *pb.AuthorizeRequest {
	m := g.m
	res := g.r.IntN(len(m.resources))
	acts := resourceKinds[m.resources[res].kind].actions
	return &pb.AuthorizeRequest{Principal: g.principalUID(g.r.IntN(len(m.principals))),
		Action: action(acts[g.r.IntN(len(acts))]), Resource: g.resourceUID(res), Context: g.context(false)}
}

// documents draws a request about a Document the caller sends, with a
// second document it links to.
func (g *drawer) documents() *pb.AuthorizeRequest {
	m := g.m
	user := g.r.IntN(m.spec.Users)
	owner := user
	if g.r.IntN(2) == 0 {
		owner = g.r.IntN(m.spec.Users)
	}
	folders := m.byKind[kFolder]
	doc := func(id string) *pb.Entity {
		folder := folders[g.r.IntN(len(folders))]
		class := []string{"public", "internal", "internal", "internal", "secret"}[g.r.IntN(5)]
		dept := m.principals[user].dept
		if g.r.IntN(3) == 0 {
			dept = departments[g.r.IntN(len(departments))]
		}
		return &pb.Entity{
			Uid: uid("Document", id),
			Attrs: map[string]*pb.Value{
				"owner":          {Kind: &pb.Value_Entity{Entity: g.principalUID(owner)}},
				"classification": str(class),
				"level":          {Kind: &pb.Value_Long{Long: int64(1 + g.r.IntN(5))}},
				"department":     str(dept),
			},
			Parents: []*pb.EntityRef{g.resourceUID(folder)},
		}
	}
	n := g.r.IntN(1 << 30)
	main, linked := doc(fmt.Sprintf("doc-%09d", n)), doc(fmt.Sprintf("doc-%09d-link", n))
	act := []string{"read", "read", "list", "write"}[g.r.IntN(4)]
	return &pb.AuthorizeRequest{Principal: g.principalUID(user), Action: action(act), Resource: main.Uid,
		Context: g.context(true), Entities: []*pb.Entity{main, linked}}
}

func str(s string) *pb.Value { return &pb.Value{Kind: &pb.Value_String_{String_: s}} }

func ext(fn, arg string) *pb.Value {
	return &pb.Value{Kind: &pb.Value_Extension{Extension: &pb.Extension{Fn: fn, Arg: arg}}}
}

// context is what a sidecar sends: the caller's address and the time,
// and whether the caller passed MFA.
func (g *drawer) context(pass bool) map[string]*pb.Value {
	if g.m.spec.RBAC {
		return nil
	}
	ip := fmt.Sprintf("10.%d.%d.%d", g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254))
	if !pass && g.r.IntN(4) == 0 {
		ip = fmt.Sprintf("203.0.113.%d", 1+g.r.IntN(254))
	}
	now := g.m.spec.Now.Add(time.Duration(g.r.IntN(86400)) * time.Second)
	return map[string]*pb.Value{
		"source_ip": ext("ip", ip),
		"now":       ext("datetime", now.Format(time.RFC3339)),
		"mfa":       {Kind: &pb.Value_Boolean{Boolean: pass || g.r.IntN(2) == 0}},
	}
}

// heavyContext adds what an API gateway forwards: request headers, token
// claims, labels and routing details, about 60 values in all.
func (g *drawer) heavyContext(req *pb.AuthorizeRequest) {
	rec := func(m map[string]*pb.Value) *pb.Value {
		return &pb.Value{Kind: &pb.Value_Record{Record: &pb.ValueMap{Values: m}}}
	}
	set := func(vs []*pb.Value) *pb.Value { return &pb.Value{Kind: &pb.Value_Set{Set: &pb.ValueList{Values: vs}}} }
	headers := map[string]*pb.Value{}
	for _, h := range []string{"accept", "accept-encoding", "accept-language", "content-type", "user-agent", "x-request-id",
		"x-forwarded-for", "x-forwarded-proto", "x-b3-traceid", "x-b3-spanid", "x-envoy-attempt-count", "x-tenant",
		"authorization-scheme", "origin", "referer", "cache-control"} {
		headers[h] = str(fmt.Sprintf("%s-%08x", h, g.r.Uint32()))
	}
	var scopes, groups []*pb.Value
	for i := range 12 {
		scopes = append(scopes, str(fmt.Sprintf("scope:%s:%d", []string{"read", "write", "admin"}[i%3], g.r.IntN(1000))))
		groups = append(groups, str(fmt.Sprintf("idp-group-%04d", g.r.IntN(5000))))
	}
	claims := map[string]*pb.Value{
		"iss": str("https://idp.bench.example"), "sub": str(req.Principal.Id), "aud": str("bench-api"),
		"iat": {Kind: &pb.Value_Long{Long: g.m.spec.Now.Unix()}}, "exp": {Kind: &pb.Value_Long{Long: g.m.spec.Now.Unix() + 3600}},
		"scopes": set(scopes), "groups": set(groups), "amr": set([]*pb.Value{str("pwd"), str("otp")}),
	}
	labels := map[string]*pb.Value{}
	for _, l := range []string{"app", "version", "zone", "cluster", "namespace", "team"} {
		labels[l] = str(fmt.Sprintf("%s-%d", l, g.r.IntN(20)))
	}
	req.Context["headers"] = rec(headers)
	req.Context["claims"] = rec(claims)
	req.Context["labels"] = rec(labels)
	req.Context["route"] = rec(map[string]*pb.Value{"method": str("POST"), "path": str("/v1/items/" + req.Resource.Id),
		"upstream": rec(map[string]*pb.Value{"cluster": str("bench"), "timeout_ms": {Kind: &pb.Value_Long{Long: 250}}})})
	req.Context["risk_score"] = &pb.Value{Kind: &pb.Value_Long{Long: int64(g.r.IntN(60))}}
	req.Context["request_bytes"] = &pb.Value{Kind: &pb.Value_Long{Long: int64(g.r.IntN(1 << 20))}}
	req.Context["deadline"] = ext("duration", "250ms")
}
