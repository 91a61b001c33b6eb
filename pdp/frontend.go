package pdp

import (
	"context"
	"time"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/decisionlog"
	"github.com/cedargate/cedargate/pdp/engine"
)

// This file is what in-process front ends (Envoy's ext_authz, the AuthZEN
// HTTP API) decide with: the same admission, request checks, metrics and
// decision log as Authorize, against one snapshot per call.

// Frontend says who is asking, for the decisions of an in-process front
// end.
type Frontend struct {
	// Name is written to each decision's log entry as "frontend", e.g.
	// "authzen"; empty writes none.
	Name string
	// Caller is the client's identity as the front end's transport proves
	// it (see TLSCaller), for the decision log; "" when unknown.
	Caller string
	// EntityMode, when set, is what a request entity whose uid the bundle
	// defines does for this front end's requests, in place of the
	// deployment's Options.RequestEntities: AuthZEN's properties always
	// lay attributes over the bundle's entity (engine.MergeAttributes).
	EntityMode *engine.EntityMode
}

// Batch is one call of an in-process front end: decisions made against
// one snapshot, at one instant, and written to the decision log together
// by Commit. It is not safe for concurrent use.
type Batch struct {
	a     *authzService
	cur   *served
	now   time.Time
	start time.Time
	front Frontend
	mode  engine.EntityMode
	// entries wait for Commit; nil when the decision log is off.
	entries []decisionlog.Entry
}

// Begin starts a call of an in-process front end: it takes the served
// snapshot once (a reload during the call does not change what decides
// it) and the decision instant. It fails with gRPC UNAVAILABLE when no
// bundle is active, and with ctx's error when the caller has gone.
func (s *Server) Begin(ctx context.Context, f Frontend) (*Batch, error) {
	start := time.Now()
	cur, err := s.authz.admit(ctx)
	if err != nil {
		return nil, err
	}
	b := &Batch{a: s.authz, cur: cur, now: s.opts.Clock(), start: start, front: f, mode: s.authz.entityMode}
	if f.EntityMode != nil {
		b.mode = *f.EntityMode
	}
	return b, nil
}

// Snapshot is the snapshot that decides the batch.
func (b *Batch) Snapshot() *engine.Snapshot { return b.cur.snap }

// Bundle identifies the bundle that decides the batch.
func (b *Batch) Bundle() bundle.Ref { return b.cur.ref }

// Now is the batch's decision instant, against which time-bound grants are
// judged.
func (b *Batch) Now() time.Time { return b.now }

// Prepared returns what the preparer k derived from the batch's bundle
// when it was activated (see Server.Prepare).
func (b *Batch) Prepared(k PreparedKey) any { return b.cur.prepared[k] }

// Decide decides req as Authorize does: a request entity that shadows the
// bundle as the front end's mode does not allow, or a request that does
// not match the schema when the server validates requests, is refused
// with a *wire.FieldError (relative to the request) and is not a decision;
// otherwise the decision is counted in the metrics and its entry kept for
// Commit.
func (b *Batch) Decide(req *engine.Request) (Result, error) {
	if err := b.prepare(req); err != nil {
		return Result{}, err
	}
	d, id, e := b.a.decide(b.cur, req, b.start, b.front.Caller)
	if b.a.log != nil {
		e.Frontend = b.front.Name
		b.entries = append(b.entries, e)
	}
	return Result{Decision: d, ID: id, Bundle: b.cur.ref}, nil
}

// Evaluate answers req as Decide does, without counting or logging it: for
// questions about what would be allowed (AuthZEN's searches), which no one
// enforces.
func (b *Batch) Evaluate(req *engine.Request) (engine.Decision, error) {
	if err := b.prepare(req); err != nil {
		return engine.Decision{}, err
	}
	return b.cur.snap.Decide(req), nil
}

func (b *Batch) prepare(req *engine.Request) error {
	req.EntityMode = b.mode
	if err := shadowing(b.cur.snap, req, b.mode); err != nil {
		return err
	}
	if err := b.cur.check(req); err != nil {
		return err
	}
	req.Time = b.now
	return nil
}

// Commit writes the batch's decisions to the decision log. A front end
// calls it before answering: in sync mode (and with
// DecisionLogRequired) it waits for the write, and fails with gRPC
// UNAVAILABLE when the decisions must not be answered because the log
// could not take them.
func (b *Batch) Commit(ctx context.Context) error {
	entries := b.entries
	b.entries = nil
	return b.a.record(ctx, entries...)
}

// Decide decides the request build makes exactly as Authorize does: it is
// counted in the metrics and recorded in the decision log. build receives
// the snapshot that will decide, so that a front end can look entities up
// (BySPIFFEID) in the same bundle, and the decision instant, so that a
// context's time agrees with the one grants are judged at; an error from
// build is returned as it is. Decide fails with gRPC UNAVAILABLE when no
// bundle is active, and when the decision must not be answered because its
// entry could not be logged (sync mode, DecisionLogRequired). In-process
// front ends that decide one request per call (the Envoy ext_authz
// adapter) use it; Begin serves those that decide several.
func (s *Server) Decide(ctx context.Context, build func(snap *engine.Snapshot, now time.Time) (*engine.Request, error)) (Result, error) {
	b, err := s.Begin(ctx, Frontend{Caller: s.authz.caller(ctx)})
	if err != nil {
		return Result{}, err
	}
	req, err := build(b.Snapshot(), b.Now())
	if err != nil {
		return Result{}, err
	}
	res, err := b.Decide(req)
	if err != nil {
		return Result{}, err
	}
	if err := b.Commit(ctx); err != nil {
		return Result{}, err
	}
	return res, nil
}

// Preparer derives, from a bundle being activated and its snapshot, what
// an in-process front end needs besides the snapshot (AuthZEN's compiled
// mapping), once per bundle and off the request path. An error refuses
// the bundle, like one that does not compile: the last good bundle keeps
// serving.
type Preparer func(b *bundle.Bundle, snap *engine.Snapshot) (any, error)

// PreparedKey names what a Preparer derived, for Batch.Prepared.
type PreparedKey int

// Prepare registers f to run on every bundle as it is activated. Front
// ends call it while the server is being built (from Options.HTTP or
// Options.Extra), before the first activation.
func (s *Server) Prepare(f Preparer) PreparedKey {
	s.reload.prepare = append(s.reload.prepare, f)
	return PreparedKey(len(s.reload.prepare) - 1)
}
