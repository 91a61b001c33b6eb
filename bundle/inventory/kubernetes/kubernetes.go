// Package kubernetes reads Kubernetes ServiceAccounts, RoleBindings and
// ClusterRoleBindings from the JSON that
//
//	kubectl get serviceaccounts,rolebindings,clusterrolebindings -A -o json
//
// prints: a v1 List whose items are those three kinds. Separate files per
// kind (each a List, a typed list such as ServiceAccountList as the API
// server answers, or a single object) are read the same way, and
// objects from all files go into one snapshot.
//
// Mapping into inventory objects:
//
//   - A ServiceAccount becomes Kind ServiceAccount with ID its
//     metadata.uid, Key "namespace/name", Name "namespace.name" (a valid
//     identity name: Kubernetes namespaces are DNS labels and hold no dot,
//     so the first dot splits it back), Created its
//     metadata.creationTimestamp, and Attributes "namespace" plus the few
//     labels and annotations listed in KeptLabels and KeptAnnotations.
//   - A RoleBinding becomes Kind Binding with Key "namespace/name"; a
//     ClusterRoleBinding becomes Kind Binding with Key "name", no slash, so
//     it can never equal a RoleBinding's key (a namespace may well be named
//     "cluster", so a "cluster/" prefix would not be unique). Attribute
//     "scope" is "namespace" or "cluster". Roles holds the roleRef as
//     "ClusterRole/x" or "Role/namespace/x"; Members holds the subjects as
//     "User:alice", "Group:devs" and "ServiceAccount:namespace/name",
//     sorted.
//
// Limits: each file is read whole, and a file larger than MaxFileSize is
// refused. Errors name the file and the JSON path of the item (or the
// line and column of a syntax error). Only files are read; reading a
// cluster live (client-go and a kubeconfig) is left for later.
package kubernetes

import (
	"context"
	"fmt"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
)

// Source reads ServiceAccounts and bindings from kubectl JSON files.
type Source struct {
	// Name is the source's name in snapshots ("kubernetes" by default).
	Name string
	// Files are the kubectl outputs to read, in any order.
	Files []string
	// Now gives the snapshot's read time; time.Now when nil.
	Now func() time.Time
}

var _ inventory.Source = (*Source)(nil)

// New returns a source named name reading files.
func New(name string, files ...string) *Source {
	return &Source{Name: name, Files: files}
}

// Read reads every file and returns one snapshot of all their objects,
// or the first error and no snapshot.
func (s *Source) Read(ctx context.Context) (*inventory.Snapshot, error) {
	name := s.Name
	if name == "" {
		name = "kubernetes"
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if len(s.Files) == 0 {
		return nil, fmt.Errorf("source %s: no file given (want kubectl get serviceaccounts,rolebindings,clusterrolebindings -A -o json output)", name)
	}
	read := now()
	var objs []inventory.Object
	seen := map[string]string{} // uid -> origin
	for _, f := range s.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		got, err := ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", name, err)
		}
		for _, o := range got {
			if prev, ok := seen[o.ID]; ok {
				return nil, fmt.Errorf("source %s: %s: uid %s is also at %s (give each object once: either the combined List or the files per kind)", name, o.Origin, o.ID, prev)
			}
			seen[o.ID] = o.Origin
		}
		objs = append(objs, got...)
	}
	return inventory.NewSnapshot(name, read, objs), nil
}
