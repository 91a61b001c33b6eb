package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle/store"
	goldenpkg "github.com/cedargate/cedargate/internal/golden"
)

// normalize replaces what differs from run to run in the store commands'
// output (the store's path, digests, times, byte offsets that depend on
// the length of times) with fixed text of the same width, so that columns
// stay aligned.
func normalize(out, storeDir string) string {
	out = strings.ReplaceAll(out, storeDir, "STORE")
	for _, r := range []struct {
		re   *regexp.Regexp
		with string
	}{
		{regexp.MustCompile(`sha256:[0-9a-f]{64}`), "sha256:DIGEST"},
		{regexp.MustCompile(`\b[0-9a-f]{12}\b`), "digest-12hex"},
		{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`), "YYYY-MM-DDThh:mm:ssZ"},
		{regexp.MustCompile(`damaged-\d{8}T\d{6}Z`), "damaged-YYYYMMDDThhmmssZ"},
		{regexp.MustCompile(`at byte \d+`), "at byte N"},
	} {
		out = r.re.ReplaceAllString(out, r.with)
	}
	return out
}

// golden compares got with testdata/name (see golden.Check).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenpkg.Check(t, filepath.Join("testdata", name), []byte(got))
}

// TestStoreVerifyAndRepair damages a store built by the CLI in one way at
// a time and runs what an operator would: store verify, store repair,
// store verify again, history. The transcripts, exit codes included, are
// golden files: they are what people read.
func TestStoreVerifyAndRepair(t *testing.T) {
	// Long and independent of other tests: it runs beside the other long
	// tests marked parallel, to keep make test within its 10-minute budget.
	t.Parallel()
	acme := filepath.Join("..", "..", "examples", "acme")
	base := filepath.Join(t.TempDir(), "store")
	for _, b := range []struct {
		rev      string
		activate bool
	}{{"r1", true}, {"r2", true}, {"r3", false}} {
		args := []string{"build", acme, "--env", "prod", "--store", base, "--now", refDate, "--revision", b.rev}
		if b.activate {
			args = append(args, "--activate")
		}
		if r := cedargateEnv(t, environ("sam"), args...); r.code != 0 {
			t.Fatalf("build: %+v", r)
		}
	}
	statePath := func(dir string) string { return filepath.Join(dir, store.StateFile) }
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"sound", func(*testing.T, string) {}},
		{"damaged-state", func(t *testing.T, dir string) {
			data, _ := os.ReadFile(statePath(dir))
			writeFile(t, statePath(dir), data[:len(data)-60])
		}},
		{"missing-state", func(t *testing.T, dir string) {
			if err := os.Remove(statePath(dir)); err != nil {
				t.Fatal(err)
			}
		}},
		{"corrupted-bundle", func(t *testing.T, dir string) {
			p := filepath.Join(dir, store.BundlesDir, "r1.tar.gz")
			data, _ := os.ReadFile(p)
			writeFile(t, p, data[:len(data)/2])
		}},
		{"old-format", func(t *testing.T, dir string) {
			// As the old format left a crash between its two writes:
			// active.json names r2, history.json lacks its activation.
			var st struct{ History []store.Activation }
			data, _ := os.ReadFile(statePath(dir))
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatal(err)
			}
			writeJSONFile(t, filepath.Join(dir, store.LegacyActiveFile), st.History[1])
			writeJSONFile(t, filepath.Join(dir, store.LegacyHistoryFile), st.History[:1])
			if err := os.Remove(statePath(dir)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, dir)
			var transcript strings.Builder
			for _, args := range [][]string{
				{"store", "verify", "--store", dir},
				{"store", "repair", "--store", dir},
				{"store", "verify", "--store", dir},
				{"history", "--store", dir},
			} {
				r := cedargateEnv(t, environ("sam"), args...)
				fmt.Fprintf(&transcript, "$ cedargate %s\n%s%sexit %d\n\n", strings.Join(args, " "), r.stdout, r.stderr, r.code)
			}
			golden(t, filepath.Join("store", tt.name+".golden"), normalize(transcript.String(), dir))
		})
	}
}

// TestHistoryShowsAUser checks that with $USER unset an activation still
// records who made it, and that an entry an older version wrote without a
// user shows as unknown.
func TestHistoryShowsAUser(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	acme := filepath.Join("..", "..", "examples", "acme")
	if r := cedargateEnv(t, environ(""), "build", acme, "--env", "prod", "--store", dir, "--activate", "--now", refDate, "--revision", "r1"); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	r := cedargateEnv(t, environ(""), "history", "--store", dir, "--json")
	var h []store.Activation
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || len(h) != 1 {
		t.Fatalf("history --json: %v %+v", err, r)
	}
	if h[0].User == "" {
		t.Fatalf("with $USER unset, the activation records no user: %+v", h[0])
	}
	// An entry of an older version, without a user.
	h[0].User = ""
	writeJSONFile(t, filepath.Join(dir, store.StateFile), map[string]any{"format": 1, "active": h[0].Pointer, "history": h})
	r = cedargateEnv(t, environ(""), "history", "--store", dir)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasSuffix(strings.TrimSpace(lines[1]), store.UnknownUser) {
		t.Fatalf("history of an entry without a user: %+v, want its USER column to say %s", r, store.UnknownUser)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, data)
}
