package pdp

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp/cedarjson"
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
	// schema explains, by field path, a context the validator refuses;
	// nil when validator is.
	schema *cedarjson.Converter
	// schemaText is the bundle's schema as built (Cedar format), for
	// AdminService.GetSchema; empty when the bundle has none.
	schemaText string
	// prepared holds what each Preparer derived from the bundle, by
	// PreparedKey.
	prepared []any
}

// schemaValidator parses a bundle's schema for request validation. A
// bundle without a schema cannot be served when requests must be
// validated: the server would otherwise accept anything silently.
func schemaValidator(b *bundle.Bundle) (*validate.Validator, *cedarjson.Converter, error) {
	if len(b.Schema) == 0 {
		return nil, nil, errors.New("requests must be validated, but the bundle has no schema")
	}
	conv, err := cedarjson.NewFromSchemaText(b.Schema, "")
	if err != nil {
		return nil, nil, fmt.Errorf("reading its schema: %w", err)
	}
	return validate.New(conv.Schema()), conv, nil
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
	health   *sourceHealth
	current  atomic.Pointer[served]
	onChange func()
	debounce time.Duration
	poll     time.Duration
	// validate makes activation prepare a schema validator for requests.
	validate bool
	// retryAfter is how long the periodic poll leaves alone a bundle
	// whose read failed, or one refused by a source that cannot tell
	// whether the bundle changed.
	retryAfter time.Duration
	// prepare derive front ends' values from each bundle activated (see
	// Server.Prepare); set before the first activation, read-only after.
	prepare []Preparer

	mu          sync.Mutex
	history     []activation // newest first
	lastFailure *activation
	// refused is the bundle whose activation failed last, remembered so
	// that it is not read again until the source changes; nil after a
	// successful activation.
	refused *refusal
}

// refusal is a bundle the reloader failed to activate. Reading it again
// can be costly (a bundle at the size limit is inflated and hashed in
// full), so it is left alone until the source changes: the pointer names
// another bundle, or the bundle's file is no longer the same.
type refusal struct {
	p store.Pointer
	// file identifies the bundle's file as it was before the read that
	// failed; known is false when the source cannot tell.
	file  fileID
	known bool
	// readFailed is set when the bundle could not be read at all (an I/O
	// error), a failure that may pass with the file unchanged.
	readFailed bool
	at         time.Time
}

// retry reports whether the bundle p names, whose file is now file (known
// says whether the source can tell), should be read again. notified says
// whether a change notification prompted the sync.
func (f *refusal) retry(p store.Pointer, file fileID, known, notified bool, now time.Time, retryAfter time.Duration) bool {
	if f == nil || f.p != p {
		return true
	}
	if known && f.known {
		if file != f.file {
			return true
		}
		// The same file: its content was refused and would be again. A
		// failed read may pass, so it is retried like an unknown file.
		if !f.readFailed {
			return false
		}
	}
	// The source cannot tell whether the bundle changed: a notification
	// may mean it did (a sync tool that rewrote the bundle and the
	// pointer), and the poll tries again now and then, so that a failure
	// heals where no notification arrives (a network file system).
	return notified || now.Sub(f.at) >= retryAfter
}

// sync activates the source's active bundle if it is not the one served.
// notified says whether a change notification, rather than the periodic
// poll, prompted it.
func (r *reloader) sync(notified bool) {
	defer func() {
		if r.onChange != nil {
			r.onChange()
		}
	}()
	now := time.Now()
	p, err := r.src.Active()
	if err != nil && !errors.Is(err, store.ErrNoActive) {
		r.health.failed(now, err)
		return
	}
	if err != nil || r.isServing(p) {
		// Nothing active, or what is served: the source answered.
		r.health.localRead(now, p)
		return
	}
	file, known := bundleFileID(r.src, p)
	r.mu.Lock()
	refused := r.refused
	r.mu.Unlock()
	if !refused.retry(p, file, known, notified, now, r.retryAfter) {
		if !refused.readFailed {
			r.health.localRead(now, p)
		}
		r.log.Debug("not reading a refused bundle again until it changes", "revision", p.Revision, "digest", p.Digest)
		return
	}
	fail := func(ref bundle.Ref, err error, readFailed bool) {
		if readFailed {
			r.health.failed(time.Now(), err)
		} else {
			r.health.localRead(now, p)
		}
		r.mu.Lock()
		r.refused = &refusal{p: p, file: file, known: known, readFailed: readFailed, at: time.Now()}
		r.mu.Unlock()
		r.fail(ref, now, time.Since(now), err)
		releaseMemory()
	}
	ref := bundle.Ref{Revision: p.Revision, Digest: p.Digest}
	defer collectHarder()()
	var serving *engine.Snapshot
	if cur := r.current.Load(); cur != nil {
		serving = cur.snap
	}
	b, err := load(r.src, p, r.keys, serving)
	if err != nil {
		fail(ref, err, readFailure(err))
		return
	}
	r.health.localRead(now, p)
	ref = b.Ref()
	// The snapshot takes what it needs of the entities and, unless a
	// front end prepares from them, the grants: they are dropped as soon
	// as it has, not held while the rest is built beside the snapshot
	// still serving.
	release := engine.ReleaseEntities
	if len(r.prepare) == 0 {
		release |= engine.ReleaseGrants
	}
	snap, err := engine.NewReleasing(b, release)
	if err != nil {
		fail(ref, fmt.Errorf("compiling bundle %s: %w", p.Revision, err), false)
		return
	}
	var v *validate.Validator
	var conv *cedarjson.Converter
	if r.validate {
		if v, conv, err = schemaValidator(b); err != nil {
			fail(ref, fmt.Errorf("bundle %s: %w", p.Revision, err), false)
			return
		}
	}
	prepared := make([]any, len(r.prepare))
	for i, f := range r.prepare {
		if prepared[i], err = f(b, snap); err != nil {
			fail(ref, fmt.Errorf("bundle %s: %w", p.Revision, err), false)
			return
		}
	}
	done := time.Now()
	next := &served{snap: snap, ref: ref, activatedAt: done, wire: wire.EncodeBundleRef(ref),
		validator: v, schema: conv, schemaText: string(b.Schema), prepared: prepared}
	prev := r.current.Swap(next)
	took := done.Sub(now)
	var prevRef *bundle.Ref
	if prev != nil {
		prevRef = &prev.ref
	}
	r.mu.Lock()
	r.refused = nil
	r.mu.Unlock()
	r.metrics.activated(prevRef, ref, float64(done.UnixNano())/1e9)
	r.record(activation{ref: ref, at: done, took: took})
	r.log.Info("bundle activated", "revision", ref.Revision, "digest", ref.Digest, "environment", ref.Environment,
		"policies", snap.PolicyCount(), "entities", snap.EntityCount(), "took_ms", took.Milliseconds())
	releaseMemory()
}

// releaseMemory returns to the operating system the memory an activation
// attempt used and no longer needs: what decoding and compiling the
// bundle left behind and, after a swap, the snapshot that served before
// (once its last requests finish). An activation allocates several times
// the snapshot it builds (gigabytes for a million identities), and the
// collector keeps what it freed for the heap to grow into again: an idle
// replica would keep the resident size of its activation's peak, where
// serving needs little more than the snapshot. It costs one collection,
// off the request path, per activation attempt.
func releaseMemory() { debug.FreeOSMemory() }

// activationGCPercent is the collector's GOGC while a bundle activates.
const activationGCPercent = 50

// collectHarder has the collector run more often, while a bundle
// activates, than GOGC (100 by default) says, and returns what restores
// it. GOGC lets the heap grow to twice what was live at the last
// collection before collecting again, and during a hot reload what is
// live is the snapshot serving, the bundle decoded and the snapshot being
// built: the activation's garbage alone could reach the size of all
// three. A lower GOGC costs some collections, off the request path. An
// operator's GOGC lower than activationGCPercent, or off, is left alone.
func collectHarder() (restore func()) {
	gcPercent.Lock()
	defer gcPercent.Unlock()
	if gcPercent.active == 0 {
		gcPercent.prev = debug.SetGCPercent(activationGCPercent)
		if gcPercent.prev < activationGCPercent {
			debug.SetGCPercent(gcPercent.prev)
		}
	}
	gcPercent.active++
	return func() {
		gcPercent.Lock()
		defer gcPercent.Unlock()
		if gcPercent.active--; gcPercent.active == 0 && gcPercent.prev >= activationGCPercent {
			debug.SetGCPercent(gcPercent.prev)
		}
	}
}

// gcPercent counts the activations under way in the process, of every
// server it runs: GOGC is the process's, so the first activation lowers
// it and the last one to finish restores it.
var gcPercent struct {
	sync.Mutex
	active int
	prev   int
}

// isServing reports whether p names the bundle being served.
func (r *reloader) isServing(p store.Pointer) bool {
	cur := r.current.Load()
	return cur != nil && cur.ref.Revision == p.Revision && cur.ref.Digest == p.Digest
}

// servingRevision names what is served, for logs.
func (r *reloader) servingRevision() string {
	if cur := r.current.Load(); cur != nil {
		return cur.ref.Revision
	}
	return "nothing"
}

// fail records a failed activation: once in the log, the metrics and
// status. The bundle is not read again until it changes (refusal), so a
// broken bundle is logged once, not on every poll.
func (r *reloader) fail(ref bundle.Ref, at time.Time, took time.Duration, err error) {
	r.metrics.failed()
	r.record(activation{ref: ref, at: at.Add(took), took: took, err: err})
	r.log.Error("bundle activation failed; keeping the last good bundle", "revision", ref.Revision, "error", err.Error(), "serving", r.servingRevision())
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
