package build

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/cedargate/cedargate/bundle/repo"
)

//go:embed template
var templateFS embed.FS

// InitOptions configure Init.
type InitOptions struct {
	// Name is the repository name; default the directory's base name.
	Name string
	// Namespace is the Cedar namespace; default "App".
	Namespace string
	// Now dates the scaffold: the service account's expiry, rotation and
	// review dates are set relative to it so that the new repository
	// passes every guardrail.
	Now time.Time
}

// Init writes a small identity repository into dir that builds, lints and
// tests clean on the day of opts.Now. It refuses to write into a directory
// that already holds a cedargate.yaml or any file it would write.
func Init(dir string, opts InitOptions) error {
	if _, err := os.Stat(filepath.Join(dir, repo.ConfigFile)); err == nil {
		return fmt.Errorf("%s already holds an identity repository (%s)", dir, repo.ConfigFile)
	}
	// Init may write into the current directory, so it never overwrites:
	// every file it would write must be absent before it writes one.
	if err := fs.WalkDir(templateFS, "template", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := templateTarget(p)
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(rel))); err == nil {
			return fmt.Errorf("%s already holds %s; init writes only into a directory without the files it creates", dir, rel)
		}
		return nil
	}); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if opts.Name == "" {
		opts.Name = filepath.Base(abs)
	}
	if opts.Namespace == "" {
		opts.Namespace = "App"
	}
	today := opts.Now.UTC().Truncate(24 * time.Hour)
	data := map[string]string{
		"Name":         opts.Name,
		"Namespace":    opts.Namespace,
		"Today":        today.Format(time.DateOnly),
		"Expires":      today.AddDate(0, 6, 0).Format(time.DateOnly),
		"GrantExpires": today.AddDate(0, 3, 0).Format(time.DateOnly),
	}
	return fs.WalkDir(templateFS, "template", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := templateTarget(p)
		src, err := templateFS.ReadFile(p)
		if err != nil {
			return err
		}
		t, err := template.New(rel).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, buf.Bytes(), 0o644)
	})
}

// templateTarget is where Init writes the template file p, relative to
// the repository, with forward slashes.
func templateTarget(p string) string {
	return strings.TrimSuffix(strings.TrimPrefix(p, "template/"), ".tmpl")
}
