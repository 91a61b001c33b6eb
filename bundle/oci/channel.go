package oci

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
)

// The media types of a channel's artifact. docs/oci.md documents them.
const (
	// ArtifactTypeChannel is the artifactType of a channel's manifest.
	ArtifactTypeChannel = "application/vnd.cedargate.channel.v1"
	// MediaTypeChannel is the channel document's layer (JSON, Channel).
	MediaTypeChannel = "application/vnd.cedargate.channel.v1+json"
)

// Annotations of a channel's manifest. AnnotationChannelSignature is the
// ed25519 signature over the channel document's digest (a
// bundle.Signature in JSON); the others repeat the document for people
// reading the registry, and are not trusted.
const (
	AnnotationChannelSignature = "io.cedargate.channel.signature"
	AnnotationChannelSequence  = "io.cedargate.channel.sequence"
	AnnotationChannelRevision  = "io.cedargate.channel.revision"
)

// channelFormat is the version of the channel document's layout; a
// reader refuses a newer one rather than misread it.
const channelFormat = 1

// MaxHistory is how many moves a channel keeps: rollback needs the last
// two, people read more.
const MaxHistory = 50

// Kinds of move recorded in a channel's history.
const (
	ActionRollout  = store.ActionRollout
	ActionRollback = store.ActionRollback
)

// Channel is the document a channel tag names: the bundle it serves and
// how it got there. It is signed, and every change writes a new one with
// the next sequence number, so that a replica can refuse an older
// document replayed to the tag.
type Channel struct {
	Format int `json:"format"`
	// Name is the channel's tag. It is signed with the rest, so that a
	// document cannot be copied from one channel's tag to another's.
	Name string `json:"channel"`
	// Environment is the environment of every bundle the channel names.
	Environment string `json:"environment"`
	// Sequence counts the channel's moves: 1 for the first, one more for
	// each.
	Sequence uint64 `json:"sequence"`
	// Active is the bundle the channel serves.
	Active Target `json:"active"`
	// History is the last moves (at most MaxHistory), oldest first; the
	// last one made Active active.
	History []Move `json:"history"`
}

// Move is one change of a channel.
type Move struct {
	// Sequence is the channel's sequence number after the move.
	Sequence uint64 `json:"sequence"`
	// Action is rollout or rollback.
	Action string `json:"action"`
	Target
	// Previous is what the channel served before; nil for its first move.
	Previous *Target `json:"previous,omitempty"`
	// Time is when the move was written, by the writer's clock.
	Time time.Time `json:"time"`
	// User is who made it (see store.CurrentUser).
	User string `json:"user"`
}

// ReadChannel is a channel as read from the registry: its document and
// the manifest that holds it.
type ReadChannel struct {
	Channel
	// Manifest is the channel's manifest as the tag names it.
	Manifest ocispec.Descriptor
	// KeyID names the key that signed it.
	KeyID string
	// Verified says whether the signature was checked: false only when
	// read with no keys.
	Verified bool
}

// ReadChannel reads the channel name and, when keys are given, checks that
// one of them signed it. A channel that is not well formed, names another
// channel or does not verify is refused (ErrRefused); a tag that does not
// exist wraps ErrNotFound.
func (r *Repository) ReadChannel(ctx context.Context, name string, keys []ed25519.PublicKey) (*ReadChannel, error) {
	desc, err := r.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	return r.readChannelAt(ctx, name, desc, keys)
}

// readChannelAt reads the channel whose manifest is desc (as the tag name
// resolved): the manifest, its one layer, the signature and the document.
func (r *Repository) readChannelAt(ctx context.Context, name string, desc ocispec.Descriptor, keys []ed25519.PublicKey) (*ReadChannel, error) {
	where := r.ref.WithTag(name).String()
	m, err := r.fetchManifest(ctx, desc, ArtifactTypeChannel, "channel "+where)
	if err != nil {
		return nil, err
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeChannel {
		return nil, refused(fmt.Errorf("channel %s (%s) does not hold one %s layer", where, desc.Digest, MediaTypeChannel))
	}
	layer := m.Layers[0]
	data, err := r.fetch(ctx, layer, maxChannelBytes, "the document of channel "+where)
	if err != nil {
		return nil, err
	}
	rc := &ReadChannel{Manifest: desc}
	var sig *bundle.Signature
	if raw := m.Annotations[AnnotationChannelSignature]; raw != "" {
		sig = new(bundle.Signature)
		if err := json.Unmarshal([]byte(raw), sig); err != nil {
			return nil, refused(fmt.Errorf("channel %s: its signature annotation is not valid JSON: %v", where, err))
		}
		rc.KeyID = sig.KeyID
	}
	if len(keys) > 0 {
		if err := bundle.VerifyDigestAny(sig, layer.Digest.String(), "channel", keys); err != nil {
			return nil, refused(fmt.Errorf("channel %s: %w", where, err))
		}
		rc.Verified = true
	}
	if err := json.Unmarshal(data, &rc.Channel); err != nil {
		return nil, refused(fmt.Errorf("channel %s: its document is not valid JSON: %v", where, err))
	}
	if err := rc.Channel.check(name); err != nil {
		return nil, refused(fmt.Errorf("channel %s: %w", where, err))
	}
	return rc, nil
}

// check refuses a document that is not what a channel named name holds.
func (c *Channel) check(name string) error {
	switch {
	case c.Format == 0:
		return errors.New("its document has no format")
	case c.Format > channelFormat:
		return fmt.Errorf("its document has format %d, this cedargate reads up to %d: upgrade it", c.Format, channelFormat)
	case c.Name != name:
		return fmt.Errorf("its document is signed for channel %q, not %q", c.Name, name)
	case c.Environment == "":
		return errors.New("its document names no environment")
	case c.Sequence == 0 || len(c.History) == 0:
		return errors.New("its document has no moves")
	case len(c.History) > MaxHistory:
		return fmt.Errorf("its history holds %d moves, more than %d", len(c.History), MaxHistory)
	}
	last := c.History[len(c.History)-1]
	if last.Sequence != c.Sequence || !sameTarget(last.Target, c.Active) {
		return fmt.Errorf("its last move (sequence %d, revision %s) is not its active bundle (sequence %d, revision %s)",
			last.Sequence, last.Revision, c.Sequence, c.Active.Revision)
	}
	for i, m := range c.History {
		if err := checkTarget(m.Target); err != nil {
			return fmt.Errorf("history entry %d: %w", i+1, err)
		}
		if i > 0 && m.Sequence <= c.History[i-1].Sequence {
			return fmt.Errorf("history entry %d has sequence %d, not after %d", i+1, m.Sequence, c.History[i-1].Sequence)
		}
	}
	return nil
}

// checkTarget refuses a target that cannot name a bundle.
func checkTarget(t Target) error {
	if !store.ValidRevision(t.Revision) {
		return fmt.Errorf("revision %q is not valid", t.Revision)
	}
	if !strings.HasPrefix(t.Digest, "sha256:") {
		return fmt.Errorf("revision %s has no bundle digest", t.Revision)
	}
	if err := t.Manifest.Digest.Validate(); err != nil {
		return fmt.Errorf("revision %s: manifest digest: %v", t.Revision, err)
	}
	return nil
}

// sameTarget reports whether two targets name the same artifact.
func sameTarget(a, b Target) bool {
	return a.Revision == b.Revision && a.Digest == b.Digest && a.Manifest.Digest == b.Manifest.Digest
}

// writeChannel signs c with key and writes it to its tag: the document's
// layer and the empty configuration first, then the manifest in one PUT,
// the step that moves the channel.
func (r *Repository) writeChannel(ctx context.Context, c *Channel, key ed25519.PrivateKey) (ocispec.Descriptor, error) {
	doc, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	layer := content.NewDescriptorFromBytes(MediaTypeChannel, doc)
	sig, err := json.Marshal(bundle.SignDigest(layer.Digest.String(), key))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	manifest, err := artifactManifest(ArtifactTypeChannel, layer, map[string]string{
		AnnotationChannelSignature: string(sig),
		AnnotationChannelSequence:  strconv.FormatUint(c.Sequence, 10),
		AnnotationChannelRevision:  c.Active.Revision,
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := r.pushBlob(ctx, layer, doc); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := r.pushEmptyConfig(ctx); err != nil {
		return ocispec.Descriptor{}, err
	}
	return r.pushManifest(ctx, manifest, c.Name)
}
