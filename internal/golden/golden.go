// Package golden compares what a test produced with a golden file, and
// rewrites the file instead when the test runs with -update (review the
// difference with git before committing it). Tests import it for the
// -update flag too, which it registers once per test binary.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files from the output")

// Check compares got with the file at path. With -update it writes got
// there instead, creating the directory. A missing file or a difference
// fails t, showing both.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it; read the difference before committing):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
