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
package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cedargate/cedargate/bundle/diag"
)

// Repository layout, relative to the repository root.
const (
	SchemaFile    = "schema.cedarschema"
	IdentitiesDir = "identities"
	PoliciesDir   = "policies"
	EntitiesDir   = "entities"
	TestsDir      = "tests"
)

// MaxFileSize bounds each file read from a repository, so that a stray
// binary cannot exhaust memory.
const MaxFileSize = 64 << 20

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
}

type identityFile struct {
	path string
	docs []*node
}

// Load reads the repository at dir. I/O failures are returned as errors;
// problems in the files' content are collected in Repo.Problems, so that a
// build can report them together with everything else. It stops between
// files once ctx is done, returning ctx's error.
func Load(ctx context.Context, dir string) (*Repo, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("reading repository: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("reading repository: %s is not a directory", dir)
	}
	r := &Repo{Dir: dir}
	var all []*File
	read := func(rel string) (*File, error) {
		full := filepath.Join(dir, filepath.FromSlash(rel))
		st, err := os.Stat(full)
		if err != nil {
			return nil, err
		}
		if st.Size() > MaxFileSize {
			return nil, fmt.Errorf("%s is larger than %d bytes", rel, MaxFileSize)
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return nil, err
		}
		f := &File{Path: rel, Data: data}
		all = append(all, f)
		return f, nil
	}

	if f, err := read(ConfigFile); err == nil {
		r.Config = parseConfig(f.Path, f.Data, &r.Problems)
	} else if os.IsNotExist(err) {
		r.Config = parseConfig(ConfigFile, nil, &r.Problems)
	} else {
		return nil, fmt.Errorf("reading repository: %w", err)
	}
	if f, err := read(SchemaFile); err == nil {
		r.Schema = f
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("reading repository: %w", err)
	}

	dirs := []struct {
		dir  string
		exts []string
		dst  *[]*File
	}{
		{IdentitiesDir, []string{".yaml", ".yml"}, nil},
		{PoliciesDir, []string{".cedar"}, &r.Policies},
		{EntitiesDir, []string{".json"}, &r.Entities},
		{TestsDir, []string{".yaml", ".yml"}, &r.Tests},
	}
	for _, d := range dirs {
		paths, err := walk(dir, d.dir, d.exts)
		if err != nil {
			return nil, fmt.Errorf("reading repository: %w", err)
		}
		for _, p := range paths {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			f, err := read(p)
			if err != nil {
				return nil, fmt.Errorf("reading repository: %w", err)
			}
			if d.dst != nil {
				*d.dst = append(*d.dst, f)
				continue
			}
			docs, err := parseYAML(f.Path, f.Data)
			if err != nil {
				r.Problems.Append(diag.ListOf(err))
			}
			r.identities = append(r.identities, identityFile{path: f.Path, docs: docs})
		}
	}
	r.SourceDigest = digestFiles(all)
	return r, nil
}

// walk lists the files under root/sub with one of exts, as sorted
// slash-separated paths relative to root. Hidden files and directories are
// skipped; so are symbolic links, whose targets may lie outside the
// repository.
func walk(root, sub string, exts []string) ([]string, error) {
	base := filepath.Join(root, sub)
	if _, err := os.Stat(base); os.IsNotExist(err) {
		return nil, nil
	}
	var out []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != base {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !slices.Contains(exts, path.Ext(d.Name())) {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	slices.Sort(out)
	return out, err
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
