package repo

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/internal/cedarscan"
)

// Limits bound what a repository can make cedargate do: how much it reads
// and how large and deep the trees it builds from that may grow. Every
// limit is checked before or while a file is parsed, never after a tree
// has been built, so memory and time stay bounded by the limits whatever
// the input. They are set under `limits:` in cedargate.yaml; cedargate.yaml
// itself is always read under DefaultLimits.
type Limits struct {
	// FileSize bounds each file read, in bytes.
	FileSize int64
	// RepositorySize bounds all files read together, in bytes.
	RepositorySize int64
	// YAMLDepth bounds how deeply mappings and lists nest in one YAML
	// document.
	YAMLDepth int
	// YAMLNodes bounds the values (scalars, keys, lists, mappings) of one
	// YAML file.
	YAMLNodes int
	// YAMLPathLength bounds the length, in bytes, of the path of keys and
	// list positions that leads to any YAML value. The YAML parser keeps
	// that path with every value, so long keys above many values cost
	// their length once per value.
	YAMLPathLength int
	// RepositoryNodes bounds the YAML values, JSON values and Cedar tokens
	// of all files together: what the loaded and compiled repository holds
	// in memory.
	RepositoryNodes int
	// JSONDepth bounds how deeply arrays and objects nest in entities/*.json.
	JSONDepth int
	// PolicySize bounds the text of one Cedar policy, and of one when:
	// condition, in bytes.
	PolicySize int
	// CedarDepth bounds how deeply a Cedar policy, condition or the schema
	// nests brackets and if-then-else (Cedar's parser recurses on each).
	CedarDepth int
}

// DefaultLimits returns the limits used where cedargate.yaml sets none.
// They fit the shipped build job (1 GiB of memory): loading a repository
// at repository_nodes takes about 340 MiB, one file at yaml_nodes about
// 90 MiB, and a file beyond a limit is refused for well under 1 MiB.
// docs/guardrails.md gives the measurements.
func DefaultLimits() Limits {
	return Limits{
		FileSize:        4 << 20,
		RepositorySize:  64 << 20,
		YAMLDepth:       64,
		YAMLNodes:       100_000,
		YAMLPathLength:  512,
		RepositoryNodes: 1_000_000,
		JSONDepth:       64,
		PolicySize:      64 << 10,
		CedarDepth:      64,
	}
}

// LimitCeilings returns the most any repository may set each limit to.
// cedargate.yaml is a file of the repository it limits, so whoever can
// change the repository can raise the limits: without a ceiling,
// `yaml_depth: 2147483647` would bring back the blow-up the limits exist
// to prevent. The depths are where cost grows faster than the input
// (YAML nesting with the square of the depth; Cedar nesting on the
// parser's stack), and the ceilings keep that cost small; the sizes and
// counts cost in proportion to the input and are set for an estate of a
// million identities. cedar_depth and policy_size are also what every
// bundle read is held to (package cedarscan), so whatever a build accepts
// a PDP serves. docs/guardrails.md gives what each costs at its ceiling.
func LimitCeilings() Limits {
	return Limits{
		FileSize:        1 << 30,
		RepositorySize:  4 << 30,
		YAMLDepth:       1024,
		YAMLNodes:       10_000_000,
		YAMLPathLength:  2 << 10,
		RepositoryNodes: 50_000_000,
		JSONDepth:       1024,
		PolicySize:      cedarscan.MaxPolicySize,
		CedarDepth:      cedarscan.MaxDepth,
	}
}

// limitSetting describes one key of `limits:`: its name, whether it is a
// size in bytes, and where its value lives.
type limitSetting struct {
	key   string
	bytes bool
	int64 func(*Limits) *int64
	int   func(*Limits) *int
}

// get returns the setting's value in l.
func (s limitSetting) get(l *Limits) int64 {
	if s.int64 != nil {
		return *s.int64(l)
	}
	return int64(*s.int(l))
}

// limitSettings lists the keys of `limits:` in the order the documentation
// presents them.
var limitSettings = []limitSetting{
	{key: "file_size", bytes: true, int64: func(l *Limits) *int64 { return &l.FileSize }},
	{key: "repository_size", bytes: true, int64: func(l *Limits) *int64 { return &l.RepositorySize }},
	{key: "yaml_depth", int: func(l *Limits) *int { return &l.YAMLDepth }},
	{key: "yaml_nodes", int: func(l *Limits) *int { return &l.YAMLNodes }},
	{key: "yaml_path_length", bytes: true, int: func(l *Limits) *int { return &l.YAMLPathLength }},
	{key: "repository_nodes", int: func(l *Limits) *int { return &l.RepositoryNodes }},
	{key: "json_depth", int: func(l *Limits) *int { return &l.JSONDepth }},
	{key: "policy_size", bytes: true, int: func(l *Limits) *int { return &l.PolicySize }},
	{key: "cedar_depth", int: func(l *Limits) *int { return &l.CedarDepth }},
}

// LimitKeys lists the keys of `limits:` in cedargate.yaml.
func LimitKeys() []string {
	keys := make([]string, len(limitSettings))
	for i, s := range limitSettings {
		keys[i] = s.key
	}
	return keys
}

// Value returns the value of the limit named key (a key of `limits:`), as
// cedargate.yaml would write it.
func (l Limits) Value(key string) string {
	for _, s := range limitSettings {
		if s.key != key {
			continue
		}
		n := s.get(&l)
		if s.bytes {
			return FormatSize(n)
		}
		return strconv.FormatInt(n, 10)
	}
	return ""
}

// parseLimits reads `limits:`; limits it does not set keep their
// defaults, and so do those set to a value out of range (below 1 or above
// the ceiling), which are errors.
func (d *decoder) parseLimits(n *node, l *Limits) {
	ceilings := LimitCeilings()
	f := d.fields(n, "limits")
	for _, s := range limitSettings {
		v := f.get(s.key)
		if v == nil {
			continue
		}
		text, ok := f.scalar(s.key, v)
		if !ok {
			continue
		}
		var got int64
		var err error
		if s.bytes {
			got, err = ParseSize(text)
		} else {
			got, err = strconv.ParseInt(text, 10, 64)
			if err != nil {
				err = fmt.Errorf("%q is not a whole number", text)
			}
		}
		switch {
		case err != nil:
			d.errorf(v.pos, "limits", "%s: %v", s.key, err)
		case got <= 0 || got > s.get(&ceilings):
			d.errorf(v.pos, "limits", "%s must be at least 1 and at most %s, its ceiling: no repository may set more", s.key, ceilings.Value(s.key))
		case s.int64 != nil:
			*s.int64(l) = got
		default:
			*s.int(l) = int(got)
		}
	}
	f.done()
}

// ParseSize reads a size in bytes: a whole number, optionally followed by
// B, KiB, MiB or GiB ("4MiB", "512 KiB", "65536").
func ParseSize(s string) (int64, error) {
	num := strings.TrimSpace(s)
	unit := int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, unit = strings.TrimSpace(rest), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (examples: 4MiB, 512KiB, 65536)", s)
	}
	if n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * unit, nil
}

// FormatSize renders a size in the largest unit of ParseSize's that
// divides it.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.n && n%u.n == 0 {
			return fmt.Sprintf("%d%s", n/u.n, u.suffix)
		}
	}
	return strconv.FormatInt(n, 10)
}

// repositoryNodesMsg is the breach of limits.repository_nodes.
const repositoryNodesMsg = "more than %d values in the repository's files together (YAML and JSON values, Cedar tokens)"

// limitBreach is the message of an input beyond the limit named key:
// what was found, the limit with its value, and how to raise it.
func limitBreach(file string, l Limits, key, format string, args ...any) string {
	msg := fmt.Sprintf(format, args...)
	if file == ConfigFile {
		// cedargate.yaml is read under the default limits, so no
		// setting in it can raise them for itself.
		return fmt.Sprintf("%s (limit %s: %s, which applies to %s itself and cannot be raised)", msg, key, l.Value(key), ConfigFile)
	}
	return fmt.Sprintf("%s (limit %s: %s; raise it under limits: in %s)", msg, key, l.Value(key), ConfigFile)
}

// limitError is a breach of the limit named key at pos, as a diagnostic.
func limitError(pos diag.Position, l Limits, key, format string, args ...any) diag.Diagnostic {
	return diag.Diagnostic{Pos: pos, Message: limitBreach(pos.File, l, key, format, args...)}
}

// budget is the limits a repository is loaded under, with what its files
// have used so far of the limits that bound them all together.
type budget struct {
	Limits
	bytes int64
	nodes int
}
