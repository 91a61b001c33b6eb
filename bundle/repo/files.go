package repo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cedargate/cedargate/bundle/diag"
)

// The repository is a jail: a file is read only when its path, with every
// symbolic link resolved, lies inside the repository root (itself
// resolved). Links inside the repository are followed, for files and
// directories alike, as users expect; a link that leads out is an error
// that names the link and nothing of its target, neither its path nor its
// content. The file is then opened through an os.Root, which refuses any
// way out should a link change between the check and the open.

// source reads the files of one repository within its limits, recording
// every file it refuses as a problem.
type source struct {
	dir      string // the repository root as given
	real     string // the root with every symbolic link resolved
	root     *os.Root
	budget   *budget
	problems *diag.List
	// full is set once the repository size limit is reached, so that it is
	// reported once, not for every file after it.
	full bool
	all  []*File
}

func openSource(dir string, problems *diag.List) (*source, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(real)
	if err != nil {
		return nil, err
	}
	return &source{dir: abs, real: real, root: root, budget: &budget{Limits: DefaultLimits()}, problems: problems}, nil
}

func (s *source) close() { s.root.Close() }

// inside reports whether the resolved path p lies in the repository.
func (s *source) inside(p string) bool {
	rel, err := filepath.Rel(s.real, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// problem records a problem with the file at rel, as a whole.
func (s *source) problem(rel, format string, args ...any) {
	s.problems.Errorf(diag.Position{File: rel}, format, args...)
}

const outsideMsg = "symbolic link %s points outside the repository; cedargate reads only files inside it (copy the file in, or link to one inside)"

// resolve returns the path, relative to the resolved root, that the file
// or directory at rel (slash-separated) leads to. It returns "" after
// recording a problem when rel leads outside the repository or cannot be
// resolved, and fs.ErrNotExist when nothing is at rel.
func (s *source) resolve(rel string) (string, error) {
	full := filepath.Join(s.dir, filepath.FromSlash(rel))
	if _, err := os.Lstat(full); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fs.ErrNotExist
		}
		return "", ioError(rel, err)
	}
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		// The error would name the link's target: say only what failed.
		s.problem(rel, "cannot be resolved: %s", resolveFailure(err))
		return "", nil
	}
	if !s.inside(real) {
		s.problem(rel, outsideMsg, s.outsideLink(rel))
		return "", nil
	}
	in, err := filepath.Rel(s.real, real)
	if err != nil {
		return "", err
	}
	return in, nil
}

// outsideLink names the first symbolic link on the way to rel that leads
// outside the repository: rel itself, or a directory above it.
func (s *source) outsideLink(rel string) string {
	parts := strings.Split(rel, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		full := filepath.Join(s.dir, filepath.FromSlash(p))
		if fi, err := os.Lstat(full); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if real, err := filepath.EvalSymlinks(full); err != nil || !s.inside(real) {
			return p
		}
	}
	return rel
}

// resolveFailure says why a path could not be resolved, without the paths
// the error names.
func resolveFailure(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "a symbolic link on the way leads nowhere"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	return "too many symbolic links (a loop?)"
}

// read reads the file at rel within the limits. It returns nil when the
// file is absent, or when it is refused (the problem is recorded).
func (s *source) read(rel string) (*File, error) {
	in, err := s.resolve(rel)
	if errors.Is(err, fs.ErrNotExist) || in == "" && err == nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := s.root.Stat(in)
	if err != nil {
		return nil, ioError(rel, err)
	}
	if !st.Mode().IsRegular() {
		s.problem(rel, "is not a regular file")
		return nil, nil
	}
	lim := s.budget.Limits
	// Sizes are checked before the file is read, and again while it is
	// read, in case it grows.
	if st.Size() > lim.FileSize {
		s.problems.Add(limitError(diag.Position{File: rel}, lim, "file_size", "file is %d bytes, larger than %s", st.Size(), FormatSize(lim.FileSize)))
		return nil, nil
	}
	if !s.room(rel, st.Size()) {
		return nil, nil
	}
	f, err := s.root.Open(in)
	if err != nil {
		return nil, ioError(rel, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	buf.Grow(int(st.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(f, lim.FileSize+1)); err != nil {
		return nil, ioError(rel, err)
	}
	data := buf.Bytes()
	if int64(len(data)) > lim.FileSize {
		s.problems.Add(limitError(diag.Position{File: rel}, lim, "file_size", "file grew beyond %s while being read", FormatSize(lim.FileSize)))
		return nil, nil
	}
	if !s.room(rel, int64(len(data))-st.Size()) {
		return nil, nil
	}
	if d := checkUTF8(rel, data); d != nil {
		s.problems.Add(*d)
		return nil, nil
	}
	file := &File{Path: rel, Data: data}
	s.all = append(s.all, file)
	return file, nil
}

// room charges n more bytes to the repository size, and reports whether
// they fit.
func (s *source) room(rel string, n int64) bool {
	if s.full {
		return false
	}
	lim := s.budget.Limits
	if s.budget.bytes+n > lim.RepositorySize {
		s.full = true
		s.problems.Add(limitError(diag.Position{File: rel}, lim, "repository_size",
			"the repository's files are larger than %s together; this file and the ones read after it are not read", FormatSize(lim.RepositorySize)))
		return false
	}
	s.budget.bytes += n
	return true
}

// list returns the files under the directory sub with one of exts, as
// sorted slash-separated paths relative to the root. Hidden files and
// directories are skipped. Symbolic links are followed when they stay in
// the repository; one that leads out is a problem, whatever its name.
func (s *source) list(sub string, exts []string) ([]string, error) {
	var out []string
	err := s.walk(sub, exts, nil, &out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	slices.Sort(out)
	return out, err
}

// walk adds the files under the directory rel to out. above holds the
// resolved directories being walked, to stop at a link back to one of
// them or to a directory that holds them.
func (s *source) walk(rel string, exts []string, above []string, out *[]string) error {
	in, err := s.resolve(rel)
	if in == "" {
		return err
	}
	for _, a := range above {
		if contains(in, a) {
			s.problem(rel, "symbolic link leads back to a directory above it (a loop)")
			return nil
		}
	}
	above = append(above, in)
	dir, err := s.root.Open(in)
	if err != nil {
		return ioError(rel, err)
	}
	entries, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		return ioError(rel, err)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		child := rel + "/" + name
		mode := e.Type()
		if mode&fs.ModeSymlink != 0 {
			target, err := s.resolve(child)
			if target == "" {
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				continue
			}
			st, err := s.root.Stat(target)
			if err != nil {
				return ioError(child, err)
			}
			mode = st.Mode().Type()
		}
		wanted := slices.Contains(exts, path.Ext(name))
		if (wanted || mode.IsDir()) && (!utf8.ValidString(name) || CheckIdent(name) != nil) {
			// The path names files in messages and policies in ids
			// (policies/ops.cedar#2): it must print as it is.
			quoted := strconv.Quote(child)
			s.problem(quoted[1:len(quoted)-1], "file name must be UTF-8 without control or invisible characters")
			continue
		}
		switch {
		case mode.IsDir():
			if err := s.walk(child, exts, above, out); err != nil {
				return err
			}
		case mode.IsRegular():
			if wanted {
				*out = append(*out, child)
			}
		case wanted:
			s.problem(child, "is not a regular file")
		}
	}
	return nil
}

// contains reports whether the directory dir (relative to the resolved
// root, as is p) is p or holds it.
func contains(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// ioError names the file an I/O error is about by its path in the
// repository, in place of the resolved path the error holds.
func ioError(rel string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", rel, pe.Err)
	}
	return fmt.Errorf("%s: %w", rel, err)
}
