package baseline

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/inventory/awsiam"
	"github.com/cedargate/cedargate/bundle/inventory/drift"
	"github.com/cedargate/cedargate/bundle/inventory/kubernetes"
	"github.com/cedargate/cedargate/bundle/inventory/scim"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/golden"
)

// at is the instant the fixtures are read as of (awsiam/testdata/README.md).
var at = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// fixtures reads the inventory sources' own fixtures under their default
// mappings.
func fixtures(t *testing.T) []Source {
	t.Helper()
	now := func() time.Time { return at }
	var out []Source
	for _, src := range []inventory.Source{
		scim.NewFile("../scim/testdata/root-query.json", scim.Options{Now: now}),
		&kubernetes.Source{Files: []string{"../kubernetes/testdata/all.json"}, Now: now},
		&awsiam.Source{Details: "../awsiam/testdata/authorization-details.json",
			CredentialReport: "../awsiam/testdata/credential-report.csv", Now: now},
	} {
		s, err := src.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		m, _ := repo.DefaultSource(s.Source)
		out = append(out, Source{Snapshot: s, Mapping: m})
	}
	return out
}

// dump renders the files of r in path order.
func dump(r *Result) string {
	var b strings.Builder
	paths := make([]string, 0, len(r.Files))
	for p := range r.Files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		fmt.Fprintf(&b, "==> %s <==\n%s\n", p, r.Files[p])
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s %s: %s\n", n.Source, n.Live, n.Why)
	}
	return b.String()
}

// written writes r into a new directory and loads it as a repository,
// which must have no errors.
func written(t *testing.T, r *Result) *repo.View {
	t.Helper()
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	rp, err := repo.Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if rp.Problems.Errors() > 0 {
		t.Fatalf("the imported repository has errors:\n%s\n%s", rp.Problems, dump(r))
	}
	v, problems := rp.View("")
	if problems.Errors() > 0 {
		t.Fatalf("the imported repository has errors:\n%s\n%s", problems, dump(r))
	}
	return v
}

// identityKinds are the findings import must leave none of: everything
// but the evidence about live credentials, which code cannot change.
var identityKinds = []drift.Kind{drift.LiveOnly, drift.CodeOnly, drift.Membership, drift.Disabled, drift.Attribute, drift.BindingUnknown}

// TestImportFixtures imports the fixtures of every source: the files
// match the golden file, importing again gives the same bytes, the
// repository loads without errors, and drift against the same snapshots
// finds it in sync but for the one person IAM holds and the identity
// provider does not.
func TestImportFixtures(t *testing.T) {
	srcs := fixtures(t)
	r, err := Import(srcs, Options{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	got := dump(r)
	golden.Check(t, filepath.Join("testdata", "fixtures.golden"), []byte(got))
	again, err := Import(fixtures(t), Options{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if dump(again) != got {
		t.Error("importing the same sources twice gives different files")
	}

	v := written(t, r)
	var snaps []*inventory.Snapshot
	for _, s := range srcs {
		snaps = append(snaps, s.Snapshot)
	}
	rep, err := drift.Compare(v, snaps, drift.Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, f := range rep.Findings {
		if slices.Contains(identityKinds, f.Kind) {
			left = append(left, fmt.Sprintf("%s %s %s %s", f.Source, f.Kind, f.Code, f.LiveKey))
		}
	}
	if want := []string{"scim code-only User/alice "}; !slices.Equal(left, want) {
		t.Errorf("identity findings after import = %q, want %q", left, want)
	}
	if !strings.Contains(got, "note: awsiam User arn:aws:iam::123456789012:user/alice: imported as User alice, a person the identity provider does not hold") {
		t.Error("no note on the IAM user the identity provider lacks")
	}
	// Without the SCIM source, the rest is in sync.
	r, err = Import(srcs[1:], Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = drift.Compare(written(t, r), snaps[1:], drift.Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	if n := rep.Count(identityKinds...); n != 0 {
		t.Errorf("kubernetes and awsiam: %d identity findings after import, want 0", n)
	}
}

// TestImportNames checks what import does with names a directory allows
// and identity code does not, with a declared mapping: display names with
// spaces and clashes, users matched by email, a role name with ':',
// skipped namespaces; the result is in sync under the same mapping.
func TestImportNames(t *testing.T) {
	okta := repo.InventorySource{Name: "okta", Type: repo.SourceSCIM, UserKey: repo.UserKeyEmail}
	cluster := repo.InventorySource{Name: "prod-cluster", Type: repo.SourceKubernetes, SkipNamespaces: []string{"kube-system"}}
	users := inventory.NewSnapshot("okta", at, []inventory.Object{
		{Kind: inventory.User, ID: "1", Key: "U1", Active: true, DisplayName: "Ana Lima", Attributes: map[string]string{"email": "ana@corp.example"}},
		{Kind: inventory.User, ID: "2", Key: "U2", Active: true, Attributes: map[string]string{"email": "ana@other.example"}},
		{Kind: inventory.User, ID: "3", Key: "U3", Active: true, Attributes: map[string]string{}},
		{Kind: inventory.Group, ID: "g1", Key: "Ops Team", Members: []string{"U1", "Ops-Team"}, Active: true},
		{Kind: inventory.Group, ID: "g2", Key: "Ops-Team", Members: []string{"U2"}, Active: true},
		{Kind: inventory.Group, ID: "g3", Key: "true", Members: []string{"U2"}, Active: true},
	})
	ns := func(n string) map[string]string { return map[string]string{"namespace": n} }
	k8s := inventory.NewSnapshot("prod-cluster", at, []inventory.Object{
		{Kind: inventory.ServiceAccount, ID: "s1", Key: "kube-system/coredns", Active: true, Attributes: ns("kube-system")},
		{Kind: inventory.ServiceAccount, ID: "s2", Key: "apps/default", Active: true, Attributes: ns("apps")},
		{Kind: inventory.ServiceAccount, ID: "s3", Key: "apps/web", Name: "apps.web", Active: true, Attributes: ns("apps")},
		{Kind: inventory.Binding, ID: "b1", Key: "apps/web-view", Active: true, Attributes: ns("apps"),
			Members: []string{"ServiceAccount:apps/web", "Group:Ops-Team", "User:someone"}, Roles: []string{"ClusterRole/view"}},
		{Kind: inventory.Binding, ID: "b2", Key: "apps/web-sys", Active: true, Attributes: ns("apps"),
			Members: []string{"ServiceAccount:apps/web"}, Roles: []string{"ClusterRole/system:auth-delegator"}},
		{Kind: inventory.Binding, ID: "b3", Key: "web-view-too", Active: true, Attributes: map[string]string{},
			Members: []string{"ServiceAccount:apps/web"}, Roles: []string{"Role/apps/view"}},
	})
	r, err := Import([]Source{{users, okta}, {k8s, cluster}}, Options{Name: "names"})
	if err != nil {
		t.Fatal(err)
	}
	got := dump(r)
	for _, want := range []string{
		"name: ana\nscim_username: ana@corp.example\ndescription: \"Ana Lima\"\ngroups: [Ops-Team]\n",
		"name: ana-2\nscim_username: ana@other.example\ngroups: [Ops-Team-2, \"true\"]\n",
		"kind: Group\nname: Ops-Team\nscim_displayname: \"Ops Team\"\n",
		"kind: Group\nname: Ops-Team-2\nscim_displayname: Ops-Team\ngroups: [Ops-Team]\n",
		"kind: Group\nname: \"true\"\n",
		// A Kubernetes group names the code Group of that name, as in drift.
		"subject: Group/Ops-Team\nprofile: view\n",
		"note: okta User U3: not imported: has no email, which the mapping matches users by",
		"note: prod-cluster Binding apps/web-sys: not imported: gives ClusterRole/system:auth-delegator",
		"    resources: [KubernetesRole/clusterrole.view, KubernetesRole/role.apps.view]\n",
		"subject: ServiceAccount/apps.web\nprofile: view\n",
		"  prod-cluster:\n    type: kubernetes\n    skip_namespaces: [kube-system]\n",
		"  okta:\n    type: scim\n    user_key: email\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("import lacks %q:\n%s", want, got)
		}
	}
	for _, absent := range []string{"coredns", "apps/default", "someone"} {
		if strings.Contains(got, absent) {
			t.Errorf("import holds %q:\n%s", absent, got)
		}
	}
	rep, err := drift.Compare(written(t, r), []*inventory.Snapshot{users, k8s}, drift.Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, f := range rep.Findings {
		left = append(left, fmt.Sprintf("%s %s %s", f.Kind, f.LiveKey, f.Code))
	}
	// U3 cannot be matched; the system: role cannot be a profile name.
	want := []string{"live-only U3 ", "binding-unknown apps/web-sys ServiceAccount/apps.web"}
	slices.Sort(left)
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("findings after import = %q, want %q", left, want)
	}
}

// TestWriteRefuses checks that import never overwrites a repository or
// any file it would write, and writes nothing then.
func TestWriteRefuses(t *testing.T) {
	r, err := Import(fixtures(t)[:1], Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, existing := range []string{repo.ConfigFile, "identities/scim.yaml"} {
		dir := t.TempDir()
		p := filepath.Join(dir, filepath.FromSlash(existing))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("mine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := r.Write(dir)
		if err == nil || !strings.Contains(err.Error(), "already holds") {
			t.Errorf("%s present: Write = %v", existing, err)
		}
		if b, _ := os.ReadFile(p); string(b) != "mine\n" {
			t.Errorf("%s was overwritten", existing)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("%s present: Write wrote other files: %v", existing, entries)
		}
	}
}
