package repo

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle/diag"
)

var envVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// errNoEnv is expand's error for ${env} where no environment is being
// built; the decoder words it for where it happened.
var errNoEnv = errors.New("${env} is used, but cedargate.yaml declares no environments")

// expand replaces ${env} with the environment being built. Any other ${...}
// is an error, so that a typo such as ${ENV} cannot pass unnoticed.
func expand(s, env string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var bad string
	out := envVar.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if name != "env" {
			bad = name
			return m
		}
		return env
	})
	if bad != "" {
		return "", fmt.Errorf("unknown variable ${%s} (the only variable is ${env})", bad)
	}
	if env == "" && strings.Contains(s, "${env}") {
		return "", errNoEnv
	}
	return out, nil
}

// ParseTime reads an instant as RFC 3339 ("2026-12-01T09:00:00Z") or as a
// date ("2026-12-01"), which means 00:00 UTC at the start of that day.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			return time.Time{}, fmt.Errorf("%q is not a date (2026-12-01) or an RFC 3339 time (2026-12-01T09:00:00Z)", s)
		}
	}
	return t.UTC(), nil
}

// isRelativeDate reports whether s is written as a relative date.
func isRelativeDate(s string) bool { return strings.HasPrefix(s, "today") }

// parseRelativeDate reads "today", "today+90d" or "today-22d": 00:00 UTC
// of today, plus or minus a duration.
func parseRelativeDate(s string, today time.Time) (time.Time, error) {
	rest := strings.TrimPrefix(s, "today")
	if rest == "" {
		return today, nil
	}
	sign := time.Duration(1)
	switch rest[0] {
	case '+':
	case '-':
		sign = -1
	default:
		return time.Time{}, fmt.Errorf("%q is not a relative date (today, today+90d, today-22d)", s)
	}
	d, err := ParseDuration(rest[1:])
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a relative date (today, today+90d, today-22d): %v", s, err)
	}
	return today.Add(sign * d), nil
}

// ParseDuration reads a duration with Go's units (h, m, s) plus d for days
// and w for weeks, for example "90d", "2w", "36h" or "1w3d".
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("%q is not a duration (examples: 90d, 2w, 36h)", orig)
		}
		j := i
		for j < len(s) && (s[j] < '0' || s[j] > '9') {
			j++
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration: %v", orig, err)
		}
		var unit time.Duration
		switch s[i:j] {
		case "w":
			unit = 7 * 24 * time.Hour
		case "d":
			unit = 24 * time.Hour
		case "h":
			unit = time.Hour
		case "m":
			unit = time.Minute
		case "s":
			unit = time.Second
		default:
			return 0, fmt.Errorf("%q is not a duration: unknown unit %q (use w, d, h, m or s)", orig, s[i:j])
		}
		total += time.Duration(n) * unit
		s = s[j:]
	}
	return total, nil
}

// FormatDuration renders d in the largest whole unit of ParseDuration's.
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	switch {
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// Suggest returns the candidate closest to s when it is close enough to be
// a likely typo, for "did you mean" hints.
func Suggest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := EditDistance(strings.ToLower(s), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, in bytes.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// JSON renders the value in Cedar's JSON value format, expanding ${env} in
// strings: strings, integers and booleans as themselves, lists as sets,
// mappings as records. Entity references and extension values use Cedar's
// escapes ({"__entity": {"type": ..., "id": ...}}, {"__extn": {"fn": ...,
// "arg": ...}}). Where the schema declares an attribute's type, the shorter
// forms of Cedar's schema-based parsing work too: a plain string for an
// extension value ("10.0.0.1" for an ipaddr) and {"type": ..., "id": ...}
// for an entity.
func (v *Value) JSON() ([]byte, error) {
	if v.err != nil {
		return nil, v.err
	}
	return []byte(v.json), nil
}

// maxValueDepth bounds the nesting of attribute values.
const maxValueDepth = 32

func appendJSON(b []byte, n *node, env string, depth int) ([]byte, error) {
	if depth > maxValueDepth {
		return nil, posErr(n, "value nested deeper than %d levels", maxValueDepth)
	}
	switch n.kind {
	case nullNode:
		return nil, posErr(n, "empty value: Cedar has no null; leave the attribute out instead")
	case seqNode:
		b = append(b, '[')
		for i, it := range n.items {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, it, env, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case mapNode:
		b = append(b, '{')
		for i, k := range n.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k.text)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, n.values[i], env, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	switch n.scalar {
	case intScalar:
		i, err := parseInt(n.text)
		if err != nil {
			return nil, posErr(n, "%s is not a 64-bit integer", n.text)
		}
		return strconv.AppendInt(b, i, 10), nil
	case boolScalar:
		return append(b, n.text...), nil
	case floatScalar:
		return nil, posErr(n, "%s: Cedar has no floating-point numbers; declare the attribute as decimal in the schema and quote the value", n.text)
	}
	s, err := expand(n.text, env)
	if err != nil {
		return nil, posErr(n, "%v", err)
	}
	return appendJSONString(b, s), nil
}

// parseInt reads a YAML 1.2 integer: decimal (leading zeros allowed, so
// 0042 is 42, not YAML 1.1's octal), 0x hexadecimal or 0o octal.
func parseInt(s string) (int64, error) {
	sign := ""
	body := s
	if strings.HasPrefix(body, "-") || strings.HasPrefix(body, "+") {
		sign, body = body[:1], body[1:]
	}
	switch {
	case strings.HasPrefix(body, "0x"):
		return strconv.ParseInt(sign+body[2:], 16, 64)
	case strings.HasPrefix(body, "0o"):
		return strconv.ParseInt(sign+body[2:], 8, 64)
	}
	return strconv.ParseInt(sign+body, 10, 64)
}

// appendJSONString quotes s as JSON. strconv.AppendQuote is not JSON (it
// writes \x escapes), so encoding/json does the quoting.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

func posErr(n *node, format string, args ...any) error {
	return &diag.Failure{List: diag.List{{Pos: n.pos, Message: fmt.Sprintf(format, args...)}}}
}
