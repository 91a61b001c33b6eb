package benchmarks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/cedargate/cedargate/benchmarks/workload"
	"github.com/cedargate/cedargate/bundle/access/change"
	"github.com/cedargate/cedargate/bundle/build"
	"github.com/cedargate/cedargate/internal/gittest"
)

// BenchmarkDiff is `cedargate diff` of two revisions of a standard
// repository that differ by one entitlement (the security officer, who
// holds no grant, gets the first access profile): both revisions read
// from Git and compiled one after the other, each kept as a change.Side,
// then compared. Target for 100k: ≤ 30 s (the peak RSS, ≤ 2 GiB, is
// measured on the binary with /usr/bin/time -v; see diff_cmd.go).
func BenchmarkDiff(b *testing.B) {
	for _, size := range []string{"10k", "100k"} {
		b.Run("size="+size, func(b *testing.B) {
			dir := diffRepo(b, size)
			side := func(rev string) *change.Side {
				c, _, err := build.CompileRevision(context.Background(), dir, rev, workload.Env)
				if err != nil {
					b.Fatal(err)
				}
				s, err := change.Snapshot(c)
				if err != nil {
					b.Fatal(err)
				}
				return s
			}
			var r *change.Report
			b.ReportAllocs()
			for b.Loop() {
				from := side("HEAD~1")
				to := side("HEAD")
				var err error
				if r, err = change.Compare(from, to, benchNow.Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			if len(r.Gained) == 0 || len(r.Identities) != 1 {
				b.Fatalf("the extra entitlement gains %d triples and changes %d identities; want some and 1", len(r.Gained), len(r.Identities))
			}
			b.ReportMetric(float64(len(r.Gained)), "gained")
		})
	}
}

var firstName = regexp.MustCompile(`(?m)^name: (\S+)$`)

// diffRepo writes the standard repository of size into a new Git
// repository, commits it, adds one entitlement and commits again.
func diffRepo(tb testing.TB, size string) string {
	tb.Helper()
	spec, err := workload.Size(size, benchNow)
	if err != nil {
		tb.Fatal(err)
	}
	repo, err := workload.Generate(spec)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	if err := repo.Write(dir); err != nil {
		tb.Fatal(err)
	}
	const date = "2026-11-22T09:00:00Z"
	gittest.Run(tb, dir, "alice", date, "init", "-q")
	gittest.Run(tb, dir, "alice", date, "add", "-A")
	gittest.Run(tb, dir, "alice", date, "commit", "-qm", "Generated "+size)
	first := func(file string) string {
		data, err := os.ReadFile(filepath.Join(dir, "identities", file))
		if err != nil {
			tb.Fatal(err)
		}
		m := firstName.FindSubmatch(data)
		if m == nil {
			tb.Fatalf("%s names nothing", file)
		}
		return string(m[1])
	}
	grant := fmt.Sprintf("kind: Entitlement\nname: extra-grant\nsubject: User/security-officer\nprofile: %s\napproved_by: User/%s\nexpires: 2027-06-01\nticket: SEC-1\n",
		first("access/profiles-000.yaml"), first("people/users-000.yaml"))
	if err := os.WriteFile(filepath.Join(dir, "identities", "access", "extra.yaml"), []byte(grant), 0o644); err != nil {
		tb.Fatal(err)
	}
	gittest.Run(tb, dir, "bob", date, "add", "-A")
	gittest.Run(tb, dir, "bob", date, "commit", "-qm", "One more grant")
	return dir
}
