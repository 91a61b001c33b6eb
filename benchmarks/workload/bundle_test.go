package workload_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/cedargate/cedargate/benchmarks/workload"
	"github.com/cedargate/cedargate/bundle/build"
)

// TestBundleMatchesTheCompiler checks Repo.Bundle against `cedargate
// build --env prod` on the same repository: policies, grants, entities
// and schema must be the same to the byte, and the manifest's counts and
// earliest expiry the same, for the ABAC and the RBAC workload and the
// standard 1k repository. The scale benchmarks serve bundles of a million
// identities that only Repo.Bundle can make.
func TestBundleMatchesTheCompiler(t *testing.T) {
	spec1k, err := workload.Size("1k", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []workload.Spec{small(false), small(true), spec1k} {
		t.Run(s.Name+map[bool]string{true: "-rbac", false: ""}[s.RBAC], func(t *testing.T) {
			r := generate(t, s)
			dir := t.TempDir()
			if err := r.Write(dir); err != nil {
				t.Fatal(err)
			}
			out, err := build.Build(t.Context(), dir, build.Options{Env: workload.Env, Now: s.Now, Revision: "test"})
			if err != nil {
				t.Fatal(err)
			}
			want := out.Bundle
			got, err := r.Bundle("test")
			if err != nil {
				t.Fatal(err)
			}
			j := func(v any) []byte {
				data, _ := json.MarshalIndent(v, "", " ")
				return data
			}
			for _, c := range []struct {
				what      string
				got, want []byte
			}{
				{"schema", got.Schema, want.Schema},
				{"entities", got.Entities, want.Entities},
				{"policies", j(got.Policies), j(want.Policies)},
				{"grants", j(got.Grants), j(want.Grants)},
				{"counts", j(got.Manifest.Counts), j(want.Manifest.Counts)},
				{"earliest expiry", j(got.Manifest.EarliestExpiry), j(want.Manifest.EarliestExpiry)},
			} {
				if !bytes.Equal(c.got, c.want) {
					t.Errorf("%s differ:\n%s", c.what, firstDifference(c.got, c.want))
				}
			}
		})
	}
}

// firstDifference shows where two texts first differ.
func firstDifference(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-200)
	return "Repo.Bundle: ..." + string(got[lo:min(len(got), i+200)]) + "\ncompiler:    ..." + string(want[lo:min(len(want), i+200)])
}
