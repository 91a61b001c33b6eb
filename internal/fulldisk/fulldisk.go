// Package fulldisk gives tests a directory on a disk they can fill up and
// give room again, to see what a writer does when writes fail with ENOSPC.
//
// As root, where mount(2) works, the directory is a small tmpfs, filled by
// a filler file: the writer's own file stays where it is and fails, then
// takes writes again once the filler is removed. Elsewhere it falls back
// to /dev/full, which fails every write with ENOSPC: Fill moves the
// writer's file aside and puts a symlink to /dev/full at its path (a writer
// that follows its path ends up writing there), and MakeRoom removes the
// symlink. Both are real kernel failures of write(2), not mocks.
package fulldisk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

// Kinds of Dir.
const (
	Tmpfs   = "tmpfs"
	DevFull = "devfull"
)

// tmpfsSize is the size of the tmpfs, as mount(8) reads it: room for
// thousands of log lines before the filler takes the rest.
const tmpfsSize, tmpfsBytes = "size=4m", 4 << 20

const fillerName = ".filler"

// movedSuffix and a number name the files DevFull's Fill moves aside.
const movedSuffix = ".before-full-"

// Dir is a directory whose disk a test can fill.
type Dir struct {
	// Path is the directory.
	Path string
	// Kind is Tmpfs or DevFull.
	Kind string
	// file is the name, in Path, of the file whose writes should fail.
	file  string
	moved int // files moved aside by DevFull's Fill
}

// Kinds returns the kinds this process can make: DevFull always, Tmpfs
// too where a tmpfs can be mounted.
func Kinds(t testing.TB) []string {
	t.Helper()
	kinds := []string{DevFull}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err == nil {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Fatalf("unmounting a probe tmpfs: %v", err)
		}
		kinds = append(kinds, Tmpfs)
	} else {
		t.Logf("cannot mount a tmpfs (%v): full disks are simulated with /dev/full only", err)
	}
	return kinds
}

// New makes a Dir of kind for a writer of the file named file in it. A
// tmpfs is unmounted when the test ends, after the cleanups registered
// later (a writer closed with t.Cleanup closes first).
func New(t testing.TB, kind, file string) *Dir {
	t.Helper()
	d := &Dir{Path: filepath.Join(t.TempDir(), "disk"), Kind: kind, file: file}
	if err := os.Mkdir(d.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	if kind == Tmpfs {
		if err := syscall.Mount("tmpfs", d.Path, "tmpfs", 0, tmpfsSize); err != nil {
			t.Fatalf("mounting a tmpfs: %v", err)
		}
		t.Cleanup(func() {
			if err := syscall.Unmount(d.Path, syscall.MNT_DETACH); err != nil {
				t.Errorf("unmounting %s: %v", d.Path, err)
			}
		})
	}
	return d
}

// File is the path of the writer's file.
func (d *Dir) File() string { return filepath.Join(d.Path, d.file) }

// Fill makes every further write to File fail with ENOSPC.
func (d *Dir) Fill(t testing.TB) {
	t.Helper()
	switch d.Kind {
	case Tmpfs:
		f, err := os.Create(filepath.Join(d.Path, fillerName))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		chunk := make([]byte, 64<<10)
		for written := 0; written <= 2*tmpfsBytes; written += len(chunk) {
			if _, err := f.Write(chunk); err != nil {
				if errors.Is(err, syscall.ENOSPC) {
					return
				}
				t.Fatal(err)
			}
		}
		t.Fatal("the tmpfs did not fill up")
	case DevFull:
		d.moved++
		if err := os.Rename(d.File(), filepath.Join(d.Path, d.file+movedSuffix+strconv.Itoa(d.moved))); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if err := os.Symlink("/dev/full", d.File()); err != nil {
			t.Fatal(err)
		}
	}
}

// MakeRoom lets writes succeed again.
func (d *Dir) MakeRoom(t testing.TB) {
	t.Helper()
	name := filepath.Join(d.Path, fillerName)
	if d.Kind == DevFull {
		name = d.File()
	}
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
}

// Lines returns the lines of every regular file in the directory other
// than the filler, oldest file first, without empty lines.
func (d *Dir) Lines(t testing.TB) [][]byte {
	t.Helper()
	des, err := os.ReadDir(d.Path)
	if err != nil {
		t.Fatal(err)
	}
	// The files moved aside, in the order they were, then the file at the
	// path.
	order := func(name string) int {
		if n, err := strconv.Atoi(name[min(len(name), len(d.file+movedSuffix)):]); err == nil {
			return n
		}
		return 1 << 30
	}
	var names []string
	for _, de := range des {
		if de.Type().IsRegular() && de.Name() != fillerName {
			names = append(names, de.Name())
		}
	}
	slices.SortFunc(names, func(a, b string) int { return order(a) - order(b) })
	var lines [][]byte
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(d.Path, n))
		if err != nil {
			t.Fatal(err)
		}
		for line := range bytes.Lines(data) {
			if len(bytes.TrimSpace(line)) > 0 {
				lines = append(lines, line)
			}
		}
	}
	return lines
}
