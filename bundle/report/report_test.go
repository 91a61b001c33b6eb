package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/bundle/dectest"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/report"
	"github.com/cedargate/cedargate/internal/golden"
)

// at is the instant the test repository is judged at.
var at = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

const repoDir = "testdata/repo"

// opts are the options of every golden report: a fixed tool version, and
// coverage with a minimum that both environments miss.
var opts = report.Options{ToolVersion: "test", Verbose: true, Coverage: true, MinCoverage: 80}

func lintRepo(t *testing.T) diag.List {
	t.Helper()
	diags, err := build.Lint(context.Background(), repoDir, "", at)
	if err != nil {
		t.Fatal(err)
	}
	return diags
}

func testRepo(t *testing.T) dectest.Report {
	t.Helper()
	rep, err := build.Test(context.Background(), repoDir, "", at)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func render(t *testing.T, f func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGolden renders the test repository's lint findings and test outcome
// in every format and compares each with its golden file.
func TestGolden(t *testing.T) {
	diags := lintRepo(t)
	rep := testRepo(t)
	for _, f := range report.Formats() {
		if f != string(report.Text) {
			t.Run("lint/"+f, func(t *testing.T) {
				got := render(t, func(b *bytes.Buffer) error { return report.Lint(b, report.Format(f), diags, opts) })
				golden.Check(t, filepath.Join("testdata", "lint."+f+".golden"), got)
			})
		}
		t.Run("test/"+f, func(t *testing.T) {
			got := render(t, func(b *bytes.Buffer) error { return report.Test(b, report.Format(f), rep, opts) })
			golden.Check(t, filepath.Join("testdata", "test."+f+".golden"), got)
		})
	}
}

// TestDeterministic renders reports whose findings and cases arrive in
// reverse order and expects the same bytes.
func TestDeterministic(t *testing.T) {
	diags := lintRepo(t)
	rep := testRepo(t)
	revDiags := make(diag.List, len(diags))
	for i, d := range diags {
		revDiags[len(diags)-1-i] = d
	}
	revRep := rep
	revRep.Cases = nil
	for i := len(rep.Cases) - 1; i >= 0; i-- {
		revRep.Cases = append(revRep.Cases, rep.Cases[i])
	}
	revRep.Coverage = nil
	for i := len(rep.Coverage) - 1; i >= 0; i-- {
		revRep.Coverage = append(revRep.Coverage, rep.Coverage[i])
	}
	for _, f := range report.Formats() {
		if f != string(report.Text) {
			a := render(t, func(b *bytes.Buffer) error { return report.Lint(b, report.Format(f), diags, opts) })
			b := render(t, func(b *bytes.Buffer) error { return report.Lint(b, report.Format(f), revDiags, opts) })
			if !bytes.Equal(a, b) {
				t.Errorf("lint --format %s depends on the order of the findings:\n%s\n---\n%s", f, a, b)
			}
		}
		a := render(t, func(b *bytes.Buffer) error { return report.Test(b, report.Format(f), rep, opts) })
		b := render(t, func(b *bytes.Buffer) error { return report.Test(b, report.Format(f), revRep, opts) })
		if !bytes.Equal(a, b) {
			t.Errorf("test --format %s depends on the order of the cases:\n%s\n---\n%s", f, a, b)
		}
	}
}

func TestUnsupportedFormat(t *testing.T) {
	var b bytes.Buffer
	if err := report.Lint(&b, report.Text, nil, opts); err == nil {
		t.Error("report.Lint rendered text, which is the command's own")
	}
	if err := report.Test(&b, "xml", dectest.Report{}, opts); err == nil {
		t.Error("report.Test accepted the format xml")
	}
}

// TestJSONMatchesDocs checks that docs/cli.md's description of the JSON
// reports names every field the reports have, and no field they lack.
func TestJSONMatchesDocs(t *testing.T) {
	data, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start := strings.Index(doc, "### `--format json`")
	end := strings.Index(doc, "### `--format junit`")
	if start < 0 || end < start {
		t.Fatal("docs/cli.md has no section ### `--format json` before ### `--format junit`")
	}
	documented := map[string]bool{}
	for _, block := range regexp.MustCompile("(?s)```\n(.*?)```").FindAllStringSubmatch(doc[start:end], -1) {
		for _, m := range regexp.MustCompile(`"([a-z_]+)"\s*[:,\]}\n]`).FindAllStringSubmatch(block[1], -1) {
			documented[m[1]] = true
		}
	}
	// Values written in the skeletons, not fields.
	for _, v := range []string{"error", "warning", "allow", "deny"} {
		delete(documented, v)
	}
	emitted := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				emitted[k] = true
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, out := range [][]byte{
		render(t, func(b *bytes.Buffer) error { return report.Lint(b, report.JSON, lintRepo(t), opts) }),
		render(t, func(b *bytes.Buffer) error { return report.Test(b, report.JSON, testRepo(t), opts) }),
	} {
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
		walk(v)
	}
	for k := range emitted {
		if !documented[k] {
			t.Errorf("the JSON reports have the field %q, which docs/cli.md does not describe", k)
		}
	}
	for k := range documented {
		if !emitted[k] {
			t.Errorf("docs/cli.md describes the field %q, which no JSON report has", k)
		}
	}
}
