package benchmarks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/inventory/drift"
	"github.com/cedargate/cedargate/bundle/inventory/scim"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/scimtest"
)

// The drift benchmark (issue 12): `cedargate drift` against a generated
// SCIM directory served by a real SCIM server (internal/scimtest, the
// elimity library on loopback TLS), compared with a generated identity
// repository that declares the same people but for a handful of
// deliberate differences.

const driftBenchToken = "drift-bench-token"

// driftWorkload is a SCIM directory and an identity repository that
// differ by the findings in want.
type driftWorkload struct {
	dir        *scimtest.Directory
	repo       string
	token, ca  string   // files
	identities int      // live users
	want       []string // findings, as findingKeys renders them
}

// newDriftWorkload fills a SCIM server, through its API, with users
// u00000@example.com … (one per identity) in groups g000 … (user i in
// group i mod groups) and in a group everyone holding all of them, and
// writes the identity repository that declares them (Users u00000 …, in
// files of 1,000). Then it makes eleven differences:
//
//   - live only: users contractor-1..3@example.com, and a group
//     shadow-admins (holding u00004 and u00005);
//   - code only: two more Users, and a Group planned;
//   - membership: live g000 holds u00001 (code: g001 only); live g002
//     lacks u00002, and live everyone lacks u00003 (code puts them there);
//   - disabled: u00007 is inactive live.
func newDriftWorkload(tb testing.TB, identities, groups int) *driftWorkload {
	tb.Helper()
	w := &driftWorkload{dir: scimtest.Start(tb, driftBenchToken), repo: tb.TempDir(), identities: identities}
	groupOf := func(i int) string { return fmt.Sprintf("g%03d", i%groups) }

	var ids []string
	members := map[string][]string{}
	for i := range identities {
		id := w.dir.AddUser(tb, fmt.Sprintf("u%05d@example.com", i), i != 7)
		ids = append(ids, id)
		if i != 2 {
			members[groupOf(i)] = append(members[groupOf(i)], id)
		}
	}
	for i := 1; i <= 3; i++ {
		w.dir.AddUser(tb, fmt.Sprintf("contractor-%d@example.com", i), true)
	}
	members["g000"] = append(members["g000"], ids[1])
	for g := range groups {
		w.dir.AddGroup(tb, fmt.Sprintf("g%03d", g), members[fmt.Sprintf("g%03d", g)]...)
	}
	w.dir.AddGroup(tb, "everyone", slices.Delete(slices.Clone(ids), 3, 4)...)
	w.dir.AddGroup(tb, "shadow-admins", ids[4], ids[5])

	files := map[string]*strings.Builder{}
	for i := range identities + 2 {
		name := fmt.Sprintf("identities/users-%02d.yaml", i/1000)
		if files[name] == nil {
			files[name] = &strings.Builder{}
		}
		fmt.Fprintf(files[name], "kind: User\nname: u%05d\ngroups: [%s, everyone]\n---\n", i, groupOf(i))
	}
	gs := &strings.Builder{}
	for g := range groups {
		fmt.Fprintf(gs, "kind: Group\nname: g%03d\n---\n", g)
	}
	gs.WriteString("kind: Group\nname: everyone\n---\nkind: Group\nname: planned\n")
	files["identities/groups.yaml"] = gs
	files["cedargate.yaml"] = &strings.Builder{}
	files["cedargate.yaml"].WriteString("name: drift-bench\n")
	for name, content := range files {
		p := filepath.Join(w.repo, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	secrets := tb.TempDir()
	w.token, w.ca = filepath.Join(secrets, "token"), filepath.Join(secrets, "ca.pem")
	if err := os.WriteFile(w.token, []byte(driftBenchToken), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(w.ca, w.dir.CertPEM(), 0o644); err != nil {
		tb.Fatal(err)
	}

	w.want = []string{
		"live-only contractor-1@example.com ",
		"live-only contractor-2@example.com ",
		"live-only contractor-3@example.com ",
		"live-only shadow-admins ",
		"code-only  Group/planned",
		fmt.Sprintf("code-only  User/u%05d", identities),
		fmt.Sprintf("code-only  User/u%05d", identities+1),
		"membership everyone User/u00003",
		"membership g000 User/u00001",
		"membership g002 User/u00002",
		"disabled u00007@example.com User/u00007",
	}
	return w
}

// findingKeys renders findings as "kind live_key code", in report order.
func findingKeys(fs []drift.Finding) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, string(f.Kind)+" "+f.LiveKey+" "+f.Code)
	}
	return out
}

// TestDriftWorkload is the benchmark's correctness check at a small size,
// in `make test`: the generated directory, read page by page from the
// real server, and the generated repository differ by exactly the
// deliberate differences.
func TestDriftWorkload(t *testing.T) {
	w := newDriftWorkload(t, 300, 6)
	r, err := repo.Load(t.Context(), w.repo)
	if err != nil {
		t.Fatal(err)
	}
	v, problems := r.View("")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	src, err := scim.NewServer(w.dir.URL, driftBenchToken, scim.Options{Client: w.dir.Client()})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := src.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := drift.Compare(v, []*inventory.Snapshot{snap}, drift.Options{At: benchNow})
	if err != nil {
		t.Fatal(err)
	}
	if got := findingKeys(rep.Findings); !slices.Equal(got, w.want) {
		t.Errorf("findings:\n%q\nwant\n%q", got, w.want)
	}
}

// BenchmarkDriftSCIM runs the cedargate binary, as a scheduled job runs
// it (drift --source scim=URL --format json), against a directory of 1k
// and of 10k identities (with 20 and 200 groups of users, and a group of
// everyone). One op is the whole command: start, load and check the
// repository, read every page (100 resources a page; 104 pages at 10k),
// compare, write the report. Its memory is measured on the process
// itself, not on this one, which also runs the server:
//
//   - MB-peak-RSS: the process's peak resident set (getrusage ru_maxrss);
//   - MB-peak-heap: the largest heap the runtime reports at the start of a
//     garbage collection (GODEBUG=gctrace=1), live data and garbage;
//   - s-CPU/op: the process's user and system CPU time.
//
// B/op and allocs/op, where -benchmem shows them, are this process's
// (the SCIM server serving the pages), not drift's. Memory per identity
// is the slope between the sizes (benchmarks/results/*-issue12.md).
func BenchmarkDriftSCIM(b *testing.B) {
	bin := buildCedargate(b)
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("identities=%dk", n/1000), func(b *testing.B) {
			w := newDriftWorkload(b, n, n/50)
			var peakRSS, peakHeap int64
			var cpu time.Duration
			var stdout, stderr bytes.Buffer
			for b.Loop() {
				stdout.Reset()
				stderr.Reset()
				cmd := exec.Command(bin, "drift", w.repo, "--source", "scim="+w.dir.URL,
					"--scim-token-file", w.token, "--scim-ca-file", w.ca, "--format", "json")
				cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					b.Fatalf("cedargate drift: %v\n%s", err, stderr.Bytes())
				}
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				peakRSS = max(peakRSS, ru.Maxrss<<10) // KiB on Linux
				peakHeap = max(peakHeap, gcPeakHeap(stderr.Bytes()))
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			var rep drift.Report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				b.Fatal(err)
			}
			if got := findingKeys(rep.Findings); !slices.Equal(got, w.want) {
				b.Fatalf("findings:\n%q\nwant\n%q", got, w.want)
			}
			b.ReportMetric(float64(peakRSS)/(1<<20), "MB-peak-RSS")
			b.ReportMetric(float64(peakHeap)/(1<<20), "MB-peak-heap")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "s-CPU/op")
			b.ReportMetric(float64(w.identities), "identities")
		})
	}
}

// gcTrace matches the heap sizes of a GODEBUG=gctrace=1 line: at the
// start of the collection, at its end, and live, in MB.
var gcTrace = regexp.MustCompile(`(\d+)->(\d+)->(\d+) MB`)

// gcPeakHeap returns the largest heap, in bytes, at the start of a
// collection in a gctrace; 0 when nothing was collected.
func gcPeakHeap(trace []byte) int64 {
	var peak int64
	for _, m := range gcTrace.FindAllSubmatch(trace, -1) {
		mb, _ := strconv.ParseInt(string(m[1]), 10, 64)
		peak = max(peak, mb<<20)
	}
	return peak
}
