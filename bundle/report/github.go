package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cedargate/cedargate/bundle/diag"
)

// writeGitHub writes one GitHub Actions workflow command per finding
// (`::error file=…,line=…,col=…,title=…::message`, `::warning …`), which
// GitHub shows as annotations on the lines at fault, then summary as a
// plain log line.
func writeGitHub(w io.Writer, diags diag.List, o Options, summary string) error {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(Annotation(d, o.file(d.Pos.File)))
		b.WriteByte('\n')
	}
	b.WriteString(summary)
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// Annotation renders d as a GitHub Actions workflow command, annotating
// file (d's file as the checkout sees it) at d's line and column, with d's
// rule as title. Properties and message are escaped as the Actions
// toolkit escapes them, so that no newline, '%', ',' or ':' in a message
// or path ends the command or a property early.
func Annotation(d diag.Diagnostic, file string) string {
	var props []string
	add := func(k, v string) { props = append(props, k+"="+escapeProperty(v)) }
	if file != "" {
		add("file", file)
		if d.Pos.Line > 0 {
			add("line", strconv.Itoa(d.Pos.Line))
		}
		if d.Pos.Col > 0 {
			add("col", strconv.Itoa(d.Pos.Col))
		}
	}
	add("title", ruleOf(d))
	return fmt.Sprintf("::%s %s::%s", d.Severity, strings.Join(props, ","), escapeData(message(d)))
}

// escapeData escapes a workflow command's message: '%' and the line
// breaks, in one pass, so that the escapes it adds are not escaped again.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a property value, which also ends at ',' and ':'.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
