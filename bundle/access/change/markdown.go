package change

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/access"
)

// Limits that keep a Markdown report within what a pull-request comment
// holds (GitHub's is 65,536 characters): beyond them the report says how
// many more there are and where to see them all.
const (
	// maxTableRows bounds each summary table.
	maxTableRows = 50
	// maxDetails bounds the access changes, and the identity changes,
	// listed in detail.
	maxDetails = 200
)

// WriteMarkdown writes r ready to post as a pull-request comment: a
// summary line and tables first (access gained and lost by principal,
// identity changes by kind), the details after, folded.
func WriteMarkdown(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("### cedargate diff of %s: %s → %s\n\n", code(envName(r.Env)), code(shortRevision(r.From.Revision)), code(shortRevision(r.To.Revision)))
	p("**%s** (access judged at %s)\n", upperFirst(summary(r)), r.At.UTC().Format(time.RFC3339))

	if counts := r.byPrincipal(); len(counts) > 0 {
		p("\n| principal | gained | lost |\n| --- | ---: | ---: |\n")
		for i, c := range counts {
			if i == maxTableRows {
				p("| … and %d more | | |\n", len(counts)-i)
				break
			}
			p("| %s | %d | %d |\n", cell(code(c.principal.String())), c.gained, c.lost)
		}
	}
	if counts := r.byKind(); len(counts) > 0 {
		p("\n| identity kind | added | removed | changed |\n| --- | ---: | ---: | ---: |\n")
		for _, c := range counts {
			p("| %s | %d | %d | %d |\n", c.kind, c.added, c.removed, c.changed)
		}
	}

	if len(r.Access) > 0 {
		p("\n<details>\n<summary>Access changes by principal (%d)</summary>\n", len(r.Access))
		var principal types.EntityUID
		for i, c := range r.Access {
			if i == maxDetails {
				p("\n… and %d more: run `cedargate diff --format json` to see them all.\n", len(r.Access)-i)
				break
			}
			if i == 0 || c.Principal != principal {
				principal = c.Principal
				p("\n#### %s\n\n", code(principal.String()))
			}
			p("- **%s** %s on %s\n", c.Label(), code(c.Action.String()), code(c.Resource.String()))
			switch {
			case c.From == nil:
				markdownSide(p, "", c.To)
			case c.To == nil:
				markdownSide(p, "", c.From)
			default:
				markdownSide(p, "was ", c.From)
				markdownSide(p, "now ", c.To)
			}
		}
		p("\n</details>\n")
	}

	if len(r.Identities) > 0 {
		p("\n<details>\n<summary>Identity changes (%d)</summary>\n\n", len(r.Identities))
		for i, c := range r.Identities {
			if i == maxDetails {
				p("\n… and %d more: run `cedargate diff --format json` to see them all.\n", len(r.Identities)-i)
				break
			}
			p("- **%s %s** %s\n", c.Kind, code(c.Name), c.Change)
			for _, f := range c.Fields {
				p("  - %s\n", fieldText(c.Change, f, code))
			}
		}
		p("\n</details>\n")
	}
	return bw.Flush()
}

// markdownSide writes one revision's access to a triple as nested items.
func markdownSide(p func(string, ...any), prefix string, e *access.Entry) {
	p("  - %s%s\n", prefix, e.Access)
	for _, pol := range e.Policies {
		p("    - by %s at %s\n", code(pol.ID), code(pol.Source))
	}
	for _, c := range e.Conditions {
		p("    - if %s (%s at %s)\n", code(oneLine(c.Text)), code(c.Policy), code(c.Source))
	}
}

// code writes s as a Markdown code span on one line, with a fence longer
// than any run of backticks in s.
func code(s string) string {
	s = oneLine(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// cell escapes what would end a table cell, even inside a code span.
func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
