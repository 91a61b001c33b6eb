package oci_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/oci"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/internal/ocitest"
)

// TestPushTagsByRevisionAndFetchVerifies pushes a signed bundle and reads
// it back by revision, exactly and by prefix: the artifact has cedargate's
// media types and annotations, pushing it again changes nothing, and a
// different bundle under the same revision is refused.
func TestPushTagsByRevisionAndFetchVerifies(t *testing.T) {
	key := newKey(t)
	_, repo := openRepo(t, ocitest.Options{})
	ctx := t.Context()
	arc := archive(t, "e5816115", "prod", key)
	a, existed, err := repo.Push(ctx, arc)
	if err != nil || existed {
		t.Fatalf("Push = %+v, %v, %v", a, existed, err)
	}
	if a.Tag != "rev-e5816115" || a.Revision != "e5816115" || a.Environment != "prod" || a.Manifest.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("pushed artifact: %+v", a)
	}
	again, existed, err := repo.Push(ctx, arc)
	if err != nil || !existed || again.Manifest.Digest != a.Manifest.Digest {
		t.Fatalf("pushing the same bundle again = %+v, %v, %v", again, existed, err)
	}
	other := archive(t, "e5816115", "staging", key)
	if _, _, err := repo.Push(ctx, other); err == nil || !strings.Contains(err.Error(), "pushed bundles never change") {
		t.Fatalf("pushing another bundle under the same revision: %v", err)
	}

	got, err := repo.Artifact(ctx, "e58")
	if err != nil || got.Manifest.Digest != a.Manifest.Digest || got.Digest != a.Digest || got.Environment != "prod" {
		t.Fatalf("Artifact by prefix = %+v, %v; want %+v", got, err, a)
	}
	b, data, err := repo.Fetch(ctx, a.Target, "prod", pub(key))
	if err != nil {
		t.Fatal(err)
	}
	if b.Manifest.Revision != "e5816115" || string(data) != string(arc) {
		t.Fatalf("fetched revision %q, %d bytes (pushed %d)", b.Manifest.Revision, len(data), len(arc))
	}
	if _, err := repo.Artifact(ctx, "zz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Artifact of a revision never pushed: %v", err)
	}
}

// TestRevisionThatIsNotATag pushes a revision with "+", which no tag may
// hold: it is tagged by its hash and found by its name.
func TestRevisionThatIsNotATag(t *testing.T) {
	_, repo := openRepo(t, ocitest.Options{})
	a := push(t, repo, archive(t, "1.2.3+build.7", "prod", nil))[0]
	if !strings.HasPrefix(a.Tag, "revh-") {
		t.Fatalf("tag %q", a.Tag)
	}
	got, err := repo.Artifact(t.Context(), "1.2.3+build.7")
	if err != nil || got.Revision != "1.2.3+build.7" {
		t.Fatalf("Artifact = %+v, %v", got, err)
	}
}

func TestPrefixAmbiguous(t *testing.T) {
	_, repo := openRepo(t, ocitest.Options{})
	push(t, repo, archive(t, "abc1", "prod", nil), archive(t, "abc2", "prod", nil))
	if _, err := repo.Artifact(t.Context(), "abc"); err == nil || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), "abc1, abc2") {
		t.Fatalf("an ambiguous prefix: %v", err)
	}
}

// TestFetchRefuses checks each verification of Fetch against content the
// registry really serves: a layer whose stored bytes were changed (the OCI
// digest), an unsigned bundle and one signed by another key (the
// signature), a target naming another bundle digest (the bundle's own
// digest) and a bundle of another environment.
func TestFetchRefuses(t *testing.T) {
	key, other := newKey(t), newKey(t)
	reg, repo := openRepo(t, ocitest.Options{})
	ctx := t.Context()
	arts := push(t, repo,
		archive(t, "signed", "prod", key), archive(t, "unsigned", "prod", nil),
		archive(t, "foreign", "prod", other), archive(t, "tampered", "prod", key))
	signed, unsigned, foreign, tampered := arts[0], arts[1], arts[2], arts[3]

	tamper(t, reg, tampered)
	wrongDigest := signed.Target
	wrongDigest.Digest = unsigned.Digest

	for _, tc := range []struct {
		name   string
		target oci.Target
		env    string
		want   error
		msg    string
	}{
		{"tampered layer", tampered.Target, "prod", bundle.ErrDigestMismatch, "does not match its digest"},
		{"unsigned", unsigned.Target, "prod", bundle.ErrSignature, "the bundle is not signed"},
		{"another key", foreign.Target, "prod", bundle.ErrSignature, "does not verify with key"},
		{"another bundle digest", wrongDigest, "prod", bundle.ErrDigestMismatch, ""},
		{"another environment", signed.Target, "staging", oci.ErrRefused, `of environment "staging" says it is revision "signed" of environment "prod"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := repo.Fetch(ctx, tc.target, tc.env, pub(key))
			if !errors.Is(err, oci.ErrRefused) || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Fetch = %v; want a refusal wrapping %v with %q", err, tc.want, tc.msg)
			}
		})
	}
	if _, _, err := repo.Fetch(ctx, signed.Target, "prod", pub(key)); err != nil {
		t.Fatalf("the sound bundle: %v", err)
	}
}

// tamper flips a byte of the bundle layer of a in the registry's storage,
// as a compromised registry or a failing disk would.
func tamper(t *testing.T, reg *ocitest.Registry, a oci.Artifact) {
	t.Helper()
	m := manifestOf(t, reg, a.Manifest.Digest.String())
	layer := reg.BlobPath(m.Layers[0].Digest.String())
	data, err := os.ReadFile(layer)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(layer, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// manifestOf reads a manifest as the registry stores it.
func manifestOf(t *testing.T, reg *ocitest.Registry, digest string) ocispec.Manifest {
	t.Helper()
	data, err := os.ReadFile(reg.BlobPath(digest))
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := jsonUnmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCredentialsFromDockerConfig runs a registry that requires a
// password: without credentials a push is refused, with the password in a
// Docker configuration file's "auths" it succeeds.
func TestCredentialsFromDockerConfig(t *testing.T) {
	reg := ocitest.Start(t, ocitest.Options{User: "ci", Password: "s3cret"})
	arc := archive(t, "r1", "prod", nil)
	anon := open(t, reg, "acme/policy", oci.Options{PlainHTTP: true, CredentialsFile: filepath.Join(t.TempDir(), "none.json")})
	if _, _, err := anon.Push(t.Context(), arc); err == nil || !strings.Contains(err.Error(), "docker login "+reg.Host) {
		t.Fatalf("anonymous push to a registry that wants a password: %v", err)
	}
	cfg := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("ci:s3cret"))
	if err := os.WriteFile(cfg, []byte(`{"auths": {"`+reg.Host+`": {"auth": "`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := open(t, reg, "acme/policy", oci.Options{PlainHTTP: true, CredentialsFile: cfg})
	if _, _, err := repo.Push(t.Context(), arc); err != nil {
		t.Fatalf("push with credentials: %v", err)
	}
}
