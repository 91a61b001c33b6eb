package review

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSVHeader names the columns WriteCSV writes, in order; docs/cli.md
// documents each.
var CSVHeader = []string{
	"team", "kind", "identity", "owner", "risk", "review", "rotation", "findings",
	"row", "action", "resource", "access", "policies",
	"key", "profile", "rule", "via", "approved_by", "ticket", "expires", "status",
}

// WriteCSV writes the report as CSV, one row per (identity, access entry),
// (identity, entitlement) and (identity, exception), in the report's
// order, and one row of type "identity" for an identity with none of
// those. The identity columns repeat on every row so that each row stands
// alone in a spreadsheet filter.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, s := range r.Sections {
		for _, id := range s.Identities {
			lead := []string{s.Team, id.Kind, id.Name, id.Owner, string(id.Risk),
				reviewCell(id.Review), rotationCell(id.Credential), strconv.Itoa(len(id.Findings))}
			row := func(typ string, cells ...string) error {
				return cw.Write(append(append(append([]string{}, lead...), typ), cells...))
			}
			n := 0
			for _, e := range id.Access.Entries {
				ids := make([]string, len(e.Policies))
				for i, p := range e.Policies {
					ids[i] = p.ID
				}
				if err := row("access", e.Action.String(), e.Resource.String(), string(e.Access), strings.Join(ids, " "),
					"", "", "", "", "", "", "", ""); err != nil {
					return err
				}
				n++
			}
			for _, g := range id.Entitlements {
				if err := row("entitlement", "", "", "", "", g.Key, g.Profile, "", g.Via, g.ApprovedBy, g.Ticket, date(g.Expires), string(g.Status)); err != nil {
					return err
				}
				n++
			}
			for _, e := range id.Exceptions {
				if err := row("exception", "", "", "", "", e.Key, e.Profile, e.Rule, e.Via, e.ApprovedBy, e.Ticket, date(e.Expires), string(e.Status)); err != nil {
					return err
				}
				n++
			}
			if n == 0 {
				if err := row("identity", "", "", "", "", "", "", "", "", "", "", date(id.Expires), string(id.ExpiryStatus)); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the report as one indented JSON document, the shape
// docs/cli.md documents.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// reviewCell is a review status for one cell: "overdue (due 2026-11-01)".
func reviewCell(r *Review) string {
	if r == nil {
		return ""
	}
	return statusCell(r.Status, r.Due)
}

// rotationCell is a credential's rotation status for one cell.
func rotationCell(c *Credential) string {
	if c == nil {
		return ""
	}
	return statusCell(c.Status, c.Due)
}

func statusCell(s Status, due *time.Time) string {
	if due == nil {
		return string(s)
	}
	return string(s) + " (due " + day(*due) + ")"
}

// date renders an optional date for a cell; "" when absent.
func date(t *time.Time) string {
	if t == nil {
		return ""
	}
	return day(*t)
}
