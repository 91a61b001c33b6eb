package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// cliDoc is the command line reference that TestCLIDocMatchesCommands
// keeps in step with the code.
var cliDoc = filepath.Join("..", "..", "docs", "cli.md")

// docSection is the part of docs/cli.md about one command: from its
// heading (## `cedargate build`) to the next heading of the same or a
// higher level.
type docSection struct {
	level int
	text  string
	// flags maps each flag of the section's flag table (| `--name` | ...)
	// to its default cell.
	flags map[string]string
}

var (
	headingRE = regexp.MustCompile("^(#{1,6}) (.*)$")
	commandRE = regexp.MustCompile("^`(cedargate[a-z -]*)`$")
	// flagRowRE matches a flag table row: | `--name`[, `-n`] | default | meaning |
	flagRowRE = regexp.MustCompile("^\\| `--([a-z0-9-]+)`(?:, `-[a-z]`)? \\| ([^|]*) \\|")
)

// parseCLIDoc splits the document into command sections keyed by command
// path ("cedargate build").
func parseCLIDoc(t *testing.T, doc string) map[string]*docSection {
	t.Helper()
	sections := map[string]*docSection{}
	var cur *docSection
	inCode := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if m := headingRE.FindStringSubmatch(line); m != nil && !inCode {
			level := len(m[1])
			if cur != nil && level <= cur.level {
				cur = nil
			}
			if c := commandRE.FindStringSubmatch(m[2]); c != nil {
				if _, dup := sections[c[1]]; dup {
					t.Errorf("%s documents %s twice", cliDoc, c[1])
				}
				cur = &docSection{level: level, flags: map[string]string{}}
				sections[c[1]] = cur
				continue
			}
		}
		if cur == nil {
			continue
		}
		cur.text += line + "\n"
		if m := flagRowRE.FindStringSubmatch(line); m != nil && !inCode {
			if _, dup := cur.flags[m[1]]; dup {
				t.Errorf("%s: --%s is in the flag table twice", cliDoc, m[1])
			}
			cur.flags[m[1]] = strings.TrimSpace(m[2])
		}
	}
	return sections
}

// commandTree is every command the binary has, cobra's own (help,
// completion) included, the way `cedargate --help` shows them.
func commandTree() []*cobra.Command {
	root := newRoot(io.Discard, io.Discard)
	// cobra adds these when the command line is executed; add them now so
	// the tree is the one users see.
	root.InitDefaultHelpFlag()
	root.InitDefaultVersionFlag()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var out []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		c.InitDefaultHelpFlag()
		out = append(out, c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return out
}

// TestCLIDocMatchesCommands fails when docs/cli.md and the command tree
// disagree: a command without a section or a section without a command, a
// flag missing from its command's flag table or documented for a command
// that lacks it, a default that differs, or a synopsis that is not the
// command's usage line.
func TestCLIDocMatchesCommands(t *testing.T) {
	data, err := os.ReadFile(cliDoc)
	if err != nil {
		t.Fatal(err)
	}
	sections := parseCLIDoc(t, string(data))
	seen := map[string]bool{}
	for _, cmd := range commandTree() {
		path := cmd.CommandPath()
		seen[path] = true
		sec, ok := sections[path]
		if !ok {
			t.Errorf("%s has no section in %s (a heading \"## `%s`\")", path, cliDoc, path)
			continue
		}
		if use := strings.TrimSuffix(cmd.UseLine(), " [flags]"); cmd.HasParent() && !strings.Contains(sec.text, "\n"+use+"\n") {
			t.Errorf("%s: the synopsis of %s should be the line %q", cliDoc, path, use)
		}
		isRoot := !cmd.HasParent()
		cmd.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			// --help is on every command; it is documented once, with
			// the root command.
			if f.Name == "help" && !isRoot {
				return
			}
			cell, ok := sec.flags[f.Name]
			if !ok {
				t.Errorf("%s: --%s is missing from the flag table of %s", cliDoc, f.Name, path)
				return
			}
			if want := "`" + f.DefValue + "`"; f.DefValue != "" && !strings.HasPrefix(cell, want) {
				t.Errorf("%s: the default of %s --%s is %s, documented as %q", cliDoc, path, f.Name, want, cell)
			}
			if f.DefValue == "" && strings.HasPrefix(cell, "`") {
				t.Errorf("%s: %s --%s has no default value, documented as %q (write none, required or what the empty value means)", cliDoc, path, f.Name, cell)
			}
		})
		for name := range sec.flags {
			if cmd.Flags().Lookup(name) == nil || (name == "help" && !isRoot) {
				t.Errorf("%s documents --%s for %s, which has no such flag", cliDoc, name, path)
			}
		}
	}
	for path := range sections {
		if !seen[path] {
			t.Errorf("%s has a section for %q, which is not a command", cliDoc, path)
		}
	}
}

// TestCLIDocExitCodes checks that docs/cli.md explains every exit code the
// binary uses.
func TestCLIDocExitCodes(t *testing.T) {
	data, err := os.ReadFile(cliDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{exitOK, exitProblems, exitUsage, exitFailure, exitInterrupted, exitTerminated} {
		if !strings.Contains(string(data), "\n| "+strconv.Itoa(code)+" | ") {
			t.Errorf("%s: exit code %d has no row in the exit code table", cliDoc, code)
		}
	}
}
