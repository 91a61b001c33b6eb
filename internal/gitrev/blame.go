package gitrev

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Change is a commit as blame reports it: the commit that last changed a
// line, by a given revision.
type Change struct {
	// Commit is the full hash.
	Commit string
	// Author and Email name the author; Date is the author date, in the
	// author's time zone.
	Author, Email string
	Date          time.Time
	// Subject is the first line of the commit message.
	Subject string
	// Committed is the committer time, which orders commits as they were
	// made (an author date may be older than its parent's).
	Committed time.Time
}

// Line is one line of a file at a revision with the commit that last
// changed it.
type Line struct {
	// Number is the 1-based line number in the file at the revision.
	Number int
	// Text is the line without its line break.
	Text   string
	Change Change
}

// Blame returns lines first to last (1-based, inclusive) of path as they
// are at commit, each with the commit that last changed it by then. path is
// relative to dir, with forward slashes; the work tree is not read, so the
// lines are the commit's whatever has changed since.
func Blame(ctx context.Context, dir, commit, path string, first, last int) ([]Line, error) {
	if first < 1 || last < first {
		return nil, fmt.Errorf("blame %s: bad line range %d-%d", path, first, last)
	}
	if err := checkRev(commit); err != nil {
		return nil, err
	}
	out, err := git(ctx, dir, "blame", "--line-porcelain", "-L", fmt.Sprintf("%d,%d", first, last), commit, "--", path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("blame %s at %s: %w", path, short(commit), err)
	}
	lines, err := parseBlame(out)
	if err == nil && len(lines) != last-first+1 {
		// git clamps a range that runs past the end of the file.
		err = fmt.Errorf("lines %d-%d asked for, %d blamed", first, last, len(lines))
	}
	if err != nil {
		return nil, fmt.Errorf("blame %s at %s: %w", path, short(commit), err)
	}
	return lines, nil
}

// parseBlame reads git blame's --line-porcelain output: for every line a
// header "<hash> <orig> <final> [<count>]", the commit's fields, and the
// line's text after a tab.
func parseBlame(out string) ([]Line, error) {
	var lines []Line
	var cur Line
	var authorTime, committerTime int64
	var authorTZ string
	header := true
	for _, l := range strings.Split(out, "\n") {
		if header {
			if l == "" {
				continue
			}
			f := strings.Fields(l)
			if len(f) < 3 {
				return nil, fmt.Errorf("unexpected git blame output %q", l)
			}
			n, err := strconv.Atoi(f[2])
			if err != nil {
				return nil, fmt.Errorf("unexpected git blame output %q", l)
			}
			cur = Line{Number: n, Change: Change{Commit: f[0]}}
			header = false
			continue
		}
		if text, ok := strings.CutPrefix(l, "\t"); ok {
			cur.Change.Date = time.Unix(authorTime, 0).In(zone(authorTZ))
			cur.Change.Committed = time.Unix(committerTime, 0).UTC()
			cur.Text = text
			lines = append(lines, cur)
			header = true
			continue
		}
		key, val, _ := strings.Cut(l, " ")
		switch key {
		case "author":
			cur.Change.Author = val
		case "author-mail":
			cur.Change.Email = strings.TrimSuffix(strings.TrimPrefix(val, "<"), ">")
		case "author-time":
			authorTime, _ = strconv.ParseInt(val, 10, 64)
		case "author-tz":
			authorTZ = val
		case "committer-time":
			committerTime, _ = strconv.ParseInt(val, 10, 64)
		case "summary":
			cur.Change.Subject = val
		}
	}
	if !header {
		return nil, fmt.Errorf("git blame output ends inside a line's header")
	}
	return lines, nil
}

// zone is the fixed time zone of a git offset such as "+0130".
func zone(tz string) *time.Location {
	if len(tz) != 5 || (tz[0] != '+' && tz[0] != '-') {
		return time.UTC
	}
	h, err1 := strconv.Atoi(tz[1:3])
	m, err2 := strconv.Atoi(tz[3:5])
	if err1 != nil || err2 != nil {
		return time.UTC
	}
	secs := h*3600 + m*60
	if tz[0] == '-' {
		secs = -secs
	}
	if secs == 0 {
		return time.UTC
	}
	return time.FixedZone(tz, secs)
}

// Latest returns the most recent of the lines' changes: the commit that
// last changed any of them. Commits are ordered by committer time; of two
// made in the same second, the one blamed first wins, so the answer is
// the same every time.
func Latest(lines []Line) Change {
	var best Change
	for _, l := range lines {
		if best.Commit == "" || l.Change.Committed.After(best.Committed) {
			best = l.Change
		}
	}
	return best
}

// ReadFile returns the content of path (relative to dir, with forward
// slashes) at commit, from Git's object store: the work tree is not read.
// A file larger than max bytes is refused before it is read.
func ReadFile(ctx context.Context, dir, commit, path string, max int64) ([]byte, error) {
	if err := checkRev(commit); err != nil {
		return nil, err
	}
	// "./" makes the path relative to dir, which may be a subdirectory
	// of the repository.
	obj := commit + ":./" + path
	size, err := git(ctx, dir, "cat-file", "-s", obj)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s did not exist at revision %s", path, short(commit))
	}
	n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: unexpected git output %q", path, short(commit), size)
	}
	if n > max {
		return nil, fmt.Errorf("%s at %s is %d bytes, more than %d", path, short(commit), n, max)
	}
	data, err := git(ctx, dir, "cat-file", "blob", obj)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("reading %s at %s: %w", path, short(commit), err)
	}
	return []byte(data), nil
}

// checkRev refuses a revision git would take for an option.
func checkRev(rev string) error {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return fmt.Errorf("%q is not a Git revision", rev)
	}
	return nil
}

// short abbreviates a commit hash for messages.
func short(commit string) string { return commit[:min(12, len(commit))] }
