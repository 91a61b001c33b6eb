// Package repo reads an identity repository: cedargate.yaml, the Cedar
// schema, identity objects (identities/**/*.yaml), hand-written policies
// (policies/**/*.cedar), extra entities (entities/**/*.json) and decision
// tests (tests/**/*.yaml).
//
// [Load] reads every file once and parses cedargate.yaml and the identity
// files; [Repo.View] decodes the identity
// objects for one environment, expanding ${env}, dropping objects that are
// not in that environment and applying its overrides. Every problem is
// reported with its path:line:column.
//
// A repository is input from outside, so it is read as a jail (files.go:
// nothing outside its root, whatever the symbolic links say) and within
// [Limits] (limits.go), which the scans of yamlscan.go, cedarscan.go and
// jsonscan.go check before any parser sees a file.
package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/internal/cedarscan"
	"github.com/cedargate/cedargate/internal/parallel"
)

// Repository layout, relative to the repository root.
const (
	SchemaFile    = "schema.cedarschema"
	IdentitiesDir = "identities"
	PoliciesDir   = "policies"
	EntitiesDir   = "entities"
	TestsDir      = "tests"
)

// File is one source file, its path relative to the repository root with
// forward slashes.
type File struct {
	Path string
	Data []byte
}

// Repo is a parsed identity repository.
type Repo struct {
	Dir    string
	Config *Config
	// Schema is nil when the repository has no schema.cedarschema.
	Schema     *File
	Policies   []*File
	Entities   []*File
	Tests      []*File
	identities []identityFile
	// SourceDigest covers every input file, "sha256:<hex>".
	SourceDigest string
	// Problems found while reading: YAML syntax errors and bad settings.
	Problems diag.List
	// Now is the instant relative dates (today-22d) count from, when
	// cedargate.yaml allows them: they mean a day counted from 00:00 UTC of
	// Now's day. Zero means the current time. Set it before View or Suites.
	Now time.Time
	// DecodeAhead makes View decode every environment of the repository
	// from the one parse of its files it needs for the environment asked
	// for, and keep the others until View is asked for them, once each.
	// Parsing is most of the cost of a View, and a build, a lint or a
	// test of every environment reads them all (the guardrails compare
	// environments); a caller that reads one environment leaves it unset.
	DecodeAhead bool
	// AheadNamesOnly makes the environments DecodeAhead keeps names-only
	// views: the entities of users, groups, teams and resources (View.Names,
	// no objects), and service accounts with their kind, name and position,
	// SPIFFE ids and where they are; no attributes, memberships, profiles,
	// entitlements, exceptions, nor the problems of their objects, and no
	// index to resolve references by. That is what the guardrails read of
	// an environment not compiled, at a fraction of the memory, so a
	// build of one environment sets it; a caller that compiles or
	// otherwise reads other environments in full leaves it unset.
	AheadNamesOnly bool
	// DropSources makes a View that decodes every environment at once
	// (DecodeAhead) let go of each identity file's bytes once it has
	// decoded the file: a caller that asks for each environment once (a
	// build) sets it, and the bytes (as large as the repository) no
	// longer stay beside the objects. A View that would decode the files
	// again fails.
	DropSources bool

	mu    sync.Mutex
	ahead map[string]aheadView
	// dropped is set once DropSources let the identity files' bytes go.
	dropped bool
}

// Today is 00:00 UTC of the day relative dates count from: Now's day, or
// the current day when Now is zero.
func (r *Repo) Today() time.Time {
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	return now.UTC().Truncate(24 * time.Hour)
}

// identityFile is an identity file as read, with the documents scanYAML
// found in it; spans is nil when the file does not parse (once parsed,
// see LoadOptions.ParseLater). The parsed nodes are not kept: they take
// about twenty times the file's size, and a View parses the file (again,
// unless Load left the parsing to it), one file per core at a time,
// decoding as it goes.
type identityFile struct {
	path  string
	data  []byte
	spans []docSpan
}

// parse parses the file's documents into nodes.
func (f *identityFile) parse(depth int) ([]*node, error) {
	return parseDocs(f.path, f.data, f.spans, depth)
}

// Load reads the repository at dir. I/O failures are returned as errors;
// problems in the files' content are collected in Repo.Problems, so that a
// build can report them together with everything else. Files are read
// within the repository (see source) and within the limits of
// cedargate.yaml, which is itself read under DefaultLimits; a file beyond
// a limit is reported and not parsed. It stops between files once ctx is
// done, returning ctx's error.
func Load(ctx context.Context, dir string) (*Repo, error) {
	return LoadWith(ctx, dir, LoadOptions{})
}

// LoadOptions change what Load does for callers that know what they will
// read next.
type LoadOptions struct {
	// ParseLater leaves the identity files to be parsed by the first View,
	// which parses them anyway to decode them, instead of parsing them
	// once here only to report the files that do not parse: for a million
	// identities that first parse is some 35 s of CPU. Their syntax
	// errors are then added to Problems by that View, and returned among
	// its diagnostics too; a caller that reads Problems before asking for
	// a view (to stop on a broken file before reading anything else)
	// leaves it unset. bundle/build sets it for everything it compiles.
	ParseLater bool
}

// LoadWith is Load with opts.
func LoadWith(ctx context.Context, dir string, opts LoadOptions) (*Repo, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("reading repository: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("reading repository: %s is not a directory", dir)
	}
	r := &Repo{Dir: dir}
	src, err := openSource(dir, &r.Problems)
	if err != nil {
		return nil, fmt.Errorf("reading repository: %w", err)
	}
	defer src.close()
	if err := r.load(ctx, src, opts); err != nil {
		return nil, fmt.Errorf("reading repository: %w", err)
	}
	r.SourceDigest = digestFiles(src.all)
	return r, nil
}

// load reads every file of the repository through src.
func (r *Repo) load(ctx context.Context, src *source, opts LoadOptions) error {
	f, err := src.read(ConfigFile)
	if err != nil {
		return err
	}
	if f != nil {
		r.Config = parseConfig(f.Path, f.Data, &r.Problems, src.budget)
	} else {
		r.Config = parseConfig(ConfigFile, nil, &r.Problems, src.budget)
	}
	// What cedargate.yaml used of the limits still counts.
	src.budget.Limits = r.Config.Limits
	if r.Schema, err = src.read(SchemaFile); err != nil {
		return err
	}
	if r.Schema != nil {
		r.Problems.Append(scanCedar(r.Schema.Path, r.Schema.Data, src.budget, cedarscan.Schema, nil))
	}

	dirs := []struct {
		dir   string
		exts  []string
		check func(*File)
	}{
		{IdentitiesDir, []string{".yaml", ".yml"}, func(f *File) {
			// The scan charges the repository's budget, so it runs in
			// file order; parseIdentities parses the files afterwards.
			scan, d := scanYAML(f.Path, f.Data, src.budget)
			if d != nil {
				r.Problems.Add(*d)
				r.identities = append(r.identities, identityFile{path: f.Path})
				return
			}
			r.identities = append(r.identities, identityFile{path: f.Path, data: f.Data, spans: scan.docs})
		}},
		{PoliciesDir, []string{".cedar"}, func(f *File) {
			r.Problems.Append(scanCedar(f.Path, f.Data, src.budget, cedarscan.Policies, nil))
			r.Policies = append(r.Policies, f)
		}},
		{EntitiesDir, []string{".json"}, func(f *File) {
			if d := scanJSON(f.Path, f.Data, src.budget); d != nil {
				r.Problems.Add(*d)
			}
			r.Entities = append(r.Entities, f)
		}},
		{TestsDir, []string{".yaml", ".yml"}, func(f *File) {
			// Tests are parsed when they run; their limits are checked
			// now, with everything else.
			if _, d := scanYAML(f.Path, f.Data, src.budget); d != nil {
				r.Problems.Add(*d)
			}
			r.Tests = append(r.Tests, f)
		}},
	}
	for _, d := range dirs {
		paths, err := src.list(d.dir, d.exts)
		if err != nil {
			return err
		}
		for _, p := range paths {
			if err := ctx.Err(); err != nil {
				return err
			}
			f, err := src.read(p)
			if err != nil {
				return err
			}
			if f != nil {
				d.check(f)
			}
		}
	}
	if opts.ParseLater {
		return nil
	}
	return r.parseIdentities(ctx)
}

// parseIdentities parses every identity file, one per core at a time, to
// report the files that do not parse; it keeps no nodes (see
// identityFile). It stops parsing once ctx is done, returning ctx's error.
func (r *Repo) parseIdentities(ctx context.Context) error {
	errs := make([]error, len(r.identities))
	parallel.For(len(r.identities), func(i int) {
		if ctx.Err() != nil || r.identities[i].spans == nil {
			return
		}
		_, errs[i] = r.identities[i].parse(r.Config.Limits.YAMLDepth)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, err := range errs {
		if err != nil {
			r.Problems.Append(diag.ListOf(err))
			r.identities[i].spans = nil
		}
	}
	return nil
}

// digestFiles hashes a sha256sum-style listing of the files, sorted by
// path, so the digest depends on paths and contents only.
func digestFiles(files []*File) string {
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b *File) int { return strings.Compare(a.Path, b.Path) })
	h := sha256.New()
	for _, f := range sorted {
		sum := sha256.Sum256(f.Data)
		fmt.Fprintf(h, "%s  %s\n", hex.EncodeToString(sum[:]), f.Path)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// HasIdentities reports whether the repository uses cedargate's identity
// layer (has identity files), as opposed to being a plain Cedar project.
func (r *Repo) HasIdentities() bool { return len(r.identities) > 0 }

// ErrEnv is wrapped by CheckEnv's errors: the environment asked for does
// not fit the repository.
var ErrEnv = errors.New("environment")

// CheckEnv returns the environment to build: env itself when declared, or
// "" when the repository declares none. It fails when env is required and
// missing or unknown.
func (r *Repo) CheckEnv(env string) (string, error) {
	envs := r.Config.Environments
	switch {
	case len(envs) == 0 && env != "":
		return "", fmt.Errorf("%w: --env %s: %s declares no environments", ErrEnv, env, ConfigFile)
	case len(envs) == 0:
		return "", nil
	case env == "":
		return "", fmt.Errorf("%w: --env is required: %s declares environments %s", ErrEnv, ConfigFile, strings.Join(envs, ", "))
	case !slices.Contains(envs, env):
		return "", fmt.Errorf("%w: --env %s: not one of the environments in %s (%s)", ErrEnv, env, ConfigFile, strings.Join(envs, ", "))
	}
	return env, nil
}
