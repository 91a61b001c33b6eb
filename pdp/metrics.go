package pdp

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
)

// metrics are the PDP's Prometheus metrics, registered on a registry of
// the server's own (no global state), served on the metrics listener.
type metrics struct {
	registry     *prometheus.Registry
	allow, deny  prometheus.Counter
	duration     prometheus.Histogram
	bundleInfo   *prometheus.GaugeVec
	activations  *prometheus.CounterVec
	lastActivate prometheus.Gauge
	// decisionErrors counts decisions in which a policy failed to
	// evaluate; unknownPrincipal and unknownResource count decisions
	// whose principal or resource the bundle and the request lack (the
	// two series of cedargate_unknown_entities_total, curried once).
	decisionErrors                    prometheus.Counter
	unknownPrincipal, unknownResource prometheus.Counter
	// activateOK and activateFail are activations' two series, curried
	// once.
	activateOK, activateFail prometheus.Counter
	// sourceErrors and lastCheck say whether the replica can still read
	// its bundle source (see sourceHealth).
	sourceErrors prometheus.Counter
	// sourceTargetInfo is what the source names (sourceHealth.named).
	sourceTargetInfo *prometheus.GaugeVec
	lastCheck        prometheus.Gauge
}

// newMetrics creates the metrics and registers them, but for the decision
// log's, which decisionLogMetrics makes.
func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cedargate_decisions_total",
		Help: "Decisions made, by decision (allow or deny).",
	}, []string{"decision"})
	unknown := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cedargate_unknown_entities_total",
		Help: "Decisions whose principal or resource (role) is neither a bundle entity nor a request entity; a request with both unknown counts once in each.",
	}, []string{"role"})
	m := &metrics{
		registry: reg,
		allow:    decisions.WithLabelValues("allow"),
		deny:     decisions.WithLabelValues("deny"),
		decisionErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cedargate_decision_errors_total",
			Help: "Decisions in which at least one policy raised an evaluation error (Cedar skips such a policy; the errors are in the response and the decision log).",
		}),
		// Both roles exist from the start, so that alerts see the first.
		unknownPrincipal: unknown.WithLabelValues("principal"),
		unknownResource:  unknown.WithLabelValues("resource"),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cedargate_decision_duration_seconds",
			Help: "Time from receiving a request (for BatchAuthorize, the whole batch) to deciding it: decoding, schema check, evaluation; not network or response encoding.",
			// Decisions take microseconds; the default buckets start at 5 ms.
			Buckets: []float64{5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3},
		}),
		bundleInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cedargate_bundle_info",
			Help: "The active bundle: 1 for its revision, digest and environment.",
		}, []string{"revision", "digest", "environment"}),
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cedargate_bundle_activations_total",
			Help: "Bundle activation attempts, by result (success or failure).",
		}, []string{"result"}),
		lastActivate: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cedargate_bundle_last_activation_timestamp_seconds",
			Help: "Unix time of the last successful bundle activation.",
		}),
	}
	// Both results exist from the start, so that alerts on failures work
	// before the first failure.
	m.activateOK = m.activations.WithLabelValues("success")
	m.activateFail = m.activations.WithLabelValues("failure")
	m.addSourceMetrics()
	reg.MustRegister(decisions, m.decisionErrors, unknown, m.duration, m.bundleInfo, m.activations, m.lastActivate,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// activated records a successful activation of ref, replacing the
// previous bundle's info series.
func (m *metrics) activated(prev *bundle.Ref, ref bundle.Ref, unix float64) {
	if prev != nil {
		m.bundleInfo.DeleteLabelValues(prev.Revision, prev.Digest, prev.Environment)
	}
	m.bundleInfo.WithLabelValues(ref.Revision, ref.Digest, ref.Environment).Set(1)
	m.activateOK.Inc()
	m.lastActivate.Set(unix)
}

func (m *metrics) failed() { m.activateFail.Inc() }

// decided counts decision d: its outcome, whether a policy failed to
// evaluate, and whether it named entities nobody defines.
func (m *metrics) decided(d *engine.Decision) {
	if d.Allow {
		m.allow.Inc()
	} else {
		m.deny.Inc()
	}
	if len(d.Errors) > 0 {
		m.decisionErrors.Inc()
	}
	if d.UnknownPrincipal {
		m.unknownPrincipal.Inc()
	}
	if d.UnknownResource {
		m.unknownResource.Inc()
	}
}

// addSourceMetrics creates and registers the bundle source's metrics.
func (m *metrics) addSourceMetrics() {
	m.sourceErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cedargate_bundle_source_errors_total",
		Help: "Failed reads of the bundle source (its active pointer, or a bundle file that cannot be read); a bundle refused for its content is an activation failure instead.",
	})
	m.lastCheck = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cedargate_bundle_last_check_timestamp_seconds",
		Help: "Unix time of the last successful read of the bundle source; 0 until the first. Its age is how long the replica has not confirmed what it serves.",
	})
	m.sourceTargetInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "cedargate_bundle_source_target_info",
		Help: "The bundle the source names, which the replica should serve (the store's active pointer, or what the registry channel names): 1 for its revision and digest. It differs from cedargate_bundle_info while an activation is in progress or what the source names is refused.",
	}, []string{"revision", "digest"})
	m.registry.MustRegister(m.sourceErrors, m.lastCheck, m.sourceTargetInfo)
}

// sourceTarget records that the source names next instead of prev.
func (m *metrics) sourceTarget(prev, next bundle.Ref) {
	if prev.Revision != "" {
		m.sourceTargetInfo.DeleteLabelValues(prev.Revision, prev.Digest)
	}
	m.sourceTargetInfo.WithLabelValues(next.Revision, next.Digest).Set(1)
}

func (m *metrics) sourceChecked(at time.Time) { m.lastCheck.Set(float64(at.UnixNano()) / 1e9) }

func (m *metrics) sourceFailed() { m.sourceErrors.Inc() }
