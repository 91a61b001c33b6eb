package decisionlog

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// backupTimeLayout is timberjack's default BackupTimeFormat, which
// fileSink leaves alone: the UTC instant of the rotation, to the
// millisecond.
const backupTimeLayout = "2006-01-02T15-04-05.000"

// gzSuffix ends a backup that Options.Compress compressed.
const gzSuffix = ".gz"

// Backups lists the rotated backups of the log at path that are on disk,
// newest first. fileSink rotates with timberjack's defaults, which name a
// backup of "dir/NAME.EXT" "dir/NAME-<UTC time>-<reason>.EXT", the time
// as 2006-01-02T15-04-05.000 and the reason "size" (with "_1", "_2", ...
// when two rotations fall in the same millisecond), and ".gz" appended
// when it is compressed. Other files in the directory are left out.
func Backups(path string) ([]string, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	ext := filepath.Ext(base)
	prefix := strings.TrimSuffix(base, ext) + "-"
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type backup struct {
		name string
		at   time.Time
		n    int // the reason's suffix: 1 for "size_1"
	}
	var out []backup
	for _, de := range des {
		name := de.Name()
		if !de.Type().IsRegular() {
			continue
		}
		rest, ok := strings.CutPrefix(strings.TrimSuffix(name, gzSuffix), prefix)
		if !ok {
			continue
		}
		if rest, ok = strings.CutSuffix(rest, ext); !ok {
			continue
		}
		i := strings.LastIndexByte(rest, '-')
		if i < 0 || i == len(rest)-1 {
			continue
		}
		at, err := time.Parse(backupTimeLayout, rest[:i])
		if err != nil {
			continue
		}
		b := backup{name: name, at: at}
		if _, suffix, ok := strings.Cut(rest[i+1:], "_"); ok {
			b.n, _ = strconv.Atoi(suffix)
		}
		out = append(out, b)
	}
	// Of two rotations in the same millisecond, the one with the higher
	// suffix ("size_1" after "size") came later.
	slices.SortFunc(out, func(a, b backup) int {
		return cmp.Or(b.at.Compare(a.at), cmp.Compare(b.n, a.n), strings.Compare(b.name, a.name))
	})
	paths := make([]string, len(out))
	for i, b := range out {
		paths[i] = filepath.Join(dir, b.name)
	}
	return paths, nil
}
