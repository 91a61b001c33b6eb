package pdp

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// sourceHealth records how the reloader's reads of its source went: when
// it last read it successfully (the active pointer, and the bundle when it
// changed), the errors since, and whether the replica has been unable to
// confirm what it serves for longer than maxStale. A replica whose store
// has vanished keeps serving its last bundle; without this nothing would
// say that the bundle may no longer be the one operators rolled out.
//
// A bundle refused for its content (too large, bad signature, does not
// compile) is not a source error: the source was read and answered, and
// the replica rightly keeps its last good bundle.
//
// A source that mirrors an upstream into local storage (an OCI registry
// channel, see Upstream) reports its reads of the upstream itself
// (confirmed, unconfirmed); the reloader's reads of the local copy then
// count only when they fail.
type sourceHealth struct {
	// maxStale is --max-staleness; zero turns the condition off.
	maxStale time.Duration
	// started stands in for the last success before the first one.
	started time.Time
	metrics *metrics
	log     *slog.Logger
	// serving names what the replica serves, for logs.
	serving func() string
	// upstream is set when the source reports its upstream's reads.
	upstream bool
	// changed is called after an upstream's report, so that readiness
	// follows it at once.
	changed func()
	// stale is the last verdict of staleness, read on the decision path
	// (one atomic load) to answer UNAVAILABLE while the source is stale.
	// Readiness re-evaluates it often enough (readinessInterval).
	stale atomic.Bool

	mu sync.Mutex
	// named is the bundle the source names (the store's active pointer,
	// or what the channel names); zero until known.
	named  bundle.Ref
	lastOK time.Time // zero before the first successful read
	// lastErr and lastErrAt describe the last failed read since the last
	// successful one; lastErr is empty when the last read succeeded.
	lastErr   string
	lastErrAt time.Time
	errors    uint64
}

// localRead records that the reloader read the source at the instant at,
// and that it names p (zero when it names nothing). For an upstream
// source this says nothing about the upstream and is not recorded.
func (h *sourceHealth) localRead(at time.Time, p store.Pointer) {
	if h.upstream {
		return
	}
	h.setNamed(bundle.Ref{Revision: p.Revision, Digest: p.Digest})
	h.ok(at)
}

// confirmed records that an upstream source read its upstream at the
// instant at, and serves (in its local copy) what it names.
func (h *sourceHealth) confirmed(at time.Time, named bundle.Ref) {
	h.setNamed(named)
	h.ok(at)
	if h.changed != nil {
		h.changed()
	}
}

// unconfirmed records that an upstream source could not confirm what its
// upstream names at the instant at: the upstream could not be read, or
// what it names was refused. named is what it names, zero when unknown.
func (h *sourceHealth) unconfirmed(at time.Time, named bundle.Ref, err error) {
	h.setNamed(named)
	h.failed(at, err)
	if h.changed != nil {
		h.changed()
	}
}

// setNamed records what the source names, unless that is unknown.
func (h *sourceHealth) setNamed(named bundle.Ref) {
	if named.Revision == "" {
		return
	}
	h.mu.Lock()
	prev := h.named
	h.named = named
	h.mu.Unlock()
	if prev != named {
		h.metrics.sourceTarget(prev, named)
	}
}

// ok records a successful read of the source at the instant at.
func (h *sourceHealth) ok(at time.Time) {
	h.mu.Lock()
	recovered, since := h.lastErr != "", h.lastErrAt
	h.lastOK, h.lastErr, h.lastErrAt = at, "", time.Time{}
	h.mu.Unlock()
	h.metrics.sourceChecked(at)
	if recovered {
		h.log.Info("bundle source readable again", "failing_since", since.UTC().Format(time.RFC3339Nano))
	}
}

// failed records a failed read of the source. The first failure after a
// success is logged at error level; the ones that follow, which every
// poll repeats while the source stays unreadable, only at debug level:
// the error count and GetStatus carry them.
func (h *sourceHealth) failed(at time.Time, err error) {
	h.mu.Lock()
	first := h.lastErr == ""
	h.errors++
	h.lastErr, h.lastErrAt = err.Error(), at
	h.mu.Unlock()
	h.metrics.sourceFailed()
	if first {
		h.log.Error("cannot read the bundle source; keeping the last good bundle", "error", err.Error(), "serving", h.serving())
	} else {
		h.log.Debug("bundle source still unreadable", "error", err.Error())
	}
}

// staleness says why the replica must not serve because of its source, or
// "" when it may: with --max-staleness set, the source has failed since
// its last successful read, and that read is older than the limit. A
// source that reads fine is never stale, however rarely it is polled.
func (h *sourceHealth) staleness(now time.Time) string {
	if h.maxStale <= 0 {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	reason := ""
	since := h.lastOK
	if since.IsZero() {
		since = h.started
	}
	if age := now.Sub(since); h.lastErr != "" && age > h.maxStale {
		reason = fmt.Sprintf("bundle source unreadable for %s, longer than --max-staleness %s: %s",
			age.Round(time.Millisecond), h.maxStale, h.lastErr)
	}
	h.stale.Store(reason != "")
	return reason
}

// status reports the source's health for GetStatus.
func (h *sourceHealth) status(now time.Time) *pb.SourceStatus {
	stale := h.staleness(now) != ""
	h.mu.Lock()
	defer h.mu.Unlock()
	st := &pb.SourceStatus{LastError: h.lastErr, ErrorCount: h.errors, Stale: stale}
	if h.named.Revision != "" {
		st.Target = wire.EncodeBundleRef(h.named)
	}
	if !h.lastOK.IsZero() {
		st.LastSuccessTime = timestamppb.New(h.lastOK)
	}
	if !h.lastErrAt.IsZero() {
		st.LastErrorTime = timestamppb.New(h.lastErrAt)
	}
	if h.maxStale > 0 {
		st.MaxStaleness = durationpb.New(h.maxStale)
	}
	return st
}
