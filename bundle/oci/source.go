package oci

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/internal/atomicfile"
)

// SubscriptionFile is the file in a Source's cache directory that records
// what the replica accepted from its channel: the highest sequence (so
// that an older document replayed to the tag is refused across restarts)
// and the artifacts it refused (so that they are not downloaded again).
const SubscriptionFile = "subscription.json"

// DefaultPoll is how often a Source reads its channel when no interval is
// given.
const DefaultPoll = 10 * time.Second

// maxRefused bounds the refused artifacts a subscription remembers.
const maxRefused = 32

// pollTimeout bounds one poll: reading the channel and downloading the
// bundle it names.
const pollTimeout = 5 * time.Minute

// SourceOptions configure a Source.
type SourceOptions struct {
	// Options give access to the registry. A nil HTTPClient means one
	// that does not retry (the poll backs off by itself) and gives up on
	// a registry that accepts a connection but does not answer.
	Options
	// Cache is the directory that keeps the bundles the channel named, as
	// a bundle store of their environment, with SubscriptionFile beside
	// it; created if missing. It lets a restarted replica serve at once,
	// whether or not the registry answers.
	Cache string
	// VerifyKeys are the keys the channel and its bundles must be signed
	// by; required.
	VerifyKeys []ed25519.PublicKey
	// Poll is how often the channel is read; default DefaultPoll.
	Poll time.Duration
	// MaxBackoff bounds the wait between reads after failures, which
	// doubles from Poll; default eight Polls, at most five minutes, at
	// least Poll.
	MaxBackoff time.Duration
	// Logger receives what the source does; default slog.Default().
	Logger *slog.Logger
}

// Source follows a channel for a PDP: it polls the channel's tag with
// backoff and jitter, downloads each bundle the channel names once,
// verifies it (Repository.Fetch), keeps it in a local store, the cache, and
// activates it there as a local rollout does. The PDP reads the cache
// (Active, Load), so it serves the last good bundle whatever the
// registry does, and at once after a restart. It implements pdp.Source,
// and reports every read of the channel to the PDP (ReportTo), which
// decides staleness from them.
type Source struct {
	channel Reference
	repo    *Repository
	opts    SourceOptions
	log     *slog.Logger
	cache   atomic.Pointer[store.Store]

	mu sync.Mutex
	// sub is what the subscription file records.
	sub subscription
	// seen is the channel manifest the last poll read and processed,
	// seenErr why it was refused (nil when it was followed) and named what
	// it names: a tag that still names it is not read again.
	seen    digest.Digest
	seenErr error
	named   bundle.Ref
	// confirmed and failed receive the outcome of each read (ReportTo).
	confirmed func(at time.Time, named bundle.Ref)
	failed    func(at time.Time, named bundle.Ref, err error)
}

// subscription is the content of SubscriptionFile.
type subscription struct {
	Format int `json:"format"`
	// Channel is the channel the cache follows, oci://HOST/REPO:CHANNEL.
	Channel string `json:"channel"`
	// Sequence and Manifest are the channel document last accepted.
	Sequence uint64        `json:"sequence"`
	Manifest digest.Digest `json:"manifest,omitempty"`
	// Refused are bundle artifacts that failed verification, newest last.
	Refused []refusedArtifact `json:"refused,omitempty"`
}

// refusedArtifact is a bundle artifact that is not downloaded again.
type refusedArtifact struct {
	Manifest digest.Digest `json:"manifest"`
	Revision string        `json:"revision"`
	Error    string        `json:"error"`
	Time     time.Time     `json:"time"`
}

// NewSource prepares to follow channel ch, whose cache directory must be
// empty, missing, or one a Source for the same channel wrote. It reads no
// network: a replica starts from its cache while the registry is down.
func NewSource(ch Reference, o SourceOptions) (*Source, error) {
	if err := ValidChannel(ch.Tag); err != nil {
		return nil, err
	}
	if len(o.VerifyKeys) == 0 {
		return nil, errors.New("a registry channel is signed: give the keys it is verified with (--verify-key)")
	}
	if o.Cache == "" {
		return nil, errors.New("a registry channel needs a cache directory (--cache)")
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = min(8*o.Poll, 5*time.Minute)
	}
	o.MaxBackoff = max(o.MaxBackoff, o.Poll)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = pollingClient()
	}
	repo, err := Open(ch, o.Options)
	if err != nil {
		return nil, err
	}
	s := &Source{channel: ch, repo: repo, opts: o, log: o.Logger}
	if err := os.MkdirAll(o.Cache, 0o755); err != nil {
		return nil, fmt.Errorf("creating the cache: %w", err)
	}
	if err := s.readSubscription(); err != nil {
		return nil, err
	}
	return s, nil
}

// pollingClient is the HTTP client of a Source: no retries, since the
// poll backs off, and bounded waits for a registry that accepts
// connections but does not answer.
func pollingClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: t}
}

// readSubscription reads the cache's subscription file and opens its
// store, refusing a cache that follows another channel or holds a store
// no subscription wrote.
func (s *Source) readSubscription() error {
	dir := s.opts.Cache
	s.sub = subscription{Format: 1, Channel: s.channel.String()}
	data, err := os.ReadFile(filepath.Join(dir, SubscriptionFile))
	_, storeErr := os.Stat(filepath.Join(dir, store.MetaFile))
	switch {
	case errors.Is(err, fs.ErrNotExist) && storeErr == nil:
		return fmt.Errorf("cache %s holds a bundle store that no registry subscription wrote: give --cache an empty directory of its own", dir)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("reading the cache: %w", err)
	}
	var sub subscription
	if err := json.Unmarshal(data, &sub); err != nil || sub.Format != 1 {
		return fmt.Errorf("cache %s: %s is damaged (%v): empty the cache directory; the replica downloads what its channel names again", dir, SubscriptionFile, err)
	}
	if sub.Channel != s.channel.String() {
		return fmt.Errorf("cache %s follows %s, not %s: give each channel its own --cache, or empty this one", dir, sub.Channel, s.channel)
	}
	s.sub = sub
	if storeErr != nil {
		return nil
	}
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		return fmt.Errorf("opening the cache: %w", err)
	}
	st.SetMaxBundleBytes(s.repo.maxBundle)
	s.cache.Store(st)
	return nil
}

// ReportTo sets where each read of the channel is reported: confirmed
// when the channel was read, verified, and its bundle is in the cache and
// active there; failed when the channel could not be read, or was refused,
// or names a bundle that could not be downloaded or was refused. named is
// the bundle the channel names (zero when the channel could not be read).
// Call it before Watch.
func (s *Source) ReportTo(confirmed func(at time.Time, named bundle.Ref), failed func(at time.Time, named bundle.Ref, err error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.confirmed, s.failed = confirmed, failed
}

// Active returns the cache's active bundle: what the channel named when
// it was last followed. It wraps store.ErrNoActive before the first bundle
// arrived.
func (s *Source) Active() (store.Pointer, error) {
	c := s.cache.Load()
	if c == nil {
		return store.Pointer{}, fmt.Errorf("%w: nothing received from %s yet", store.ErrNoActive, s.channel)
	}
	return c.Active()
}

// Load reads a bundle from the cache, verified as store.Store.Load does.
func (s *Source) Load(p store.Pointer, keys []ed25519.PublicKey) (*bundle.Bundle, error) {
	return s.LoadStreaming(p, keys, nil)
}

// LoadStreaming is Load, streaming the bundle's entities.json to ents
// when it is set, as store.Store.LoadStreaming does.
func (s *Source) LoadStreaming(p store.Pointer, keys []ed25519.PublicKey, ents bundle.EntityReader) (*bundle.Bundle, error) {
	c := s.cache.Load()
	if c == nil {
		return nil, fmt.Errorf("loading bundle %s: %w", p.Revision, &fs.PathError{Op: "open", Path: s.opts.Cache, Err: fs.ErrNotExist})
	}
	return c.LoadStreaming(p, keys, ents)
}

// String describes the source for status and logs.
func (s *Source) String() string {
	return fmt.Sprintf("%s (cache %s)", s.channel, s.opts.Cache)
}

// Watch starts polling the channel, at once and then every Poll (after
// failures, with a backoff up to MaxBackoff), with a jitter of ±20% so
// that replicas do not all ask at the same instant. It signals on the
// returned channel each time the cache's active bundle changed, and
// closes it once ctx has ended and the poll has stopped.
func (s *Source) Watch(ctx context.Context, _ func(error)) (<-chan struct{}, error) {
	notify := make(chan struct{}, 1)
	go func() {
		defer close(notify)
		failures := 0
		for {
			pctx, cancel := context.WithTimeout(ctx, pollTimeout)
			err := s.poll(pctx, notify)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				failures++
			} else {
				failures = 0
			}
			t := time.NewTimer(s.delay(failures))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	return notify, nil
}

// delay is the wait before the next poll after failures consecutive
// failed ones: Poll, doubling with each failure up to MaxBackoff, with a
// jitter of ±20%.
func (s *Source) delay(failures int) time.Duration {
	d := s.opts.Poll
	for i := 1; i < failures && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opts.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// poll reads the channel once and follows it, reporting the outcome. It
// returns the error reported, nil when the channel was confirmed.
func (s *Source) poll(ctx context.Context, notify chan<- struct{}) error {
	at := time.Now()
	desc, err := s.repo.resolve(ctx, s.channel.Tag)
	if err != nil {
		return s.report(ctx, at, bundle.Ref{}, err)
	}
	s.mu.Lock()
	seen, seenErr, named := s.seen, s.seenErr, s.named
	s.mu.Unlock()
	if desc.Digest == seen {
		// The tag names what was processed already: a refusal stands, an
		// accepted channel is confirmed by this read.
		return s.report(ctx, at, named, seenErr)
	}
	c, err := s.repo.readChannelAt(ctx, s.channel.Tag, desc, s.opts.VerifyKeys)
	if err == nil {
		named = bundle.Ref{Revision: c.Active.Revision, Digest: c.Active.Digest, Environment: c.Environment}
		err = s.checkChannel(c)
	}
	if err == nil {
		err = s.follow(ctx, c, notify)
		if err == nil || errors.Is(err, ErrRefused) {
			// The channel is valid even when its bundle is refused: its
			// sequence is accepted, so that older documents stay refused.
			s.accept(c)
		}
	}
	if err == nil || errors.Is(err, ErrRefused) {
		s.mu.Lock()
		s.seen, s.seenErr, s.named = desc.Digest, err, named
		s.mu.Unlock()
		if err != nil {
			s.log.Error("refusing what the channel names; keeping the last good bundle", "channel", s.channel.String(),
				"manifest", desc.Digest.String(), "error", err.Error())
		}
	}
	return s.report(ctx, at, named, err)
}

// report hands the outcome of a poll to ReportTo's functions; an error
// caused by the end of ctx (shutdown) is not reported.
func (s *Source) report(ctx context.Context, at time.Time, named bundle.Ref, err error) error {
	s.mu.Lock()
	confirmed, failed := s.confirmed, s.failed
	s.mu.Unlock()
	switch {
	case err != nil && ctx.Err() != nil:
	case err != nil && failed != nil:
		failed(at, named, err)
	case err == nil && confirmed != nil:
		confirmed(at, named)
	}
	return err
}

// checkChannel refuses a channel document this replica must not follow:
// one of another environment than its cache, and one whose sequence is
// lower than the one it accepted (a replayed older document). An equal
// sequence with another document is two moves that raced (docs/oci.md):
// it is followed, since the tag names it, and logged.
func (s *Source) checkChannel(c *ReadChannel) error {
	if cache := s.cache.Load(); cache != nil && cache.Environment() != c.Environment {
		return refused(fmt.Errorf("channel %s serves environment %q, and the cache %s holds %q: a cache follows one channel; empty it to follow this one",
			s.channel, c.Environment, s.opts.Cache, cache.Environment()))
	}
	s.mu.Lock()
	sub := s.sub
	s.mu.Unlock()
	switch {
	case c.Sequence < sub.Sequence:
		return refused(fmt.Errorf("channel %s has sequence %d, older than sequence %d which this replica accepted: an older channel document replayed to the tag (or a registry restored from a backup: roll out until the sequence passes %d, or start replicas with an empty cache)",
			s.channel, c.Sequence, sub.Sequence, sub.Sequence))
	case c.Sequence == sub.Sequence && sub.Manifest != "" && c.Manifest.Digest != sub.Manifest:
		s.log.Warn("channel forked: two moves wrote the same sequence; following the one the tag names",
			"channel", s.channel.String(), "sequence", c.Sequence, "revision", c.Active.Revision)
	}
	return nil
}

// follow makes the cache's active bundle the one c names: from the cache
// when it is there, else downloaded and verified; a notification tells
// the PDP to activate it.
func (s *Source) follow(ctx context.Context, c *ReadChannel, notify chan<- struct{}) error {
	t := c.Active
	p := t.Pointer()
	if err := s.refusedBefore(t); err != nil {
		return err
	}
	cache := s.cache.Load()
	if cache != nil {
		if active, err := cache.Active(); err == nil && active == p {
			return nil
		}
	}
	if cache == nil || s.missing(cache, p) {
		_, archive, err := s.repo.Fetch(ctx, t, c.Environment, s.opts.VerifyKeys)
		if err != nil {
			if errors.Is(err, ErrRefused) {
				s.refuse(t, err)
			}
			return err
		}
		if cache, err = s.openCache(ctx, c.Environment); err != nil {
			return err
		}
		if _, err := cache.Put(ctx, archive); err != nil && !errors.Is(err, atomicfile.ErrNotDurable) {
			return fmt.Errorf("keeping revision %s in the cache: %w", t.Revision, err)
		}
	}
	action := c.History[len(c.History)-1].Action
	if action != ActionRollback {
		action = ActionRollout
	}
	if _, err := cache.Activate(ctx, t.Revision, action, time.Now()); err != nil && !errors.Is(err, atomicfile.ErrNotDurable) {
		return fmt.Errorf("activating revision %s in the cache: %w", t.Revision, err)
	}
	s.log.Info("channel moved", "channel", s.channel.String(), "revision", t.Revision, "sequence", c.Sequence, "action", action)
	select {
	case notify <- struct{}{}:
	default:
	}
	return nil
}

// missing reports whether the cache lacks a sound copy of the bundle p
// names.
func (s *Source) missing(cache *store.Store, p store.Pointer) bool {
	_, err := cache.Load(p, s.opts.VerifyKeys)
	return err != nil
}

// openCache returns the cache's store, creating it for env.
func (s *Source) openCache(ctx context.Context, env string) (*store.Store, error) {
	if c := s.cache.Load(); c != nil {
		return c, nil
	}
	st, err := store.Create(ctx, s.opts.Cache, env)
	if err != nil {
		return nil, fmt.Errorf("creating the cache: %w", err)
	}
	st.SetMaxBundleBytes(s.repo.maxBundle)
	s.cache.Store(st)
	return st, nil
}

// refusedBefore returns the refusal of the artifact t names, if it was
// refused before: it is not downloaded again.
func (s *Source) refusedBefore(t Target) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.sub.Refused {
		if r.Manifest == t.Manifest.Digest {
			return refused(fmt.Errorf("revision %s (manifest %s) was refused at %s and is not downloaded again: %s",
				r.Revision, r.Manifest, r.Time.UTC().Format(time.RFC3339), r.Error))
		}
	}
	return nil
}

// refuse remembers the artifact t names as refused for err.
func (s *Source) refuse(t Target, err error) {
	s.mu.Lock()
	s.sub.Refused = append(s.sub.Refused, refusedArtifact{Manifest: t.Manifest.Digest, Revision: t.Revision, Error: err.Error(), Time: time.Now().UTC()})
	if n := len(s.sub.Refused); n > maxRefused {
		s.sub.Refused = slices.Clone(s.sub.Refused[n-maxRefused:])
	}
	s.mu.Unlock()
	s.save()
}

// accept records c as the channel document followed.
func (s *Source) accept(c *ReadChannel) {
	s.mu.Lock()
	changed := s.sub.Sequence != c.Sequence || s.sub.Manifest != c.Manifest.Digest
	s.sub.Sequence, s.sub.Manifest = c.Sequence, c.Manifest.Digest
	s.mu.Unlock()
	if changed {
		s.save()
	}
}

// save writes the subscription file. A failure is logged: what it
// records protects against replays across a restart, and the next change
// writes it again.
func (s *Source) save() {
	s.mu.Lock()
	data, err := json.MarshalIndent(s.sub, "", "  ")
	s.mu.Unlock()
	if err == nil {
		err = atomicfile.WriteFile(filepath.Join(s.opts.Cache, SubscriptionFile), append(data, '\n'), 0o644)
	}
	if err != nil {
		s.log.Error("cannot record the channel's sequence in the cache", "error", err.Error())
	}
}
