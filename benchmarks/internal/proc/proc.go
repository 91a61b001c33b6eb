// Package proc measures the processes benchmarks start: their CPU time
// and memory from the kernel's own accounting (/proc and getrusage), and
// describes the machine, for results that say where they were measured.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat. Linux has
// reported them in USER_HZ = 100 on every architecture Go supports for
// decades; sysconf(_SC_CLK_TCK) is not reachable without cgo.
const clockTicks = 100

// Child is a process a benchmark started: a server or a load generator.
type Child struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan error
}

// Start runs bin with args, its output going to dir/<name>.log.
func Start(dir, name, bin string, args ...string) (*Child, error) {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &Child{name: name, cmd: cmd, log: log, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	return c, nil
}

func (c *Child) PID() int { return c.cmd.Process.Pid }

// Stop asks the process to end (SIGTERM), then kills it after a grace
// period, and waits.
func (c *Child) Stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.log.Close()
}

// Exited reports whether the process has ended, with its error.
func (c *Child) Exited() (bool, error) {
	select {
	case err := <-c.done:
		c.done <- err
		return true, err
	default:
		return false, nil
	}
}

// CPUTime returns the CPU time pid has used so far, user and system, from
// its own accounting in /proc/<pid>/stat (all threads, children excluded).
func CPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields count from the
	// closing parenthesis.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// Memory returns VmRSS and VmHWM (peak RSS) of pid, in bytes.
func Memory(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []struct {
			prefix string
			dst    *int64
		}{{"VmRSS:", &rss}, {"VmHWM:", &hwm}} {
			if rest, ok := strings.CutPrefix(line, k.prefix); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				*k.dst = kb << 10
			}
		}
	}
	return rss, hwm, sc.Err()
}

// ResetPeak resets VmHWM of pid to its current RSS (Linux 4.0+), so
// that a later VmHWM is the peak since now.
func ResetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// Sampler records a process's RSS every interval until stopped.
type Sampler struct {
	cancel  context.CancelFunc
	done    chan struct{}
	samples []Sample
}

// Sample is a process's RSS at an instant.
type Sample struct {
	At  time.Time
	RSS int64
}

func SampleRSS(pid int, every time.Duration) *Sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if rss, _, err := Memory(pid); err == nil {
				s.samples = append(s.samples, Sample{time.Now(), rss})
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *Sampler) Stop() []Sample {
	s.cancel()
	<-s.done
	return s.samples
}

// RunTimed runs bin to completion and returns its wall time, CPU time and
// peak RSS (getrusage of the child).
func RunTimed(dir, name, bin string, args ...string) (wall, cpu time.Duration, maxRSS int64, err error) {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return 0, 0, 0, err
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	t0 := time.Now()
	err = cmd.Run()
	wall = time.Since(t0)
	if err != nil {
		out, _ := os.ReadFile(log.Name())
		return wall, 0, 0, fmt.Errorf("%s: %w\n%s", name, err, Tail(out, 2000))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return wall, cpu, ru.Maxrss << 10, nil
}

func Tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Machine describes the machine for the results.
type Machine struct {
	Host, CPU, Kernel, GoVersion string
	Cores                        int
	MemGiB                       float64
}

func DescribeMachine() Machine {
	m := Machine{GoVersion: runtime.Version(), Cores: runtime.NumCPU()}
	m.Host, _ = os.Hostname()
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				m.MemGiB = kb / (1 << 20)
			}
		}
		f.Close()
	}
	return m
}
