package guardrail

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
)

// finding is a rule violation about one object, before waivers and
// severities apply.
type finding struct {
	d diag.Diagnostic
	// object is what an Exception's subject must name to waive the
	// finding: "Kind/name", a grant's key, or a policy id.
	object string
}

type checker struct {
	r        *repo.Repo
	res      *compile.Result
	v        *repo.View
	now      time.Time
	g        repo.Guardrails
	findings []finding
}

func (c *checker) report(rule string, pos diag.Position, object, subject, format string, args ...any) {
	c.findings = append(c.findings, finding{
		d:      diag.Diagnostic{Pos: pos, Rule: rule, Subject: subject, Message: fmt.Sprintf(format, args...)},
		object: object,
	})
}

// Check runs every guardrail over the compiled environments in results and,
// for the rules that compare environments, over every environment of r. It
// applies the Exceptions that waive findings and the severities of
// cedargate.yaml, and returns what remains.
func Check(r *repo.Repo, results []*compile.Result, now time.Time) diag.List {
	var out diag.List
	severity := severities(r.Config, &out)
	// Crossover compares environments, and unknown-entity looks for an
	// entity in all of them, so they are found once and offered to every
	// environment's waivers: a waiver in any of them may cover them.
	var crossover []finding
	if len(results) > 0 {
		c := &checker{r: r, res: results[0], v: results[0].View, now: now, g: r.Config.Guardrails}
		views := c.views(results)
		c.crossover(views)
		c.unknownEntities(results, views)
		crossover = c.findings
	}
	for _, res := range results {
		c := &checker{r: r, res: res, v: res.View, now: now, g: r.Config.Guardrails}
		c.serviceAccounts()
		c.grants()
		c.expiringSoon()
		c.justification()
		c.exceptions()
		c.broadGrants()
		c.sharedIdentity()
		c.orphans()
		c.findings = append(c.findings, crossover...)
		out.Append(c.waive(severity))
	}
	return out
}

// severities reads guardrails.severity, reporting unknown rule names.
func severities(cfg *repo.Config, out *diag.List) map[string]string {
	sev := maps.Clone(defaultSeverity)
	for name, s := range cfg.Guardrails.Severity {
		if !Known(name) {
			msg := fmt.Sprintf("guardrails.severity: unknown rule %q", name)
			if s := closest(name); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			out.Errorf(s.Pos, "%s", msg)
			continue
		}
		sev[name] = s.Value
	}
	return sev
}

// waive drops findings an Exception waives, reports waivers that waive
// nothing, and applies severities.
func (c *checker) waive(severity map[string]string) diag.List {
	type waiver struct {
		e    *repo.Exception
		used bool
	}
	var waivers []*waiver
	for _, e := range c.v.Exceptions {
		if e.Rule == "" {
			continue
		}
		if !Known(e.Rule) {
			msg := fmt.Sprintf("waives unknown rule %q", e.Rule)
			if s := closest(e.Rule); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			c.findings = append(c.findings, finding{d: diag.Diagnostic{Pos: e.FieldPos("rule"), Subject: e.Label(), Message: msg}})
			continue
		}
		if e.Rule == ExceptionUnbounded {
			c.report(ExceptionUnbounded, e.FieldPos("rule"), e.Key(), e.Label(), "an Exception cannot waive %s", ExceptionUnbounded)
			continue
		}
		// An unbounded or unapproved waiver waives nothing; exceptions()
		// reports why.
		if e.Expires == nil || !c.now.Before(*e.Expires) || e.ApprovedBy == "" || e.Reason == "" {
			continue
		}
		waivers = append(waivers, &waiver{e: e})
	}
	var out diag.List
	for _, f := range c.findings {
		waived := false
		for _, w := range waivers {
			if w.e.Rule == f.d.Rule && waives(w.e.Subject, f.object) {
				w.used, waived = true, true
			}
		}
		if waived {
			continue
		}
		switch severity[f.d.Rule] {
		case "off":
			continue
		case "warning":
			f.d.Severity = diag.Warning
		}
		out.Add(f.d)
	}
	for _, w := range waivers {
		if !w.used && severity[OrphanObject] != "off" {
			d := diag.Diagnostic{Pos: w.e.Pos, Rule: OrphanObject, Subject: w.e.Label(),
				Message: fmt.Sprintf("waives %s for %s, but nothing in environment %q needs it; remove the Exception", w.e.Rule, orAll(w.e.Subject), c.v.Env)}
			if severity[OrphanObject] == "warning" {
				d.Severity = diag.Warning
			}
			out.Add(d)
		}
	}
	return out
}

// waives reports whether a waiver's subject names the object of a finding:
// an empty subject waives the rule everywhere; otherwise the subject is the
// object's key (Kind/name, a grant's Entitlement/<subject>:<profile>, or a
// policy id) or the bare name of an identity object (its key without
// "Kind/"). A bare name never matches part of a policy id.
func waives(subject, object string) bool {
	if subject == "" || subject == object {
		return true
	}
	if strings.Contains(subject, "/") {
		return false
	}
	kind, name, ok := strings.Cut(object, "/")
	return ok && slices.Contains(repo.Kinds(), repo.Kind(kind)) && name == subject
}

func orAll(s string) string {
	if s == "" {
		return "everything"
	}
	return s
}

func (c *checker) serviceAccounts() {
	for _, s := range c.v.ServiceAccounts {
		key, subj := s.Key(), s.Label()
		if s.Owner == "" {
			c.report(NHIOwnerMissing, s.Pos, key, subj, "no owner: name the Team or User accountable for this identity")
		} else if ref, err := repo.ParseRef(s.Owner); err != nil {
			c.report(NHIOwnerUnknown, s.FieldPos("owner"), key, subj, "owner %q: %v", s.Owner, err)
		} else if _, err := c.v.Resolve(ref, repo.KindTeam, repo.KindUser); err != nil {
			c.report(NHIOwnerUnknown, s.FieldPos("owner"), key, subj, "owner %q is not a Team or User: %v", s.Owner, err)
		}
		if s.Expires == nil {
			c.report(NHIExpiryMissing, s.Pos, key, subj, "no expiry: set expires so the identity cannot outlive its purpose")
		} else if !c.now.Before(*s.Expires) {
			c.report(NHIExpired, s.FieldPos("expires"), key, subj, "expired %s and is denied everything; remove it, or extend expires if it is still needed", day(*s.Expires))
		} else if max := c.g.NHIMaxLifetime; s.Expires.Sub(c.now) > max {
			c.report(NHILifetimeTooLong, s.FieldPos("expires"), key, subj, "expires %s, more than %s from now (guardrails.nhi_max_lifetime)",
				day(*s.Expires), repo.FormatDuration(max))
		}
		if cr := s.Credential; cr != nil {
			cadence := cr.Rotation
			if cadence == 0 {
				cadence = c.g.CredentialMaxRotation
			}
			if cr.Rotation > c.g.CredentialMaxRotation {
				c.report(CredentialRotationTooSlow, s.FieldPos("credential.rotation"), key, subj, "credential rotates every %s, slower than the maximum of %s (guardrails.credential_max_rotation)",
					repo.FormatDuration(cr.Rotation), repo.FormatDuration(c.g.CredentialMaxRotation))
			}
			switch {
			case autoRotated[cr.Type] && cr.LastRotated == nil:
				// SPIFFE SVIDs are rotated by the workload API; there is
				// no date to keep in code.
			case cr.LastRotated == nil:
				c.report(CredentialRotationOverdue, s.FieldPos("credential"), key, subj, "%s credential has no last_rotated date", cr.Type)
			case cr.LastRotated.Add(cadence).Before(c.now):
				c.report(CredentialRotationOverdue, s.FieldPos("credential.last_rotated"), key, subj, "%s credential last rotated %s, due every %s: overdue since %s",
					cr.Type, day(*cr.LastRotated), repo.FormatDuration(cadence), day(cr.LastRotated.Add(cadence)))
			}
		}
		cadence := c.g.ReviewCadence
		if s.Review != nil && s.Review.Cadence > 0 {
			cadence = s.Review.Cadence
		}
		switch {
		case s.Review == nil || s.Review.LastReview == nil:
			c.report(ReviewOverdue, s.FieldPos("review"), key, subj, "never reviewed: record review.last_review after an access review")
		case s.Review.LastReview.Add(cadence).Before(c.now):
			c.report(ReviewOverdue, s.FieldPos("review.last_review"), key, subj, "last reviewed %s, due every %s: overdue since %s",
				day(*s.Review.LastReview), repo.FormatDuration(cadence), day(s.Review.LastReview.Add(cadence)))
		}
	}
}

// grants checks entitlements and exception grants for expiry and approval.
func (c *checker) grants() {
	type grant struct {
		m                          *repo.Meta
		subject, profile, approver string
		expires                    *time.Time
	}
	var all []grant
	for _, e := range c.v.Entitlements {
		all = append(all, grant{&e.Meta, e.Subject, e.Profile, e.ApprovedBy, e.Expires})
	}
	for _, e := range c.v.Exceptions {
		if e.IsGrant() {
			all = append(all, grant{&e.Meta, e.Subject, e.Profile, e.ApprovedBy, e.Expires})
		}
	}
	for _, g := range all {
		key, subj := c.grantName(g.m, g.subject, g.profile)
		if g.expires != nil && !c.now.Before(*g.expires) {
			c.report(EntitlementExpired, g.m.FieldPos("expires"), key, subj, "expired %s and grants nothing; remove it from the code", day(*g.expires))
		}
		c.approval(EntitlementUnapproved, g.m, key, subj, g.approver, g.subject)
	}
}

// grantName returns the key and label of an entitlement or exception grant
// with its subject named canonically (Kind/name), as in its policy ids:
// "Entitlement/User/alice:reader" and `Entitlement "User/alice:reader"`. A
// named grant is known by its name.
func (c *checker) grantName(m *repo.Meta, subject, profile string) (key, label string) {
	if m.Name == "" {
		if ref, err := repo.ParseRef(subject); err == nil {
			if s, err := c.v.Resolve(ref, repo.KindUser, repo.KindServiceAccount, repo.KindGroup, repo.KindTeam); err == nil {
				subject = s.Key()
			}
		}
	}
	id := repo.GrantKey(m.Name, subject, profile)
	return string(m.Kind) + "/" + id, fmt.Sprintf("%s %q", m.Kind, id)
}

// approval checks that a grant or exception names an approving User who is
// not its own subject.
func (c *checker) approval(rule string, m *repo.Meta, key, subj, approver, subject string) {
	if approver == "" {
		c.report(rule, m.Pos, key, subj, "no approved_by: name the User who approved it")
		return
	}
	ref, err := repo.ParseRef(approver)
	if err != nil {
		c.report(rule, m.FieldPos("approved_by"), key, subj, "approved_by %q: %v", approver, err)
		return
	}
	u, err := c.v.Resolve(ref, repo.KindUser)
	if err != nil {
		c.report(rule, m.FieldPos("approved_by"), key, subj, "approved_by %q is not a User: %v", approver, err)
		return
	}
	sref, err := repo.ParseRef(subject)
	if err != nil {
		return
	}
	s, err := c.v.Resolve(sref, repo.KindUser, repo.KindServiceAccount, repo.KindGroup, repo.KindTeam)
	switch {
	case err != nil:
	case s == u:
		c.report(rule, m.FieldPos("approved_by"), key, subj, "approved by its own subject %s; someone else must approve", u.Key())
	case c.memberOf(u, s):
		c.report(rule, m.FieldPos("approved_by"), key, subj, "approved by %s, a member of its subject %s; someone outside it must approve", u.Key(), s.Key())
	}
}

// memberOf reports whether principal u is, directly or through groups and
// teams, a member of group or team g in the compiled entities.
func (c *checker) memberOf(u, g *repo.Meta) bool {
	target := c.v.Config.UID(g)
	seen := map[types.EntityUID]bool{}
	queue := []types.EntityUID{c.v.Config.UID(u)}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		e, ok := c.res.Entities[cur]
		if !ok {
			continue
		}
		for _, p := range e.Parents {
			if p == target {
				return true
			}
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false
}

func (c *checker) exceptions() {
	for _, e := range c.v.Exceptions {
		key, subj := e.Key(), e.Label()
		if e.IsGrant() {
			key, subj = c.grantName(&e.Meta, e.Subject, e.Profile)
		}
		var missing []string
		if e.Expires == nil && !e.IsGrant() { // a grant without expiry does not compile
			missing = append(missing, "expires")
		}
		if e.ApprovedBy == "" {
			missing = append(missing, "approved_by")
		}
		if e.Reason == "" {
			missing = append(missing, "reason")
		}
		if len(missing) > 0 {
			c.report(ExceptionUnbounded, e.Pos, key, subj, "missing %s: an Exception must be time-bound, approved and justified", strings.Join(missing, ", "))
		}
		if e.Expires != nil && e.Expires.Sub(c.now) > c.g.ExceptionMaxDuration {
			c.report(ExceptionUnbounded, e.FieldPos("expires"), key, subj, "expires %s, more than %s from now (guardrails.exception_max_duration)",
				day(*e.Expires), repo.FormatDuration(c.g.ExceptionMaxDuration))
		}
		if e.ApprovedBy != "" && !e.IsGrant() {
			c.approval(ExceptionUnbounded, &e.Meta, key, subj, e.ApprovedBy, "")
		}
		if !e.IsGrant() && e.Expires != nil && !c.now.Before(*e.Expires) {
			c.report(ExceptionUnbounded, e.FieldPos("expires"), key, subj, "expired %s and waives nothing; remove it", day(*e.Expires))
		}
	}
}

func (c *checker) sharedIdentity() {
	owners := map[string][]*repo.ServiceAccount{}
	for _, s := range c.v.ServiceAccounts {
		seen := map[string]bool{}
		for _, id := range s.SPIFFEIDs {
			if !seen[id.Text] {
				seen[id.Text] = true
				owners[id.Text] = append(owners[id.Text], s)
			}
		}
		if len(seen) > 1 {
			c.report(SharedIdentity, s.FieldPos("spiffe_id"), s.Key(), s.Label(), "used by %d workloads (%s): give each workload its own ServiceAccount",
				len(seen), strings.Join(slices.Sorted(maps.Keys(seen)), ", "))
		}
	}
	for id, sas := range owners {
		if len(sas) < 2 {
			continue
		}
		for _, s := range sas[1:] {
			c.report(SharedIdentity, s.FieldPos("spiffe_id"), s.Key(), s.Label(), "SPIFFE id %s is also claimed by %s (%s)", id, sas[0].Key(), sas[0].Pos)
		}
	}
}

func (c *checker) orphans() {
	// A group has members when any entity, from identity files or entity
	// files, has it as a parent.
	members := map[types.EntityUID]bool{}
	for _, e := range c.res.Entities {
		for _, p := range e.Parents {
			members[p] = true
		}
	}
	for _, g := range c.v.Groups {
		uid := c.v.Config.UID(&g.Meta)
		if !members[uid] {
			c.report(OrphanObject, g.Pos, g.Key(), g.Label(), "has no members in environment %q", c.v.Env)
		}
	}
	granted := map[string]bool{}
	for _, e := range c.v.Entitlements {
		granted[e.Profile] = true
	}
	for _, e := range c.v.Exceptions {
		granted[e.Profile] = true
	}
	for _, p := range c.v.Profiles {
		if !granted[p.Name] {
			c.report(OrphanObject, p.Pos, p.Key(), p.Label(), "is granted to nobody in environment %q", c.v.Env)
		}
	}
	for _, u := range c.res.UnknownSubjects {
		c.report(OrphanObject, u.Grant.FieldPos("subject"), u.Grant.Key(), u.Grant.Label(), "grants to an unknown subject: %v", u.Err)
	}
}

// crossover reports service accounts and SPIFFE ids present both in a
// production environment and in another one, given the views of every
// environment.
func (c *checker) crossover(views []*repo.View) {
	cfg := c.r.Config
	if len(cfg.Production) == 0 || len(cfg.Production) == len(cfg.Environments) {
		return
	}
	type seen struct {
		sa   *repo.ServiceAccount
		envs []string
	}
	byName := map[string]*seen{}
	byID := map[string]*seen{}
	var order []*repo.ServiceAccount
	for _, v := range views {
		env := v.Env
		for _, s := range v.ServiceAccounts {
			if byName[s.Name] == nil {
				byName[s.Name] = &seen{sa: s}
				order = append(order, s)
			}
			byName[s.Name].envs = append(byName[s.Name].envs, env)
			for _, id := range s.SPIFFEIDs {
				if byID[id.Text] == nil {
					byID[id.Text] = &seen{sa: s}
				}
				if !slices.Contains(byID[id.Text].envs, env) {
					byID[id.Text].envs = append(byID[id.Text].envs, env)
				}
			}
		}
	}
	mixed := func(envs []string) bool {
		prod, other := false, false
		for _, e := range envs {
			if cfg.IsProduction(e) {
				prod = true
			} else {
				other = true
			}
		}
		return prod && other
	}
	for _, s := range order {
		if e := byName[s.Name]; mixed(e.envs) {
			c.report(EnvironmentCrossover, s.Pos, s.Key(), s.Label(), "exists in production and in other environments (%s): limit it with environments:, or put ${env} in its name",
				strings.Join(e.envs, ", "))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		if e := byID[id]; mixed(e.envs) && !mixed(byName[e.sa.Name].envs) {
			c.report(EnvironmentCrossover, e.sa.FieldPos("spiffe_id"), e.sa.Key(), e.sa.Label(), "SPIFFE id %s is used in production and in other environments (%s): put ${env} in it",
				id, strings.Join(e.envs, ", "))
		}
	}
}

// autoRotated lists credential types whose issuer rotates them
// automatically (SPIFFE SVIDs): last_rotated is optional for them.
var autoRotated = map[string]bool{"x509-svid": true, "jwt-svid": true}

// AutoRotated reports whether credentials of type typ are rotated by
// their issuer (SPIFFE SVIDs), so that no last_rotated is kept for them.
func AutoRotated(typ string) bool { return autoRotated[typ] }

func day(t time.Time) string {
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

func closest(name string) string {
	rules := Rules()
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = r.Name
	}
	return repo.Suggest(name, names)
}
