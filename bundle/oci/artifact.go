package oci

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
)

// The media types of a bundle's artifact. docs/oci.md documents them.
const (
	// ArtifactTypeBundle is the artifactType of a bundle's manifest.
	ArtifactTypeBundle = "application/vnd.cedargate.bundle.v1"
	// MediaTypeBundle is the bundle archive's layer: the .tar.gz a store
	// holds, byte for byte, signature.json included.
	MediaTypeBundle = "application/vnd.cedargate.bundle.v1.tar+gzip"
)

// Annotations of a bundle's manifest. They say what the artifact holds
// without downloading it; a replica trusts none of them: it checks the
// bundle's own manifest and signature.
const (
	AnnotationRevision    = "io.cedargate.bundle.revision"
	AnnotationEnvironment = "io.cedargate.bundle.environment"
	AnnotationDigest      = "io.cedargate.bundle.digest"
	AnnotationKeyID       = "io.cedargate.bundle.key-id"
)

// Target names one bundle in a registry: what a channel points at.
type Target struct {
	// Revision is the bundle's revision.
	Revision string `json:"revision"`
	// Digest is the bundle's own digest ("sha256:…" of its SHA256SUMS), the
	// one its signature is over.
	Digest string `json:"digest"`
	// Manifest is the OCI manifest of the bundle's artifact, by digest:
	// what a replica fetches.
	Manifest ocispec.Descriptor `json:"manifest"`
}

// Pointer is the target as a store names a bundle.
func (t Target) Pointer() store.Pointer { return store.Pointer{Revision: t.Revision, Digest: t.Digest} }

// Artifact is a bundle's artifact in a repository.
type Artifact struct {
	Target
	// Environment is the bundle's environment.
	Environment string
	// Tag is the revision tag it was found or pushed under.
	Tag string
}

// Push uploads an encoded bundle (a store's .tar.gz) as an artifact tagged
// by its revision (RevisionTag): the archive's layer, an empty
// configuration, then the manifest. A revision's artifact never changes:
// pushing the same bundle again changes nothing and reports existed; a
// different bundle under a revision already pushed is refused.
//
// Between the check and the push another writer may push the same
// revision; registries that can make tags immutable (Harbor, ECR, ACR)
// close that gap for the "rev-*" tags.
func (r *Repository) Push(ctx context.Context, archive []byte) (a Artifact, existed bool, err error) {
	b, err := bundle.Decode(bytes.NewReader(archive), bundle.DecodeOptions{MaxSize: r.maxBundle})
	if err != nil {
		return a, false, err
	}
	if !store.ValidRevision(b.Manifest.Revision) {
		return a, false, fmt.Errorf("revision %q cannot name a bundle: use letters, digits and . _ + -", b.Manifest.Revision)
	}
	tag := RevisionTag(b.Manifest.Revision)
	existing, err := r.artifactAt(ctx, tag)
	switch {
	case err == nil && existing.Digest == b.Digest:
		return existing, true, nil
	case err == nil:
		return existing, false, fmt.Errorf("%s already holds revision %s with bundle digest %s (this bundle: %s); pushed bundles never change, so build a new revision",
			r.ref.WithTag(tag), b.Manifest.Revision, existing.Digest, b.Digest)
	case !errors.Is(err, ErrNotFound):
		return a, false, err
	}
	layer := content.NewDescriptorFromBytes(MediaTypeBundle, archive)
	ann := map[string]string{
		AnnotationRevision:    b.Manifest.Revision,
		AnnotationEnvironment: b.Manifest.Environment,
		AnnotationDigest:      b.Digest,
	}
	if b.Signature != nil {
		ann[AnnotationKeyID] = b.Signature.KeyID
	}
	manifest, err := artifactManifest(ArtifactTypeBundle, layer, ann)
	if err != nil {
		return a, false, err
	}
	if err := r.pushBlob(ctx, layer, archive); err != nil {
		return a, false, err
	}
	if err := r.pushEmptyConfig(ctx); err != nil {
		return a, false, err
	}
	desc, err := r.pushManifest(ctx, manifest, tag)
	if err != nil {
		return a, false, err
	}
	a = Artifact{Target: Target{Revision: b.Manifest.Revision, Digest: b.Digest, Manifest: desc}, Environment: b.Manifest.Environment, Tag: tag}
	return a, false, nil
}

// artifactManifest encodes an OCI 1.1 artifact manifest with one layer.
// It carries no creation time, so that the same content gives the same
// manifest, and so the same digest, whoever pushes it and when.
func artifactManifest(artifactType string, layer ocispec.Descriptor, ann map[string]string) ([]byte, error) {
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       []ocispec.Descriptor{layer},
		Annotations:  ann,
	}
	return json.Marshal(m)
}

// Artifact finds the artifact of a revision: rev exactly, or the one
// revision tagged in the repository that starts with rev (listing the
// repository's tags).
func (r *Repository) Artifact(ctx context.Context, rev string) (Artifact, error) {
	if rev == "" {
		return Artifact{}, fmt.Errorf("%w: an empty revision names nothing", store.ErrNotFound)
	}
	a, err := r.artifactAt(ctx, RevisionTag(rev))
	if !errors.Is(err, ErrNotFound) {
		return a, err
	}
	var matches []string
	err = r.repo.Tags(ctx, "", func(tags []string) error {
		for _, t := range tags {
			if full, ok := strings.CutPrefix(t, revisionTagPrefix); ok && strings.HasPrefix(full, rev) {
				matches = append(matches, full)
			}
		}
		if len(matches) > 100 {
			return errStopListing
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopListing) {
		return Artifact{}, fmt.Errorf("listing the tags of %s: %w", r.ref, r.explain(err))
	}
	slices.Sort(matches)
	switch len(matches) {
	case 0:
		return Artifact{}, fmt.Errorf("%w: %q is not a revision pushed to %s (`cedargate push` uploads one)", store.ErrNotFound, rev, r.ref)
	case 1:
		return r.artifactAt(ctx, RevisionTag(matches[0]))
	}
	return Artifact{}, fmt.Errorf("revision prefix %q is ambiguous in %s: %s", rev, r.ref, strings.Join(matches, ", "))
}

// errStopListing ends a listing of tags that already found too many.
var errStopListing = errors.New("stop listing")

// artifactAt reads the artifact a revision tag names, from its manifest's
// annotations.
func (r *Repository) artifactAt(ctx context.Context, tag string) (Artifact, error) {
	desc, err := r.resolve(ctx, tag)
	if err != nil {
		return Artifact{}, err
	}
	m, err := r.fetchManifest(ctx, desc, ArtifactTypeBundle, "the manifest of "+r.ref.WithTag(tag).String())
	if err != nil {
		return Artifact{}, err
	}
	rev, digest, env := m.Annotations[AnnotationRevision], m.Annotations[AnnotationDigest], m.Annotations[AnnotationEnvironment]
	if !store.ValidRevision(rev) || RevisionTag(rev) != tag || digest == "" || env == "" {
		return Artifact{}, refused(fmt.Errorf("%s is not a bundle pushed by cedargate: its annotations name revision %q, digest %q, environment %q",
			r.ref.WithTag(tag), rev, digest, env))
	}
	return Artifact{Target: Target{Revision: rev, Digest: digest, Manifest: desc}, Environment: env, Tag: tag}, nil
}

// Fetch downloads the bundle t names and verifies it, in this order: the
// OCI digests (of the manifest t names and of its layer), the bundle's own
// digest (it must be t's) and, when keys are given, its signature by one
// of them, and last that the bundle says it is t's revision of
// environment env. It returns the bundle and its archive, as a store
// keeps it. A bundle that fails a check is refused (ErrRefused).
func (r *Repository) Fetch(ctx context.Context, t Target, env string, keys []ed25519.PublicKey) (*bundle.Bundle, []byte, error) {
	m, err := r.fetchManifest(ctx, t.Manifest, ArtifactTypeBundle, "the manifest of revision "+t.Revision)
	if err != nil {
		return nil, nil, err
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeBundle {
		return nil, nil, refused(fmt.Errorf("the artifact of revision %s (%s) does not hold one %s layer", t.Revision, t.Manifest.Digest, MediaTypeBundle))
	}
	// The archive is compressed: it cannot be much larger than the
	// uncompressed limit that decoding enforces again.
	archive, err := r.fetch(ctx, m.Layers[0], r.maxBundle+64<<10, "the bundle of revision "+t.Revision)
	if err != nil {
		return nil, nil, err
	}
	b, err := bundle.Decode(bytes.NewReader(archive), bundle.DecodeOptions{Digest: t.Digest, VerifyKeys: keys, MaxSize: r.maxBundle})
	if err != nil {
		return nil, nil, refused(fmt.Errorf("the bundle of revision %s: %w", t.Revision, err))
	}
	if b.Manifest.Revision != t.Revision || b.Manifest.Environment != env {
		return nil, nil, refused(fmt.Errorf("the bundle named as revision %s of environment %q says it is revision %q of environment %q",
			t.Revision, env, b.Manifest.Revision, b.Manifest.Environment))
	}
	return b, archive, nil
}
