// Package gitrev finds the Git revision a directory's content comes from:
// the last commit that changed it, that commit's time, and whether the work
// tree under the directory differs from it. It also reads the directory as
// it was at a revision, without touching the work tree: all of it
// (Export), one file (ReadFile), or lines of a file with the commits that
// last changed them (Blame).
package gitrev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Info describes the Git state of a directory.
type Info struct {
	// InGit is false when the directory is not in a Git work tree (or git
	// is not installed); the other fields are then zero.
	InGit bool
	// Commit is the full hash of the last commit that changed the
	// directory (HEAD when none did yet).
	Commit string
	// Time is that commit's committer time.
	Time time.Time
	// Dirty is true when files under the directory are modified, staged
	// or untracked (ignored files do not count).
	Dirty bool
	// Changes lists the first few changed paths, for error messages.
	Changes []string
}

// Describe returns the Git state of dir, or a zero Info and an error. The
// git processes it runs are killed once ctx is done, and it then returns
// ctx's error.
func Describe(ctx context.Context, dir string) (Info, error) {
	info, err := describe(ctx, dir)
	if ctx.Err() != nil {
		// A killed git says nothing about dir (it may look like "not a
		// work tree" or "no commits"): report why it stopped.
		return Info{}, ctx.Err()
	}
	return info, err
}

func describe(ctx context.Context, dir string) (Info, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return Info{}, nil
	}
	if _, err := git(ctx, dir, "rev-parse", "--is-inside-work-tree"); err != nil {
		// Not a work tree: the directory is plain files.
		return Info{}, nil
	}
	// The revision is the last commit that changed the directory: an
	// identity repository kept in a subdirectory of a larger one keeps its
	// revision (and its bundle bytes) across commits elsewhere.
	out, err := git(ctx, dir, "log", "-1", "--format=%H %ct", "--", ".")
	if err == nil && strings.TrimSpace(out) == "" {
		// Nothing under dir is committed yet: fall back to HEAD.
		out, err = git(ctx, dir, "log", "-1", "--format=%H %ct")
	}
	if err != nil || strings.TrimSpace(out) == "" {
		// A repository without commits yet has no revision to record.
		return Info{}, fmt.Errorf("%s is in a Git repository without commits; commit first, or pass --revision", dir)
	}
	hash, secs, _ := strings.Cut(strings.TrimSpace(out), " ")
	ct, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return Info{}, fmt.Errorf("reading commit time: %w", err)
	}
	info := Info{InGit: true, Commit: hash, Time: time.Unix(ct, 0).UTC()}
	status, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=normal", "--", ".")
	if err != nil {
		return Info{}, err
	}
	for _, line := range strings.Split(strings.TrimRight(status, "\n"), "\n") {
		if line == "" {
			continue
		}
		info.Dirty = true
		if len(info.Changes) < 5 {
			info.Changes = append(info.Changes, strings.TrimSpace(line))
		}
	}
	return info, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	// --no-optional-locks: describing a work tree must not write to it
	// (git status would otherwise refresh the index under index.lock).
	cmd := exec.CommandContext(ctx, "git", append([]string{"--no-optional-locks", "-C", dir}, args...)...)
	// Stopped by ctx, git gets SIGTERM, on which it removes any lock file
	// it holds; SIGKILL would leave one behind and break the user's next
	// git command. It is killed only if it does not exit in time.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
		}
		return "", err
	}
	return string(out), nil
}
