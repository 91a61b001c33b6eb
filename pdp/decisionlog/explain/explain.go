// Package explain traces a logged decision back to the identity code that
// made it: the request and the decision as the log recorded them, and for
// each determining policy (and each policy that failed to evaluate) what
// it is, where it is written at the revision that decided, its source
// lines there and the commit that last changed them by then.
//
// It reads the identity repository with Git, never from the work tree:
// the bundle's revision is compiled again from Git's object store
// (build.CompileRevision), which gives every policy's id and position,
// and the lines and their history come from git cat-file and git blame at
// that commit. It lives beside the decision log reader because it starts
// from a log entry; `cedargate explain` is its front end.
package explain

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/gitrev"
	"github.com/cedargate/cedargate/pdp/decisionlog"
)

// Options say which decision to explain and where its source is.
type Options struct {
	// Found is the decision, as decisionlog.Find found it.
	Found decisionlog.Found
	// Repo is the identity repository's directory, in a Git work tree
	// (its root or a subdirectory of it, as it was built).
	Repo string
	// Revision, when set, is the Git revision to read the repository at
	// instead of the logged one: for a bundle built with --revision,
	// whose logged revision is not a commit.
	Revision string
	// CompilerVersion is recorded in the manifest of the bundle rebuilt
	// to compare digests, as `cedargate build` records its own version.
	CompilerVersion string
}

var (
	commitRE = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	dirtyRE  = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})-dirty-([0-9a-f]{12})$`)
)

// Explain reads the repository at the revision of the decision's bundle
// and explains the decision. A logged revision that is not a Git commit
// (a build outside Git, or a --revision override without
// Options.Revision), a revision the repository does not have, or one that
// does not build, is an error that says so.
func Explain(ctx context.Context, opts Options) (*Explanation, error) {
	e := opts.Found.Entry
	x := &Explanation{Decision: decision(opts.Found), Warnings: []string{}, Policies: []Policy{}, Errors: []Policy{}}
	rev, dirty, err := gitRevision(e.Bundle.Revision, opts.Revision)
	if err != nil {
		return nil, err
	}
	inGit, err := gitrev.InWorkTree(ctx, opts.Repo)
	if err != nil {
		return nil, err
	}
	if !inGit {
		return nil, fmt.Errorf("%s is not in a Git work tree (or git is not installed): explain reads the repository at the decision's revision with git", opts.Repo)
	}
	c, commit, err := compileAt(ctx, opts.Repo, rev, e.Bundle.Environment)
	if err != nil {
		return nil, err
	}
	x.Revision = Revision{Commit: commit.Hash, Time: commit.Time, Dirty: dirty != ""}
	if opts.Revision != "" {
		x.Warnings = append(x.Warnings, fmt.Sprintf("read at --revision %s (%s), not at the logged revision %s", opts.Revision, short(commit.Hash), e.Bundle.Revision))
	}
	if err := x.checkDigest(c, e.Bundle, dirty, opts.CompilerVersion); err != nil {
		return nil, err
	}

	r := &reader{ctx: ctx, dir: opts.Repo, commit: commit.Hash, c: c, files: map[string][]string{}}
	for _, id := range e.Policies {
		p, err := r.policy(id)
		if err != nil {
			return nil, err
		}
		x.Policies = append(x.Policies, p)
	}
	for _, ev := range e.Errors {
		p, err := r.policy(ev.PolicyID)
		if err != nil {
			return nil, err
		}
		p.Message = ev.Message
		x.Errors = append(x.Errors, p)
	}
	for _, p := range slices.Concat(x.Policies, x.Errors) {
		if p.Kind == kindMissing {
			x.Warnings = append(x.Warnings, fmt.Sprintf("policy %q is not in the bundle rebuilt at %s", p.ID, short(commit.Hash)))
		}
	}
	x.DefaultDeny = !e.Allow && len(e.Policies) == 0
	return x, nil
}

// decision is the log entry as the explanation shows it.
func decision(f decisionlog.Found) Decision {
	e := f.Entry
	d := Decision{ID: e.DecisionID, Time: e.Time, Principal: e.Principal.String(), Action: e.Action.String(),
		Resource: e.Resource.String(), Decision: "deny", Caller: e.Caller, LatencyUS: e.Latency.Microseconds(),
		Bundle: e.Bundle, Log: LogLine{File: f.File, Line: f.Line}}
	if e.Allow {
		d.Decision = "allow"
	}
	return d
}

// gitRevision returns the Git revision to read for the logged revision
// logged (override, when set, instead), and the source digest prefix a
// dirty build recorded.
func gitRevision(logged, override string) (rev, dirty string, err error) {
	if m := dirtyRE.FindStringSubmatch(logged); m != nil {
		rev, dirty = m[1], m[2]
	}
	switch {
	case override != "":
		return override, dirty, nil
	case rev != "":
		return rev, dirty, nil
	case commitRE.MatchString(logged):
		return logged, "", nil
	case strings.HasPrefix(logged, "src-"):
		return "", "", fmt.Errorf("the decision's bundle revision %s was built outside Git (from the source digest): there is no commit to read; pass --revision with the commit it was built from", logged)
	default:
		return "", "", fmt.Errorf("the decision's bundle revision %q is not a Git commit (a build with --revision?); pass --revision with the commit it was built from", logged)
	}
}

// compileAt compiles env of the repository at rev. A repository that
// declares no environments builds bundles whose environment is
// "default", which is then no --env to ask for.
func compileAt(ctx context.Context, dir, rev, env string) (*build.Compiled, gitrev.Commit, error) {
	c, commit, err := build.CompileRevision(ctx, dir, rev, env)
	if err != nil && env == "default" && errors.Is(err, repo.ErrEnv) {
		c, commit, err = build.CompileRevision(ctx, dir, rev, "")
	}
	if errors.Is(err, repo.ErrEnv) {
		// The message speaks of --env, which explain does not have.
		return nil, commit, fmt.Errorf("the decision's bundle environment %q is not one the repository declares at revision %s: %w", env, rev, err)
	}
	return c, commit, err
}

// checkDigest rebuilds the bundle as `cedargate build` would have at the
// commit and compares its digest with the logged one, warning when they
// differ. For a dirty build the comparison means something only if the
// files it read were those of the commit after all.
func (x *Explanation) checkDigest(c *build.Compiled, logged bundle.Ref, dirty, compiler string) error {
	b := *c.Bundle
	b.Manifest.CompilerVersion = compiler
	// The revision a build records is the logged one, whether the
	// commit, a dirty mark or an override.
	b.Manifest.Revision = logged.Revision
	digest, err := bundle.ComputeDigest(&b)
	if err != nil {
		return fmt.Errorf("rebuilding the bundle at %s: %w", short(x.Revision.Commit), err)
	}
	x.Revision.Digest = digest
	x.Revision.DigestMatches = digest == logged.Digest
	srcPrefix := strings.TrimPrefix(c.Repo.SourceDigest, "sha256:")[:12]
	switch {
	case dirty != "" && dirty != srcPrefix:
		x.Warnings = append(x.Warnings, fmt.Sprintf("the bundle was built from a work tree with uncommitted changes on top of %s (source digest %s…, at the commit %s…): the lines below are the commit's, and may not be those that decided",
			short(x.Revision.Commit), dirty, srcPrefix))
	case !x.Revision.DigestMatches:
		x.Warnings = append(x.Warnings, fmt.Sprintf("the revision rebuilds to digest %s, not the logged %s: the bundle that decided was built otherwise (another cedargate than %q, other options or other files), so the explanation may not match what decided",
			bundle.ShortDigest(digest), bundle.ShortDigest(logged.Digest), compiler))
	}
	return nil
}
