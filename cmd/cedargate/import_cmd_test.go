package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readTree returns the files under dir by slash path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportRoundTrip imports the Kubernetes, AWS and SCIM fixtures,
// twice (byte-identical), then lints, builds and drifts the result: lint
// and build pass with the debt as warnings, and drift with the same
// sources finds no identity drift (the credential evidence stays).
func TestImportRoundTrip(t *testing.T) {
	sources := []string{"--source", driftK8s, "--source", driftIAM, "--source", driftIAMRep}
	tmp := t.TempDir()
	first, second := filepath.Join(tmp, "first"), filepath.Join(tmp, "second")
	for _, dir := range []string{first, second} {
		r := runCLI(t, append([]string{"import", "--out", dir, "--name", "estate"}, sources...)...)
		if r.code != 0 {
			t.Fatalf("import: exit %d: %s", r.code, r.stderr)
		}
		if want := "wrote " + dir + ": 1 User, 2 Group, 4 ServiceAccount, 1 AccessProfile, 1 Entitlement"; !strings.Contains(r.stdout, want) {
			t.Errorf("import says %q, want %q", r.stdout, want)
		}
	}
	a, b := readTree(t, first), readTree(t, second)
	if len(a) != 4 {
		t.Errorf("import wrote %d files, want cedargate.yaml, schema and two identity files", len(a))
	}
	for p, content := range a {
		if b[p] != content {
			t.Errorf("%s differs between two imports of the same sources", p)
		}
	}

	r := runCLI(t, "lint", first, "--now", driftInstant)
	if r.code != 0 || !strings.Contains(r.stderr+r.stdout, "warning: ServiceAccount \"payments.ledger-bot\": no owner") {
		t.Errorf("lint: exit %d, want 0 with the missing owner as a warning:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "build", first, "--store", filepath.Join(tmp, "store"), "--now", driftInstant, "--revision", "imported")
	if r.code != 0 {
		t.Errorf("build: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	gate := "live-only,code-only,membership,disabled,attribute,binding-unknown"
	r = runCLI(t, append([]string{"drift", first, "--at", driftInstant, "--fail-on", gate}, sources...)...)
	if r.code != 0 {
		t.Errorf("drift of the imported repository: exit %d, want 0:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "credential-stale") {
		t.Errorf("drift lost the credential evidence:\n%s", r.stdout)
	}

	// With SCIM too: the one IAM user the identity provider lacks is
	// said at import and found by drift.
	withSCIM := filepath.Join(tmp, "with-scim")
	r = runCLI(t, append([]string{"import", "--out", withSCIM, "--source", driftSCIM}, sources...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "note: scim User Bo Chen: not imported: disabled in the directory") ||
		!strings.Contains(r.stderr, "note: awsiam User arn:aws:iam::123456789012:user/alice: imported as User alice") {
		t.Fatalf("import with scim: exit %d:\n%s", r.code, r.stderr)
	}
	r = runCLI(t, append([]string{"drift", withSCIM, "--at", driftInstant, "--source", driftSCIM, "--fail-on", gate, "--format", "json"}, sources...)...)
	if r.code != 3 || strings.Count(r.stdout, `"kind": "code-only"`) != 1 || !strings.Contains(r.stdout, `"code": "User/alice"`) {
		t.Errorf("drift with scim: exit %d, want 3 for alice alone:\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Never over an existing repository; nothing is written then.
	r = runCLI(t, append([]string{"import", "--out", first, "--source", driftSCIM}, sources...)...)
	if r.code != 2 || !strings.Contains(r.stderr, "already holds an identity repository") {
		t.Errorf("import over a repository: exit %d: %s", r.code, r.stderr)
	}
	if got := readTree(t, first); len(got) != len(a) {
		t.Errorf("import over a repository wrote files")
	}
}

// TestImportMapping imports under a mapping declared in another
// directory's cedargate.yaml, and refuses names no mapping declares.
func TestImportMapping(t *testing.T) {
	tmp := t.TempDir()
	mapping := filepath.Join(tmp, "mapping")
	if err := os.MkdirAll(mapping, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mapping, "cedargate.yaml"), []byte("inventory:\n  prod-cluster:\n    type: kubernetes\n    skip_namespaces: [payments]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k8s := "prod-cluster=" + strings.TrimPrefix(driftK8s, "kubernetes=")
	out := filepath.Join(tmp, "out")
	r := runCLI(t, "import", "--out", out, "--mapping", mapping, "--source", k8s)
	if r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	files := readTree(t, out)
	if !strings.Contains(files["cedargate.yaml"], "  prod-cluster:\n    type: kubernetes\n    skip_namespaces: [payments]\n") {
		t.Errorf("cedargate.yaml lacks the mapping:\n%s", files["cedargate.yaml"])
	}
	if _, ok := files["identities/prod-cluster.yaml"]; ok {
		t.Errorf("the skipped namespace was imported:\n%s", files["identities/prod-cluster.yaml"])
	}
	r = runCLI(t, "drift", out, "--source", k8s, "--fail-on", "any", "--at", driftInstant)
	if r.code != 0 {
		t.Errorf("drift: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", filepath.Join(tmp, "x"), "--source", k8s}, `--source prod-cluster: no source "prod-cluster" in the inventory section`},
		{[]string{"--source", driftK8s}, "--out is required"},
		{[]string{"--out", filepath.Join(tmp, "y")}, "--source is required"},
		{[]string{"--out", filepath.Join(tmp, "z"), "--source", "kubernetes=" + filepath.Join(tmp, "missing.json")}, "missing.json"},
	} {
		r := runCLI(t, append([]string{"import"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("import %q: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	for _, d := range []string{"x", "y", "z"} {
		if _, err := os.Stat(filepath.Join(tmp, d)); err == nil {
			t.Errorf("a failed import created %s", d)
		}
	}
}
