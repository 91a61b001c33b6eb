package oci_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/oci"
	"github.com/cedargate/cedargate/internal/ocitest"
)

// t0 is the instant tests record moves at.
var t0 = time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)

// newKey returns a fresh ed25519 key.
func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func pub(k ed25519.PrivateKey) []ed25519.PublicKey {
	return []ed25519.PublicKey{k.Public().(ed25519.PublicKey)}
}

// archive encodes a small bundle of revision rev for env, signed with key
// when it is set; policy tells revisions apart.
func archive(t testing.TB, rev, env string, key ed25519.PrivateKey) []byte {
	t.Helper()
	b := &bundle.Bundle{
		Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion, Revision: rev, Environment: env,
			SourceDigest: "sha256:" + rev, CompilerVersion: "test"},
		Policies: []bundle.Policy{{ID: "p-" + rev, Source: "policies/p.cedar:1:1", Origin: "policy",
			Cedar: `permit (principal, action, resource) when { context has ` + "r" + ` };`}},
	}
	if key != nil {
		if err := bundle.Sign(b, key); err != nil {
			t.Fatal(err)
		}
	}
	data, err := bundle.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// openRepo starts a registry and opens repository acme/policy on it.
func openRepo(t testing.TB, opts ocitest.Options) (*ocitest.Registry, *oci.Repository) {
	t.Helper()
	reg := ocitest.Start(t, opts)
	return reg, open(t, reg, "acme/policy", oci.Options{PlainHTTP: true})
}

func open(t testing.TB, reg *ocitest.Registry, repo string, opts oci.Options) *oci.Repository {
	t.Helper()
	ref, err := oci.ParseRepository("oci://" + reg.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r, err := oci.Open(ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// push pushes archives, failing the test on an error.
func push(t testing.TB, r *oci.Repository, archives ...[]byte) []oci.Artifact {
	t.Helper()
	var out []oci.Artifact
	for _, a := range archives {
		got, _, err := r.Push(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got)
	}
	return out
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
