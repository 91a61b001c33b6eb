package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// apiDoc is the API reference whose examples TestAPIDocExamples runs.
var apiDoc = filepath.Join("..", "..", "docs", "api.md")

// fence is one fenced code block of a Markdown document.
type fence struct {
	info string // the info string: sh, json, text, go
	text string
	line int // of the opening fence, 1-based
	// adjacent is true when only blank lines separate the block from the
	// previous one: an output block belongs to the command block above it.
	adjacent bool
}

func fences(doc string) []fence {
	var out []fence
	var cur *fence
	var body strings.Builder
	sinceLast := -1 // non-blank lines since the last block closed; -1: none yet
	for i, line := range strings.Split(doc, "\n") {
		if cur == nil {
			if info, ok := strings.CutPrefix(line, "```"); ok {
				cur = &fence{info: strings.TrimSpace(info), line: i + 1, adjacent: sinceLast == 0}
				body.Reset()
			} else if strings.TrimSpace(line) != "" && sinceLast >= 0 {
				sinceLast++
			}
			continue
		}
		if strings.TrimSpace(line) == "```" {
			cur.text = body.String()
			out = append(out, *cur)
			cur, sinceLast = nil, 0
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	return out
}

// shellWords splits a command line as a POSIX shell does for the simple
// commands the docs show: words separated by blanks, '...' and "..."
// quoting, backslash escapes.
func shellWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", line)
			}
			w.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`+"`", line[i+1]) >= 0 {
					i++
				}
				w.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf("unterminated \" in %q", line)
			}
			inWord = true
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// placeholder is a <...> in an expected output line: a value that differs
// from run to run.
var placeholder = regexp.MustCompile(`<[^<>]+>`)

// outputMatches checks that every line of want (bar "..." lines, which
// mark omissions) matches a line of got, in order; <...> in want matches
// any non-empty text. It returns the first line that does not match.
func outputMatches(want, got string) (string, bool) {
	gotLines := strings.Split(got, "\n")
	j := 0
	for _, w := range strings.Split(want, "\n") {
		w = strings.TrimSpace(w)
		if w == "" || w == "..." {
			continue
		}
		var re strings.Builder
		re.WriteString("^")
		last := 0
		for _, m := range placeholder.FindAllStringIndex(w, -1) {
			re.WriteString(regexp.QuoteMeta(w[last:m[0]]))
			re.WriteString(".+")
			last = m[1]
		}
		re.WriteString(regexp.QuoteMeta(w[last:]))
		re.WriteString("$")
		lineRE := regexp.MustCompile(re.String())
		for j < len(gotLines) && !lineRE.MatchString(strings.TrimSpace(gotLines[j])) {
			j++
		}
		if j == len(gotLines) {
			return w, false
		}
		j++
	}
	return "", true
}

// TestAPIDocExamples runs what docs/api.md tells its readers to run, in
// the order it tells them: the `cedargate` commands of its sh blocks
// (building examples/acme and starting PDPs, each on a free port instead
// of the one written), every grpcurl command through the pinned grpcurl
// (go tool -modfile=tools/grpcurl.mod grpcurl), and the Go client program.
// Each must succeed, or fail when its documented output is an ERROR, and
// print the output block that follows it.
func TestAPIDocExamples(t *testing.T) {
	// Long and independent of other tests: it runs beside the other long
	// tests marked parallel, to keep make test within its 10-minute budget.
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to run grpcurl and the Go example with: %v", err)
	}
	shell, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("no bash to run the documented commands with: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	// A copy of examples/acme outside Git builds whether or not the
	// checkout has uncommitted changes; revisions are placeholders in the
	// doc anyway.
	tmp := t.TempDir()
	acme := filepath.Join(tmp, "examples", "acme")
	if err := os.CopyFS(acme, os.DirFS(filepath.Join(root, "examples", "acme"))); err != nil {
		t.Fatal(err)
	}
	// rewrite maps what the doc writes to what this run uses: store and
	// log paths under /tmp, the example repository, listen addresses.
	rewrite := map[string]string{}
	apply := func(s string) string {
		for from, to := range rewrite {
			s = strings.ReplaceAll(s, from, to)
		}
		return s
	}
	grpcurl := goBin + " tool -modfile=" + filepath.Join(root, "tools", "grpcurl.mod") + " grpcurl"
	grpcurlWord := regexp.MustCompile(`(?m)(^|\|\s*)grpcurl `)

	blocks := fences(string(data))
	ran := map[string]int{}
	for i, b := range blocks {
		var want *fence
		if i+1 < len(blocks) && blocks[i+1].adjacent && (blocks[i+1].info == "json" || blocks[i+1].info == "text") {
			want = &blocks[i+1]
		}
		where := fmt.Sprintf("%s:%d", apiDoc, b.line)
		switch {
		case b.info == "sh" && strings.Contains(b.text, "grpcurl "):
			if want == nil {
				t.Errorf("%s: a grpcurl example without its output block under it", where)
				continue
			}
			script := grpcurlWord.ReplaceAllString(apply(b.text), "${1}"+grpcurl+" ")
			out, err := runFor(t, 5*time.Minute, root, shell, "-c", script)
			checkOutput(t, where, b.text, *want, apply, out, err)
			ran["grpcurl"]++
		case b.info == "sh":
			for _, line := range strings.Split(strings.TrimSpace(b.text), "\n") {
				runDocCommand(t, where, line, tmp, map[string]string{"examples/acme": acme}, rewrite)
				ran["cedargate"]++
			}
		case b.info == "go":
			prog := filepath.Join(t.TempDir(), "main.go")
			if err := os.WriteFile(prog, []byte(apply(b.text)), 0o644); err != nil {
				t.Fatal(err)
			}
			if want == nil {
				t.Errorf("%s: a Go example without its output block under it", where)
				continue
			}
			out, err := runFor(t, 5*time.Minute, root, goBin, "run", prog)
			checkOutput(t, where, "go run", *want, apply, out, err)
			ran["go"]++
		}
	}
	if ran["cedargate"] == 0 || ran["grpcurl"] == 0 || ran["go"] == 0 {
		t.Errorf("%s: ran %v; want cedargate, grpcurl and Go examples", apiDoc, ran)
	}
}

// runDocCommand runs one `cedargate ...` line of a doc: serve as a child
// PDP on free ports (mapping the documented --listen and --http-listen
// addresses to them), anything else as a CLI run that must succeed. An
// argument that is a key of examples (examples/acme) is replaced by its
// value, the test's copy.
func runDocCommand(t *testing.T, where, line, tmp string, examples, rewrite map[string]string) {
	t.Helper()
	line = strings.TrimSuffix(strings.TrimSpace(line), "&")
	words, err := shellWords(line)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if len(words) < 2 || words[0] != "cedargate" {
		t.Fatalf("%s: %q: the doc's sh blocks hold cedargate or grpcurl commands only", where, line)
	}
	args := words[1:]
	for i, a := range args {
		if dir, ok := examples[a]; ok {
			args[i] = dir
			continue
		}
		if rest, ok := strings.CutPrefix(a, "/tmp/"); ok {
			name, _, _ := strings.Cut(rest, "/")
			rewrite["/tmp/"+name] = filepath.Join(tmp, name)
			args[i] = filepath.Join(tmp, rest)
		}
	}
	if args[0] != "serve" {
		if r := cedargate(t, args...); r.code != 0 {
			t.Fatalf("%s: %s: exit %d\n%s%s", where, line, r.code, r.stdout, r.stderr)
		}
		return
	}
	// serve listens where the test says, and without metrics; the address
	// the doc wrote is rewritten to the one it got.
	var keep []string
	listen, httpListen := "127.0.0.1:9191", ""
	for i := 1; i < len(args); i++ {
		name, value, hasValue := strings.Cut(args[i], "=")
		if name != "--listen" && name != "--metrics-listen" && name != "--http-listen" {
			keep = append(keep, args[i])
			continue
		}
		if !hasValue {
			i++
			if i == len(args) {
				t.Fatalf("%s: %s needs a value", where, name)
			}
			value = args[i]
		}
		switch name {
		case "--listen":
			listen = value
		case "--http-listen":
			httpListen = value
			keep = append(keep, "--http-listen", "127.0.0.1:0")
		}
	}
	// examples/acme is dated around 2026-11-23; the PDP decides as of then,
	// so that the doc's answers stay true as the calendar moves.
	s := serve(t, append(keep, "--decide-as-of", refDate)...)
	rewrite[listen] = s.addr
	if httpListen != "" {
		rewrite[httpListen] = s.httpAddr
	}
}

// runFor runs a command in dir and returns its combined output.
func runFor(t *testing.T, timeout time.Duration, dir, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// checkOutput compares a command's result with its documented output: an
// output that shows an ERROR is a failure the command must have, anything
// else a success.
func checkOutput(t *testing.T, where, command string, want fence, apply func(string) string, out string, err error) {
	t.Helper()
	wantErr := strings.HasPrefix(strings.TrimSpace(want.text), "ERROR:")
	switch {
	case wantErr && err == nil:
		t.Errorf("%s: %s\nsucceeded, but the doc shows an error:\n%s", where, command, out)
		return
	case !wantErr && err != nil:
		t.Errorf("%s: %s\nfailed (%v):\n%s", where, command, err, out)
		return
	}
	if line, ok := outputMatches(apply(want.text), out); !ok {
		t.Errorf("%s: %s\nprinted\n%s\nwhich lacks the documented line (in order)\n  %s", where, command, out, line)
	}
}
