package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/gitrev"
)

// Compiled is one environment of a repository compiled to a bundle, with
// the repository it came from, for the commands that read what identity
// code means (access, diff, review, explain) rather than ship it: no
// guardrails, no decision tests, nothing stored.
type Compiled struct {
	// Repo is the repository as read; its Dir may be a temporary
	// directory that no longer exists (see CompileRevision).
	Repo *repo.Repo
	// Env is the environment compiled ("" when the repository declares
	// none).
	Env string
	// Result is the compiler's output: the bundle's policies and
	// entities with where each comes from.
	Result *compile.Result
	// Bundle is the compiled bundle; its manifest names the revision.
	Bundle *bundle.Bundle
}

// Compile reads the repository at dir and compiles env (which may be
// empty when the repository declares no environments), recording
// revision in the manifest. Problems in the repository fail it with a
// *diag.Failure listing every one.
func Compile(ctx context.Context, dir, env, revision string) (*Compiled, error) {
	return compileAt(ctx, dir, env, revision, time.Time{})
}

// compileAt is Compile with relative dates counted from now's day (zero:
// the current time).
func compileAt(ctx context.Context, dir, env, revision string, now time.Time) (*Compiled, error) {
	r, err := load(ctx, dir)
	if err != nil {
		return nil, err
	}
	r.Now = now
	return compileRepo(ctx, r, env, revision)
}

// compileRepo compiles env of the repository r, recording revision.
func compileRepo(ctx context.Context, r *repo.Repo, env, revision string) (*Compiled, error) {
	env, err := checkEnv(r, env)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res, diags := compile.Compile(r, env)
	if diags.Errors() > 0 {
		return nil, diags.Err()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := res.Bundle(bundle.Manifest{Name: r.Config.Name, Revision: revision, SourceDigest: r.SourceDigest})
	return &Compiled{Repo: r, Env: env, Result: res, Bundle: b}, nil
}

// CompileRevision compiles env of the repository at dir as it was at the
// Git revision rev (a hash, a prefix, a branch or a tag), read with git
// into a temporary directory that is removed before it returns: the work
// tree, the index and every store stay untouched. The manifest's
// revision is the commit's full hash. A revision that does not exist, or
// at which the repository does not compile, is an error that names it and
// the problems.
func CompileRevision(ctx context.Context, dir, rev, env string) (*Compiled, gitrev.Commit, error) {
	return CompileRevisionAt(ctx, dir, rev, env, time.Time{})
}

// CompileRevisionAt is CompileRevision counting relative dates
// (relative_dates in cedargate.yaml) from now's day; zero is the current
// time. Commands that judge access at an instant (--at) pass it.
func CompileRevisionAt(ctx context.Context, dir, rev, env string, now time.Time) (*Compiled, gitrev.Commit, error) {
	tmp, err := os.MkdirTemp("", "cedargate-rev-")
	if err != nil {
		return nil, gitrev.Commit{}, err
	}
	defer os.RemoveAll(tmp)
	c, err := gitrev.Export(ctx, dir, rev, tmp)
	if err != nil {
		return nil, c, err
	}
	out, err := compileAt(ctx, tmp, env, c.Hash, now)
	if err != nil {
		var f *diag.Failure
		if errors.As(err, &f) {
			return nil, c, &RevisionError{Revision: rev, Commit: c.Hash, Failure: f}
		}
		return nil, c, fmt.Errorf("revision %s: %w", rev, err)
	}
	out.Bundle.Manifest.BuildTime = c.Time
	return out, c, nil
}

// RevisionError is a revision at which the repository does not compile.
type RevisionError struct {
	// Revision is the revision as asked for, Commit its full hash.
	Revision, Commit string
	// Failure lists the problems, at their path:line:column in that
	// revision.
	Failure *diag.Failure
}

// Error names the revision and its first problem, and how many there are.
func (e *RevisionError) Error() string {
	sorted := e.Failure.List.Sorted()
	msg := fmt.Sprintf("revision %s (%s) does not build", e.Revision, e.Commit[:min(12, len(e.Commit))])
	if len(sorted) > 0 {
		msg += ": " + sorted[0].String()
	}
	if n := e.Failure.List.Errors(); n > 1 {
		msg += fmt.Sprintf(" (and %d more)", n-1)
	}
	return msg
}

// Unwrap returns the failure.
func (e *RevisionError) Unwrap() error { return e.Failure }

// CompileWorkTree compiles env of the repository at dir as it is on disk,
// named as build names it: the commit, marked "-dirty-<source digest
// prefix>" when the work tree has changes, or "src-<source digest>"
// outside Git or where Git names no commit. Nothing is stored and nothing in dir changes.
func CompileWorkTree(ctx context.Context, dir, env string) (*Compiled, error) {
	return CompileWorkTreeAt(ctx, dir, env, time.Time{})
}

// CompileWorkTreeAt is CompileWorkTree counting relative dates
// (relative_dates in cedargate.yaml) from now's day; zero is the current
// time. Commands that judge access at an instant (--at) pass it.
func CompileWorkTreeAt(ctx context.Context, dir, env string, now time.Time) (*Compiled, error) {
	r, err := load(ctx, dir)
	if err != nil {
		return nil, err
	}
	r.Now = now
	rev, buildTime, err := revision(ctx, r, Options{AllowDirty: true})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		// Reading is no release: a directory Git cannot name (a
		// repository without commits) is named by its content.
		rev, buildTime = "src-"+strings.TrimPrefix(r.SourceDigest, "sha256:")[:40], time.Time{}
	}
	out, err := compileRepo(ctx, r, env, rev)
	if err != nil {
		return nil, err
	}
	out.Bundle.Manifest.BuildTime = buildTime
	return out, nil
}
