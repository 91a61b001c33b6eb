// Package dectest runs an identity repository's decision tests
// (tests/**/*.yaml) against the bundle compiled from it, with the same
// decision engine the PDP uses, so a passing test is a statement about what
// production will decide.
package dectest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"

	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/pdp/cedarjson"
	"github.com/cedargate/cedargate/pdp/engine"
)

// Report is the outcome of a test run.
type Report struct {
	Passed int
	// Failed counts the cases that ran and got another decision than
	// expected, or could not run.
	Failed int
	// Failures holds one error per failing case and every problem that
	// kept a case from running.
	Failures diag.List
	// Problems are the failures that belong to no case: the environment
	// did not compile or a test file did not read. Run leaves it empty;
	// build.Test fills it.
	Problems diag.List
	// Cases records every case that was decided or failed to run, in the
	// order of the suites (see Case).
	Cases []Case
	// Coverage says, per environment, which policies and grants the cases
	// exercised (see Coverage).
	Coverage []Coverage
}

// Case is the outcome of one test case in one environment.
type Case struct {
	Env  string
	Name string
	// Pos is where the case starts in its test file.
	Pos diag.Position
	// Expect is "allow" or "deny".
	Expect string
	// Got is the decision, "allow" or "deny", or "" when the case could
	// not run (a bad reference, context or entity).
	Got string
	// Policies are the determining policies of the decision.
	Policies []engine.Reason
	// Pass says whether the case got what it expects (decision and, when
	// the case names them, determining policies).
	Pass bool
	// Problems say why the case failed: the mismatch, or what kept it from
	// running. Empty when it passed.
	Problems diag.List
}

// Run decides every test case of suites against snap. Cases without an
// instant of their own or their suite's are decided at now. Once ctx is
// done it stops between cases and returns ctx's error.
func Run(ctx context.Context, res *compile.Result, suites []*repo.Suite, snap *engine.Snapshot, now time.Time) (Report, error) {
	var rep Report
	r := &runner{res: res, conv: cedarjson.New(res.Schema, res.Namespace)}
	for _, s := range suites {
		for _, c := range s.Cases {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			at := now
			if s.At != nil {
				at = *s.At
			}
			if c.At != nil {
				at = *c.At
			}
			before := len(r.diags)
			out := Case{Env: res.Env, Name: c.Name, Pos: c.Pos, Expect: c.Expect}
			req, ok := r.request(s, c, at)
			if ok {
				ok = r.noShadowing(c, req, snap)
			}
			if !ok {
				out.Problems = slices.Clone(r.diags[before:])
				rep.Cases = append(rep.Cases, out)
				rep.Failed++
				continue
			}
			got := snap.Decide(req)
			out.Got, out.Policies = word(got), got.Reasons
			if msg := check(c, got); msg != "" {
				d := diag.Diagnostic{Pos: c.Pos, Subject: fmt.Sprintf("test %q", c.Name), Message: msg}
				rep.Failures.Add(d)
				out.Problems = diag.List{d}
				rep.Cases = append(rep.Cases, out)
				rep.Failed++
				continue
			}
			out.Pass = true
			rep.Cases = append(rep.Cases, out)
			rep.Passed++
		}
	}
	rep.Failures.Append(r.diags)
	rep.Coverage = []Coverage{cover(res, rep.Cases)}
	return rep, nil
}

// word names a decision as tests write it.
func word(d engine.Decision) string {
	if d.Allow {
		return "allow"
	}
	return "deny"
}

// check compares a decision with what the case expects and returns the
// failure message, or "".
func check(c *repo.Case, got engine.Decision) string {
	gotWord := word(got)
	var ids []string
	for _, p := range got.Reasons {
		ids = append(ids, p.ID)
	}
	detail := func() string {
		var b strings.Builder
		if len(got.Reasons) == 0 {
			b.WriteString("; no policy determined it (default deny)")
		} else {
			b.WriteString("; determining policies:")
			for _, p := range got.Reasons {
				fmt.Fprintf(&b, " %s (%s)", p.ID, p.Source)
			}
		}
		for _, e := range got.Errors {
			fmt.Fprintf(&b, "; policy %s failed to evaluate: %s", e.PolicyID, e.Message)
		}
		return b.String()
	}
	if gotWord != c.Expect {
		return fmt.Sprintf("expected %s, got %s%s", c.Expect, gotWord, detail())
	}
	if c.CheckPolicies {
		var want []string
		for _, t := range c.Policies {
			want = append(want, t.Text)
		}
		slices.Sort(want)
		if !slices.Equal(want, ids) {
			return fmt.Sprintf("%s as expected, but determining policies are [%s], expected [%s]%s",
				gotWord, strings.Join(ids, ", "), strings.Join(want, ", "), detail())
		}
	}
	return ""
}

type runner struct {
	res *compile.Result
	// conv reads the cases' UIDs, context and entities by the schema.
	conv  *cedarjson.Converter
	diags diag.List
}

func (r *runner) fail(pos diag.Position, c *repo.Case, format string, args ...any) {
	r.diags.Add(diag.Diagnostic{Pos: pos, Subject: fmt.Sprintf("test %q", c.Name), Message: fmt.Sprintf(format, args...)})
}

func (r *runner) request(s *repo.Suite, c *repo.Case, at time.Time) (*engine.Request, bool) {
	ok := true
	uid := func(t repo.Token, action bool) types.EntityUID {
		read := r.conv.UID
		if action {
			read = r.conv.ActionUID
		}
		u, err := read(t.Text)
		if err != nil {
			r.fail(t.Pos, c, "%v", err)
			ok = false
		}
		return u
	}
	req := &engine.Request{Principal: uid(c.Principal, false), Action: uid(c.Action, true), Resource: uid(c.Resource, false), Time: at}
	if !ok {
		return nil, false
	}
	if s := r.res.Schema; s != nil {
		if _, known := s.Actions[req.Action]; !known {
			var names []string
			for uid := range s.Actions {
				names = append(names, uid.String())
			}
			slices.Sort(names)
			r.fail(c.Action.Pos, c, "unknown action %s (the schema declares %s)", req.Action, strings.Join(names, ", "))
			return nil, false
		}
	}
	merged := types.RecordMap{}
	for _, v := range []*repo.Value{s.Context, c.Context} {
		if v == nil {
			continue
		}
		raw, err := v.JSON()
		if err != nil {
			r.diags.Append(diag.ListOf(err))
			return nil, false
		}
		rec, err := r.conv.Context(req.Action, raw)
		if err != nil {
			r.fail(v.Pos(), c, "%v", err)
			return nil, false
		}
		for k, e := range rec.All() {
			merged[k] = e
		}
	}
	req.Context = types.NewRecord(merged)
	if c.Entities != nil {
		raw, err := c.Entities.JSON()
		if err != nil {
			r.diags.Append(diag.ListOf(err))
			return nil, false
		}
		ents, err := r.conv.Entities(raw)
		if err == nil && r.res.Schema != nil {
			err = validate.New(r.res.Schema, validate.WithStrict()).Entities(entityMap(ents))
			if err != nil {
				err = fmt.Errorf("entities: %w", err)
			}
		}
		if err != nil {
			r.fail(c.Entities.Pos(), c, "%v", err)
			return nil, false
		}
		req.Entities = ents
	}
	// A misspelt principal or resource would be denied by default and make
	// an `expect: deny` case pass vacuously, so each must exist: in the
	// bundle or among the case's entities.
	for _, x := range []struct {
		tok repo.Token
		uid types.EntityUID
	}{{c.Principal, req.Principal}, {c.Resource, req.Resource}} {
		if !r.exists(x.uid, req.Entities) {
			r.fail(x.tok.Pos, c, "no entity %s in environment %q%s; to test an entity the bundle lacks, define it in the test's entities", x.uid, r.res.Env, r.hint(x.uid))
			ok = false
		}
	}
	if s := r.res.Schema; s != nil && ok {
		err := validate.New(s).Request(types.Request{Principal: req.Principal, Action: req.Action, Resource: req.Resource, Context: req.Context})
		if err != nil {
			r.fail(c.Pos, c, "request does not match the schema: %v%s", err, explainContext(r.conv, req))
			ok = false
		}
	}
	return req, ok
}

// noShadowing fails the case when one of its entities has a uid the
// bundle defines: a PDP in its default mode (serve --request-entities
// refuse-shadowing) refuses such a request, and the engine would decide it
// without them, so the case would state something production never
// decides.
func (r *runner) noShadowing(c *repo.Case, req *engine.Request, snap *engine.Snapshot) bool {
	var uids []string
	for _, e := range req.Entities {
		if _, refused := snap.Shadowing([]types.Entity{e}, engine.RefuseShadowing); refused {
			uids = append(uids, e.UID.String())
		}
	}
	if len(uids) == 0 {
		return true
	}
	slices.Sort(uids)
	are := "are"
	if len(uids) == 1 {
		are = "is"
	}
	r.fail(c.Entities.Pos(), c, "entities: %s %s defined by the bundle: a PDP refuses request entities that shadow "+
		"bundle entities (serve --request-entities refuse-shadowing, the default); give the case entities the bundle does not define",
		strings.Join(uids, ", "), are)
	return false
}

func (r *runner) exists(uid types.EntityUID, reqEntities []types.Entity) bool {
	if _, ok := r.res.Entities[uid]; ok {
		return true
	}
	for _, e := range reqEntities {
		if e.UID == uid {
			return true
		}
	}
	return false
}

// hint suggests an entity of the same type with a similar id.
func (r *runner) hint(uid types.EntityUID) string {
	var ids []string
	for u := range r.res.Entities {
		if u.Type == uid.Type {
			ids = append(ids, string(u.ID))
		}
	}
	slices.Sort(ids)
	if s := repo.Suggest(string(uid.ID), ids); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// explainContext names the context field the schema refuses, which the
// schema validator's message does not.
func explainContext(conv *cedarjson.Converter, req *engine.Request) string {
	if err := conv.CheckContext(req.Action, req.Context); err != nil {
		return "; " + err.Error()
	}
	return ""
}

func entityMap(ents []types.Entity) types.EntityMap {
	m := make(types.EntityMap, len(ents))
	for _, e := range ents {
		m[e.UID] = e
	}
	return m
}
