package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreCommandsTakeTheBundleLimit checks that every command that reads
// bundles from a store honours --max-bundle-bytes: below the size of a
// real bundle it is refused as too large and nothing changes; at the
// default the same command succeeds.
func TestStoreCommandsTakeTheBundleLimit(t *testing.T) {
	// Long and independent of other tests: it runs beside the other long
	// tests marked parallel, to keep make test within its 10-minute budget.
	t.Parallel()
	dir := scaffoldToday(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	for _, rev := range []string{"r1", "r2"} {
		if r := cedargate(t, "build", dir, "--env", "prod", "--store", storeDir, "--revision", rev, "--activate"); r.code != 0 {
			t.Fatalf("build %s: %+v", rev, r)
		}
	}
	// The scaffold's bundle is a few KiB uncompressed: 1 KiB is too small.
	for _, tc := range []struct {
		name string
		args []string
		ok   int // the exit code at the default limit
	}{
		{"build", []string{"build", dir, "--env", "prod", "--store", storeDir, "--revision", "r3"}, 0},
		{"rollout", []string{"rollout", "r1", "--store", storeDir}, 0},
		{"rollback", []string{"rollback", "--store", storeDir}, 0},
		{"store verify", []string{"store", "verify", "--store", storeDir}, 0},
		{"store repair", []string{"store", "repair", "--store", storeDir}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := cedargate(t, "history", "--store", storeDir, "--json")
			r := cedargate(t, append(tc.args, "--max-bundle-bytes", "1024")...)
			if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "too large") {
				t.Fatalf("with --max-bundle-bytes 1024: exit %d, want a refusal naming the size:\n%s%s", r.code, r.stdout, r.stderr)
			}
			if after := cedargate(t, "history", "--store", storeDir, "--json"); after.stdout != before.stdout {
				t.Fatalf("a refused %s changed the history:\n%s\nwas\n%s", tc.name, after.stdout, before.stdout)
			}
			if r := cedargate(t, tc.args...); r.code != tc.ok {
				t.Fatalf("at the default limit: exit %d, want %d:\n%s%s", r.code, tc.ok, r.stdout, r.stderr)
			}
		})
	}
	if r := cedargate(t, "rollout", "r1", "--store", storeDir, "--max-bundle-bytes", "0"); r.code != exitUsage {
		t.Fatalf("--max-bundle-bytes 0: exit %d, want %d (usage)", r.code, exitUsage)
	}
}
