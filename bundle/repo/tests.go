package repo

import (
	"fmt"
	"slices"
	"time"

	"github.com/cedargate/cedargate/bundle/diag"
)

// Suite is one decision test file (tests/**/*.yaml).
type Suite struct {
	Path string
	// At is the default decision instant of the file's cases.
	At *time.Time
	// Environments limits the suite to these environments; nil means all.
	Environments []string
	// Context is the context every case starts from (a case's own context
	// entries replace these key by key); nil when none.
	Context *Value
	Cases   []*Case
}

// Case is one decision test: a request and the decision it must get.
type Case struct {
	Name string
	Pos  diag.Position
	// Principal, Action and Resource are references (see Ref); an action
	// may also be a bare action name of the repository namespace.
	Principal, Action, Resource Token
	// Context is a mapping of context values, or nil.
	Context *Value
	// Entities is a list of request-scoped entities in Cedar's JSON entity
	// format, or nil.
	Entities *Value
	// At is the decision instant; nil means the suite's, or the time the
	// tests run.
	At *time.Time
	// Expect is "allow" or "deny".
	Expect    string
	ExpectPos diag.Position
	// Policies, when CheckPolicies is set, are the exact determining policy
	// ids the decision must have (any order; empty means none).
	Policies      []Token
	CheckPolicies bool
}

// Suites decodes the decision tests that apply to env.
func (r *Repo) Suites(env string) ([]*Suite, diag.List) {
	var diags diag.List
	d := &decoder{env: env, diags: &diags, relative: r.Config.RelativeDates, today: r.Today()}
	var out []*Suite
	for _, f := range r.Tests {
		// The repository-wide limits were checked when it was loaded.
		docs, err := parseYAML(f.Path, f.Data, &budget{Limits: r.Config.Limits})
		if err != nil {
			diags.Append(diag.ListOf(err))
			continue
		}
		if len(docs) != 1 {
			if len(docs) > 1 {
				diags.Errorf(docs[1].pos, "a test file holds one document with a cases list, found %d documents", len(docs))
			}
			continue
		}
		s := d.suite(f.Path, docs[0], r.Config.Environments)
		if s != nil && (s.Environments == nil || slices.Contains(s.Environments, env)) {
			out = append(out, s)
		}
	}
	return out, diags
}

func (d *decoder) suite(path string, n *node, envs []string) *Suite {
	f := d.fields(n, "")
	s := &Suite{Path: path, At: f.time("at")}
	for _, t := range f.tokens("environments") {
		if !slices.Contains(envs, t.Text) {
			d.errorf(t.Pos, "", "environment %q is not declared in cedargate.yaml", t.Text)
		}
		s.Environments = append(s.Environments, t.Text)
	}
	f.str("description")
	if v := f.get("context"); v != nil {
		if v.kind != mapNode {
			d.errorf(v.pos, "", "context must be a mapping, found %s", v.describe())
		} else {
			s.Context = newValue(v, d.env)
		}
	}
	cases := f.get("cases")
	f.done()
	if cases == nil || cases.kind != seqNode || len(cases.items) == 0 {
		d.errorf(n.pos, "", "a test file needs a non-empty list of cases")
		return nil
	}
	for i, item := range cases.items {
		errorsBefore := d.diags.Errors()
		cf := d.fields(item, fmt.Sprintf("test %d", i+1))
		c := &Case{Pos: item.pos, Name: cf.str("name")}
		if c.Name != "" {
			cf.subject = fmt.Sprintf("test %q", c.Name)
		} else {
			c.Name = fmt.Sprintf("test %d", i+1)
		}
		one := func(key string) Token {
			v := cf.required(key)
			return Token{Text: v, Pos: cf.pos[key]}
		}
		c.Principal, c.Action, c.Resource = one("principal"), one("action"), one("resource")
		if v := cf.get("context"); v != nil {
			if v.kind != mapNode {
				d.errorf(v.pos, cf.subject, "context must be a mapping, found %s", v.describe())
			}
			c.Context = newValue(v, d.env)
		}
		if v := cf.get("entities"); v != nil {
			if v.kind != seqNode {
				d.errorf(v.pos, cf.subject, "entities must be a list of Cedar JSON entities, found %s", v.describe())
			}
			c.Entities = newValue(v, d.env)
		}
		c.At = cf.time("at")
		c.Expect = cf.required("expect")
		c.ExpectPos = cf.pos["expect"]
		if c.Expect != "" && c.Expect != "allow" && c.Expect != "deny" {
			d.errorf(c.ExpectPos, cf.subject, "expect must be allow or deny, not %q", c.Expect)
		}
		// `policies:` written empty means "no determining policy", so its
		// presence matters, not only its items.
		if cf.written("policies") {
			c.CheckPolicies = true
			c.Policies = cf.tokens("policies")
		}
		cf.done()
		if d.diags.Errors() > errorsBefore {
			// A case that does not decode is reported, not run.
			continue
		}
		s.Cases = append(s.Cases, c)
	}
	return s
}
