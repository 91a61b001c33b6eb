package repo

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/cedargate/cedargate/bundle/diag"
)

// decoder reads typed values out of nodes for one environment, collecting
// every problem instead of stopping at the first.
type decoder struct {
	env   string
	diags *diag.List
	// lim bounds the Cedar text of when: conditions.
	lim Limits
	// noEnv, when set, replaces the message for ${env} where no
	// environment applies.
	noEnv string
	// relative allows relative dates (today-22d), counted from today.
	relative bool
	today    time.Time
}

func (d *decoder) errorf(pos diag.Position, subject, format string, args ...any) {
	d.diags.Add(diag.Diagnostic{Pos: pos, Subject: subject, Message: fmt.Sprintf(format, args...)})
}

// fields reads the keys of one mapping and remembers which were read, so
// that unknown keys can be reported.
type fields struct {
	d       *decoder
	n       *node
	subject string
	read    map[string]bool
	pos     map[string]diag.Position
}

func (d *decoder) fields(n *node, subject string) *fields {
	f := &fields{d: d, n: n, subject: subject, read: map[string]bool{}, pos: map[string]diag.Position{}}
	if n.kind != mapNode {
		d.errorf(n.pos, subject, "expected a mapping of fields, found %s", n.describe())
		f.n = &node{kind: mapNode, pos: n.pos}
	}
	return f
}

// get returns the node for key, or nil when absent or null.
func (f *fields) get(key string) *node {
	f.read[key] = true
	v := f.n.get(key)
	if v == nil || v.kind == nullNode {
		return nil
	}
	f.pos[key] = v.pos
	return v
}

// written marks key as known and reports whether it is written, even with
// an empty value (where "written empty" and "absent" mean different things).
func (f *fields) written(key string) bool {
	f.get(key)
	return f.n.get(key) != nil
}

// scalar expands and returns a scalar's text; it reports other shapes.
func (f *fields) scalar(key string, v *node) (string, bool) {
	if v.kind != scalarNode {
		f.d.errorf(v.pos, f.subject, "%s must be a single value, found %s", key, v.describe())
		return "", false
	}
	s, err := expand(v.text, f.d.env)
	if errors.Is(err, errNoEnv) && f.d.noEnv != "" {
		err = errors.New(f.d.noEnv)
	}
	if err != nil {
		f.d.errorf(v.pos, f.subject, "%s: %v", key, err)
		return "", false
	}
	return s, true
}

func (f *fields) str(key string) string {
	v := f.get(key)
	if v == nil {
		return ""
	}
	s, _ := f.scalar(key, v)
	return s
}

// required is str that reports a missing or empty value.
func (f *fields) required(key string) string {
	v := f.get(key)
	if v == nil {
		f.d.errorf(f.n.pos, f.subject, "missing required field %q", key)
		return ""
	}
	s, ok := f.scalar(key, v)
	if ok && s == "" {
		f.d.errorf(v.pos, f.subject, "%s must not be empty", key)
	}
	return s
}

// tokens reads a list of scalars; a single scalar is a list of one.
func (f *fields) tokens(key string) []Token {
	v := f.get(key)
	if v == nil {
		return nil
	}
	items := v.items
	if v.kind == scalarNode {
		items = []*node{v}
	} else if v.kind != seqNode {
		f.d.errorf(v.pos, f.subject, "%s must be a list, found %s", key, v.describe())
		return nil
	}
	var out []Token
	for _, it := range items {
		if s, ok := f.scalar(key, it); ok {
			if s == "" {
				f.d.errorf(it.pos, f.subject, "%s: empty entry", key)
				continue
			}
			out = append(out, Token{Text: s, Pos: it.pos})
		}
	}
	return out
}

func (f *fields) time(key string) *time.Time {
	v := f.get(key)
	if v == nil {
		return nil
	}
	s, ok := f.scalar(key, v)
	if !ok {
		return nil
	}
	if isRelativeDate(s) {
		if !f.d.relative {
			f.d.errorf(v.pos, f.subject, "%s: %q is a relative date; write the day (2026-12-01), or set relative_dates: true in cedargate.yaml if this repository is an example", key, s)
			return nil
		}
		t, err := parseRelativeDate(s, f.d.today)
		if err != nil {
			f.d.errorf(v.pos, f.subject, "%s: %v", key, err)
			return nil
		}
		return &t
	}
	t, err := ParseTime(s)
	if err != nil {
		f.d.errorf(v.pos, f.subject, "%s: %v", key, err)
		return nil
	}
	return &t
}

// flag reads a boolean.
func (f *fields) flag(key string) bool {
	v := f.get(key)
	if v == nil {
		return false
	}
	if v.kind != scalarNode || v.scalar != boolScalar {
		f.d.errorf(v.pos, f.subject, "%s must be true or false, found %s", key, v.describe())
		return false
	}
	return v.text == "true"
}

func (f *fields) duration(key string) time.Duration {
	v := f.get(key)
	if v == nil {
		return 0
	}
	s, ok := f.scalar(key, v)
	if !ok {
		return 0
	}
	dur, err := ParseDuration(s)
	if err != nil {
		f.d.errorf(v.pos, f.subject, "%s: %v", key, err)
		return 0
	}
	if dur <= 0 {
		f.d.errorf(v.pos, f.subject, "%s must be positive", key)
	}
	return dur
}

// done reports every key that was not read as unknown, with a suggestion
// when it looks like a typo of a known one.
func (f *fields) done() {
	known := make([]string, 0, len(f.read))
	for k := range f.read {
		known = append(known, k)
	}
	slices.Sort(known)
	for _, k := range f.n.keys {
		if f.read[k.text] {
			continue
		}
		msg := fmt.Sprintf("unknown field %q", k.text)
		if s := Suggest(k.text, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			msg += " (known fields: " + strings.Join(known, ", ") + ")"
		}
		f.d.errorf(k.pos, f.subject, "%s", msg)
	}
}

// decodeObject decodes one identity document for the decoder's environment.
// It returns nil when the document is not for this environment or is
// broken beyond use (the problems are recorded).
func (d *decoder) decodeObject(n *node, envs []string) any {
	if n.kind != mapNode {
		d.errorf(n.pos, "", "an identity object must be a mapping with a kind, found %s", n.describe())
		return nil
	}
	kn := n.get("kind")
	if kn == nil || kn.kind != scalarNode || kn.text == "" {
		d.errorf(n.pos, "", "missing required field \"kind\" (one of %s)", kindList())
		return nil
	}
	kind := Kind(kn.text)
	if !slices.Contains(Kinds(), kind) {
		msg := fmt.Sprintf("unknown kind %q", kn.text)
		if s := Suggest(kn.text, kindNames()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			msg += " (kinds: " + kindList() + ")"
		}
		d.errorf(kn.pos, "", "%s", msg)
		return nil
	}
	subject := string(kind)
	if nn := n.get("name"); nn != nil && nn.kind == scalarNode {
		if name, err := expand(nn.text, d.env); err == nil {
			subject = fmt.Sprintf("%s %q", kind, name)
		}
	}
	f := d.fields(n, subject)
	f.get("kind")
	m := Meta{Kind: kind, Pos: n.pos}
	switch kind {
	case KindEntitlement, KindException:
		m.Name = f.str("name")
	default:
		m.Name = f.required("name")
	}
	if strings.ContainsAny(m.Name, "/:#\"") || strings.ContainsFunc(m.Name, unicode.IsSpace) {
		d.errorf(f.pos["name"], subject, "name must not contain '/', ':', '#', quotes or white space")
	} else if err := CheckIdent(m.Name); err != nil {
		d.errorf(f.pos["name"], subject, "name %v", err)
	}
	m.Description = f.str("description")
	envTokens := f.tokens("environments")
	for _, t := range envTokens {
		if !slices.Contains(envs, t.Text) {
			d.errorf(t.Pos, subject, "environment %q is not declared in cedargate.yaml (environments: %s)", t.Text, strings.Join(envs, ", "))
		}
		m.Environments = append(m.Environments, t.Text)
	}
	if f.get("environments") != nil && len(m.Environments) == 0 {
		d.errorf(f.pos["environments"], subject, "environments is empty: the object would exist nowhere; remove the object instead")
	}

	var obj any
	switch kind {
	case KindUser:
		u := &User{Meta: m, Groups: f.tokens("groups"), SCIMUserName: f.str("scim_username")}
		if f.written("scim_username") && u.SCIMUserName == "" {
			d.errorf(f.pos["scim_username"], subject, "scim_username must not be empty; leave it out to match the user's name")
		}
		u.Attributes = d.attributes(f, envs)
		obj = u
	case KindServiceAccount:
		obj = d.serviceAccount(f, m, envs)
	case KindGroup:
		g := &Group{Meta: m, Groups: f.tokens("groups"), SCIMDisplayName: f.str("scim_displayname")}
		if f.written("scim_displayname") && g.SCIMDisplayName == "" {
			d.errorf(f.pos["scim_displayname"], subject, "scim_displayname must not be empty; leave it out to match the group's name")
		}
		g.Attributes = d.attributes(f, envs)
		obj = g
	case KindTeam:
		obj = &Team{Meta: m, Members: f.tokens("members")}
	case KindResource:
		r := &Resource{Meta: m, Type: f.required("type"), Parents: f.tokens("parents")}
		r.Attributes = d.attributes(f, envs)
		obj = r
	case KindAccessProfile:
		obj = d.accessProfile(f, m)
	case KindEntitlement:
		e := &Entitlement{Meta: m, Subject: f.required("subject"), Profile: profileName(f.required("profile")),
			ApprovedBy: f.str("approved_by"), Expires: f.time("expires"), Ticket: f.str("ticket"), Reason: f.str("reason")}
		e.display = e.Subject + ":" + e.Profile
		obj = e
	case KindException:
		e := &Exception{Meta: m, Subject: f.str("subject"), Rule: f.str("rule"), Profile: profileName(f.str("profile")),
			Expires: f.time("expires"), ApprovedBy: f.str("approved_by"), Reason: f.str("reason"), Ticket: f.str("ticket")}
		switch {
		case e.Rule == "" && e.Profile == "":
			d.errorf(n.pos, subject, "an Exception needs a subject and a profile (a break-glass grant) or a rule (a guardrail waiver)")
		case e.Profile != "" && e.Rule != "":
			d.errorf(f.pos["rule"], subject, "an Exception is either a grant (subject and profile) or a waiver (rule), not both")
		case e.Profile != "" && e.Subject == "":
			d.errorf(f.pos["profile"], subject, "a break-glass grant needs a subject")
		case e.Profile != "" && e.Expires == nil && f.n.get("expires") == nil:
			// Not only a guardrail: with the guardrail off, a grant without
			// expiry would grant forever.
			d.errorf(n.pos, subject, "a break-glass grant needs expires")
		}
		if e.IsGrant() {
			e.display = e.Subject + ":" + e.Profile
		} else if e.Subject != "" {
			e.display = e.Rule + ":" + e.Subject
		} else {
			e.display = e.Rule
		}
		obj = e
	}
	f.done()
	if m.Environments != nil && !slices.Contains(m.Environments, d.env) {
		return nil
	}
	obj.(interface{ meta() *Meta }).meta().setFields(f.pos)
	if m.Name == "" && kind != KindEntitlement && kind != KindException {
		// Reported above; an object without a name would only cause
		// follow-on errors.
		return nil
	}
	return obj
}

func (d *decoder) serviceAccount(f *fields, m Meta, envs []string) *ServiceAccount {
	sa := &ServiceAccount{Meta: m, Owner: f.str("owner"), Expires: f.time("expires"),
		Groups: f.tokens("groups"), SPIFFEIDs: f.tokens("spiffe_id")}
	for _, t := range sa.SPIFFEIDs {
		if !strings.HasPrefix(t.Text, "spiffe://") {
			d.errorf(t.Pos, f.subject, "spiffe_id %q must start with spiffe://", t.Text)
		}
	}
	sa.Kubernetes = f.tokens("kubernetes")
	for _, t := range sa.Kubernetes {
		if !validKubernetesName(t.Text) {
			d.errorf(t.Pos, f.subject, "kubernetes %q must be namespace/name, the ServiceAccount's namespace and name (lower-case letters, digits, '-' and '.')", t.Text)
		}
	}
	sa.AWSARN = f.str("aws_arn")
	if f.written("aws_arn") && !validAWSARN(sa.AWSARN) {
		d.errorf(f.pos["aws_arn"], f.subject, "aws_arn %q must be an IAM role or user ARN (arn:aws:iam::123456789012:role/NAME or :user/NAME)", sa.AWSARN)
	}
	if c := f.get("credential"); c != nil {
		cf := d.fields(c, f.subject)
		sa.Credential = &Credential{Type: cf.required("type"), Rotation: cf.duration("rotation"), LastRotated: cf.time("last_rotated")}
		for k, p := range cf.pos {
			f.pos["credential."+k] = p
		}
		cf.done()
	}
	if r := f.get("review"); r != nil {
		rf := d.fields(r, f.subject)
		sa.Review = &Review{Cadence: rf.duration("cadence"), LastReview: rf.time("last_review")}
		for k, p := range rf.pos {
			f.pos["review."+k] = p
		}
		rf.done()
	}
	sa.Attributes = d.attributes(f, envs)
	return sa
}

func (d *decoder) accessProfile(f *fields, m Meta) *AccessProfile {
	p := &AccessProfile{Meta: m}
	v := f.get("permissions")
	if v == nil {
		d.errorf(m.Pos, f.subject, "missing required field \"permissions\"")
		return p
	}
	if v.kind != seqNode {
		d.errorf(v.pos, f.subject, "permissions must be a list, found %s", v.describe())
		return p
	}
	for _, item := range v.items {
		pf := d.fields(item, f.subject)
		perm := Permission{Pos: item.pos, Actions: pf.tokens("actions"), Resources: pf.tokens("resources"), When: pf.str("when")}
		perm.WhenPos = pf.pos["when"]
		if w := pf.n.get("when"); w != nil {
			perm.WhenText = w.textPos
		}
		if perm.When != "" {
			if breach := checkCondition(perm.WhenPos, perm.When, d.lim); len(breach) > 0 {
				for _, b := range breach {
					b.Subject = f.subject
					d.diags.Add(b)
				}
				// Dropped, so that nothing parses it; the error fails
				// the build, and a permission without its condition
				// would grant more than written.
				pf.done()
				continue
			}
		}
		if len(perm.Actions) == 0 {
			d.errorf(item.pos, f.subject, "a permission needs actions (use \"*\" for every action)")
		}
		if len(perm.Resources) == 0 {
			d.errorf(item.pos, f.subject, "a permission needs resources (use \"*\" for every resource)")
		}
		pf.done()
		p.Permissions = append(p.Permissions, perm)
	}
	if len(v.items) == 0 {
		d.errorf(v.pos, f.subject, "permissions is empty")
	}
	return p
}

// attributes reads `attributes:` and applies this environment's
// `overrides:`, which replace attributes key by key.
func (d *decoder) attributes(f *fields, envs []string) Attrs {
	attrs := Attrs{}
	read := func(n *node) {
		if n.kind != mapNode {
			d.errorf(n.pos, f.subject, "attributes must be a mapping, found %s", n.describe())
			return
		}
		for i, k := range n.keys {
			attrs[k.text] = newValue(n.values[i], d.env)
		}
	}
	if a := f.get("attributes"); a != nil {
		read(a)
	}
	o := f.get("overrides")
	if o == nil {
		return attrs
	}
	if o.kind != mapNode {
		d.errorf(o.pos, f.subject, "overrides must map environment names to overrides, found %s", o.describe())
		return attrs
	}
	for i, k := range o.keys {
		if !slices.Contains(envs, k.text) {
			d.errorf(k.pos, f.subject, "overrides: environment %q is not declared in cedargate.yaml", k.text)
			continue
		}
		of := d.fields(o.values[i], f.subject)
		a := of.get("attributes")
		of.done()
		if k.text == d.env && a != nil {
			read(a)
		}
	}
	return attrs
}

// profileName accepts a profile as a bare name or as AccessProfile/name,
// like every other reference.
func profileName(s string) string {
	return strings.TrimPrefix(s, string(KindAccessProfile)+"/")
}

func kindNames() []string {
	kinds := Kinds()
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}

func kindList() string { return strings.Join(kindNames(), ", ") }
