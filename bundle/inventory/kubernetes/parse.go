package kubernetes

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
)

// MaxFileSize is the largest file read, in bytes. kubectl output for a
// cluster with a hundred thousand ServiceAccounts and bindings is a few
// tens of MiB; a larger file is more likely a mistake than a cluster.
const MaxFileSize = 256 << 20

// KeptLabels are the ServiceAccount labels copied into Attributes (as
// "label:NAME"): the ones that say who owns or manages the account.
// Others are left out, so that snapshots stay small and stable.
var KeptLabels = []string{"owner", "team", "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of"}

// KeptAnnotations are the ServiceAccount annotations copied into
// Attributes (as "annotation:NAME"): those that bind the account to a
// cloud identity, which drift compares with code.
var KeptAnnotations = []string{"eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account", "azure.workload.identity/client-id"}

// ReadFile reads one kubectl JSON file, refusing one over MaxFileSize.
func ReadFile(file string) ([]inventory.Object, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, file)
}

// Parse reads kubectl JSON from r; file names r in errors and Origins.
func Parse(r io.Reader, file string) ([]inventory.Object, error) {
	return parse(r, file, MaxFileSize)
}

// parse is Parse with the size limit as a parameter, so that tests can
// check the limit without reading 256 MiB.
func parse(r io.Reader, file string, limit int64) ([]inventory.Object, error) {
	data, err := inventory.ReadAll(r, limit)
	switch {
	case errors.Is(err, inventory.ErrTooLarge):
		return nil, fmt.Errorf("%s: more than %d bytes, the most read (MaxFileSize); split it per kind or namespace", file, limit)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var doc struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s", file, inventory.JSONError(data, err))
	}
	if !strings.HasSuffix(doc.Kind, "List") {
		// A single object, as kubectl get KIND NAME -o json prints it.
		// (The API itself answers a list with a typed kind such as
		// ServiceAccountList, hence the suffix.)
		o, err := parseItem(data, file, "$", "")
		if err != nil {
			return nil, err
		}
		return []inventory.Object{o}, nil
	}
	// Items of a typed list have no kind of their own; the list's
	// names it.
	itemKind := strings.TrimSuffix(doc.Kind, "List")
	objs := make([]inventory.Object, 0, len(doc.Items))
	for i, raw := range doc.Items {
		o, err := parseItem(raw, file, fmt.Sprintf("items[%d]", i), itemKind)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

type metadata struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	UID               string            `json:"uid"`
	CreationTimestamp string            `json:"creationTimestamp"`
	Labels            map[string]string `json:"labels"`
	Annotations       map[string]string `json:"annotations"`
}

type item struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   metadata `json:"metadata"`
	RoleRef    *struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"roleRef"`
	Subjects []struct {
		Kind      string `json:"kind"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"subjects"`
}

// parseItem maps one object; kind is its kind when the object does not
// say (the items of a typed list).
func parseItem(raw []byte, file, path, kind string) (inventory.Object, error) {
	it := item{Kind: kind}
	origin := file + ": " + path
	if err := json.Unmarshal(raw, &it); err != nil {
		// Offsets inside an item would mislead (they count from the
		// item, not the file); the field path says where.
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return inventory.Object{}, fmt.Errorf("%s.%s: is %s, want %s", origin, typ.Field, typ.Value, typ.Type)
		}
		return inventory.Object{}, fmt.Errorf("%s: %w", origin, err)
	}
	fail := func(format string, a ...any) (inventory.Object, error) {
		return inventory.Object{}, fmt.Errorf("%s: %s", origin, fmt.Sprintf(format, a...))
	}
	m := it.Metadata
	if m.Name == "" {
		return fail("%s has no metadata.name", it.Kind)
	}
	if m.UID == "" {
		return fail("%s %q has no metadata.uid (give the output of kubectl get -o json, not a manifest)", it.Kind, m.Name)
	}
	var created time.Time
	if m.CreationTimestamp != "" {
		t, err := time.Parse(time.RFC3339, m.CreationTimestamp)
		if err != nil {
			return fail("metadata.creationTimestamp %q is not an RFC 3339 time", m.CreationTimestamp)
		}
		created = t
	}
	o := inventory.Object{ID: m.UID, Created: created, Active: true, Origin: origin, Attributes: map[string]string{}}
	switch it.Kind {
	case "ServiceAccount":
		if m.Namespace == "" {
			return fail("ServiceAccount %q has no metadata.namespace", m.Name)
		}
		o.Kind = inventory.ServiceAccount
		o.Key = m.Namespace + "/" + m.Name
		o.Name = m.Namespace + "." + m.Name
		o.Attributes["namespace"] = m.Namespace
		for _, l := range KeptLabels {
			if v, ok := m.Labels[l]; ok {
				o.Attributes["label:"+l] = v
			}
		}
		for _, a := range KeptAnnotations {
			if v, ok := m.Annotations[a]; ok {
				o.Attributes["annotation:"+a] = v
			}
		}
	case "RoleBinding", "ClusterRoleBinding":
		o.Kind = inventory.Binding
		if it.Kind == "RoleBinding" {
			if m.Namespace == "" {
				return fail("RoleBinding %q has no metadata.namespace", m.Name)
			}
			o.Key = m.Namespace + "/" + m.Name
			o.Name = m.Namespace + "." + m.Name
			o.Attributes["namespace"] = m.Namespace
			o.Attributes["scope"] = "namespace"
		} else {
			o.Key = m.Name
			o.Name = inventory.IdentityName(m.Name)
			o.Attributes["scope"] = "cluster"
		}
		if it.RoleRef == nil || it.RoleRef.Name == "" {
			return fail("%s %q has no roleRef.name", it.Kind, o.Key)
		}
		switch it.RoleRef.Kind {
		case "ClusterRole":
			o.Roles = []string{"ClusterRole/" + it.RoleRef.Name}
		case "Role":
			if m.Namespace == "" {
				return fail("roleRef: ClusterRoleBinding %q refers to a Role; only a ClusterRole can be bound cluster-wide", o.Key)
			}
			o.Roles = []string{"Role/" + m.Namespace + "/" + it.RoleRef.Name}
		default:
			return fail("roleRef.kind %q is neither Role nor ClusterRole", it.RoleRef.Kind)
		}
		for j, s := range it.Subjects {
			switch s.Kind {
			case "User", "Group":
				o.Members = append(o.Members, s.Kind+":"+s.Name)
			case "ServiceAccount":
				ns := s.Namespace
				if ns == "" {
					ns = m.Namespace
				}
				if ns == "" {
					return fail("subjects[%d]: ServiceAccount %q has no namespace", j, s.Name)
				}
				o.Members = append(o.Members, "ServiceAccount:"+ns+"/"+s.Name)
			default:
				return fail("subjects[%d].kind %q is not User, Group or ServiceAccount", j, s.Kind)
			}
		}
		slices.Sort(o.Members)
		o.Members = slices.Compact(o.Members)
	case "":
		return fail("no kind; want a List or a ServiceAccount, RoleBinding or ClusterRoleBinding")
	default:
		return fail("kind %s is not read; give kubectl get serviceaccounts,rolebindings,clusterrolebindings -A -o json", it.Kind)
	}
	return o, nil
}
