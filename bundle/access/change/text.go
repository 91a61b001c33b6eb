package change

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/access"
)

// WriteText writes r for a terminal: a summary, then the access changes
// grouped by principal, then the identity changes.
func WriteText(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("diff of environment %s at %s\n", envName(r.Env), r.At.UTC().Format(time.RFC3339))
	p("from %s\nto   %s\n", r.From.Revision, r.To.Revision)
	p("%s\n", summary(r))
	var principal types.EntityUID
	for i, c := range r.Access {
		if i == 0 || c.Principal != principal {
			principal = c.Principal
			p("\n%s\n", principal)
		}
		p("  %s %s on %s: %s\n", sign(c), c.Action, c.Resource, c.Label())
		switch {
		case c.From == nil:
			textSide(p, "", c.To)
		case c.To == nil:
			textSide(p, "", c.From)
		default:
			textSide(p, "was ", c.From)
			textSide(p, "now ", c.To)
		}
	}
	if len(r.Identities) > 0 {
		p("\nidentities\n")
	}
	for _, c := range r.Identities {
		p("  %s %s %s: %s\n", identitySign(c.Change), c.Kind, c.Name, c.Change)
		for _, f := range c.Fields {
			p("      %s\n", fieldText(c.Change, f, func(s string) string { return s }))
		}
	}
	return bw.Flush()
}

// textSide writes one revision's access to a triple: its kind, the
// policies that allow it and the conditions it depends on.
func textSide(p func(string, ...any), prefix string, e *access.Entry) {
	p("      %s%s\n", prefix, e.Access)
	for _, pol := range e.Policies {
		p("        by %s at %s\n", pol.ID, pol.Source)
	}
	for _, c := range e.Conditions {
		p("        if %s (%s at %s)\n", oneLine(c.Text), c.Policy, c.Source)
	}
}

// sign marks a change for a quick scan: + gained, - lost, ~ otherwise.
func sign(c AccessChange) string {
	switch {
	case c.From == nil:
		return "+"
	case c.To == nil:
		return "-"
	}
	return "~"
}

// identitySign marks an identity change as sign marks an access change.
func identitySign(c Change) string {
	switch c {
	case Added:
		return "+"
	case Removed:
		return "-"
	}
	return "~"
}

// fieldText writes a field change, its values passed through quote:
// "owner: a → b", "expires: x → y (extended)"; for an added or removed
// object the one value it has.
func fieldText(c Change, f FieldChange, quote func(string) string) string {
	val := func(s string) string {
		if s == "" {
			return "(unset)"
		}
		return quote(s)
	}
	var s string
	switch c {
	case Added:
		s = f.Field + ": " + val(f.To)
	case Removed:
		s = f.Field + ": " + val(f.From)
	default:
		s = f.Field + ": " + val(f.From) + " → " + val(f.To)
	}
	if f.Note != "" {
		s += " (" + f.Note + ")"
	}
	return s
}

// summary is the report in one line.
func summary(r *Report) string {
	if len(r.Gained)+len(r.Lost)+len(r.Identities) == 0 {
		return "no change in access or identities"
	}
	return fmt.Sprintf("%d access gained, %d lost, %d identity %s",
		len(r.Gained), len(r.Lost), len(r.Identities), plural(len(r.Identities), "change", "changes"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// envName names an environment, or says there is none.
func envName(env string) string {
	if env == "" {
		return "(none)"
	}
	return env
}
