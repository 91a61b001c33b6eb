package decisionlog

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// bigEntry is entryFor(0, i) padded to about 1.3 kB, so a few thousand
// entries fill several 1 MB files.
func bigEntry(i int) Entry {
	e := entryFor(0, i)
	e.Caller = strings.Repeat("c", 1000)
	return e
}

// logFile is one file of a rotated log, decompressed.
type logFile struct {
	name  string
	lines [][]byte
}

func readLogDir(t *testing.T, dir string) []logFile {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []logFile
	for _, de := range des {
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(de.Name(), ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", de.Name(), err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", de.Name(), err)
			}
		}
		if len(data) > 1<<20 {
			t.Errorf("%s holds %d bytes, more than MaxSizeMB=1", de.Name(), len(data))
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			t.Errorf("%s does not end with a whole line", de.Name())
		}
		files = append(files, logFile{de.Name(), slices.Collect(bytes.Lines(data))})
	}
	return files
}

func TestRotation(t *testing.T) {
	const n = 3000 // about 4 MB
	tests := []struct {
		name       string
		opts       Options
		maxBackups int  // 0: all
		gzipped    bool // backups are .gz
	}{
		{name: "rotates at the size and keeps every line whole", opts: Options{}},
		{name: "compresses backups", opts: Options{Compress: true}, gzipped: true},
		{name: "keeps MaxBackups backups", opts: Options{MaxBackups: 1}, maxBackups: 1},
	}
	backup := regexp.MustCompile(`^decisions-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}-size(_\d+)?\.log(\.gz)?$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := tt.opts
			opts.Path = filepath.Join(dir, "decisions.log")
			opts.MaxSizeMB = 1
			opts.OnFull = Block
			h := &recordingHandler{}
			opts.Logger = slog.New(h)
			l := mustOpen(t, opts)
			for i := range n {
				l.Record(t.Context(), bigEntry(i))
			}
			mustClose(t, l)
			if l.Written() != n {
				t.Fatalf("Written %d, want %d", l.Written(), n)
			}
			// Rotation replaces the file at the path: the log must know it
			// did so itself, not take it for a file moved by someone else.
			if got := h.count(reopenedMsg); got != 0 {
				t.Fatalf("%d reopens logged during rotation, want 0", got)
			}

			files := readLogDir(t, dir)
			if tt.maxBackups == 0 && len(files) < 4 {
				t.Fatalf("%d files, want at least 4 for %d MB of lines", len(files), 4)
			}
			if tt.maxBackups > 0 && len(files) != tt.maxBackups+1 {
				t.Fatalf("%d files, want %d backups and the current file", len(files), tt.maxBackups)
			}
			// Each file holds a run of consecutive entries, and the runs
			// together are the last entries recorded, each exactly once.
			type run struct{ first, count int }
			var runs []run
			for _, f := range files {
				if f.name != "decisions.log" && (!backup.MatchString(f.name) || strings.HasSuffix(f.name, ".gz") != tt.gzipped) {
					t.Errorf("unexpected file %s", f.name)
				}
				if len(f.lines) == 0 {
					t.Fatalf("%s is empty", f.name)
				}
				_, first := parseID(t, f.lines[0])
				for k, line := range f.lines {
					e := bigEntry(first + k)
					checkLine(t, line, &e)
				}
				runs = append(runs, run{first, len(f.lines)})
			}
			slices.SortFunc(runs, func(a, b run) int { return a.first - b.first })
			next := runs[0].first
			if tt.maxBackups == 0 && next != 0 {
				t.Fatalf("the oldest file starts at entry %d, want 0", next)
			}
			for _, r := range runs {
				if r.first != next {
					t.Fatalf("files skip or repeat entries: a run starts at %d, want %d", r.first, next)
				}
				next += r.count
			}
			if next != n {
				t.Fatalf("files end at entry %d, want %d", next, n)
			}
		})
	}
}

// ourGoroutines returns the stacks of goroutines running this package's or
// timberjack's code, other than the caller's.
func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var ours []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i > 0 && (strings.Contains(g, "timberjack") || strings.Contains(g, "decisionlog.(*")) {
			ours = append(ours, g)
		}
	}
	return ours
}

func TestCloseStopsEveryGoroutine(t *testing.T) {
	waitFor(t, "other tests' goroutines to end", func() bool { return len(ourGoroutines()) == 0 })
	l := mustOpen(t, Options{Path: filepath.Join(t.TempDir(), "d.log"), MaxSizeMB: 1, MaxBackups: 1, Compress: true, OnFull: Block})
	for i := range 2000 {
		l.Record(t.Context(), bigEntry(i))
	}
	if g := ourGoroutines(); len(g) < 2 {
		t.Fatalf("before Close, %d goroutines of ours, want the writer and timberjack's mill:\n%s", len(g), g)
	}
	mustClose(t, l)
	waitFor(t, "Close's goroutines to end", func() bool { return len(ourGoroutines()) == 0 })
}
