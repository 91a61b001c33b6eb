package pdp

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/decisionlog"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// Defaults of Options, for the fields left zero.
const (
	DefaultMaxRecvMsgBytes = 4 << 20
	DefaultPoll            = 30 * time.Second
	DefaultShutdownTimeout = 15 * time.Second
	// DefaultStreamWorkersPerProc is how many gRPC stream workers
	// (Options.StreamWorkers) a server keeps per GOMAXPROCS.
	DefaultStreamWorkersPerProc = 16
)

// Options configure a PDP server.
type Options struct {
	// Source provides bundles; required.
	Source Source
	// Listen is the gRPC address, for example "127.0.0.1:9191" or ":9191".
	Listen string
	// MetricsListen is the address of the HTTP listener serving /metrics,
	// /healthz and /readyz; empty means none.
	MetricsListen string
	// DecisionLog configures the decision log; an empty Path turns it off.
	// With DecisionLog.Sync a decision is answered only once its entry
	// has reached the operating system (see logloss.go).
	DecisionLog decisionlog.Options
	// DecisionLogRequired turns health NOT_SERVING while the decision log
	// is losing entries, for deployments where an unlogged decision is a
	// compliance breach, and refuses decisions the log cannot take.
	DecisionLogRequired bool
	// VerifyKeys, when set, make the PDP refuse bundles without a valid
	// signature by one of these keys. Keeping the old key beside the new one
	// during a key rotation lets rollbacks to older bundles work.
	VerifyKeys []ed25519.PublicKey
	// Limits bound each request; zero fields take wire's defaults.
	Limits wire.Limits
	// MaxRecvMsgBytes bounds a request message; default 4 MiB.
	MaxRecvMsgBytes int
	// StreamWorkers is how many goroutines take turns handling gRPC
	// calls (grpc.NumStreamWorkers). A call then runs on a goroutine
	// whose stack has already grown to what a decision needs (cedar-go's
	// evaluation and gRPC's receive path), where a goroutine of its own
	// would start small and copy its stack as it grows, on every call:
	// about a tenth of an Authorize call's CPU. A call that finds every
	// worker busy gets a goroutine of its own, as without workers. Zero
	// means DefaultStreamWorkersPerProc per GOMAXPROCS; negative, no
	// workers.
	StreamWorkers int
	// TLS, when set, serves gRPC over TLS (set ClientAuth for mTLS: the
	// decision log then records the caller's certificate identity).
	TLS *tls.Config
	// Logger receives the server's structured logs; default slog.Default().
	Logger *slog.Logger
	// Poll is how often the source is re-read even without a change
	// notification; default 30s, negative disables polling.
	Poll time.Duration
	// RetryFailedAfter is how long the periodic poll leaves alone a bundle
	// that could not be read (an I/O error) before trying it again;
	// default 5m. A change notification retries it at once. A bundle
	// refused for its content is not read again until its file or the
	// active pointer changes.
	RetryFailedAfter time.Duration
	// MaxStaleness, when positive, makes the server report NOT_SERVING
	// (gRPC health and /readyz) while its source has failed to be read
	// for longer than this since the last successful read, and SERVING
	// again once a read succeeds: fail closed rather than decide with a
	// bundle that may have been rolled back long ago. Zero (the default)
	// keeps serving the last good bundle whatever happens to the source.
	MaxStaleness time.Duration
	// Debounce is how long the reloader waits for a burst of change
	// notifications to end; default 25ms.
	Debounce time.Duration
	// ShutdownTimeout bounds how long shutdown waits for requests in
	// flight before closing connections; default 15s.
	ShutdownTimeout time.Duration
	// Extra registers further services on the gRPC server (for example
	// Envoy's ext_authz); it runs before the server starts. Every service
	// registered has its gRPC health tied to bundle state, and answers a
	// request body that does not decode with INVALID_ARGUMENT (see
	// codec.go).
	Extra func(grpc.ServiceRegistrar, *Server)
	// ValidateRequests refuses, with INVALID_ARGUMENT, requests that do
	// not match the bundle's schema: unknown entity types or actions, a
	// principal or resource type the action does not apply to, a context
	// or request entity of the wrong shape. Cedar itself decides such
	// requests (a policy that fails on a missing attribute is skipped,
	// which can turn a forbid off), so callers that cannot guarantee their
	// requests should turn this on. Bundles without a schema are then
	// refused.
	ValidateRequests bool
	// Clock gives the decision instant, against which time-bound grants are
	// judged; default time.Now. Tests and replays set it.
	Clock func() time.Time
	// RequestEntities is what a request entity whose uid the bundle
	// defines does, from every front end: refused with INVALID_ARGUMENT
	// (the zero value, engine.RefuseShadowing), merged into the bundle's
	// entity (engine.MergeAttributes) or used instead of it
	// (engine.Replace). See engine.EntityMode.
	RequestEntities engine.EntityMode
	// HTTPListen is the address of the listener of HTTP front ends (the
	// AuthZEN API), whose handler HTTP builds; empty means none.
	HTTPListen string
	// HTTP builds the handler served on HTTPListen. It runs in New, before
	// the first bundle is activated, so it may register Preparers.
	HTTP func(*Server) (http.Handler, error)
	// HTTPTLS, when set, serves HTTPListen over TLS (set ClientAuth for
	// mTLS; TLSCaller then names the caller).
	HTTPTLS *tls.Config
}

// Server is a running PDP.
type Server struct {
	opts    Options
	log     *slog.Logger
	grpc    *grpc.Server
	health  *health.Server
	reload  *reloader
	authz   *authzService
	dlog    *decisionlog.Log
	metrics *metrics
	lis     net.Listener
	mlis    net.Listener
	http    *http.Server
	// hlis and front are the HTTP front ends' listener and server; nil
	// without HTTPListen.
	hlis   net.Listener
	front  *http.Server
	ready  *readiness
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	errc   chan error
	// stopping turns /readyz unready as shutdown begins, as gRPC health
	// turns NOT_SERVING.
	stopping atomic.Bool
	// healthReady is set once the health service has its services.
	healthReady atomic.Bool
}

// New builds a PDP: it opens the decision log, binds the listeners,
// activates the source's active bundle (if any; without one the PDP
// answers UNAVAILABLE and reports NOT_SERVING until one arrives) and
// starts following the source. Call Serve to answer requests.
func New(opts Options) (*Server, error) {
	if opts.Source == nil {
		return nil, errors.New("pdp: no bundle source")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxRecvMsgBytes <= 0 {
		opts.MaxRecvMsgBytes = DefaultMaxRecvMsgBytes
	}
	if opts.StreamWorkers == 0 {
		opts.StreamWorkers = DefaultStreamWorkersPerProc * runtime.GOMAXPROCS(0)
	}
	if opts.Poll == 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 25 * time.Millisecond
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.RetryFailedAfter <= 0 {
		opts.RetryFailedAfter = 5 * time.Minute
	}
	s := &Server{opts: opts, log: opts.Logger, errc: make(chan error, 2)}
	var err error
	if opts.DecisionLog.Path != "" {
		if opts.DecisionLog.Logger == nil {
			opts.DecisionLog.Logger = opts.Logger
		}
		opts.DecisionLog.OnLosingChange = s.logLosingChanged
		if s.dlog, err = decisionlog.Open(opts.DecisionLog); err != nil {
			return nil, fmt.Errorf("opening decision log: %w", err)
		}
	}
	s.metrics = newMetrics()
	s.metrics.registry.MustRegister(decisionLogMetrics(s.dlog)...)
	s.health = health.NewServer()
	s.ready = &readiness{log: opts.Logger, apply: s.setServing, now: time.Now}
	s.reload = &reloader{src: opts.Source, keys: opts.VerifyKeys, log: opts.Logger, metrics: s.metrics,
		debounce: opts.Debounce, poll: max(opts.Poll, 0), onChange: s.ready.update, validate: opts.ValidateRequests,
		retryAfter: opts.RetryFailedAfter,
		health:     &sourceHealth{maxStale: opts.MaxStaleness, started: time.Now(), metrics: s.metrics, log: opts.Logger}}
	s.reload.health.serving = s.reload.servingRevision
	if up, ok := opts.Source.(Upstream); ok {
		s.reload.health.upstream, s.reload.health.changed = true, s.ready.update
		up.ReportTo(s.reload.health.confirmed, s.reload.health.unconfirmed)
	}
	s.addReadinessConditions()

	if s.lis, err = net.Listen("tcp", opts.Listen); err != nil {
		s.closeLog(context.Background())
		return nil, fmt.Errorf("listening on %s: %w", opts.Listen, err)
	}
	if opts.MetricsListen != "" {
		if s.mlis, err = net.Listen("tcp", opts.MetricsListen); err != nil {
			s.closeListeners()
			s.closeLog(context.Background())
			return nil, fmt.Errorf("listening on %s: %w", opts.MetricsListen, err)
		}
	}
	if opts.HTTPListen != "" {
		if opts.HTTP == nil {
			s.closeListeners()
			s.closeLog(context.Background())
			return nil, errors.New("pdp: HTTPListen without an HTTP handler")
		}
		if s.hlis, err = net.Listen("tcp", opts.HTTPListen); err != nil {
			s.closeListeners()
			s.closeLog(context.Background())
			return nil, fmt.Errorf("listening on %s: %w", opts.HTTPListen, err)
		}
	}

	// The handling-time histogram gives end-to-end RPC latency, which the
	// decision histogram (decode to answer) does not.
	srvMetrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
		grpcprom.WithHistogramBuckets([]float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3, 1}),
	))
	s.metrics.registry.MustRegister(srvMetrics)
	gopts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(opts.MaxRecvMsgBytes),
		grpc.ForceServerCodecV2(newBodyCodec()),
		grpc.ChainUnaryInterceptor(srvMetrics.UnaryServerInterceptor()),
	}
	if opts.TLS != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	if opts.StreamWorkers > 0 {
		gopts = append(gopts, grpc.NumStreamWorkers(uint32(min(opts.StreamWorkers, math.MaxUint16))))
	}
	s.grpc = grpc.NewServer(gopts...)
	s.authz = &authzService{r: s.reload, limits: opts.Limits, metrics: s.metrics, log: s.dlog, ids: newIDSource(), clock: opts.Clock,
		entityMode: opts.RequestEntities, mustLog: opts.DecisionLog.Sync || opts.DecisionLogRequired}
	// Every service is registered through reg, which makes an
	// undecodable body INVALID_ARGUMENT rather than INTERNAL.
	reg := bodyRegistrar{s.grpc}
	reg.RegisterService(authorizationDesc(), s.authz)
	admin := newAdminService(s.reload, time.Now())
	admin.entityMode = opts.RequestEntities
	admin.decisionLog = s.decisionLogStatus
	admin.stopping = s.stopping.Load
	pb.RegisterAdminServiceServer(reg, admin)
	healthpb.RegisterHealthServer(reg, s.health)
	reflection.Register(reg)
	if opts.Extra != nil {
		opts.Extra(reg, s)
	}
	if s.hlis != nil {
		h, err := opts.HTTP(s)
		if err != nil {
			s.closeListeners()
			s.closeLog(context.Background())
			return nil, err
		}
		s.front = newFrontServer(h, opts.HTTPTLS, opts.Logger)
	}
	srvMetrics.InitializeMetrics(s.grpc)
	s.setServing(false)
	s.healthReady.Store(true)

	// Activate what is active now before answering anything, so a
	// restarted replica never answers UNAVAILABLE when a bundle exists.
	s.reload.sync(true)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	changes, err := opts.Source.Watch(ctx, func(err error) { s.log.Warn("watching bundle source", "error", err.Error()) })
	if err != nil {
		cancel()
		s.closeListeners()
		s.closeLog(context.Background())
		return nil, err
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.ready.run(ctx, readinessInterval(opts.MaxStaleness))
	}()
	go func() {
		defer s.wg.Done()
		s.reload.run(ctx, changes)
		// The watcher closes the channel once it has stopped: waiting for
		// that here makes Shutdown wait for the watcher too.
		for range changes {
		}
	}()
	return s, nil
}

// addReadinessConditions registers what the server needs to report
// SERVING (see readiness): an active bundle and, with MaxStaleness, a
// source read successfully recently enough, and, with
// DecisionLogRequired, a decision log that is not losing entries.
func (s *Server) addReadinessConditions() {
	s.ready.add("bundle", func(time.Time) string {
		if !s.Serving() {
			return "no active bundle"
		}
		return ""
	})
	s.ready.add("source", s.reload.health.staleness)
	s.ready.add("decision-log", func(time.Time) string {
		if s.logBlocks() {
			return "decision log is losing entries"
		}
		return ""
	})
}

// setServing sets gRPC health as readiness decides: the server as a whole
// ("") and every decision service registered on it alike.
func (s *Server) setServing(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	for name := range s.grpc.GetServiceInfo() {
		if name != healthpb.Health_ServiceDesc.ServiceName && !strings.HasPrefix(name, "grpc.reflection.") {
			s.health.SetServingStatus(name, st)
		}
	}
}

// Registerer is where in-process front ends register metrics of their own,
// served with the PDP's on the metrics listener.
func (s *Server) Registerer() prometheus.Registerer { return s.metrics.registry }

// Addr is the gRPC listener's address.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// HTTPAddr is the HTTP front ends' listener's address, or nil.
func (s *Server) HTTPAddr() net.Addr {
	if s.hlis == nil {
		return nil
	}
	return s.hlis.Addr()
}

// closeListeners closes the listeners New bound, when it fails.
func (s *Server) closeListeners() {
	for _, l := range []net.Listener{s.lis, s.mlis, s.hlis} {
		if l != nil {
			l.Close()
		}
	}
}

// MetricsAddr is the metrics listener's address, or nil.
func (s *Server) MetricsAddr() net.Addr {
	if s.mlis == nil {
		return nil
	}
	return s.mlis.Addr()
}

// Serving reports whether a bundle is active.
func (s *Server) Serving() bool { return s.reload.current.Load() != nil }

// Serve answers requests until ctx ends, then shuts down gracefully (see
// Shutdown). It returns the first serving error, or nil after a clean
// shutdown.
func (s *Server) Serve(ctx context.Context) error {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.grpc.Serve(s.lis); err != nil {
			s.errc <- fmt.Errorf("serving gRPC: %w", err)
		}
	}()
	if s.mlis != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if s.stopping.Load() {
				http.Error(w, "shutting down", http.StatusServiceUnavailable)
				return
			}
			if ok, reason := s.ready.state(); !ok {
				http.Error(w, reason, http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.http.Serve(s.mlis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.errc <- fmt.Errorf("serving metrics: %w", err)
			}
		}()
	}
	if s.front != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := serveFront(s.front, s.hlis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.errc <- fmt.Errorf("serving HTTP: %w", err)
			}
		}()
		s.log.Info("serving HTTP", "addr", s.hlis.Addr().String(), "tls", s.opts.HTTPTLS != nil)
	}
	s.log.Info("serving", "addr", s.Addr().String(), "source", s.opts.Source.String(), "serving", s.Serving())
	var err error
	select {
	case <-ctx.Done():
	case err = <-s.errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout+FlushTimeout)
	defer cancel()
	if serr := s.Shutdown(shutdownCtx); err == nil {
		err = serr
	}
	return err
}

// Shutdown stops the PDP in the order that loses nothing: health reports
// NOT_SERVING so load balancers move away, the gRPC server and the HTTP
// front ends stop accepting and finish requests in flight (up to
// ShutdownTimeout), the decision log
// is flushed with every decision made (until ctx ends; Serve allows
// FlushTimeout), then the watcher and the metrics listener stop.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.stopping.Store(true)
		s.health.Shutdown()
		done := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(done)
		}()
		// The HTTP front ends stop beside gRPC, finishing their requests
		// in flight within the same timeout, so that every decision they
		// make is in the log flushed below.
		frontDone := s.stopFront()
		select {
		case <-done:
		case <-time.After(s.opts.ShutdownTimeout):
			s.log.Warn("shutdown timeout: closing connections with requests in flight")
			s.grpc.Stop()
			<-done
		}
		<-frontDone
		err = s.closeLog(ctx)
		if s.http != nil {
			if herr := s.http.Shutdown(ctx); herr != nil && err == nil {
				err = herr
			}
		} else if s.mlis != nil {
			s.mlis.Close()
		}
		s.cancel()
		s.wg.Wait()
		s.log.Info("stopped")
	})
	return err
}

// FlushTimeout is how long Serve's shutdown gives the decision log to
// flush after requests in flight have finished (ShutdownTimeout).
const FlushTimeout = 30 * time.Second

func (s *Server) closeLog(ctx context.Context) error {
	if s.dlog == nil {
		return nil
	}
	if err := s.dlog.Close(ctx); err != nil {
		return fmt.Errorf("flushing decision log: %w", err)
	}
	return nil
}

// Result is a decision made by the server, with what identifies it.
type Result struct {
	engine.Decision
	// ID is the decision id, as in the decision log.
	ID string
	// Bundle is the bundle that decided.
	Bundle bundle.Ref
}
