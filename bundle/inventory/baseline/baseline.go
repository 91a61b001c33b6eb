// Package baseline writes identity code for what live directories hold:
// the files of a repository (cedargate.yaml, identity YAML, a schema when
// Kubernetes roles are granted) that cedargate import writes, so that a
// team adopting cedargate starts from its estate as it is.
//
// The repository builds, and cedargate drift against the same sources
// finds it in sync: every live object it imports is written with the field
// the mapping matches it by. What only people know (owners, expiries,
// approvals, reviews) is left out, and the guardrails that ask for it are
// lowered to warnings in the cedargate.yaml it writes, so that lint lists
// the debt from the first day and a team raises them back as it pays it.
//
// The output depends only on the snapshots and the mappings: importing
// the same directories twice gives byte-identical files.
package baseline

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle/guardrail"
	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/atomicfile"
)

// Source is one snapshot to import with the mapping its objects follow.
type Source struct {
	// Snapshot is what the source read.
	Snapshot *inventory.Snapshot
	// Mapping says which type the source is and how its objects match
	// identities; it is written to cedargate.yaml as it is.
	Mapping repo.InventorySource
}

// Options tune the repository written.
type Options struct {
	// Name is the repository's name in cedargate.yaml.
	Name string
}

// Debt lists the guardrails an imported repository fails by construction,
// which its cedargate.yaml lowers to warnings.
var Debt = []string{
	guardrail.NHIOwnerMissing,
	guardrail.NHIExpiryMissing,
	guardrail.ReviewOverdue,
	guardrail.CredentialRotationOverdue,
	guardrail.EntitlementUnapproved,
	guardrail.OrphanObject,
}

// Note is something about a live object the team should know: that the
// import left it out, or wrote it in a way drift will still report.
type Note struct {
	// Source is the source's name.
	Source string
	// Live names the live object (kind and key).
	Live string
	// Why says what happened and why.
	Why string
}

// Result is an imported repository.
type Result struct {
	// Files maps slash-separated paths, relative to the repository root,
	// to their content.
	Files map[string][]byte
	// Notes are about live objects left out or written with a caveat,
	// sorted.
	Notes []Note
	// Counts is how many objects of each kind were written.
	Counts map[repo.Kind]int
}

// roleType and roleAction are the entity type and action a Kubernetes
// role binding becomes: the subject may assume the role.
const (
	roleType   = "KubernetesRole"
	roleAction = "assume"
)

// Import returns the files of a repository holding the objects of srcs.
// Sources are imported by type (scim, then kubernetes, then awsiam), then
// in the order given, so that an IAM role that a Kubernetes
// ServiceAccount assumes (EKS IRSA) joins that account instead of becoming
// another.
func Import(srcs []Source, opts Options) (*Result, error) {
	im := &importer{res: &Result{Files: map[string][]byte{}, Counts: map[repo.Kind]int{}}, names: map[string]bool{}, files: map[string]*file{},
		groups: map[string]*object{}, users: map[string]*object{}, k8s: map[string]*object{}, irsa: map[string]*object{}}
	order := slices.Clone(srcs)
	rank := func(s Source) int { return slices.Index(repo.SourceTypes, s.Mapping.Type) }
	slices.SortStableFunc(order, func(a, b Source) int { return cmp.Compare(rank(a), rank(b)) })
	seen := map[string]bool{}
	for _, s := range order {
		if s.Snapshot == nil || s.Snapshot.Source != s.Mapping.Name {
			return nil, fmt.Errorf("import: source %q: the snapshot is not the mapping's", s.Mapping.Name)
		}
		if seen[s.Mapping.Name] {
			return nil, fmt.Errorf("import: source %q given twice", s.Mapping.Name)
		}
		seen[s.Mapping.Name] = true
		switch s.Mapping.Type {
		case repo.SourceSCIM:
			im.scim(s)
		case repo.SourceKubernetes:
			im.kubernetes(s)
		case repo.SourceAWSIAM:
			im.awsiam(s)
		default:
			return nil, fmt.Errorf("import: source %q has type %q (want scim, kubernetes or awsiam)", s.Mapping.Name, s.Mapping.Type)
		}
	}
	var maps []repo.InventorySource
	for _, s := range srcs {
		maps = append(maps, s.Mapping)
	}
	im.res.Files[repo.ConfigFile] = config(opts.Name, maps)
	if im.roles {
		im.res.Files[repo.SchemaFile] = []byte(schema)
	}
	for path, f := range im.files {
		im.res.Files[path] = f.render()
	}
	slices.SortFunc(im.res.Notes, func(a, b Note) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Live, b.Live), cmp.Compare(a.Why, b.Why))
	})
	return im.res, nil
}

// importer collects the objects of every source.
type importer struct {
	res   *Result
	files map[string]*file
	// names holds "Kind/name" of every object written, so that names
	// stay unique across sources.
	names map[string]bool
	// groups are the imported Groups by name; users the imported Users
	// by name; k8s the imported ServiceAccounts by "namespace/name".
	groups, users, k8s map[string]*object
	// irsa holds the imported ServiceAccounts by the IAM role their
	// Kubernetes ServiceAccount assumes (EKS IRSA), the first for each.
	irsa map[string]*object
	// scimRead is set once a SCIM source is imported.
	scimRead bool
	// roles is set once a Kubernetes role is granted: the schema then
	// declares the role type and action.
	roles bool
}

// file returns the identity file of source name.
func (im *importer) file(source string) *file {
	path := "identities/" + source + ".yaml"
	f := im.files[path]
	if f == nil {
		f = &file{}
		im.files[path] = f
	}
	return f
}

// name returns a unique name of kind k for the live value want: want made
// a valid name, with -2, -3 … appended when another object has it.
func (im *importer) name(k repo.Kind, want string) string {
	base := inventory.IdentityName(want)
	if base == "" {
		base = strings.ToLower(string(k))
	}
	n := base
	for i := 2; im.names[string(k)+"/"+n]; i++ {
		n = fmt.Sprintf("%s-%d", base, i)
	}
	im.names[string(k)+"/"+n] = true
	return n
}

// add writes o to the file of source and counts it.
func (im *importer) add(source string, o *object) {
	im.file(source).objects = append(im.file(source).objects, o)
	im.res.Counts[o.kind]++
}

func (im *importer) note(source string, o *inventory.Object, why string) {
	im.res.Notes = append(im.res.Notes, Note{Source: source, Live: string(o.Kind) + " " + o.Key, Why: why})
}

// date renders t as the day it falls on, in UTC.
func date(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// Write writes the repository into dir (created if missing). It refuses a
// directory that already holds a cedargate.yaml or any file it would
// write, before writing one, so it never overwrites; each file is written
// whole (write, fsync, rename).
func (r *Result) Write(dir string) error {
	paths := slices.Sorted(maps.Keys(r.Files))
	if _, err := os.Stat(filepath.Join(dir, repo.ConfigFile)); err == nil {
		return fmt.Errorf("%s already holds an identity repository (%s); import into a new directory", dir, repo.ConfigFile)
	}
	for _, p := range paths {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
			return fmt.Errorf("%s already holds %s; import writes only into a directory without the files it creates", dir, p)
		}
	}
	for _, p := range paths {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(dst, r.Files[p], 0o644); err != nil {
			return err
		}
	}
	return nil
}
