package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// authzenDoc is the AuthZEN guide whose examples TestAuthZENDocExamples
// runs.
var authzenDoc = filepath.Join("..", "..", "docs", "authzen.md")

// TestAuthZENDocExamples runs what docs/authzen.md tells its readers to
// run, in order: its `cedargate` commands (building examples/authzen and
// serving it, on free ports instead of the ones written) and its other sh
// blocks (curl and tail) through bash. Each must succeed and print the
// output block under it.
func TestAuthZENDocExamples(t *testing.T) {
	shell, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("no bash to run the documented commands with: %v", err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("no curl to run the documented commands with: %v", err)
	}
	data, err := os.ReadFile(authzenDoc)
	if err != nil {
		t.Fatal(err)
	}
	// A copy of examples/authzen outside Git builds whether or not the
	// checkout has uncommitted changes.
	tmp := t.TempDir()
	example := filepath.Join(tmp, "examples", "authzen")
	if err := os.CopyFS(example, os.DirFS(filepath.Join("..", "..", "examples", "authzen"))); err != nil {
		t.Fatal(err)
	}
	rewrite := map[string]string{}
	apply := func(s string) string {
		for from, to := range rewrite {
			s = strings.ReplaceAll(s, from, to)
		}
		return s
	}
	blocks := fences(string(data))
	ran := map[string]int{}
	for i, b := range blocks {
		if b.info != "sh" {
			continue
		}
		where := fmt.Sprintf("%s:%d", authzenDoc, b.line)
		lines := strings.Split(strings.TrimSpace(b.text), "\n")
		if strings.HasPrefix(lines[0], "cedargate ") {
			for _, line := range lines {
				runDocCommand(t, where, line, tmp, map[string]string{"examples/authzen": example}, rewrite)
				ran["cedargate"]++
			}
			continue
		}
		if i+1 == len(blocks) || !blocks[i+1].adjacent || (blocks[i+1].info != "json" && blocks[i+1].info != "text") {
			t.Errorf("%s: a command without its output block under it", where)
			continue
		}
		out, err := runFor(t, time.Minute, tmp, shell, "-c", apply(b.text))
		checkOutput(t, where, b.text, blocks[i+1], apply, out, err)
		ran["sh"]++
	}
	if ran["cedargate"] < 2 || ran["sh"] < 5 {
		t.Errorf("%s: ran %v; want the build, serve and the curl examples", authzenDoc, ran)
	}
}
