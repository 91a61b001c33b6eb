// Package build is the pipeline behind `cedargate build`, `lint` and
// `test`: read an identity repository, compile one environment, run the
// guardrails and the decision tests, and produce a versioned, optionally
// signed bundle. Every problem of a run is reported at once, sorted, each
// at its path:line:column.
package build

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/bundle/dectest"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/guardrail"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/internal/gitrev"
	"github.com/cedargate/cedargate/internal/parallel"
	"github.com/cedargate/cedargate/pdp/engine"
)

// Options configure a build.
type Options struct {
	// Env is the environment to build; empty when the repository declares
	// none.
	Env string
	// Now is the instant guardrails judge expiry and review dates by, and
	// the default decision instant of tests. Zero means the current time.
	Now time.Time
	// Revision overrides the revision derived from Git or the source.
	Revision string
	// AllowDirty builds from a work tree with uncommitted changes, marking
	// the revision "<commit>-dirty-<source digest prefix>".
	AllowDirty bool
	// SignKey, when set, signs the bundle's digest.
	SignKey ed25519.PrivateKey
	// CompilerVersion is recorded in the manifest.
	CompilerVersion string
}

// Output is a successful build.
type Output struct {
	Bundle *bundle.Bundle
	// Archive is the encoded bundle, as stored.
	Archive []byte
	// Warnings are the problems whose severity is warning.
	Warnings diag.List
	Tests    dectest.Report
}

// Build checks and compiles the repository at dir for one environment. It
// fails with a *diag.Failure listing every problem when the repository has
// errors, a guardrail with severity error fails, or a decision test fails.
// Once ctx is done it stops at the next file, phase or decision test and
// returns ctx's error.
func Build(ctx context.Context, dir string, opts Options) (*Output, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	r, err := load(ctx, dir)
	if err != nil {
		return nil, err
	}
	r.Now = now
	// The guardrails read every environment, and of those not built only
	// their names.
	r.DecodeAhead = true
	r.AheadNamesOnly = true
	// Each environment is asked for once: the files' bytes can go as
	// they are decoded.
	r.DropSources = true
	env, err := checkEnv(r, opts.Env)
	if err != nil {
		return nil, err
	}
	rev, buildTime, err := revision(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Nothing after compilation reads the objects' attributes.
	res, diags := compile.CompileWith(r, env, compile.Options{DropAttributes: true})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	manifest := bundle.Manifest{Name: r.Config.Name, Revision: rev, SourceDigest: r.SourceDigest,
		CompilerVersion: opts.CompilerVersion, BuildTime: buildTime}
	var b *bundle.Bundle
	if r.Problems.Errors() == 0 {
		// The guardrails and the bundle's assembly (entities.json, for a
		// million identities some 10 s of one core) only read the compiled
		// result: they run side by side. Nothing reads the bundle when
		// the guardrails fail the build.
		guard := parallel.Go(func() diag.List { return guardrail.Check(r, []*compile.Result{res}, now) })
		if diags.Errors() == 0 {
			b = res.Bundle(manifest)
		}
		diags.Append(guard())
	}
	if diags.Errors() > 0 {
		return nil, diags.Err()
	}
	// The guardrails were the last to read the identity objects: let them
	// go before the engine loads the bundle next to the compiled result,
	// and collect them now. Left to the pacer, the heap goal stays twice
	// what compiling held, and the engine's load grew the heap on top of
	// the dead objects instead of into their room: that was the build's
	// peak RSS at 100k identities.
	res.View = nil
	debug.FreeOSMemory()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The archive is encoded (gzip at its best compression, for a million
	// identities some 9 s of one core) while the engine loads the bundle
	// and the decision tests run; it is thrown away if they fail. The
	// engine reads a copy of the bundle's fields, so that signing and
	// encoding, which set its digest, write nothing it reads.
	loaded := *b
	encoded := parallel.Go(func() encodeResult { return encode(b, opts.SignKey) })
	snap, err := engine.New(&loaded)
	if err != nil {
		encoded()
		return nil, fmt.Errorf("compiled bundle does not load (a cedargate bug): %w", err)
	}
	if err := ctx.Err(); err != nil {
		encoded()
		return nil, err
	}
	suites, problems := r.Suites(env)
	diags.Append(problems)
	rep, err := dectest.Run(ctx, res, suites, snap, now)
	enc := encoded()
	if err != nil {
		return nil, err
	}
	diags.Append(rep.Failures)
	if diags.Errors() > 0 {
		return nil, diags.Err()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if enc.err != nil {
		return nil, enc.err
	}
	archive := enc.archive
	return &Output{Bundle: b, Archive: archive, Warnings: diags.Sorted(), Tests: rep}, nil
}

// load reads the repository at dir for a compile: the view compile asks
// for parses the identity files, so Load need not parse them first (for
// a million identities, some 35 s of CPU); a file that does not parse is
// reported by that view, and compile stops there.
func load(ctx context.Context, dir string) (*repo.Repo, error) {
	return repo.LoadWith(ctx, dir, repo.LoadOptions{ParseLater: true})
}

// encodeResult is what encode returns.
type encodeResult struct {
	archive []byte
	err     error
}

// encode signs b when key is set, then encodes it.
func encode(b *bundle.Bundle, key ed25519.PrivateKey) encodeResult {
	if key != nil {
		if err := bundle.Sign(b, key); err != nil {
			return encodeResult{err: err}
		}
	}
	archive, err := bundle.Encode(b)
	return encodeResult{archive, err}
}

// ErrDirty is returned when the work tree has uncommitted changes and the
// build does not allow them.
var ErrDirty = errors.New("work tree has uncommitted changes")

// revision decides the bundle's revision and build time.
func revision(ctx context.Context, r *repo.Repo, opts Options) (string, time.Time, error) {
	// On error info is zero, which is what --revision needs.
	info, err := gitrev.Describe(ctx, r.Dir)
	if err != nil && (opts.Revision == "" || ctx.Err() != nil) {
		return "", time.Time{}, err
	}
	srcHex := strings.TrimPrefix(r.SourceDigest, "sha256:")
	rev := opts.Revision
	switch {
	case rev != "":
	case !info.InGit:
		rev = "src-" + srcHex[:40]
	case info.Dirty && !opts.AllowDirty:
		return "", time.Time{}, fmt.Errorf("%w in %s (%s); commit them, or pass --allow-dirty to build a revision marked dirty",
			ErrDirty, r.Dir, strings.Join(info.Changes, "; "))
	case info.Dirty:
		rev = info.Commit + "-dirty-" + srcHex[:12]
	default:
		rev = info.Commit
	}
	if opts.Revision == "" && r.Config.RelativeDates {
		// Relative dates make the day an input of the bundle: name it, so
		// that one revision still means one bundle (a store refuses the
		// same revision with another digest).
		rev += "+" + r.Today().Format("20060102")
	}
	if !store.ValidRevision(rev) {
		return "", time.Time{}, fmt.Errorf("--revision %q: use letters, digits and . _ + -, at most 128 characters", rev)
	}
	return rev, info.Time, nil
}

// Lint compiles the repository and runs the guardrails for env, or for
// every environment when env is empty and the repository declares some.
// It returns every problem; callers fail when the list holds errors. Once
// ctx is done it stops at the next file or environment and returns ctx's
// error.
func Lint(ctx context.Context, dir, env string, now time.Time) (diag.List, error) {
	if now.IsZero() {
		now = time.Now()
	}
	r, err := load(ctx, dir)
	if err != nil {
		return nil, err
	}
	r.Now = now
	// The guardrails read every environment.
	r.DecodeAhead = true
	envs, err := environments(r, env)
	if err != nil {
		return nil, err
	}
	var diags diag.List
	var results []*compile.Result
	for _, e := range envs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, d := compile.Compile(r, e)
		diags.Append(d)
		results = append(results, res)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.Problems.Errors() == 0 {
		diags.Append(guardrail.Check(r, results, now))
	}
	return diags.Sorted(), nil
}

// Test compiles the repository for env (every environment when env is
// empty and the repository declares some) and runs its decision tests.
// Once ctx is done it stops at the next file, environment or decision test
// and returns ctx's error.
func Test(ctx context.Context, dir, env string, now time.Time) (dectest.Report, error) {
	if now.IsZero() {
		now = time.Now()
	}
	r, err := load(ctx, dir)
	if err != nil {
		return dectest.Report{}, err
	}
	r.Now = now
	envs, err := environments(r, env)
	if err != nil {
		return dectest.Report{}, err
	}
	r.DecodeAhead = len(envs) > 1
	var total dectest.Report
	for _, e := range envs {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		res, diags := compile.Compile(r, e)
		if diags.Errors() > 0 {
			total.Failures.Append(diags)
			total.Problems.Append(diags)
			continue
		}
		snap, err := engine.New(res.Bundle(bundle.Manifest{Revision: "test"}))
		if err != nil {
			return total, err
		}
		suites, problems := r.Suites(e)
		total.Failures.Append(problems)
		total.Problems.Append(problems)
		rep, err := dectest.Run(ctx, res, suites, snap, now)
		if err != nil {
			return total, err
		}
		total.Passed += rep.Passed
		total.Failed += rep.Failed
		total.Cases = append(total.Cases, rep.Cases...)
		total.Coverage = append(total.Coverage, rep.Coverage...)
		for _, f := range rep.Failures {
			if len(envs) > 1 {
				f.Message += fmt.Sprintf(" [env %s]", e)
			}
			total.Failures.Add(f)
		}
	}
	total.Failures = total.Failures.Sorted()
	total.Problems = total.Problems.Sorted()
	return total, nil
}

// checkEnv is Repo.CheckEnv, except that when the repository could not be
// read (a broken cedargate.yaml declares no environments) the problems
// that explain it are returned instead.
func checkEnv(r *repo.Repo, env string) (string, error) {
	e, err := r.CheckEnv(env)
	if err != nil && r.Problems.Errors() > 0 {
		return "", r.Problems.Err()
	}
	return e, err
}

func environments(r *repo.Repo, env string) ([]string, error) {
	if env == "" && len(r.Config.Environments) > 0 {
		return r.Config.Environments, nil
	}
	e, err := checkEnv(r, env)
	if err != nil {
		return nil, err
	}
	return []string{e}, nil
}
