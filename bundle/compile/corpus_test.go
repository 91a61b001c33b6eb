package compile_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cedar-policy/cedar-go"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/bundle/repo"
	"github.com/cedargate/cedargate/internal/cedarcorpus"
	"github.com/cedargate/cedargate/pdp/engine"
)

// TestCorpus compiles every case of Cedar's integration-test corpus as a
// plain Cedar repository (schema.cedarschema, policies/, entities/) with
// cedargate's compiler, encodes and decodes the bundle, and decides the
// case's requests with the engine: decisions, determining policies and
// erroring policies must be Cedar's. Cases Cedar's validator accepts must
// also pass cedargate's strict validation; the others are compiled with
// validation off, as a plain project that opts out would be.
func TestCorpus(t *testing.T) {
	cases, err := cedarcorpus.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	// Cases are independent: spread them over the CPUs, as subtests that
	// can also be rerun alone with -run TestCorpus/<name>.
	var strictOK atomic.Int64
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			compileAndDecide(t, root, c, &strictOK)
		})
	}
	t.Cleanup(func() { t.Logf("%d cases compiled, %d of them under strict validation", len(cases), strictOK.Load()) })
}

func compileAndDecide(t *testing.T, root string, c cedarcorpus.Case, strictOK *atomic.Int64) {
	dir := filepath.Join(root, c.Name)
	files := map[string][]byte{
		repo.SchemaFile:          c.Schema,
		"policies/policy.cedar":  c.Policies,
		"entities/entities.json": c.Entities,
	}
	if !c.ShouldValidate {
		files[repo.ConfigFile] = []byte("validation: off\n")
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := repo.Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	res, diags := compile.Compile(r, "")
	if diags.Errors() > 0 {
		t.Fatalf("shouldValidate=%v: compile failed:\n%s", c.ShouldValidate, diags)
	}
	if c.ShouldValidate {
		strictOK.Add(1)
	}
	archive, err := bundle.Encode(res.Bundle(bundle.Manifest{Revision: "corpus"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Decode(strings.NewReader(string(archive)), bundle.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := engine.New(b)
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	for _, q := range c.Requests {
		d := snap.Decide(&engine.Request{Principal: q.Principal, Action: q.Action, Resource: q.Resource, Context: q.Context})
		// The compiler names unannotated policies policies/policy.cedar#n,
		// the corpus policy<n>.
		var reasons, errs []string
		for _, x := range d.Reasons {
			reasons = append(reasons, corpusID(x.ID))
		}
		for _, x := range d.Errors {
			errs = append(errs, corpusID(x.PolicyID))
		}
		slices.Sort(reasons)
		slices.Sort(errs)
		if d.Allow != (q.Decision == cedar.Allow) || !slices.Equal(reasons, q.Reasons) || !slices.Equal(errs, q.Errors) {
			t.Errorf("%s: got allow=%v reasons=%v errors=%v, want %v %v %v", q.Description, d.Allow, reasons, errs, q.Decision, q.Reasons, q.Errors)
		}
	}
}

func corpusID(id string) string {
	if n, ok := strings.CutPrefix(id, "policies/policy.cedar#"); ok {
		return "policy" + n
	}
	return id
}
