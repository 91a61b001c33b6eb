package pdp

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cedargate/cedargate/pdp/decisionlog"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// What the PDP does when decision log entries are lost, by mode:
//
//   - async (the default): a decision is answered whatever becomes of its
//     entry; every entry lost is counted (Stats, metrics, GetStatus).
//   - Options.DecisionLogRequired: health turns NOT_SERVING while the log
//     is losing entries (decisionlog.Log.Losing), and a decision whose entry
//     the log refused at once (a full buffer) is not answered. An entry
//     queued and lost later to a failed write has been answered: required
//     alone narrows the gap, sync closes it.
//   - decisionlog.Options.Sync: a decision is answered only after its entry
//     reached the operating system; one that did not is not answered.
//
// A decision not answered because of the log gets errNotLogged.

// errNotLogged is what a caller gets for a decision made but not answered
// because its entry could not be logged: UNAVAILABLE, so that a caller
// retries, maybe on another replica.
var errNotLogged = status.Error(codes.Unavailable,
	"decision log unavailable: the decision could not be logged, so it is not answered")

// record hands the entries of decisions about to be answered to the
// decision log, and returns the error to answer instead when they must not
// be answered: in sync mode unless they were written, with
// DecisionLogRequired when the log dropped them at once.
func (a *authzService) record(ctx context.Context, es ...decisionlog.Entry) error {
	if a.log == nil {
		return nil
	}
	err := a.log.Record(ctx, es...)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, decisionlog.ErrDropped):
		if a.mustLog {
			return errNotLogged
		}
		return nil
	default: // the caller went away while a sync write was under way
		return wire.Status(err)
	}
}

// logBlocks reports whether the decision log keeps this replica from
// reporting itself healthy: with DecisionLogRequired, while the log is
// losing entries. It is one of the readiness conditions.
func (s *Server) logBlocks() bool {
	return s.opts.DecisionLogRequired && s.dlog != nil && s.dlog.Losing()
}

// logLosingChanged is the decision log's OnLosingChange: health follows
// the log as soon as it starts or stops losing entries. Before the health
// service exists (New has not finished) there is nothing to change: New
// sets health itself.
func (s *Server) logLosingChanged(bool) {
	if s.healthReady.Load() {
		s.ready.update()
	}
}

// decisionLogStatus is GetStatus's decision_log: nil when the log is off.
func (s *Server) decisionLogStatus() *pb.DecisionLogStatus {
	if s.dlog == nil {
		return nil
	}
	st := s.dlog.Stats()
	out := &pb.DecisionLogStatus{
		Path:        st.Path,
		Sync:        st.Sync,
		Required:    s.opts.DecisionLogRequired,
		Written:     st.Written,
		Dropped:     st.Dropped,
		WriteErrors: st.Errors,
		LastError:   st.LastError,
		Losing:      st.Losing,
	}
	if !st.LastErrorTime.IsZero() {
		out.LastErrorTime = timestamppb.New(st.LastErrorTime)
	}
	return out
}

// decisionLogMetrics are the decision log's counters, all read from the
// same Stats as GetStatus so the two agree. They exist, at 0, when the
// log is off, so alerts need no guard.
func decisionLogMetrics(l *decisionlog.Log) []prometheus.Collector {
	stat := func(f func(decisionlog.Stats) uint64) func() float64 {
		return func() float64 {
			if l == nil {
				return 0
			}
			return float64(f(l.Stats()))
		}
	}
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cedargate_decision_log_dropped_total",
			Help: "Decision log entries lost (buffer full, write errors, after shutdown began).",
		}, stat(func(st decisionlog.Stats) uint64 { return st.Dropped })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cedargate_decision_log_errors_total",
			Help: "Failed writes and reopens of the decision log file, and failed fsyncs of entries that were written.",
		}, stat(func(st decisionlog.Stats) uint64 { return st.Errors })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cedargate_decision_log_written_total",
			Help: "Decision log entries written; with dropped, every decision made.",
		}, stat(func(st decisionlog.Stats) uint64 { return st.Written })),
	}
}
