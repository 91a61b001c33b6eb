package gitrev

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Commit is a resolved Git revision.
type Commit struct {
	// Hash is the commit's full hash.
	Hash string
	// Time is its committer time.
	Time time.Time
}

// MaxExportBytes bounds what Export writes: a revision is input from
// outside (anyone who can push a branch), and the repository limits that
// guard reading it (bundle/repo) only apply once it is on disk.
const MaxExportBytes = 1 << 30

// Resolve returns the commit that rev (a hash, a prefix of one, a branch,
// a tag, HEAD~2, ...) names in the Git repository holding dir.
func Resolve(ctx context.Context, dir, rev string) (Commit, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return Commit{}, fmt.Errorf("%q is not a Git revision", rev)
	}
	out, err := git(ctx, dir, "log", "-1", "--format=%H %ct", rev+"^{commit}", "--")
	if err != nil {
		if ctx.Err() != nil {
			return Commit{}, ctx.Err()
		}
		return Commit{}, fmt.Errorf("revision %s does not exist in the Git repository of %s", rev, dir)
	}
	hash, secs, _ := strings.Cut(strings.TrimSpace(out), " ")
	ct, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || hash == "" {
		return Commit{}, fmt.Errorf("revision %s: unexpected git output %q", rev, out)
	}
	return Commit{Hash: hash, Time: time.Unix(ct, 0).UTC()}, nil
}

// Export writes the files under dir as they are at commit rev into dst (an
// existing, empty directory), without touching dir's work tree or index:
// the identity repository at dir, as it was then. dir may be a
// subdirectory of its Git repository; dst then holds that subdirectory's
// content. Symbolic links are written as links (the repository reader
// decides whether to follow them); what Export writes is bounded by
// MaxExportBytes.
func Export(ctx context.Context, dir, rev, dst string) (Commit, error) {
	c, err := Resolve(ctx, dir, rev)
	if err != nil {
		return Commit{}, err
	}
	prefix, err := git(ctx, dir, "rev-parse", "--show-prefix")
	if err != nil {
		return Commit{}, fmt.Errorf("%s is not in a Git work tree: %w", dir, err)
	}
	prefix = strings.TrimSpace(prefix)
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return Commit{}, err
	}
	tree := c.Hash
	if prefix != "" {
		tree += ":" + strings.TrimSuffix(prefix, "/")
	}
	// From the top level: in a subdirectory, git archive limits itself to
	// that subdirectory's path, which the subtree does not have.
	cmd := exec.CommandContext(ctx, "git", "--no-optional-locks", "-C", strings.TrimSpace(top), "archive", "--format=tar", tree)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Commit{}, err
	}
	if err := cmd.Start(); err != nil {
		return Commit{}, err
	}
	xerr := untar(out, dst)
	if xerr != nil {
		// Stop git rather than wait for it to write what nobody reads.
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return Commit{}, ctx.Err()
	case xerr != nil:
		return Commit{}, fmt.Errorf("exporting %s at %s: %w", dir, rev, xerr)
	case werr != nil:
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "not a valid object name") || strings.Contains(msg, "not a tree object") {
			return Commit{}, fmt.Errorf("%s did not exist at revision %s", prefix, rev)
		}
		return Commit{}, fmt.Errorf("exporting %s at %s: git archive: %s", dir, rev, msg)
	}
	return c, nil
}

// untar writes the tar stream's regular files, directories and symbolic
// links under dst, refusing names that would land outside it.
func untar(r io.Reader, dst string) error {
	tr := tar.NewReader(r)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if name == "." || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			if name == "." {
				continue
			}
			return fmt.Errorf("archive entry %q leaves the repository", h.Name)
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			total += h.Size
			if total > MaxExportBytes {
				return fmt.Errorf("the revision holds more than %d bytes", int64(MaxExportBytes))
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			_, err = io.CopyN(f, tr, h.Size)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		default:
			// git archive writes a pax header first and nothing else
			// that a repository needs (submodules are not exported).
		}
	}
}
