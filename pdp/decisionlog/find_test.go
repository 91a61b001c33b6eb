package decisionlog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestFindInARotatedLog writes a log with the real writer, rotated and
// compressed by timberjack, and finds decisions in the current file and
// in the oldest backup, at the line they were written on; a decision in
// none of the files names every file searched.
func TestFindInARotatedLog(t *testing.T) {
	const n = 3000 // about 4 MB: four files or more
	for _, compress := range []bool{false, true} {
		name := "plain backups"
		if compress {
			name = "compressed backups"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "decisions.log")
			l := mustOpen(t, Options{Path: path, MaxSizeMB: 1, Compress: compress, OnFull: Block})
			for i := range n {
				l.Record(t.Context(), bigEntry(i))
			}
			mustClose(t, l)
			// Something else in the directory is not a backup.
			if err := os.WriteFile(filepath.Join(dir, "decisions-notes.log"), []byte("g0-0\n"), 0o644); err != nil {
				t.Fatal(err)
			}

			backups, err := Backups(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(backups) < 3 {
				t.Fatalf("backups %v, want at least 3", backups)
			}
			for _, b := range backups {
				if strings.HasSuffix(b, ".gz") != compress {
					t.Fatalf("backup %s, compressed: want %v", b, compress)
				}
			}
			oldest := backups[len(backups)-1]
			last := readLines(t, path)
			for _, tc := range []struct {
				i    int
				file string
				line int
			}{
				{i: n - 1, file: path, line: len(last)},
				{i: 0, file: oldest, line: 1},
				{i: 5, file: oldest, line: 6},
			} {
				f, err := Find(t.Context(), path, bigEntry(tc.i).DecisionID, FindOptions{})
				if err != nil {
					t.Fatal(err)
				}
				want := normalized(bigEntry(tc.i))
				if f.File != tc.file || f.Line != tc.line || !reflect.DeepEqual(f.Entry, want) {
					t.Fatalf("decision %d found at %s:%d as %+v, want %s:%d", tc.i, f.File, f.Line, f.Entry, tc.file, tc.line)
				}
			}

			_, err = Find(t.Context(), path, "g0-99999", FindOptions{})
			var nf *NotFoundError
			if !errors.As(err, &nf) || !slices.Equal(nf.Searched, append([]string{path}, backups...)) {
				t.Fatalf("an unknown decision: %v, want a NotFoundError naming %s and %v", err, path, backups)
			}
		})
	}
}

// TestBackupsNewestFirst lists backups in the order they were rotated,
// however the directory lists them, and leaves out what timberjack does
// not name.
func TestBackupsNewestFirst(t *testing.T) {
	dir := t.TempDir()
	names := []string{
		"d-2026-11-23T10-00-00.000-size.log.gz",
		"d-2026-11-23T12-00-00.000-size.log",
		"d-2026-11-23T12-00-00.000-size_1.log",
		"d-2026-11-23T12-00-00.000-size_10.log.gz",
		"d-2026-11-23T12-00-00.000-size_2.log",
		"d.log",
		"d-notes.log",
		"d-2026-11-23T12-00-00.000-.log",
		"d-2026-11-23T12-00-00.000-size.txt",
		"e-2026-11-23T12-00-00.000-size.log",
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Backups(filepath.Join(dir, "d.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"d-2026-11-23T12-00-00.000-size_10.log.gz",
		"d-2026-11-23T12-00-00.000-size_2.log",
		"d-2026-11-23T12-00-00.000-size_1.log",
		"d-2026-11-23T12-00-00.000-size.log",
		"d-2026-11-23T10-00-00.000-size.log.gz",
	}
	for i := range want {
		want[i] = filepath.Join(dir, want[i])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Backups = %v\nwant %v", got, want)
	}
}

// TestFindBadLines checks what Find makes of lines that are not entries:
// lines that do not mention the decision are passed over, whatever they
// are; a line that mentions it and is not an entry, or is too long to
// read, stops the search with its file and line number.
func TestFindBadLines(t *testing.T) {
	want := entryFor(0, 7)
	entry := string(appendEntry(nil, &want))
	other := entryFor(0, 8)
	otherLine := string(appendEntry(nil, &other))
	// A long line with the decision id across the reader's 64 KiB
	// chunks, to find it where two chunks meet.
	straddling := strings.Repeat("x", 64<<10-2) + "g0-7" + strings.Repeat("y", 64<<10) + "\n"
	tests := []struct {
		name    string
		content string
		max     int
		line    int    // where the decision is found
		err     string // or the error
	}{
		{name: "torn and foreign lines elsewhere", content: "\n" + otherLine[:30] + "\nhello\n" + strings.Repeat("z", 5000) + "\n" + entry, max: 1000, line: 5},
		{name: "a torn last line", content: otherLine + entry[:len(entry)-1], line: 2},
		{name: "CRLF line breaks", content: strings.ReplaceAll(otherLine+entry, "\n", "\r\n"), line: 2},
		{name: "the line that mentions it is not JSON", content: otherLine + "decision g0-7 was an allow\n", err: `:2: the line that mentions decision "g0-7" is not a decision log entry: not JSON`},
		{name: "the line that mentions it is torn", content: otherLine + otherLine + entry[:60] + "\n" + entry, err: ":3: the line that mentions decision"},
		{name: "the line that mentions it is too long", content: otherLine + entry, max: 200, err: `:2: the line that mentions decision "g0-7" is longer than 200 bytes`},
		{name: "the id across two chunks of a long line", content: straddling, max: 1000, err: ":1: the line that mentions decision"},
		{name: "a long line elsewhere", content: strings.Repeat("w", 200<<10) + "\n" + entry, max: 1000, line: 2},
		{name: "not there", content: otherLine, err: `decision "g0-7" is not in`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "decisions.log")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Find(t.Context(), path, "g0-7", FindOptions{MaxLineBytes: tt.max})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Find: %+v, %v; want an error saying %q", f, err, tt.err)
				}
				if !strings.Contains(err.Error(), path) {
					t.Fatalf("the error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Line != tt.line || !reflect.DeepEqual(f.Entry, normalized(want)) {
				t.Fatalf("found at line %d as %+v, want line %d", f.Line, f.Entry, tt.line)
			}
		})
	}
}

// TestFindInStandardInput reads the log from a reader for "-", and
// refuses an empty id, which every line would match.
func TestFindInStandardInput(t *testing.T) {
	e := entryFor(0, 3)
	in := bytes.NewReader(appendEntry(nil, &e))
	f, err := Find(t.Context(), "-", "g0-3", FindOptions{Stdin: in})
	if err != nil || f.File != "standard input" || f.Line != 1 {
		t.Fatalf("Find on standard input: %+v, %v", f, err)
	}
	if _, err := Find(t.Context(), "-", "", FindOptions{Stdin: in}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("an empty id: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "none.log")
	if _, err := Find(t.Context(), missing, "g0-3", FindOptions{}); err == nil || !strings.Contains(err.Error(), "no such file, and no rotated backups") {
		t.Fatalf("a log that does not exist: %v", err)
	}
}
