// Package diag holds the problems that checking an identity repository
// finds: each one a position (path:line:column), a severity, an optional
// rule name and a message. Problems are collected as values, sorted and
// deduplicated, so a build reports everything that is wrong at once.
package diag

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity says whether a problem stops a build.
type Severity int

const (
	// Error stops build, lint and test with a non-zero exit.
	Error Severity = iota
	// Warning is reported but does not fail the command.
	Warning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Position is a place in a repository file. Line and Col are 1-based; zero
// means unknown. File is relative to the repository root, with forward
// slashes.
type Position struct {
	File string
	Line int
	Col  int
}

// String renders the position as path:line:column, dropping unknown parts.
func (p Position) String() string {
	switch {
	case p.File == "":
		return ""
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Compare orders positions by file, line and column.
func (p Position) Compare(o Position) int {
	return cmp.Or(strings.Compare(p.File, o.File), cmp.Compare(p.Line, o.Line), cmp.Compare(p.Col, o.Col))
}

// Diagnostic is one problem found in a repository.
type Diagnostic struct {
	Pos      Position
	Severity Severity
	// Rule is the stable name of the guardrail or check that found the
	// problem (for example "nhi-owner-unknown"); empty for syntax errors.
	Rule string
	// Subject names the object the problem is about, for example
	// `ServiceAccount "ledger-bot"`; empty when the problem is about a file.
	Subject string
	Message string
}

// String renders the diagnostic the way compilers do:
//
//	identities/payments.yaml:14:3: ServiceAccount "ledger-bot": owner "payments-tema" is not a Team or User (nhi-owner-unknown)
//
// A message of several lines (cedar-go reports every schema violation of
// a policy at once, one per line) gives one output line per message line,
// each with the position, severity, subject and rule, as GCC and Clang
// print every line of a diagnostic with its position: editors, CI
// annotations and `grep path:` see every line, and none reads as
// belonging to the diagnostic above it. Blank lines and trailing blanks
// (a "\r" included) are dropped.
func (d Diagnostic) String() string {
	var head, tail string
	if pos := d.Pos.String(); pos != "" {
		head = pos + ": "
	}
	if d.Severity == Warning {
		head += "warning: "
	}
	if d.Subject != "" {
		head += d.Subject + ": "
	}
	if d.Rule != "" {
		tail = " (" + d.Rule + ")"
	}
	if !strings.ContainsAny(d.Message, "\r\n") {
		return head + d.Message + tail
	}
	msg := strings.ReplaceAll(d.Message, "\r\n", "\n")
	msg = strings.ReplaceAll(msg, "\r", "\n")
	var b strings.Builder
	for line := range strings.Lines(msg) {
		line = strings.TrimRight(line, " \t\r\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(head)
		b.WriteString(line)
		b.WriteString(tail)
	}
	if b.Len() == 0 {
		// Only blank lines: the diagnostic still has its line.
		return strings.TrimSuffix(head, " ") + tail
	}
	return b.String()
}

func compare(a, b Diagnostic) int {
	return cmp.Or(a.Pos.Compare(b.Pos), cmp.Compare(a.Severity, b.Severity), strings.Compare(a.Rule, b.Rule),
		strings.Compare(a.Subject, b.Subject), strings.Compare(a.Message, b.Message))
}

// List collects diagnostics.
type List []Diagnostic

// Add appends a diagnostic.
func (l *List) Add(d Diagnostic) { *l = append(*l, d) }

// Errorf appends an error without a rule at pos.
func (l *List) Errorf(pos Position, format string, args ...any) {
	l.Add(Diagnostic{Pos: pos, Severity: Error, Message: fmt.Sprintf(format, args...)})
}

// Append appends all of other.
func (l *List) Append(other List) { *l = append(*l, other...) }

// Sorted returns the diagnostics sorted by position, then severity, rule
// and text, with exact duplicates removed.
func (l List) Sorted() List {
	out := slices.Clone(l)
	slices.SortFunc(out, compare)
	return slices.CompactFunc(out, func(a, b Diagnostic) bool { return compare(a, b) == 0 })
}

// Errors counts the diagnostics with severity Error.
func (l List) Errors() int {
	n := 0
	for _, d := range l {
		if d.Severity == Error {
			n++
		}
	}
	return n
}

// Err returns a *Failure holding the sorted list when it contains at least one
// error, and nil otherwise (warnings alone are not an error).
func (l List) Err() error {
	if l.Errors() == 0 {
		return nil
	}
	return &Failure{List: l.Sorted()}
}

// String renders the diagnostics sorted, each on its own line (or lines:
// see Diagnostic.String).
func (l List) String() string {
	var b strings.Builder
	for _, d := range l.Sorted() {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Failure is the error returned when a repository has problems; it carries
// every diagnostic, warnings included, so callers can print them all.
type Failure struct {
	List List
}

// Error renders every diagnostic on its own line.
func (e *Failure) Error() string {
	return strings.TrimSuffix(e.List.String(), "\n")
}

// Problems returns the messages of err, one per problem: the messages of
// the errors errors.Join joined (at any depth), or err's own. A checker
// that reports several problems in one error (cedar-go's schema validation
// does, in an order that can change from run to run) then gives a
// diagnostic per problem, which List.Sorted puts in the same order every
// time and Errors counts one by one.
func Problems(err error) []string {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range j.Unwrap() {
		out = append(out, Problems(e)...)
	}
	return out
}

// ListOf returns the diagnostics of a *Failure, or any other error as one
// diagnostic without a position.
func ListOf(err error) List {
	if f, ok := err.(*Failure); ok {
		return f.List
	}
	return List{{Message: err.Error()}}
}
