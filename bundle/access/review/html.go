package review

import (
	_ "embed"
	"html/template"
	"io"
	"strings"
	"time"
)

// The page is one file with its style inline and no script: it opens from
// a mail attachment or an audit archive with no network, and prints
// (@media print) one team per page.
//
//go:embed report.html.tmpl
var pageText string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"day":     day,
	"date":    date,
	"rfc3339": func(t time.Time) string { return t.Format(time.RFC3339) },
	"join":    func(s []string) string { return strings.Join(s, ", ") },
	"orNone":  func(s string) string { return or(s, "none") },
	"orDirect": func(s string) string {
		return or(s, "direct")
	},
	"teamTitle": func(team string) string {
		if team == "" {
			return "Unowned identities"
		}
		return "Team " + team
	},
	"anchor": func(team string) string {
		if team == "" {
			return "unowned"
		}
		return "team-" + team
	},
}).Parse(pageText))

// WriteHTML writes the report as one self-contained HTML page.
func WriteHTML(w io.Writer, r *Report) error {
	return page.Execute(w, r)
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
