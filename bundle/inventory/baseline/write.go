package baseline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cedargate/cedargate/bundle/repo"
)

// object is one identity object to write: its fields in the order they
// are written.
type object struct {
	kind    repo.Kind
	comment string
	fields  []field
}

type field struct {
	key string
	// value is a scalar, a []string (a flow list) or a block of YAML
	// lines already indented (for permissions).
	value any
}

func (o *object) set(key string, value any) {
	for i := range o.fields {
		if o.fields[i].key == key {
			o.fields[i].value = value
			return
		}
	}
	o.fields = append(o.fields, field{key, value})
}

func (o *object) get(key string) any {
	for _, f := range o.fields {
		if f.key == key {
			return f.value
		}
	}
	return nil
}

// appendTo adds v to the list field key, once.
func (o *object) appendTo(key, v string) {
	l, _ := o.get(key).([]string)
	if !slices.Contains(l, v) {
		l = append(l, v)
		slices.Sort(l)
		o.set(key, l)
	}
}

type block []string

// day is a date, written unquoted (YYYY-MM-DD).
type day string

// file is one identity file.
type file struct {
	objects []*object
}

// render writes the objects as YAML documents, in the order kinds are
// documented, then by name.
func (f *file) render() []byte {
	kindOrder := []repo.Kind{repo.KindUser, repo.KindServiceAccount, repo.KindGroup, repo.KindResource, repo.KindAccessProfile, repo.KindEntitlement}
	objs := slices.Clone(f.objects)
	slices.SortStableFunc(objs, func(a, b *object) int {
		if d := slices.Index(kindOrder, a.kind) - slices.Index(kindOrder, b.kind); d != 0 {
			return d
		}
		return strings.Compare(sortKey(a), sortKey(b))
	})
	var b bytes.Buffer
	b.WriteString("# Written by cedargate import. Owners, expiries, approvals and reviews\n# are for the team to add: cedargate lint lists what is missing.\n")
	for i, o := range objs {
		if i > 0 {
			b.WriteString("---\n")
		}
		if o.comment != "" {
			for _, l := range strings.Split(o.comment, "\n") {
				fmt.Fprintf(&b, "# %s\n", l)
			}
		}
		fmt.Fprintf(&b, "kind: %s\n", o.kind)
		for _, fl := range o.fields {
			switch v := fl.value.(type) {
			case string:
				fmt.Fprintf(&b, "%s: %s\n", fl.key, scalar(v))
			case day:
				fmt.Fprintf(&b, "%s: %s\n", fl.key, v)
			case []string:
				q := make([]string, len(v))
				for j, s := range v {
					q[j] = scalar(s)
				}
				fmt.Fprintf(&b, "%s: [%s]\n", fl.key, strings.Join(q, ", "))
			case block:
				fmt.Fprintf(&b, "%s:\n", fl.key)
				for _, l := range v {
					fmt.Fprintf(&b, "  %s\n", l)
				}
			}
		}
	}
	return b.Bytes()
}

func sortKey(o *object) string {
	if n, ok := o.get("name").(string); ok {
		return n
	}
	s, _ := o.get("subject").(string)
	p, _ := o.get("profile").(string)
	return s + "\x00" + p
}

// scalar renders s as a YAML scalar: plain when it is plainly a string to
// any YAML reader, else double-quoted (a JSON string is a valid YAML
// double-quoted scalar).
func scalar(s string) string {
	if plain(s) {
		return s
	}
	q, _ := json.Marshal(s)
	return string(q)
}

// plain reports whether s can be written unquoted: letters, digits and
// . _ - @ only, starting with a letter, and not a word YAML 1.1 reads as a
// boolean or null.
func plain(s string) bool {
	if s == "" {
		return false
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "true", "false", "on", "off", "null":
		return false
	}
	for i, r := range s {
		letter := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if i == 0 && !letter {
			return false
		}
		if !letter && (r < '0' || r > '9') && r != '.' && r != '_' && r != '-' && r != '@' && r != '/' {
			return false
		}
	}
	return true
}

// config renders cedargate.yaml: the repository's name, the debt
// guardrails lowered to warnings, and the mappings used.
func config(name string, maps []repo.InventorySource) []byte {
	var b bytes.Buffer
	b.WriteString(`# Written by cedargate import: identity code for what the live directories
# held when they were read. The identities lack what only people know
# (owners, expiries, approvals, reviews), so the guardrails that ask for it
# are warnings here: the repository builds, and cedargate lint lists the
# debt. Raise each back to error (delete its line) once it is paid.
`)
	if name != "" {
		fmt.Fprintf(&b, "name: %s\n", scalar(name))
	}
	b.WriteString("guardrails:\n  severity:\n")
	for _, r := range Debt {
		fmt.Fprintf(&b, "    %s: warning\n", r)
	}
	b.WriteString("# How live objects map to identities (docs/drift.md): cedargate drift\n# with the same --source names reads them this way.\ninventory:\n")
	for _, m := range maps {
		fmt.Fprintf(&b, "  %s:\n    type: %s\n", m.Name, m.Type)
		if m.Type == repo.SourceSCIM {
			fmt.Fprintf(&b, "    user_key: %s\n", m.UserKey)
		}
		if len(m.SkipNamespaces) > 0 {
			q := make([]string, len(m.SkipNamespaces))
			for i, s := range m.SkipNamespaces {
				q[i] = scalar(s)
			}
			fmt.Fprintf(&b, "    skip_namespaces: [%s]\n", strings.Join(q, ", "))
		}
	}
	return b.Bytes()
}

// schema declares what imported Kubernetes role bindings grant.
const schema = `// Written by cedargate import. A Kubernetes RoleBinding or
// ClusterRoleBinding becomes an Entitlement to an access profile named as
// the role, which grants "assume" on the role: the rules of the role
// itself stay in Kubernetes. cedargate adds User, ServiceAccount, Group and
// Team to this namespace.
entity ` + roleType + `;

action ` + roleAction + ` appliesTo {
  principal: [User, ServiceAccount],
  resource: ` + roleType + `,
  context: {}
};
`
