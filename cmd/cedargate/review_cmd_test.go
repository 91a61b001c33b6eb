package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reviewRepo copies the review package's demo repository, outside any Git
// work tree, so the work tree is named by its source digest.
func reviewRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "bundle", "access", "review", "testdata", "repo"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runCLI runs the command line in this process.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// TestReviewCommand runs `cedargate review` on the demo repository with the
// real compiler, guardrails and access engine: the CSV is the package's
// golden (it names no revision), the JSON reads back with the risky
// identities first, --out writes the same bytes stdout would get.
func TestReviewCommand(t *testing.T) {
	dir := reviewRepo(t)
	t.Run("csv is the golden", func(t *testing.T) {
		r := runCLI(t, "review", dir, "--env", "prod", "--at", refDate, "--format", "csv")
		if r.code != 0 {
			t.Fatalf("review: %+v", r)
		}
		want, err := os.ReadFile(filepath.Join("..", "..", "bundle", "access", "review", "testdata", "report.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if r.stdout != string(want) {
			t.Errorf("csv differs from the review package's golden:\n%s", r.stdout)
		}
	})
	t.Run("json", func(t *testing.T) {
		r := runCLI(t, "review", dir, "--env", "prod", "--at", refDate, "--format", "json")
		if r.code != 0 {
			t.Fatalf("review: %+v", r)
		}
		var rep struct {
			Bundle   struct{ Revision, Environment string }
			At       string
			Summary  struct{ Identities, Errors int }
			Sections []struct {
				Team       string
				Identities []struct{ Name, Risk string }
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(rep.Bundle.Revision, "src-") || rep.Bundle.Environment != "prod" || rep.At != "2026-11-23T00:00:00Z" {
			t.Errorf("bundle %+v at %s", rep.Bundle, rep.At)
		}
		if len(rep.Sections) == 0 || rep.Sections[0].Team != "" || rep.Sections[0].Identities[0].Name != "orphan-sync" || rep.Sections[0].Identities[0].Risk != "error" {
			t.Errorf("the unowned section with the ownerless account does not lead: %+v", rep.Sections)
		}
	})
	t.Run("--out writes what stdout gets", func(t *testing.T) {
		stdout := runCLI(t, "review", dir, "--env", "prod", "--at", refDate)
		outDir := t.TempDir()
		out := filepath.Join(outDir, "review.html")
		if err := os.WriteFile(out, []byte("an older report"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, "review", dir, "--env", "prod", "--at", refDate, "--out", out)
		if r.code != 0 || r.stdout != "" || stdout.code != 0 {
			t.Fatalf("review --out: %+v (stdout run: exit %d)", r, stdout.code)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != stdout.stdout || !strings.HasPrefix(stdout.stdout, "<!DOCTYPE html>") {
			t.Errorf("--out wrote %d bytes, stdout had %d", len(got), len(stdout.stdout))
		}
		if entries, _ := os.ReadDir(outDir); len(entries) != 1 {
			t.Errorf("left beside the report: %v", entries)
		}
	})
}

// TestReviewBadInput: a repository that does not build, an unknown
// environment, a bad format or instant exit 2 and say why.
func TestReviewBadInput(t *testing.T) {
	broken := reviewRepo(t)
	if err := os.WriteFile(filepath.Join(broken, "identities", "broken.yaml"), []byte("kind: ServiceAccount\nname: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := reviewRepo(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"does not build", []string{"review", broken, "--env", "prod", "--at", refDate}, "identities/broken.yaml:"},
		{"unknown environment", []string{"review", dir, "--env", "qa", "--at", refDate}, "qa"},
		{"no environment", []string{"review", dir, "--at", refDate}, "env"},
		{"no such directory", []string{"review", filepath.Join(dir, "missing"), "--env", "prod"}, "missing"},
		{"bad format", []string{"review", dir, "--env", "prod", "--format", "pdf"}, "--format must be one of html, csv, json"},
		{"bad instant", []string{"review", dir, "--env", "prod", "--at", "yesterday"}, "--at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stderr %q, stdout %d bytes; want exit %d and %q", r.code, r.stderr, len(r.stdout), exitUsage, tc.want)
			}
		})
	}
}
