// Package cedarcorpus reads Cedar's integration-test corpus, the 7,750
// authorization test cases with expected decisions that ship inside the
// cedar-go module (corpus-tests.tar.gz), so that cedargate's compiler,
// engine and wire encoding can each be checked against Cedar itself.
package cedarcorpus

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	"github.com/cedar-policy/cedar-go/x/exp/schema"
	exptypes "github.com/cedar-policy/cedar-go/x/exp/types"
	"github.com/go-json-experiment/json"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/compile"
)

// Case is one corpus test: a schema, policies, entities and requests with
// the decisions Cedar gives them.
type Case struct {
	Name           string
	Schema         []byte
	Policies       []byte
	Entities       []byte
	ShouldValidate bool
	Requests       []Request
}

// Request is a corpus request with its expected answer. Reasons and Errors
// hold policy ids "policy<n>", n being the policy's index in Policies.
type Request struct {
	Description string
	Principal   types.EntityUID
	Action      types.EntityUID
	Resource    types.EntityUID
	Context     types.Record
	Decision    cedar.Decision
	Reasons     []string
	Errors      []string
}

type rawCase struct {
	Schema         string `json:"schema"`
	Policies       string `json:"policies"`
	Entities       string `json:"entities"`
	ShouldValidate bool   `json:"shouldValidate"`
	Requests       []struct {
		Desc      string           `json:"description"`
		Principal types.EntityUID  `json:"principal"`
		Action    types.EntityUID  `json:"action"`
		Resource  types.EntityUID  `json:"resource"`
		Context   types.Record     `json:"context"`
		Decision  cedar.Decision   `json:"decision"`
		Reasons   []cedar.PolicyID `json:"reason"`
		Errors    []cedar.PolicyID `json:"errors"`
	} `json:"requests"`
}

// Archive returns the path of corpus-tests.tar.gz in the module cache,
// asking the go command where the cedar-go module this build uses lives.
func Archive() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cedar-policy/cedar-go").Output()
	if err != nil {
		return "", fmt.Errorf("locating cedar-go: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "corpus-tests.tar.gz"), nil
}

// Load reads every case of the corpus archive, sorted by name.
func Load(path string) ([]Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files[hdr.Name] = b
	}
	var cases []Case
	for name, content := range files {
		if !strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".entities.json") {
			continue
		}
		var rc rawCase
		if err := json.Unmarshal(content, &rc); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		c := Case{Name: strings.TrimSuffix(filepath.Base(name), ".json"), Schema: files[rc.Schema], Policies: files[rc.Policies],
			Entities: files[rc.Entities], ShouldValidate: rc.ShouldValidate}
		for _, r := range rc.Requests {
			req := Request{Description: r.Desc, Principal: r.Principal, Action: r.Action, Resource: r.Resource,
				Context: r.Context, Decision: r.Decision}
			for _, id := range r.Reasons {
				req.Reasons = append(req.Reasons, string(id))
			}
			for _, id := range r.Errors {
				req.Errors = append(req.Errors, string(id))
			}
			slices.Sort(req.Reasons)
			slices.Sort(req.Errors)
			c.Requests = append(c.Requests, req)
		}
		cases = append(cases, c)
	}
	slices.SortFunc(cases, func(a, b Case) int { return strings.Compare(a.Name, b.Name) })
	return cases, nil
}

// Bundle turns a case into a bundle the way a plain Cedar repository
// would be, with policy ids "policy<n>" as the corpus expects, and returns
// the entities too (parsed against the schema, as Cedar does).
func (c Case) Bundle() (*bundle.Bundle, types.EntityMap, error) {
	var s schema.Schema
	if err := s.UnmarshalCedar(c.Schema); err != nil {
		return nil, nil, fmt.Errorf("%s: schema: %w", c.Name, err)
	}
	rs, err := s.Resolve()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: schema: %w", c.Name, err)
	}
	var ents exptypes.EntityMap
	if err := ents.UnmarshalJSONWithSchema(c.Entities, rs); err != nil {
		return nil, nil, fmt.Errorf("%s: entities: %w", c.Name, err)
	}
	list, err := cedar.NewPolicyListFromBytes("policy.cedar", c.Policies)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: policies: %w", c.Name, err)
	}
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion, Revision: c.Name, Environment: "corpus"},
		Entities: compile.EntitiesJSON(types.EntityMap(ents))}
	for i, p := range list {
		b.Policies = append(b.Policies, bundle.Policy{ID: fmt.Sprintf("policy%d", i), Source: "policy.cedar", Cedar: string(p.MarshalCedar())})
	}
	slices.SortFunc(b.Policies, func(x, y bundle.Policy) int { return strings.Compare(x.ID, y.ID) })
	return b, types.EntityMap(ents), nil
}

// Size is the number of cases in the corpus of the cedar-go version this
// module uses; LoadAll fails when it holds another number, so that a
// corpus that stopped loading cannot pass unnoticed.
const Size = 7750

// LoadAll loads every case of the corpus that ships with cedar-go.
func LoadAll() ([]Case, error) {
	path, err := Archive()
	if err != nil {
		return nil, err
	}
	cases, err := Load(path)
	if err != nil {
		return nil, err
	}
	if len(cases) != Size {
		return nil, fmt.Errorf("corpus %s holds %d cases, want %d", path, len(cases), Size)
	}
	return cases, nil
}
