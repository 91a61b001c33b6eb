package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/internal/version"
)

// Limits on what is read from a registry, so that a hostile or broken
// registry costs at most these: a manifest (ours are under 2 KiB), a
// channel document (its history is bounded, MaxHistory moves of about
// 500 bytes) and a page of tags.
const (
	maxManifestBytes = 64 << 10
	maxChannelBytes  = 1 << 20
)

// ErrRefused is wrapped by the errors of content the registry served that
// does not verify: a digest that does not match, a bundle or channel that
// is damaged, unsigned or signed by an untrusted key, that names another
// revision or environment, or that moves a channel backwards. Such content
// is refused for good; any other error (the registry cannot be reached,
// answers 5xx, has no such tag) may pass, and is retried.
var ErrRefused = errors.New("refused")

// refused wraps err as a refusal of content.
func refused(err error) error { return fmt.Errorf("%w: %w", ErrRefused, err) }

// ErrNotFound is wrapped when the registry has no such tag or artifact.
var ErrNotFound = errdef.ErrNotFound

// Options configure access to a registry.
type Options struct {
	// PlainHTTP talks HTTP instead of HTTPS: for a registry on loopback or
	// in a test, never across a network.
	PlainHTTP bool
	// CredentialsFile is a Docker configuration file whose "auths" and
	// credential helpers ("credsStore", "credHelpers") give the
	// credentials; empty means Docker's own ($DOCKER_CONFIG/config.json,
	// else ~/.docker/config.json). No file means anonymous access.
	CredentialsFile string
	// HTTPClient makes the requests; nil means oras-go's client, which
	// retries 5xx and 429 answers and network errors with a backoff. The
	// PDP's source passes one that does not retry: its poll has a backoff
	// of its own.
	HTTPClient *http.Client
	// MaxBundleBytes bounds a bundle, compressed as it travels and
	// uncompressed as it is decoded; zero means bundle.DefaultMaxSize.
	MaxBundleBytes int64
}

// Repository is one repository of a registry, holding the artifacts of
// one identity repository's bundles and its channels.
type Repository struct {
	ref       Reference
	repo      *remote.Repository
	maxBundle int64
}

// Open prepares access to the repository ref names (its tag is ignored).
// Credentials are read now, not at each request.
func Open(ref Reference, opts Options) (*Repository, error) {
	repo, err := remote.NewRepository(ref.WithTag("").oras())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	repo.PlainHTTP = opts.PlainHTTP
	repo.MaxMetadataBytes = maxManifestBytes
	// Push never sets a subject, so the referrers API is never needed;
	// saying so keeps oras-go from probing for it.
	_ = repo.SetReferrersCapability(false)
	store, err := credentialStore(opts.CredentialsFile)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = retry.DefaultClient
	}
	client := &auth.Client{
		Client:     hc,
		Cache:      auth.NewCache(),
		Credential: credentials.Credential(store),
		Header:     http.Header{"User-Agent": {"cedargate/" + version.Version}},
	}
	repo.Client = client
	maxBundle := opts.MaxBundleBytes
	if maxBundle <= 0 {
		maxBundle = bundle.DefaultMaxSize
	}
	return &Repository{ref: ref.WithTag(""), repo: repo, maxBundle: maxBundle}, nil
}

// credentialStore reads the Docker configuration file that holds the
// registry credentials. A missing file is no credentials, not an error.
func credentialStore(file string) (credentials.Store, error) {
	var store credentials.Store
	var err error
	if file == "" {
		store, err = credentials.NewStoreFromDocker(credentials.StoreOptions{})
	} else {
		store, err = credentials.NewStore(file, credentials.StoreOptions{})
	}
	if err != nil {
		where := file
		if where == "" {
			where = "the Docker configuration file"
		}
		return nil, fmt.Errorf("reading registry credentials from %s: %w", where, err)
	}
	return store, nil
}

// String names the repository: oci://HOST/REPOSITORY.
func (r *Repository) String() string { return r.ref.String() }

// Reference is the repository's reference, without a tag.
func (r *Repository) Reference() Reference { return r.ref }

// fetch reads the content desc names, at most limit bytes, and checks it
// against desc's size and digest: what the registry sent is what was
// asked for, or the error wraps ErrRefused.
func (r *Repository) fetch(ctx context.Context, desc ocispec.Descriptor, limit int64, what string) ([]byte, error) {
	if desc.Size < 0 || desc.Size > limit {
		return nil, refused(fmt.Errorf("%s %s is %d bytes, more than the %d allowed", what, desc.Digest, desc.Size, limit))
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, refused(fmt.Errorf("%s: %w", what, err))
	}
	rc, err := r.repo.Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s %s from %s: %w", what, desc.Digest, r.ref, r.explain(err))
	}
	defer rc.Close()
	data, err := content.ReadAll(rc, desc)
	if err != nil {
		if errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) {
			return nil, refused(fmt.Errorf("%s from %s: %w: the content does not match its digest %s (tampered or damaged in the registry)", what, r.ref, bundle.ErrDigestMismatch, desc.Digest))
		}
		return nil, fmt.Errorf("reading %s %s from %s: %w", what, desc.Digest, r.ref, err)
	}
	return data, nil
}

// resolve finds the manifest a tag names (a HEAD request).
func (r *Repository) resolve(ctx context.Context, tag string) (ocispec.Descriptor, error) {
	desc, err := r.repo.Resolve(ctx, tag)
	if err != nil {
		return desc, fmt.Errorf("resolving %s: %w", r.ref.WithTag(tag), r.explain(err))
	}
	return desc, nil
}

// fetchManifest reads and decodes the image manifest desc names, checking
// that it is an artifact of artifactType.
func (r *Repository) fetchManifest(ctx context.Context, desc ocispec.Descriptor, artifactType, what string) (*ocispec.Manifest, error) {
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return nil, refused(fmt.Errorf("%s %s is a %q, not an OCI image manifest", what, desc.Digest, desc.MediaType))
	}
	data, err := r.fetch(ctx, desc, maxManifestBytes, what)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, refused(fmt.Errorf("%s %s: %w", what, desc.Digest, err))
	}
	if m.ArtifactType != artifactType {
		return nil, refused(fmt.Errorf("%s %s has artifact type %q, not %q", what, desc.Digest, m.ArtifactType, artifactType))
	}
	return &m, nil
}

// pushBlob uploads data unless the registry has it already.
func (r *Repository) pushBlob(ctx context.Context, desc ocispec.Descriptor, data []byte) error {
	ok, err := r.repo.Blobs().Exists(ctx, desc)
	if err == nil && ok {
		return nil
	}
	if err := r.repo.Blobs().Push(ctx, desc, bytes.NewReader(data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("uploading %s to %s: %w", desc.Digest, r.ref, r.explain(err))
	}
	return nil
}

// pushEmptyConfig uploads the empty JSON object every artifact manifest
// names as its configuration.
func (r *Repository) pushEmptyConfig(ctx context.Context) error {
	return r.pushBlob(ctx, ocispec.DescriptorEmptyJSON, ocispec.DescriptorEmptyJSON.Data)
}

// pushManifest uploads a manifest under tag in one PUT.
func (r *Repository) pushManifest(ctx context.Context, data []byte, tag string) (ocispec.Descriptor, error) {
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, data)
	if err := r.repo.PushReference(ctx, desc, bytes.NewReader(data), tag); err != nil {
		return desc, fmt.Errorf("writing %s: %w", r.ref.WithTag(tag), r.explain(err))
	}
	return desc, nil
}

// explain adds what to do to an error that says the registry wants
// credentials the command does not have, or refuses the ones it has.
func (r *Repository) explain(err error) error {
	var resp *errcode.ErrorResponse
	if errors.Is(err, auth.ErrBasicCredentialNotFound) ||
		(errors.As(err, &resp) && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden)) {
		return fmt.Errorf("%w (the registry wants credentials: `docker login %s`, or a credential helper, puts them in the Docker configuration file)", err, r.ref.Registry)
	}
	return err
}
