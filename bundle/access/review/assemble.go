package review

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/access"
	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/guardrail"
	"github.com/cedargate/cedargate/bundle/repo"
)

// New reviews the compiled environment c at the instant at: it runs the
// guardrails, asks the effective-access engine what each identity can
// do, and puts every user and service account in its owning team's
// section. Once ctx is done it stops before the next identity and returns
// ctx's error.
func New(ctx context.Context, c *build.Compiled, at time.Time) (*Report, error) {
	a, err := access.New(c.Bundle)
	if err != nil {
		return nil, fmt.Errorf("indexing effective access: %w", err)
	}
	a.LocateConditions(c.Repo.Policies)
	at = at.UTC()
	v := c.Result.View
	r := &reviewer{
		c: c, v: v, at: at, a: a,
		keyOf: map[types.EntityUID]string{},
	}
	for _, g := range v.Groups {
		r.keyOf[v.Config.UID(&g.Meta)] = g.Key()
	}
	for _, t := range v.Teams {
		r.keyOf[v.Config.UID(&t.Meta)] = t.Key()
	}
	findings := guardrail.Check(c.Repo, []*compile.Result{c.Result}, at).Sorted()
	r.index(findings)

	ref := c.Bundle.Ref()
	if ref.Digest == "" {
		// A bundle compiled for reading is not encoded; its digest is
		// still what names it in a store.
		if ref.Digest, err = bundle.ComputeDigest(c.Bundle); err != nil {
			return nil, err
		}
	}
	rep := &Report{
		Bundle:         ref,
		At:             at,
		ExpiringWithin: repo.FormatDuration(ExpiringWithin),
		Sections:       []Section{},
		OtherFindings:  []Finding{},
	}
	sections := map[string]*Section{}
	place := func(id Identity, team string) {
		s := sections[team]
		if s == nil {
			s = &Section{Team: team}
			if m := r.lookup("Team/" + team); m != nil {
				s.Description = m.Description
			}
			sections[team] = s
		}
		s.Identities = append(s.Identities, id)
	}
	for _, u := range v.Users {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, err := r.identity(&u.Meta)
		if err != nil {
			return nil, err
		}
		// A team owns its members; a user in several teams is listed
		// under the first.
		if len(id.Teams) > 0 {
			id.Owner = id.Teams[0]
		}
		r.judge(&id)
		place(id, teamName(id.Teams))
	}
	for _, s := range v.ServiceAccounts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, err := r.identity(&s.Meta)
		if err != nil {
			return nil, err
		}
		r.serviceAccount(&id, s)
		r.judge(&id)
		place(id, r.ownerTeam(s.Owner))
	}
	for i, f := range findings {
		if !r.used[i] {
			rep.OtherFindings = append(rep.OtherFindings, finding(f))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sections)) {
		s := sections[name]
		slices.SortFunc(s.Identities, func(a, b Identity) int {
			return cmp.Or(cmp.Compare(a.Risk.rank(), b.Risk.rank()), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
		})
		for i := range s.Identities {
			s.Counts.add(&s.Identities[i])
			rep.Summary.add(&s.Identities[i])
		}
		// "" sorts first: the unowned section, itself a risk, leads.
		rep.Sections = append(rep.Sections, *s)
	}
	return rep, nil
}

// reviewer holds what reviewing one environment looks up repeatedly.
type reviewer struct {
	c  *build.Compiled
	v  *repo.View
	at time.Time
	a  *access.Analyzer
	// keyOf maps group and team entities to their keys, Group/x, Team/x.
	keyOf map[types.EntityUID]string
	// grants maps a subject's key to the entitlements and exception
	// grants given to it; waivers maps an identity's key, or a bare
	// name, to the waivers naming it. Indexed once, so that reviewing
	// each identity costs its own grants and groups, not the whole
	// repository's.
	grants  map[string][]labelled[Grant]
	xgrants map[string][]labelled[Exception]
	waivers map[string][]labelled[Exception]
	// findings maps a finding's subject label to its indexes in
	// findingList; used marks those some identity took.
	findings    map[string][]int
	findingList diag.List
	used        []bool
}

// labelled is a grant or exception with the label guardrail findings
// name it by.
type labelled[T any] struct {
	label string
	v     T
}

// index builds the reviewer's indexes of grants, waivers and findings.
func (r *reviewer) index(findings diag.List) {
	r.grants = map[string][]labelled[Grant]{}
	r.xgrants = map[string][]labelled[Exception]{}
	r.waivers = map[string][]labelled[Exception]{}
	r.findings = map[string][]int{}
	r.findingList, r.used = findings, make([]bool, len(findings))
	for i, f := range findings {
		r.findings[f.Subject] = append(r.findings[f.Subject], i)
	}
	principals := []repo.Kind{repo.KindUser, repo.KindServiceAccount, repo.KindGroup, repo.KindTeam}
	for _, e := range r.v.Entitlements {
		subject := r.resolve(e.Subject, principals...)
		if subject == "" {
			continue // orphan-object reports it
		}
		key := grantKey(&e.Meta, subject, e.Profile)
		r.grants[subject] = append(r.grants[subject], labelled[Grant]{fmt.Sprintf("%s %q", e.Kind, key), Grant{
			Key: key, Profile: e.Profile, ApprovedBy: e.ApprovedBy, Ticket: e.Ticket, Reason: e.Reason,
			Expires: utc(e.Expires), Status: r.expiry(e.Expires), Source: e.Pos.String(),
		}})
	}
	for _, e := range r.v.Exceptions {
		x := Exception{Profile: e.Profile, Rule: e.Rule, ApprovedBy: e.ApprovedBy, Ticket: e.Ticket, Reason: e.Reason,
			Expires: utc(e.Expires), Status: r.expiry(e.Expires), Source: e.Pos.String()}
		subject := r.resolve(e.Subject, principals...)
		switch {
		case e.IsGrant() && subject != "":
			x.Type, x.Key = "grant", grantKey(&e.Meta, subject, e.Profile)
			r.xgrants[subject] = append(r.xgrants[subject], labelled[Exception]{fmt.Sprintf("%s %q", e.Kind, x.Key), x})
		case !e.IsGrant() && e.Subject != "":
			// A waiver waives findings about the object it names (as
			// Kind/name, or by its bare name), not about its members. One
			// without subject waives the rule for everything: it is
			// about no identity in particular.
			x.Type, x.Key = "waiver", strings.TrimPrefix(e.Key(), string(repo.KindException)+"/")
			l := labelled[Exception]{e.Label(), x}
			if subject != "" {
				r.waivers[subject] = append(r.waivers[subject], l)
			}
			if !strings.Contains(e.Subject, "/") && subject == "" {
				r.waivers[e.Subject] = append(r.waivers[e.Subject], l)
			}
		}
	}
}

// lookup resolves a Kind/name key among principals, or returns nil.
func (r *reviewer) lookup(key string) *repo.Meta {
	ref, err := repo.ParseRef(key)
	if err != nil {
		return nil
	}
	m, err := r.v.Resolve(ref, repo.KindUser, repo.KindServiceAccount, repo.KindGroup, repo.KindTeam)
	if err != nil {
		return nil
	}
	return m
}

// resolve returns the key of the principal a reference names, or "".
func (r *reviewer) resolve(s string, kinds ...repo.Kind) string {
	ref, err := repo.ParseRef(s)
	if err != nil {
		return ""
	}
	m, err := r.v.Resolve(ref, kinds...)
	if err != nil {
		return ""
	}
	return m.Key()
}

// identity builds what users and service accounts share: membership,
// grants, exceptions, access and findings. It marks the findings it
// takes in r.used.
func (r *reviewer) identity(m *repo.Meta) (Identity, error) {
	uid := r.v.Config.UID(m)
	id := Identity{
		Kind: string(m.Kind), Name: m.Name, UID: uid.String(), Source: m.Pos.String(), Description: m.Description,
		Teams: []string{}, Groups: []string{}, Reasons: []string{},
		ExpiryStatus: StatusNoExpiry, Entitlements: []Grant{}, Exceptions: []Exception{}, Findings: []Finding{},
	}
	// The identity's own key and those of every group and team it is in:
	// a grant to any of them reaches it.
	principals := []string{m.Key()}
	for _, k := range r.ancestors(uid) {
		principals = append(principals, k)
		if strings.HasPrefix(k, string(repo.KindTeam)+"/") {
			id.Teams = append(id.Teams, k)
		} else {
			id.Groups = append(id.Groups, k)
		}
	}
	labels := []string{m.Label()}
	for _, p := range principals {
		via := p
		if p == m.Key() {
			via = ""
		}
		for _, g := range r.grants[p] {
			g.v.Via = via
			id.Entitlements = append(id.Entitlements, g.v)
			labels = append(labels, g.label)
		}
		for _, x := range r.xgrants[p] {
			x.v.Via = via
			id.Exceptions = append(id.Exceptions, x.v)
			labels = append(labels, x.label)
		}
	}
	for _, x := range slices.Concat(r.waivers[m.Key()], r.waivers[m.Name]) {
		id.Exceptions = append(id.Exceptions, x.v)
		labels = append(labels, x.label)
	}
	slices.SortFunc(id.Entitlements, func(a, b Grant) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(id.Exceptions, func(a, b Exception) int { return strings.Compare(a.Key, b.Key) })
	// A grant to a group is reached by each member; a finding about it is
	// listed under each.
	var taken []int
	for _, l := range labels {
		taken = append(taken, r.findings[l]...)
	}
	slices.Sort(taken)
	for _, i := range slices.Compact(taken) {
		r.used[i] = true
		id.Findings = append(id.Findings, finding(r.findingList[i]))
	}

	t, err := r.a.Query(access.Query{Principal: uid, At: r.at})
	if err != nil {
		return id, fmt.Errorf("effective access of %s: %w", m.Label(), err)
	}
	id.Access.Entries = t.Entries
	if id.Access.Entries == nil {
		id.Access.Entries = []access.Entry{}
	}
	for _, e := range t.Entries {
		id.Access.Total++
		if e.Access == access.Conditional {
			id.Access.Conditional++
		} else {
			id.Access.Allow++
		}
	}
	return id, nil
}

// serviceAccount adds what only service accounts have: owner, expiry,
// credential and review.
func (r *reviewer) serviceAccount(id *Identity, s *repo.ServiceAccount) {
	g := r.v.Config.Guardrails
	id.Owner = s.Owner
	if k := r.resolve(s.Owner, repo.KindTeam, repo.KindUser); k != "" {
		id.Owner = k
	}
	id.Expires, id.ExpiryStatus = utc(s.Expires), r.expiry(s.Expires)
	if cr := s.Credential; cr != nil {
		cadence := cmp.Or(cr.Rotation, g.CredentialMaxRotation)
		c := &Credential{Type: cr.Type, Rotation: repo.FormatDuration(cadence), LastRotated: utc(cr.LastRotated), Status: StatusOK}
		switch {
		case guardrail.AutoRotated(cr.Type) && cr.LastRotated == nil:
			c.Status = StatusAuto
		case cr.LastRotated == nil:
			c.Status = StatusNever
		default:
			due := cr.LastRotated.Add(cadence).UTC()
			c.Due = &due
			if due.Before(r.at) {
				c.Status = StatusOverdue
			}
		}
		id.Credential = c
	}
	cadence := g.ReviewCadence
	if s.Review != nil && s.Review.Cadence > 0 {
		cadence = s.Review.Cadence
	}
	rv := &Review{Cadence: repo.FormatDuration(cadence), Status: StatusNever}
	if s.Review != nil && s.Review.LastReview != nil {
		rv.LastReview = utc(s.Review.LastReview)
		due := s.Review.LastReview.Add(cadence).UTC()
		rv.Due, rv.Status = &due, StatusOK
		if due.Before(r.at) {
			rv.Status = StatusOverdue
		}
	}
	id.Review = rv
}

// judge sets the identity's risk and the reasons for it, most urgent
// first.
func (r *reviewer) judge(id *Identity) {
	var reasons [4][]string
	add := func(risk Risk, format string, args ...any) {
		reasons[risk.rank()] = append(reasons[risk.rank()], fmt.Sprintf(format, args...))
	}
	warnings := 0
	for _, f := range id.Findings {
		if f.Severity == "error" {
			add(RiskError, "%s: %s", f.Rule, f.Message)
		} else {
			warnings++
		}
	}
	if rv := id.Review; rv != nil {
		switch rv.Status {
		case StatusNever:
			add(RiskOverdue, "never reviewed")
		case StatusOverdue:
			add(RiskOverdue, "review overdue since %s", day(*rv.Due))
		}
	}
	if c := id.Credential; c != nil {
		switch c.Status {
		case StatusNever:
			add(RiskOverdue, "%s credential never rotated", c.Type)
		case StatusOverdue:
			add(RiskOverdue, "%s credential rotation overdue since %s", c.Type, day(*c.Due))
		}
	}
	switch id.ExpiryStatus {
	case StatusExpired:
		add(RiskOverdue, "expired %s", day(*id.Expires))
	case StatusExpiring:
		add(RiskExpiring, "expires %s", day(*id.Expires))
	}
	for _, g := range id.Entitlements {
		if g.Status.ending() {
			add(RiskExpiring, "entitlement %s %s %s", g.Key, expiryVerb(g.Status), day(*g.Expires))
		}
	}
	for _, e := range id.Exceptions {
		if e.Status.ending() {
			add(RiskExpiring, "exception %s %s %s", e.Key, expiryVerb(e.Status), day(*e.Expires))
		}
	}
	if warnings > 0 {
		add(RiskExpiring, "%d guardrail warning(s)", warnings)
	}
	id.Risk = RiskOK
	for i := len(reasons) - 1; i >= 0; i-- {
		if len(reasons[i]) > 0 {
			id.Risk = []Risk{RiskError, RiskOverdue, RiskExpiring}[i]
		}
	}
	id.Reasons = slices.Concat(reasons[0], reasons[1], reasons[2])
	if id.Reasons == nil {
		id.Reasons = []string{}
	}
}

func expiryVerb(s Status) string {
	if s == StatusExpired {
		return "expired"
	}
	return "expires"
}

// expiry judges an expiry date at the report's instant.
func (r *reviewer) expiry(t *time.Time) Status {
	switch {
	case t == nil:
		return StatusNoExpiry
	case !r.at.Before(*t):
		return StatusExpired
	case t.Sub(r.at) <= ExpiringWithin:
		return StatusExpiring
	}
	return StatusOK
}

// ancestors returns the keys of the groups and teams uid is in, directly
// or transitively, sorted.
func (r *reviewer) ancestors(uid types.EntityUID) []string {
	seen := map[types.EntityUID]bool{}
	queue := []types.EntityUID{uid}
	var keys []string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		e, ok := r.c.Result.Entities[cur]
		if !ok {
			continue
		}
		for _, p := range e.Parents {
			if seen[p] {
				continue
			}
			seen[p] = true
			queue = append(queue, p)
			if k, ok := r.keyOf[p]; ok {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// ownerTeam returns the name of the team that owns a service account: its
// owner when a Team, the owning user's first team when a User, "" when
// there is none.
func (r *reviewer) ownerTeam(owner string) string {
	k := r.resolve(owner, repo.KindTeam, repo.KindUser)
	switch {
	case strings.HasPrefix(k, string(repo.KindTeam)+"/"):
		return strings.TrimPrefix(k, string(repo.KindTeam)+"/")
	case k != "":
		m := r.lookup(k)
		var teams []string
		for _, a := range r.ancestors(r.v.Config.UID(m)) {
			if strings.HasPrefix(a, string(repo.KindTeam)+"/") {
				teams = append(teams, a)
			}
		}
		return teamName(teams)
	}
	return ""
}

// teamName is the name of the first of teams (keys Team/x), the one whose
// section an identity in several teams is listed in; "" for none.
func teamName(teams []string) string {
	if len(teams) == 0 {
		return ""
	}
	return strings.TrimPrefix(teams[0], string(repo.KindTeam)+"/")
}

// grantKey names a grant as guardrail findings do: its name, or its
// subject's key and its profile.
func grantKey(m *repo.Meta, subjectKey, profile string) string {
	if m.Name != "" {
		return m.Name
	}
	return repo.GrantKey("", subjectKey, profile)
}

func finding(d diag.Diagnostic) Finding {
	return Finding{Severity: d.Severity.String(), Rule: d.Rule, Source: d.Pos.String(), Subject: d.Subject, Message: d.Message}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// day renders a date as the guardrails do: the day alone at midnight.
func day(t time.Time) string {
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}
