package oci

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/cedargate/cedargate/bundle/store"
)

// ErrConcurrentMove is wrapped when another rollout or rollback moved the
// channel while this one was writing it.
var ErrConcurrentMove = errors.New("the channel moved concurrently")

// MoveOptions configure a rollout or rollback of a channel.
type MoveOptions struct {
	// SignKey signs the channel's new document; required.
	SignKey ed25519.PrivateKey
	// VerifyKeys are trusted, beside SignKey's own public key, for the
	// channel's current document: the keys it may have been signed with
	// before a key rotation. A channel signed by no trusted key is not
	// moved, since its history would be carried into the new document.
	VerifyKeys []ed25519.PublicKey
	// BundleKeys, when set, require the bundle to carry a valid signature
	// by one of them before the channel names it; nil checks only the
	// bundle's integrity.
	BundleKeys []ed25519.PublicKey
	// Now is the time recorded for the move.
	Now time.Time
	// User is who moves the channel; empty means store.CurrentUser().
	User string
}

// Rollout makes the channel name serve revision rev (or the one revision
// pushed that starts with rev), which must have been pushed. The bundle is
// fetched and verified first (digests, and its signature with
// BundleKeys), and must be of the channel's environment. The first rollout
// creates the channel.
func (r *Repository) Rollout(ctx context.Context, name, rev string, o MoveOptions) (Move, error) {
	return r.move(ctx, name, ActionRollout, o, func(*ReadChannel) (Target, string, error) {
		a, err := r.Artifact(ctx, rev)
		return a.Target, a.Environment, err
	})
}

// Rollback makes the channel name serve again what it served before its
// last move: it undoes that move. A second rollback undoes the first.
// It needs no local state: the channel's document holds its history.
func (r *Repository) Rollback(ctx context.Context, name string, o MoveOptions) (Move, error) {
	return r.move(ctx, name, ActionRollback, o, func(cur *ReadChannel) (Target, string, error) {
		if cur == nil {
			return Target{}, "", fmt.Errorf("nothing to roll back to: channel %s does not exist", r.ref.WithTag(name))
		}
		prev := cur.History[len(cur.History)-1].Previous
		if prev == nil {
			return Target{}, "", errors.New("nothing to roll back to: no revision was active before the current one")
		}
		return *prev, cur.Environment, nil
	})
}

// move writes the channel's next document, naming the target choose picks
// from the current one (nil when the channel does not exist yet).
//
// Registries have no compare-and-swap on tags, so a concurrent move is
// detected, not prevented: the channel is read (sequence N), read again
// just before the write (nothing is written if it moved), written with
// sequence N+1 in one PUT, and read back: if another writer's document is
// there, this move was overwritten and the error says by what. Two
// writers whose PUTs both land before either reads back can each see
// their own document and both report success while only the later one
// holds; docs/oci.md describes this residual race.
func (r *Repository) move(ctx context.Context, name, action string, o MoveOptions, choose func(*ReadChannel) (Target, string, error)) (Move, error) {
	if err := ValidChannel(name); err != nil {
		return Move{}, err
	}
	if o.SignKey == nil {
		return Move{}, errors.New("a channel is signed: a signing key is required")
	}
	where := r.ref.WithTag(name)
	keys := append([]ed25519.PublicKey{o.SignKey.Public().(ed25519.PublicKey)}, o.VerifyKeys...)
	cur, err := r.ReadChannel(ctx, name, keys)
	if errors.Is(err, ErrNotFound) {
		cur, err = nil, nil
	}
	if err != nil {
		return Move{}, err
	}
	target, env, err := choose(cur)
	if err != nil {
		return Move{}, err
	}
	if cur != nil && env != cur.Environment {
		return Move{}, fmt.Errorf("revision %s is a bundle of environment %q; channel %s serves %q", target.Revision, env, where, cur.Environment)
	}
	if _, _, err := r.Fetch(ctx, target, env, o.BundleKeys); err != nil {
		return Move{}, fmt.Errorf("not moving channel %s: %w", where, err)
	}
	user := o.User
	if user == "" {
		user = store.CurrentUser()
	}
	next := Channel{Format: channelFormat, Name: name, Environment: env, Sequence: 1, Active: target}
	m := Move{Sequence: 1, Action: action, Target: target, Time: o.Now.UTC(), User: user}
	var read *ocispec.Descriptor
	if cur != nil {
		next.Sequence = cur.Sequence + 1
		m.Sequence = next.Sequence
		prev := cur.Active
		m.Previous = &prev
		next.History = slices.Clone(cur.History)
		read = &cur.Manifest
	}
	next.History = append(next.History, m)
	if n := len(next.History); n > MaxHistory {
		next.History = next.History[n-MaxHistory:]
	}
	if err := r.unmoved(ctx, name, read, keys); err != nil {
		return m, err
	}
	desc, err := r.writeChannel(ctx, &next, o.SignKey)
	if err != nil {
		return m, err
	}
	back, err := r.resolve(ctx, name)
	if err != nil {
		return m, fmt.Errorf("channel %s was written (sequence %d), but reading it back failed, so a concurrent move cannot be ruled out: %w", where, m.Sequence, err)
	}
	if back.Digest != desc.Digest {
		return m, fmt.Errorf("%w: channel %s was overwritten after this %s of %s (sequence %d): it now %s; check `cedargate history %s` and run again if that is not what you want",
			ErrConcurrentMove, where, action, target.Revision, m.Sequence, r.describe(ctx, name, back, keys), where)
	}
	return m, nil
}

// unmoved checks, just before a write, that the channel's tag still names
// what was read (read is nil when there was no channel).
func (r *Repository) unmoved(ctx context.Context, name string, read *ocispec.Descriptor, keys []ed25519.PublicKey) error {
	now, err := r.resolve(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound) && read == nil:
		return nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return err
	case read != nil && err == nil && now.Digest == read.Digest:
		return nil
	}
	what := "was deleted"
	if err == nil {
		what = r.describe(ctx, name, now, keys)
	}
	return fmt.Errorf("%w: channel %s changed while this command read it (it %s): nothing was written; run again",
		ErrConcurrentMove, r.ref.WithTag(name), what)
}

// describe says what the channel's manifest desc names, for an error.
func (r *Repository) describe(ctx context.Context, name string, desc ocispec.Descriptor, keys []ed25519.PublicKey) string {
	c, err := r.readChannelAt(ctx, name, desc, keys)
	if err != nil {
		return fmt.Sprintf("holds manifest %s, which cannot be read (%v)", desc.Digest, err)
	}
	last := c.History[len(c.History)-1]
	return fmt.Sprintf("names revision %s (sequence %d, %s by %s at %s)", c.Active.Revision, c.Sequence, last.Action, last.User,
		last.Time.Format(time.RFC3339))
}
