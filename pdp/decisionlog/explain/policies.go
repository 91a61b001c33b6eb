package explain

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/gitrev"
)

// Kinds of explained policies.
const (
	kindPolicy      = "policy"
	kindEntitlement = "entitlement"
	kindException   = "exception"
	kindExpiry      = "expiry"
	kindMissing     = "missing"

	// sourcePolicy is Source.What for the text of a hand-written policy.
	sourcePolicy = "policy"
)

// reader explains policies of one compiled revision, reading each file
// once.
type reader struct {
	ctx    context.Context
	dir    string
	commit string
	c      *build.Compiled
	files  map[string][]string
}

// policy explains the policy id of the rebuilt bundle.
func (r *reader) policy(id string) (Policy, error) {
	found, ok := r.c.Result.Policy(id)
	if !ok {
		return Policy{ID: id, Kind: kindMissing, Summary: "not in the bundle rebuilt at this revision", Sources: []Source{}}, nil
	}
	cp := &found
	p := Policy{ID: id, Source: cp.Source, NotBefore: cp.NotBefore, NotAfter: cp.NotAfter, Cedar: cp.Cedar,
		Effect: effect(cp), Sources: []Source{}}
	view := r.c.Result.View
	var err error
	switch cp.Origin {
	case compile.OriginPolicy:
		p.Kind = kindPolicy
		p.Summary = "a hand-written " + p.Effect + " policy"
		err = r.add(&p, sourcePolicy, r.policyLines(cp.Pos), cp.Pos)
	case compile.OriginEntitlement, compile.OriginException:
		err = r.grant(&p, cp, view)
	case compile.OriginExpiry:
		p.Kind = kindExpiry
		for _, s := range view.ServiceAccounts {
			if s.Key() == cp.Object {
				p.Summary = fmt.Sprintf("the forbid that denies %s everything from its expiry on (%s)", s.Label(), formatTime(s.Expires))
				err = r.add(&p, s.Label(), documentLines, s.Pos)
			}
		}
	default:
		p.Kind = kindMissing
		p.Summary = fmt.Sprintf("a policy of unknown origin %q", cp.Origin)
	}
	return p, err
}

// grant explains a policy generated from an Entitlement or an Exception:
// the object and the access profile it grants.
func (r *reader) grant(p *Policy, cp *compile.Policy, view *repo.View) error {
	var meta *repo.Meta
	switch cp.Origin {
	case compile.OriginEntitlement:
		p.Kind = kindEntitlement
		for _, e := range view.Entitlements {
			if e.Key() == cp.Object {
				meta = &e.Meta
				p.Grant = &Grant{Kind: string(e.Kind), Name: e.Name, Subject: e.Subject, Profile: e.Profile, ApprovedBy: e.ApprovedBy, Ticket: e.Ticket, Expires: e.Expires}
			}
		}
	default:
		p.Kind = kindException
		for _, e := range view.Exceptions {
			if e.Key() == cp.Object {
				meta = &e.Meta
				p.Grant = &Grant{Kind: string(e.Kind), Name: e.Name, Subject: e.Subject, Profile: e.Profile, ApprovedBy: e.ApprovedBy, Ticket: e.Ticket, Expires: e.Expires}
			}
		}
	}
	if meta == nil {
		p.Summary = fmt.Sprintf("a grant from %s, which the revision does not have", cp.Object)
		return nil
	}
	g := p.Grant
	p.Summary = fmt.Sprintf("a grant: %s gives AccessProfile %q to %s (approved by %s", meta.Label(), g.Profile, g.Subject, g.ApprovedBy)
	if g.Ticket != "" {
		p.Summary += ", ticket " + g.Ticket
	}
	if g.Expires != nil {
		p.Summary += ", until " + formatTime(g.Expires)
	}
	p.Summary += ")"
	if err := r.add(p, meta.Label(), documentLines, meta.Pos); err != nil {
		return err
	}
	for _, ap := range view.Profiles {
		if ap.Name == g.Profile {
			return r.add(p, ap.Label(), documentLines, ap.Pos)
		}
	}
	return nil
}

// extent finds the lines [first, last] of what starts at line of file.
type extent func(file string, lines []string, line int) (first, last int)

// add adds to p the lines of the file of pos that ext finds around pos's
// line, with their last change.
func (r *reader) add(p *Policy, what string, ext extent, pos diag.Position) error {
	lines, err := r.file(pos.File)
	if err != nil {
		return err
	}
	if pos.Line < 1 || pos.Line > len(lines) {
		return fmt.Errorf("%s: the line is not in the file at %s", pos, short(r.commit))
	}
	first, last := ext(pos.File, lines, pos.Line)
	blamed, err := gitrev.Blame(r.ctx, r.dir, r.commit, pos.File, first, last)
	if err != nil {
		return err
	}
	ch := gitrev.Latest(blamed)
	p.Sources = append(p.Sources, Source{What: what, Path: pos.File, StartLine: first, EndLine: last,
		Text:       strings.Join(lines[first-1:last], "\n"),
		LastChange: Change{Commit: ch.Commit, Author: ch.Author, Email: ch.Email, Date: ch.Date, Subject: ch.Subject}})
	return nil
}

// file returns the lines of file at the commit.
func (r *reader) file(path string) ([]string, error) {
	if lines, ok := r.files[path]; ok {
		return lines, nil
	}
	data, err := gitrev.ReadFile(r.ctx, r.dir, r.commit, path, r.c.Repo.Config.Limits.FileSize)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	r.files[path] = lines
	return lines, nil
}

// policyLines is the extent of the hand-written policy that starts at
// start: up to where the next policy of the file starts.
func (r *reader) policyLines(start diag.Position) extent {
	return func(file string, lines []string, line int) (int, int) {
		next := diag.Position{Line: len(lines) + 1, Col: 1}
		for _, p := range r.c.Result.Policies {
			if p.Origin == compile.OriginPolicy && p.Pos.File == file && before(start, p.Pos) && before(p.Pos, next) {
				next = p.Pos
			}
		}
		return policyExtent(lines, start, next)
	}
}

// before reports whether a comes before b in their file.
func before(a, b diag.Position) bool {
	return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
}

func effect(p *compile.Policy) string {
	if p.Parsed != nil && p.Parsed.Effect() == cedar.Forbid {
		return "forbid"
	}
	return "permit"
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "no expiry"
	}
	return t.UTC().Format(time.RFC3339)
}

// short abbreviates a commit hash for messages.
func short(commit string) string { return commit[:min(12, len(commit))] }
