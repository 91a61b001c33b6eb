package repo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretMarker is the content of files outside the repository: it must
// never appear in anything cedargate says.
const secretMarker = "SECRET-3f9c2e-must-not-leak"

// outsideFile writes a file outside the repository, tempting a parser to
// quote it: a YAML and Cedar syntax error on its first line.
func outsideFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret-"+secretMarker)
	if err := os.WriteFile(p, []byte(secretMarker+": [\n"+secretMarker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestLinksInsideAreFollowed: links that stay in the repository, to files
// and to directories, relative or absolute, are read as if they were the
// file, under the link's own path.
func TestLinksInsideAreFollowed(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"shared/cedargate.yaml":  "name: linked\n",
		"shared/schema":          "entity Doc;\n",
		"shared/people.yaml":     "kind: User\nname: alice\n",
		"shared/teams/ops.yaml":  "kind: Team\nname: ops\nmembers: [alice]\n",
		"shared/policies.cedar":  "permit (principal, action, resource);\n",
		"identities/local.yaml":  "kind: User\nname: bob\n",
		"shared/notes/README.md": "not read",
	})
	symlink(t, "shared/cedargate.yaml", filepath.Join(dir, ConfigFile))
	symlink(t, filepath.Join(dir, "shared", "schema"), filepath.Join(dir, SchemaFile)) // absolute
	symlink(t, "../shared/people.yaml", filepath.Join(dir, "identities", "people.yaml"))
	symlink(t, "../shared/teams", filepath.Join(dir, "identities", "teams"))
	symlink(t, "../shared/policies.cedar", filepath.Join(dir, "policies", "all.cedar"))
	// The repository reached through a link of its own.
	root := filepath.Join(t.TempDir(), "repo")
	symlink(t, dir, root)

	r, err := Load(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) > 0 {
		t.Fatalf("problems: %s", r.Problems)
	}
	if r.Config.Name != "linked" || r.Schema == nil || string(r.Schema.Data) != "entity Doc;\n" {
		t.Errorf("config %q, schema %v", r.Config.Name, r.Schema)
	}
	v, problems := r.View("")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var got []string
	for _, u := range v.Users {
		got = append(got, u.Name+"@"+u.Pos.String())
	}
	for _, tm := range v.Teams {
		got = append(got, tm.Name+"@"+tm.Pos.String())
	}
	if want := "bob@identities/local.yaml:1:1 alice@identities/people.yaml:1:1 ops@identities/teams/ops.yaml:1:1"; strings.Join(got, " ") != want {
		t.Errorf("objects %v\nwant %s", got, want)
	}
	if len(r.Policies) != 1 || r.Policies[0].Path != "policies/all.cedar" {
		t.Errorf("policies: %+v", r.Policies)
	}
}

// TestLinksOutsideAreRefused: a link that leads out of the repository, from
// any place cedargate reads, is an error that names the link; nothing of
// the target (its path, its content) appears, and it is not read.
func TestLinksOutsideAreRefused(t *testing.T) {
	tests := []struct {
		name string
		// link is where the link is, relative to the repository; target
		// is "file" or "dir" (outside), or a path relative to the link.
		link, target string
		want         string
	}{
		{"cedargate.yaml", ConfigFile, "file", "cedargate.yaml: symbolic link cedargate.yaml points outside the repository"},
		{"schema", SchemaFile, "file", "schema.cedarschema: symbolic link schema.cedarschema points outside the repository"},
		{"identity file", "identities/people.yaml", "file", "identities/people.yaml: symbolic link identities/people.yaml points outside the repository"},
		{"identity file, any name", "identities/notes.txt", "file", "identities/notes.txt: symbolic link identities/notes.txt points outside the repository"},
		{"identity directory", "identities/shared", "dir", "identities/shared: symbolic link identities/shared points outside the repository"},
		{"the identities directory", "identities", "dir", "identities: symbolic link identities points outside the repository"},
		{"policy", "policies/p.cedar", "file", "policies/p.cedar: symbolic link policies/p.cedar points outside the repository"},
		{"entities", "entities/e.json", "file", "entities/e.json: symbolic link entities/e.json points outside the repository"},
		{"test", "tests/t.yaml", "file", "tests/t.yaml: symbolic link tests/t.yaml points outside the repository"},
		{"relative, up and out", "identities/up.yaml", "../../outside.yaml", "identities/up.yaml: symbolic link identities/up.yaml points outside the repository"},
		{"a loop", "identities/loop", "..", "identities/loop: symbolic link leads back to a directory above it (a loop)"},
		{"a loop through a sibling", "identities/a/x", "../b", "identities/a/x/y: symbolic link leads back to a directory above it (a loop)"},
		{"broken", "identities/broken.yaml", "missing.yaml", "identities/broken.yaml: cannot be resolved: a symbolic link on the way leads nowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "repo")
			write(t, dir, map[string]string{"identities/ok.yaml": "kind: User\nname: ok\n"})
			secret := outsideFile(t)
			if err := os.WriteFile(filepath.Join(parent, "outside.yaml"), []byte(secretMarker+": [\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			target := tt.target
			switch target {
			case "file":
				target = secret
			case "dir":
				target = filepath.Dir(secret)
			}
			if tt.link == "identities" {
				if err := os.RemoveAll(filepath.Join(dir, "identities")); err != nil {
					t.Fatal(err)
				}
			}
			symlink(t, target, filepath.Join(dir, filepath.FromSlash(tt.link)))
			if tt.name == "a loop through a sibling" {
				symlink(t, "../a", filepath.Join(dir, "identities", "b", "y"))
			}

			r, err := Load(t.Context(), dir)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := r.Problems.String()
			if !strings.Contains(got, tt.want) {
				t.Errorf("problems do not contain\n  %s\ngot:\n%s", tt.want, got)
			}
			if strings.Contains(got, secretMarker) || strings.Contains(got, parent) {
				t.Errorf("problems show the target:\n%s", got)
			}
			for _, f := range append(append(append(append([]*File{r.Schema}, r.Policies...), r.Entities...), r.Tests...), nil) {
				if f != nil && strings.Contains(string(f.Data), secretMarker) {
					t.Errorf("%s was read from outside", f.Path)
				}
			}
		})
	}
}
