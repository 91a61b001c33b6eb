package repo

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// resourceEnv, set to a repository directory, makes the test binary load
// that repository and report what it cost instead of running tests.
const resourceEnv = "CEDARGATE_TEST_LOAD_COST"

func TestMain(m *testing.M) {
	if dir := os.Getenv(resourceEnv); dir != "" {
		os.Exit(loadCost(dir))
	}
	os.Exit(m.Run())
}

// cost is what loading a repository cost the process that loaded it.
type cost struct {
	// PeakKiB is the growth of the peak resident set over the resident
	// set just before loading.
	PeakKiB int64
	// CPU is user plus system time spent loading.
	CPU      time.Duration
	Problems string
}

// loadCost loads dir, measuring its own peak RSS (/proc/self/status VmHWM)
// and CPU time (getrusage) around Load, and prints them as JSON.
func loadCost(dir string) int {
	// Writing 5 to clear_refs resets VmHWM to the current RSS, so the peak
	// read afterwards is the loading's own; where that is not allowed, the
	// peak since start is the baseline, which is no less strict.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	base := procStatus("VmRSS")
	if hwm := procStatus("VmHWM"); hwm > base {
		base = hwm
	}
	before := cpuTime()
	r, err := Load(context.Background(), dir)
	spent := cpuTime() - before
	peak := procStatus("VmHWM")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out, _ := json.Marshal(cost{PeakKiB: peak - base, CPU: spent, Problems: r.Problems.String()})
	fmt.Println(string(out))
	return 0
}

// procStatus reads a "kB" field of /proc/self/status.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureLoad loads dir in a child process (this test binary) and returns
// what it cost. A child, because RSS is per process and a test binary's
// heap holds whatever earlier tests left.
func measureLoad(t *testing.T, dir string) cost {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), resourceEnv+"="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var c cost
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	return c
}

// nested is a YAML file of one flow sequence nested n deep: "a: [[[…]]]".
func nested(n int) []byte {
	return []byte("a: " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n")
}

// aliasBomb is the "billion laughs": ten levels of ten aliases each, which
// expand to 10^10 strings.
func aliasBomb() []byte {
	var b strings.Builder
	b.WriteString(`l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]` + "\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	return []byte(b.String())
}

// writeLarge writes a valid identity file of about size bytes, in pieces,
// so the test itself does not hold it.
func writeLarge(t *testing.T, path string, size int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i, n := 0, 0; n < size; i++ {
		k, _ := fmt.Fprintf(w, "---\nkind: User\nname: user-%d\ngroups: [staff]\n", i)
		n += k
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestHostileFilesCostLittle shows that the inputs that once took
// gigabytes are refused for little: each is refused naming its limit,
// within 64 MiB of memory and one second of CPU, measured in a child
// process (CPU time, not wall time, which a busy machine stretches).
func TestHostileFilesCostLittle(t *testing.T) {
	const maxPeakKiB, maxCPU = 64 << 10, time.Second
	tests := []struct {
		name  string
		write func(t *testing.T, path string)
		want  string
	}{
		{"80 KB nested sequence", func(t *testing.T, p string) { writeFile(t, p, nested(40_000)) },
			"identities/hostile.yaml:1:67: YAML nested deeper than 64 levels (limit yaml_depth: 64; raise it under limits: in cedargate.yaml)"},
		{"200 KB nested sequence", func(t *testing.T, p string) { writeFile(t, p, nested(100_000)) },
			"identities/hostile.yaml:1:67: YAML nested deeper than 64 levels (limit yaml_depth: 64"},
		{"alias bomb", func(t *testing.T, p string) { writeFile(t, p, aliasBomb()) },
			"identities/hostile.yaml:1:5: YAML anchors, aliases and merge keys are not supported"},
		{"50 MB identity file", func(t *testing.T, p string) { writeLarge(t, p, 50<<20) },
			"identities/hostile.yaml: file is 52428840 bytes, larger than 4MiB (limit file_size: 4MiB; raise it under limits: in cedargate.yaml)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, IdentitiesDir), 0o755); err != nil {
				t.Fatal(err)
			}
			tt.write(t, filepath.Join(dir, IdentitiesDir, "hostile.yaml"))
			c := measureLoad(t, dir)
			if !strings.Contains(c.Problems, tt.want) {
				t.Errorf("problems do not contain\n  %s\ngot:\n%s", tt.want, c.Problems)
			}
			if c.PeakKiB > maxPeakKiB {
				t.Errorf("peak RSS grew by %d KiB, more than %d KiB", c.PeakKiB, maxPeakKiB)
			}
			if c.CPU > maxCPU {
				t.Errorf("loading took %v of CPU, more than %v", c.CPU, maxCPU)
			}
			t.Logf("peak RSS +%d KiB, CPU %v", c.PeakKiB, c.CPU)
		})
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadCostIsMeasured keeps TestHostileFilesCostLittle honest: the same
// measurement of a file that is accepted and parsed sees its cost.
func TestLoadCostIsMeasured(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, IdentitiesDir), 0o755); err != nil {
		t.Fatal(err)
	}
	writeLarge(t, filepath.Join(dir, IdentitiesDir, "many.yaml"), 300<<10)
	c := measureLoad(t, dir)
	if c.Problems != "" {
		t.Fatalf("problems: %s", c.Problems)
	}
	if c.PeakKiB < 4<<10 || c.CPU <= 0 {
		t.Errorf("loading 300 KiB of identities cost +%d KiB and %v of CPU: the measurement sees nothing", c.PeakKiB, c.CPU)
	}
	t.Logf("300 KiB of identities: peak RSS +%d KiB, CPU %v", c.PeakKiB, c.CPU)
}
