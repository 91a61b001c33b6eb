package explain

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle"
)

// WriteJSON writes the explanation as one indented JSON document.
func WriteJSON(w io.Writer, x *Explanation) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(x)
}

// WriteText writes the explanation for people: the request, the revision
// and what decided, then each policy with its source lines, numbered as
// in their file.
func WriteText(w io.Writer, x *Explanation) error {
	bw := bufio.NewWriter(w)
	d := x.Decision
	fmt.Fprintf(bw, "decision %s: %s\n", d.ID, strings.ToUpper(d.Decision))
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(bw, "  %-10s %s\n", name, value)
		}
	}
	field("time", d.Time.UTC().Format(time.RFC3339Nano))
	field("principal", d.Principal)
	field("action", d.Action)
	field("resource", d.Resource)
	field("caller", d.Caller)
	field("bundle", d.Bundle.String())
	field("logged at", fmt.Sprintf("%s:%d", d.Log.File, d.Log.Line))

	rv := x.Revision
	fmt.Fprintf(bw, "\nrevision %s, committed %s", rv.Commit, rv.Time.UTC().Format(time.RFC3339))
	if rv.DigestMatches {
		fmt.Fprintf(bw, ": rebuilds to the logged digest\n")
	} else {
		fmt.Fprintf(bw, ": rebuilds to digest %s, not the logged one\n", bundle.ShortDigest(rv.Digest))
	}
	for _, warn := range x.Warnings {
		fmt.Fprintf(bw, "warning: %s\n", warn)
	}

	fmt.Fprintln(bw)
	switch {
	case x.DefaultDeny:
		fmt.Fprintln(bw, "denied by default: no policy permits")
	case d.Decision == "allow":
		fmt.Fprintf(bw, "allowed by %s\n", count(len(x.Policies), "policy", "policies"))
	default:
		fmt.Fprintf(bw, "denied by %s\n", count(len(x.Policies), "forbid policy", "forbid policies"))
	}
	for _, p := range x.Policies {
		fmt.Fprintln(bw)
		writePolicy(bw, p.ID, p)
	}
	if len(x.Errors) > 0 {
		fmt.Fprintf(bw, "\n%s failed to evaluate (Cedar skips a policy that errs)\n", count(len(x.Errors), "policy", "policies"))
	}
	for _, p := range x.Errors {
		fmt.Fprintln(bw)
		writePolicy(bw, p.ID+": error: "+p.Message, p)
	}
	return bw.Flush()
}

// writePolicy writes one policy under the heading title.
func writePolicy(w io.Writer, title string, p Policy) {
	fmt.Fprintln(w, title)
	fmt.Fprintf(w, "  %s\n", p.Summary)
	if p.Source != "" {
		fmt.Fprintf(w, "  at %s\n", p.Source)
	}
	if p.NotBefore != nil {
		fmt.Fprintf(w, "  applies from %s\n", formatTime(p.NotBefore))
	}
	if p.NotAfter != nil {
		fmt.Fprintf(w, "  applies until %s\n", formatTime(p.NotAfter))
	}
	for _, s := range p.Sources {
		c := s.LastChange
		what := s.What
		if what == sourcePolicy {
			what = "the policy"
		}
		fmt.Fprintf(w, "\n  %s, lines %d-%d (%s)\n", s.Path, s.StartLine, s.EndLine, what)
		fmt.Fprintf(w, "  last changed in %s by %s <%s> on %s: %s\n", short(c.Commit), c.Author, c.Email, c.Date.Format(time.RFC3339), c.Subject)
		width := len(strconv.Itoa(s.EndLine))
		for i, line := range strings.Split(s.Text, "\n") {
			fmt.Fprintf(w, "  %*d | %s\n", width, s.StartLine+i, line)
		}
	}
	if p.Kind != kindPolicy && p.Cedar != "" {
		fmt.Fprintf(w, "\n  compiled to:\n")
		for _, line := range strings.Split(p.Cedar, "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
}

// count writes n and the noun for it.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
