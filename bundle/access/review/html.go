package review

import (
	_ "embed"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/access"
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
	"accessGroups": accessGroups,
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

// MaxListed is how many resources the HTML page lists for one action
// allowed by the same policies; CSV and JSON list every one. An identity
// in a large repository reaches thousands of resources: listed one per
// row, the page of a thousand identities weighs hundreds of megabytes
// and nobody reads it.
const MaxListed = 10

// accessGroup is the entries of one identity that share an action, a
// kind of access and the policies and conditions behind it.
type accessGroup struct {
	Action     types.EntityUID
	Access     access.Kind
	Policies   []access.PolicyRef
	Conditions []access.Condition
	// Resources are the first MaxListed resources, More how many
	// others; Count is all of them.
	Resources   []types.EntityUID
	More, Count int
}

// accessGroups groups entries (sorted by action, then resource) by
// action, access and reasons, in the order of the entries.
func accessGroups(entries []access.Entry) []*accessGroup {
	type groupKey struct {
		action  types.EntityUID
		access  access.Kind
		reasons string
	}
	var out []*accessGroup
	index := map[groupKey]*accessGroup{}
	var reasons strings.Builder
	for _, e := range entries {
		reasons.Reset()
		for _, p := range e.Policies {
			reasons.WriteString(p.ID + "\x00")
		}
		for _, c := range e.Conditions {
			reasons.WriteString("\x01" + c.Policy + "\x00" + c.Source + "\x00" + c.Text)
		}
		k := groupKey{e.Action, e.Access, reasons.String()}
		g := index[k]
		if g == nil {
			g = &accessGroup{Action: e.Action, Access: e.Access, Policies: e.Policies, Conditions: e.Conditions}
			index[k] = g
			out = append(out, g)
		}
		g.Count++
		if len(g.Resources) < MaxListed {
			g.Resources = append(g.Resources, e.Resource)
		} else {
			g.More++
		}
	}
	return out
}
