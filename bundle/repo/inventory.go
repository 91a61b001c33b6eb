package repo

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cedargate/cedargate/bundle/diag"
)

// The types of inventory sources, which are also the source names that
// select a type's default mapping when cedargate.yaml declares none.
const (
	SourceSCIM       = "scim"
	SourceKubernetes = "kubernetes"
	SourceAWSIAM     = "awsiam"
)

// SourceTypes lists the inventory source types.
var SourceTypes = []string{SourceSCIM, SourceKubernetes, SourceAWSIAM}

// The live SCIM values a User can be matched by (inventory.NAME.user_key).
const (
	UserKeyUserName   = "userName"
	UserKeyEmail      = "email"
	UserKeyExternalID = "externalId"
)

// InventorySource is one entry of the inventory section of cedargate.yaml:
// how the live objects of the source named Name map to identities.
type InventorySource struct {
	// Name is the source's name, as given to --source NAME=….
	Name string
	// Type is scim, kubernetes or awsiam.
	Type string
	// UserKey is the live SCIM value a User's scim_username (or name) is
	// compared with: userName (the default), email or externalId.
	UserKey string
	// SkipNamespaces are Kubernetes namespaces whose ServiceAccounts and
	// RoleBindings are neither compared nor imported (the cluster's own,
	// kube-system, say).
	SkipNamespaces []string
	// Pos is where the entry is written; zero for a default mapping.
	Pos diag.Position
}

// DefaultSource returns the mapping a source named name gets when
// cedargate.yaml declares none: the default mapping of the type it names,
// or false when name is not a type.
func DefaultSource(name string) (InventorySource, bool) {
	if !slices.Contains(SourceTypes, name) {
		return InventorySource{}, false
	}
	s := InventorySource{Name: name, Type: name}
	if name == SourceSCIM {
		s.UserKey = UserKeyUserName
	}
	return s, true
}

// Source returns the mapping of the source named name: the one
// cedargate.yaml declares, else the default of the type it names. The
// error says which names would do.
func (c *Config) Source(name string) (InventorySource, error) {
	if i := slices.IndexFunc(c.Inventory, func(s InventorySource) bool { return s.Name == name }); i >= 0 {
		return c.Inventory[i], nil
	}
	if s, ok := DefaultSource(name); ok {
		return s, nil
	}
	names := slices.Clone(SourceTypes)
	for _, s := range c.Inventory {
		if !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	return InventorySource{}, fmt.Errorf("no source %q in the inventory section of %s, and it is not a source type (want one of %s)", name, ConfigFile, strings.Join(names, ", "))
}

// parseInventory reads the inventory section: a mapping of source name to
// its type and matching options.
func (d *decoder) parseInventory(n *node) []InventorySource {
	if n.kind != mapNode {
		d.errorf(n.pos, "inventory", "inventory must map source names to their mapping (type: scim, kubernetes or awsiam)")
		return nil
	}
	var out []InventorySource
	for i, k := range n.keys {
		name := k.text
		if !isEnvName(name) {
			d.errorf(k.pos, "inventory", "source name %q must be lower-case letters, digits and '-'", name)
			continue
		}
		subject := "inventory." + name
		f := d.fields(n.values[i], subject)
		s := InventorySource{Name: name, Type: f.str("type"), Pos: k.pos}
		if s.Type == "" {
			if _, ok := DefaultSource(name); !ok {
				d.errorf(k.pos, subject, "type is required: scim, kubernetes or awsiam (only a source named as its type may leave it out)")
				f.done()
				continue
			}
			s.Type = name
		}
		if !slices.Contains(SourceTypes, s.Type) {
			d.errorf(f.pos["type"], subject, "type must be scim, kubernetes or awsiam, not %q", s.Type)
		}
		if f.written("user_key") {
			s.UserKey = f.str("user_key")
			if s.Type != SourceSCIM {
				d.errorf(f.pos["user_key"], subject, "user_key applies to scim sources only")
			} else if !slices.Contains([]string{UserKeyUserName, UserKeyEmail, UserKeyExternalID}, s.UserKey) {
				d.errorf(f.pos["user_key"], subject, "user_key must be userName, email or externalId, not %q", s.UserKey)
			}
		} else if s.Type == SourceSCIM {
			s.UserKey = UserKeyUserName
		}
		for _, t := range f.tokens("skip_namespaces") {
			if s.Type != SourceKubernetes {
				d.errorf(t.Pos, subject, "skip_namespaces applies to kubernetes sources only")
				break
			}
			s.SkipNamespaces = append(s.SkipNamespaces, t.Text)
		}
		f.done()
		out = append(out, s)
	}
	return out
}
