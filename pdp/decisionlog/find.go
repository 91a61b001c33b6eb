package decisionlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// DefaultMaxLineBytes bounds a line [Find] reads. Lines the writer makes
// are a few hundred bytes, a decision with many determining policies or
// long error messages a few kilobytes; the bound keeps a corrupt or hostile
// file (one line of a gigabyte) from taking the reader's memory.
const DefaultMaxLineBytes = 1 << 20

// FindOptions configure [Find].
type FindOptions struct {
	// MaxLineBytes bounds the lines read; zero means DefaultMaxLineBytes.
	// A longer line is not parsed; if it mentions the decision, Find
	// fails saying so.
	MaxLineBytes int
	// Stdin is read when the path is "-".
	Stdin io.Reader
}

// Found is a decision found in the log.
type Found struct {
	Entry Entry
	// File is the file it was found in (the log or one of its rotated
	// backups), Line its 1-based line number there.
	File string
	Line int
}

// NotFoundError is a decision that is in none of the files searched.
type NotFoundError struct {
	ID string
	// Searched are the files read, the log first, then its rotated
	// backups, newest first.
	Searched []string
}

// Error names the decision and every file searched.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("decision %q is not in %s (%d file(s) searched)", e.ID, strings.Join(e.Searched, ", "), len(e.Searched))
}

// Find returns the decision id from the log at path, searching the file
// and then its rotated backups (as the writer rotates them: see
// [Backups]), newest first, compressed ones too. Files are streamed line
// by line, each line bounded by opts.MaxLineBytes; only lines that mention
// id are parsed, so a torn or foreign line elsewhere does not stop the
// search, but a line that mentions id and is not an entry does: it is an
// error naming file:line. A decision in none of them is a *NotFoundError.
// path "-" reads opts.Stdin, with no backups.
func Find(ctx context.Context, path, id string, opts FindOptions) (Found, error) {
	if id == "" {
		return Found{}, errors.New("the decision id is empty")
	}
	max := opts.MaxLineBytes
	if max <= 0 {
		max = DefaultMaxLineBytes
	}
	if len(id) > max {
		return Found{}, fmt.Errorf("the decision id is longer than a line may be (%d bytes)", max)
	}
	s := &searcher{ctx: ctx, id: id, needle: appendStringBody(nil, id), max: max}
	if path == "-" {
		if opts.Stdin == nil {
			return Found{}, errors.New("no standard input to read the decision log from")
		}
		f, ok, err := s.scan(opts.Stdin, "standard input")
		if err != nil || ok {
			return f, err
		}
		return Found{}, &NotFoundError{ID: id, Searched: []string{"standard input"}}
	}
	notFound := &NotFoundError{ID: id}
	f, ok, err := s.file(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A log moved away by a shipper may leave only its backups.
	case err != nil || ok:
		return f, err
	default:
		notFound.Searched = append(notFound.Searched, path)
	}
	// Listed after the log was read: a rotation meanwhile renamed the log
	// to the newest backup, which is then read again rather than missed.
	backups, err := Backups(path)
	if err != nil {
		return Found{}, err
	}
	if len(backups) == 0 && len(notFound.Searched) == 0 {
		return Found{}, fmt.Errorf("decision log %s: no such file, and no rotated backups of it", path)
	}
	for _, b := range backups {
		f, ok, err := s.file(b)
		if errors.Is(err, fs.ErrNotExist) && !strings.HasSuffix(b, gzSuffix) {
			// Compressed since it was listed.
			b += gzSuffix
			f, ok, err = s.file(b)
		}
		if err != nil || ok {
			return f, err
		}
		notFound.Searched = append(notFound.Searched, b)
	}
	return Found{}, notFound
}

// searcher looks for one decision in the files of a log.
type searcher struct {
	ctx    context.Context
	id     string
	needle []byte // id as the writer escapes it inside a JSON string
	max    int
}

// file searches one file, decompressing it when its name ends in ".gz".
func (s *searcher) file(path string) (Found, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return Found{}, false, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, gzSuffix) {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return Found{}, false, fmt.Errorf("reading %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	return s.scan(r, path)
}

// scan reads r line by line until it finds the decision.
func (s *searcher) scan(r io.Reader, name string) (Found, bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for n := 1; ; n++ {
		if n%4096 == 0 {
			if err := s.ctx.Err(); err != nil {
				return Found{}, false, err
			}
		}
		line, long, mentions, err := readLine(br, buf[:0], s.max, s.needle)
		buf = line
		if err != nil && !errors.Is(err, io.EOF) {
			return Found{}, false, fmt.Errorf("reading %s: %w", name, err)
		}
		switch {
		case long && mentions:
			return Found{}, false, fmt.Errorf("%s:%d: the line that mentions decision %q is longer than %d bytes; it is not read", name, n, s.id, s.max)
		case !long && bytes.Contains(line, s.needle):
			e, perr := ParseEntry(line)
			if perr != nil {
				return Found{}, false, fmt.Errorf("%s:%d: the line that mentions decision %q is not a decision log entry: %v", name, n, s.id, perr)
			}
			if e.DecisionID == s.id {
				return Found{Entry: e, File: name, Line: n}, true, nil
			}
		}
		if err != nil {
			return Found{}, false, nil
		}
	}
}

// readLine reads one line into buf, without its line break. A line longer
// than max is not kept (long is set and line is empty), but it is still
// searched for needle, a chunk at a time: mentions says whether it holds
// it. err is io.EOF after the last line.
func readLine(br *bufio.Reader, buf []byte, max int, needle []byte) (line []byte, long, mentions bool, err error) {
	// carry is the end of a long line read so far, as long as needle less
	// one byte, so that a needle across two chunks is found.
	var carry []byte
	for {
		chunk, rerr := br.ReadSlice('\n')
		body := bytes.TrimSuffix(chunk, []byte("\n"))
		if !long && len(buf)+len(body) > max {
			long, carry, buf = true, buf, nil
		}
		if !long {
			buf = append(buf, body...)
		} else if !mentions {
			win := make([]byte, 0, len(carry)+len(body))
			win = append(append(win, carry...), body...)
			mentions = bytes.Contains(win, needle)
			carry = win[len(win)-min(len(win), len(needle)-1):]
		}
		switch {
		case errors.Is(rerr, bufio.ErrBufferFull):
			continue
		case rerr == nil:
			return bytes.TrimSuffix(buf, []byte("\r")), long, mentions, nil
		case errors.Is(rerr, io.EOF) && len(buf) == 0 && !long && len(chunk) == 0:
			return nil, false, false, io.EOF
		case errors.Is(rerr, io.EOF):
			// A last line without a line break: a torn write.
			return bytes.TrimSuffix(buf, []byte("\r")), long, mentions, io.EOF
		default:
			return nil, false, false, rerr
		}
	}
}
