package drift

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes r as one JSON document (docs/cli.md documents it).
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// summary counts the findings by kind: "2 live-only, 1 membership", or
// "in sync".
func summary(r *Report) string {
	var parts []string
	for _, k := range Kinds {
		if n := r.Count(k); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	if len(parts) == 0 {
		return "in sync"
	}
	return strings.Join(parts, ", ")
}

func header(r *Report) string {
	env := r.Env
	if env == "" {
		env = "(no environments)"
	}
	return fmt.Sprintf("drift of environment %s against %s at %s: %s", env, strings.Join(r.Sources, ", "), r.At, summary(r))
}

// where names the objects of a finding: the code position and object,
// then the live object.
func where(f Finding) (code, live string) {
	if f.Code != "" {
		code = f.Code
		if f.Pos != "" {
			code = f.Pos + ": " + f.Code
		}
	}
	if f.LiveKey != "" {
		live = fmt.Sprintf("%s %s %s (id %s)", f.Source, f.LiveKind, f.LiveKey, f.LiveID)
	}
	return code, live
}

// WriteText writes r for a terminal: a summary line, then one finding a
// paragraph.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	b.WriteString(header(r) + "\n")
	for _, f := range r.Findings {
		code, live := where(f)
		fmt.Fprintf(&b, "\n%s [%s]\n", f.Kind, f.Source)
		if code != "" {
			fmt.Fprintf(&b, "  code: %s\n", code)
		}
		if live != "" {
			fmt.Fprintf(&b, "  live: %s\n", live)
		}
		fmt.Fprintf(&b, "  %s\n", f.Message)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes r as a table, for an issue or a pull request.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**\n", header(r))
	if len(r.Findings) > 0 {
		b.WriteString("\n| finding | source | code | live | what to do |\n| --- | --- | --- | --- | --- |\n")
		for _, f := range r.Findings {
			code, live := where(f)
			if live != "" {
				live = fmt.Sprintf("%s `%s` (id `%s`)", f.LiveKind, f.LiveKey, f.LiveID)
			}
			if code != "" {
				code = "`" + code + "`"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", f.Kind, f.Source, cell(code), cell(live), cell(f.Message))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
