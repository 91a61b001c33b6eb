package report_test

import (
	"bytes"
	"context"
	"path/filepath"
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
