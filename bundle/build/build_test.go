package build

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/pdp/engine"
)

var refNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func scaffold(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := Init(dir, InitOptions{Name: "scaffold", Now: refNow}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyShuffled copies src to a new directory writing the files in reverse
// order with other modification times, so that only content and paths are
// left in common.
func copyShuffled(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "elsewhere", "copy")
	var files []string
	_ = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	slices.Reverse(files)
	for i, p := range files {
		rel, _ := filepath.Rel(src, p)
		data, _ := os.ReadFile(p)
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, data, 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Date(2001, 1, 1, 0, 0, i, 0, time.UTC)
		_ = os.Chtimes(out, old, old)
	}
	return dst
}

// TestBuildIsDeterministic builds the same source twice, from copies that
// differ in location, file order, modes and times, at different clock
// instants, and requires byte-identical bundles.
func TestBuildIsDeterministic(t *testing.T) {
	src := scaffold(t)
	first, err := Build(t.Context(), src, Options{Env: "prod", Now: refNow, CompilerVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Build(t.Context(), copyShuffled(t, src), Options{Env: "prod", Now: refNow.Add(11 * time.Hour), CompilerVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Archive, second.Archive) {
		t.Fatalf("bundles differ: %s vs %s", first.Bundle.Digest, second.Bundle.Digest)
	}
	if first.Bundle.Manifest.Revision[:4] != "src-" {
		t.Errorf("revision outside Git = %q, want one derived from the source", first.Bundle.Manifest.Revision)
	}
	dev, err := Build(t.Context(), src, Options{Env: "dev", Now: refNow, CompilerVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if dev.Bundle.Digest == first.Bundle.Digest {
		t.Error("dev and prod bundles have the same digest")
	}
}

// TestEntitlementExpiresWithoutRebuild builds a bundle once and decides the
// same request just before and at the entitlement's expiry instant.
func TestEntitlementExpiresWithoutRebuild(t *testing.T) {
	out, err := Build(t.Context(), scaffold(t), Options{Env: "prod", Now: refNow})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Decode(bytes.NewReader(out.Archive), bundle.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := engine.New(b)
	if err != nil {
		t.Fatal(err)
	}
	const grant = "entitlement:ServiceAccount/deployer-prod:api-reader#0"
	var expires time.Time
	for _, g := range b.Grants {
		if g.ID+"#0" == grant {
			expires = *g.NotAfter
		}
	}
	if want := refNow.AddDate(0, 3, 0).Truncate(24 * time.Hour); !expires.Equal(want) {
		t.Fatalf("grant expires %v, want %v", expires, want)
	}
	req := func(at time.Time) engine.Decision {
		return snap.Decide(&engine.Request{
			Principal: types.NewEntityUID("App::ServiceAccount", "deployer-prod"),
			Action:    types.NewEntityUID("App::Action", "read"),
			Resource:  types.NewEntityUID("App::Service", "api"),
			Time:      at,
		})
	}
	before := req(expires.Add(-time.Nanosecond))
	if !before.Allow || len(before.Reasons) != 1 || before.Reasons[0].ID != grant {
		t.Fatalf("just before expiry: %+v, want allow by %s", before, grant)
	}
	if after := req(expires); after.Allow || len(after.Reasons) != 0 {
		t.Fatalf("at expiry: %+v, want default deny", after)
	}
}

// TestExamplesAcmeIsDeterministic builds the demo repository twice from the
// checkout (revision and build time from Git) and twice from copies outside
// Git that differ in file order, modes and times, at different clock
// instants, and requires byte-identical bundles each time.
func TestExamplesAcmeIsDeterministic(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "acme")
	if _, err := os.Stat(filepath.Join(dir, "cedargate.yaml")); err != nil {
		t.Fatalf("examples/acme is missing: %v", err)
	}
	for name, dirs := range map[string][2]string{
		"checkout":           {dir, dir},
		"copies outside Git": {copyShuffled(t, dir), copyShuffled(t, dir)},
	} {
		t.Run(name, func(t *testing.T) {
			var out [2]*Output
			for i, d := range dirs {
				var err error
				out[i], err = Build(t.Context(), d, Options{Env: "prod", Now: refNow.Add(time.Duration(i) * time.Hour), AllowDirty: true, CompilerVersion: "test"})
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(out[0].Archive, out[1].Archive) {
				t.Fatalf("examples/acme builds differ: %s vs %s", out[0].Bundle.Digest, out[1].Bundle.Digest)
			}
		})
	}
}

// TestCompilesStopAtAFileThatDoesNotParse breaks one identity file of
// the scaffold: build, lint, test and a compile of the work tree (which
// leave the parsing to the view they compile) must fail naming the file,
// line and column, and report nothing that only follows from the objects
// the file would have declared (its team owns the deployer's account).
func TestCompilesStopAtAFileThatDoesNotParse(t *testing.T) {
	dir := scaffold(t)
	broken := filepath.Join(dir, "identities", "platform.yaml")
	data, err := os.ReadFile(broken)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, append(data, "\n  oops: [\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	rel := "identities/" + filepath.Base(broken)
	// only requires every error of list to be the file's syntax error,
	// and at least one.
	only := func(what string, list diag.List) {
		t.Helper()
		if list.Errors() == 0 {
			t.Fatalf("%s: a file that does not parse went unreported", what)
		}
		for _, d := range list {
			if d.Severity == diag.Error && (d.Pos.File != rel || d.Pos.Line == 0 || d.Pos.Col == 0 || !strings.Contains(d.Message, "invalid YAML")) {
				t.Fatalf("%s: want only the syntax error at %s:line:column, got:\n%s", what, rel, list)
			}
		}
	}
	_, err = Build(t.Context(), dir, Options{Env: "prod", Now: refNow, Revision: "r1"})
	if err == nil {
		t.Fatal("a build with a file that does not parse succeeded")
	}
	if list := diag.ListOf(err); list.Errors() != 1 {
		t.Fatalf("build: want one error, got:\n%s", list)
	}
	only("build", diag.ListOf(err))
	lint, err := Lint(t.Context(), dir, "", refNow)
	if err != nil {
		t.Fatal(err)
	}
	only("lint", lint)
	rep, err := Test(t.Context(), dir, "", refNow)
	if err != nil {
		t.Fatal(err)
	}
	only("test", rep.Failures)
	_, err = CompileWorkTreeAt(t.Context(), dir, "prod", refNow)
	if err == nil {
		t.Fatal("a compile with a file that does not parse succeeded")
	}
	only("compile", diag.ListOf(err))
}
