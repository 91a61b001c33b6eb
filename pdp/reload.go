package pdp

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cedar-policy/cedar-go/x/exp/schema"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// served is what the PDP answers with: one immutable snapshot and what
// every answer repeats about it, computed once at activation.
type served struct {
	snap        *engine.Snapshot
	ref         bundle.Ref
	activatedAt time.Time
	// wire is the bundle ref every answer carries; responses share it and
	// only read it.
	wire *pb.BundleRef
	// validator checks requests against the bundle's schema when the
	// server validates requests; nil otherwise.
	validator *validate.Validator
}

// schemaValidator parses a bundle's schema for request validation. A
// bundle without a schema cannot be served when requests must be
// validated: the server would otherwise accept anything silently.
func schemaValidator(b *bundle.Bundle) (*validate.Validator, error) {
	if len(b.Schema) == 0 {
		return nil, errors.New("requests must be validated, but the bundle has no schema")
	}
	var s schema.Schema
	if err := s.UnmarshalCedar(b.Schema); err != nil {
		return nil, fmt.Errorf("parsing its schema: %w", err)
	}
	rs, err := s.Resolve()
	if err != nil {
		return nil, fmt.Errorf("resolving its schema: %w", err)
	}
	return validate.New(rs), nil
}

// activation is one attempt to activate a bundle, for status.
type activation struct {
	ref  bundle.Ref
	at   time.Time
	err  error
	took time.Duration
}

// historySize bounds the activation attempts GetStatus reports.
const historySize = 20

// reloader keeps the served snapshot in step with the source: it loads,
// verifies and compiles a new bundle off the request path and swaps it in
// atomically. A bundle that fails any step is not activated: the last good
// snapshot keeps serving and the failure is recorded in status, logs and
// metrics.
type reloader struct {
	src      Source
	keys     []ed25519.PublicKey
	log      *slog.Logger
	metrics  *metrics
	current  atomic.Pointer[served]
	onChange func(serving bool)
	debounce time.Duration
	poll     time.Duration
	// validate makes activation prepare a schema validator for requests.
	validate bool
	// retryAfter is how long the periodic poll leaves a failed pointer
	// alone.
	retryAfter time.Duration

	mu          sync.Mutex
	history     []activation // newest first
	lastFailure *activation
	// failed is the pointer whose activation failed last, and failedAt
	// when. A change notification (a rollout, even of the same revision, or
	// a sync tool rewriting the pointer) retries it at once, since the
	// failure may have been temporary (a bundle file not there yet); the
	// periodic poll retries it only after retryAfter, so a broken bundle
	// costs an attempt now and then rather than one per poll, and still
	// recovers where no notification arrives (network file systems).
	failed   store.Pointer
	failedAt time.Time
}

// sync activates the source's active bundle if it is not the one served.
// retry says whether to try a pointer whose activation failed last.
func (r *reloader) sync(retry bool) {
	p, err := r.src.Active()
	if errors.Is(err, store.ErrNoActive) {
		return
	}
	if err != nil {
		r.fail(bundle.Ref{}, time.Now(), 0, err)
		return
	}
	if cur := r.current.Load(); cur != nil && cur.ref.Revision == p.Revision && cur.ref.Digest == p.Digest {
		return
	}
	r.mu.Lock()
	skip := !retry && r.failed == p && time.Since(r.failedAt) < r.retryAfter
	r.mu.Unlock()
	if skip {
		return
	}
	start := time.Now()
	ref := bundle.Ref{Revision: p.Revision, Digest: p.Digest}
	b, err := r.src.Load(p, r.keys)
	if err != nil {
		r.failPointer(p, ref, start, err)
		return
	}
	ref = b.Ref()
	snap, err := engine.New(b)
	if err != nil {
		r.failPointer(p, ref, start, fmt.Errorf("compiling bundle %s: %w", p.Revision, err))
		return
	}
	var v *validate.Validator
	if r.validate {
		if v, err = schemaValidator(b); err != nil {
			r.failPointer(p, ref, start, fmt.Errorf("bundle %s: %w", p.Revision, err))
			return
		}
	}
	now := time.Now()
	next := &served{snap: snap, ref: ref, activatedAt: now, wire: wire.EncodeBundleRef(ref), validator: v}
	prev := r.current.Swap(next)
	took := now.Sub(start)
	var prevRef *bundle.Ref
	if prev != nil {
		prevRef = &prev.ref
	}
	r.mu.Lock()
	r.failed = store.Pointer{}
	r.mu.Unlock()
	r.metrics.activated(prevRef, ref, float64(now.UnixNano())/1e9)
	r.record(activation{ref: ref, at: now, took: took})
	r.log.Info("bundle activated", "revision", ref.Revision, "digest", ref.Digest, "environment", ref.Environment,
		"policies", snap.PolicyCount(), "entities", snap.EntityCount(), "took_ms", took.Milliseconds())
	if prev == nil && r.onChange != nil {
		r.onChange(true)
	}
}

func (r *reloader) failPointer(p store.Pointer, ref bundle.Ref, start time.Time, err error) {
	r.mu.Lock()
	r.failed, r.failedAt = p, time.Now()
	r.mu.Unlock()
	r.fail(ref, start, time.Since(start), err)
}

func (r *reloader) fail(ref bundle.Ref, at time.Time, took time.Duration, err error) {
	r.metrics.failed()
	r.record(activation{ref: ref, at: at.Add(took), took: took, err: err})
	serving := "nothing"
	if cur := r.current.Load(); cur != nil {
		serving = cur.ref.Revision
	}
	r.log.Error("bundle activation failed; keeping the last good bundle", "revision", ref.Revision, "error", err.Error(), "serving", serving)
}

func (r *reloader) record(a activation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.history = append([]activation{a}, r.history...)
	if len(r.history) > historySize {
		r.history = r.history[:historySize]
	}
	if a.err != nil {
		r.lastFailure = &a
	}
}

// snapshotHistory returns the recent attempts, newest first, and the last
// failure.
func (r *reloader) snapshotHistory() ([]activation, *activation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]activation(nil), r.history...), r.lastFailure
}

// run follows the source until ctx ends. Notifications are debounced: a
// burst of file events (a build writing a bundle, then the pointer) leads
// to one reload. A periodic poll catches changes a watch can miss (for
// example on network file systems).
func (r *reloader) run(ctx context.Context, changes <-chan struct{}) {
	var tick <-chan time.Time
	if r.poll > 0 {
		t := time.NewTicker(r.poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			timer := time.NewTimer(r.debounce)
		quiet:
			for {
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case <-changes:
					timer.Reset(r.debounce)
				case <-timer.C:
					break quiet
				}
			}
			r.sync(true)
		case <-tick:
			r.sync(false)
		}
	}
}
