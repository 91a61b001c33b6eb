package pdp

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// readiness decides whether the server reports SERVING (gRPC health for
// the server and its decision services, and /readyz): only while every
// condition is clear. A condition is a reason to fail closed, a check of
// the instant that returns why the server must not serve, or "" when it
// may: no active bundle; a bundle source unreadable for longer than
// --max-staleness; with --decision-log-required, a decision log losing
// entries (Server.addReadinessConditions registers them). Another
// fail-closed rule is one more condition (add).
//
// The conditions are re-evaluated after every event that may change one
// (update: an activation, a read of the source) and on a ticker, because
// some change with time alone: a source that stays unreadable becomes
// stale without any event. Each transition is logged with its reason.
type readiness struct {
	log *slog.Logger
	// apply makes the decision visible (gRPC health); it is called with
	// mu held, so that two evaluations never apply out of order.
	apply func(serving bool)
	now   func() time.Time

	mu      sync.Mutex
	conds   []readinessCondition
	serving bool
	reason  string
}

// readinessCondition is one reason the server may have to fail closed.
type readinessCondition struct {
	name  string
	check func(now time.Time) string
}

// add registers a condition; name says, in logs, which one blocks.
// Conditions are checked in the order they were added, and the first that
// blocks gives the reason.
func (g *readiness) add(name string, check func(now time.Time) string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.conds = append(g.conds, readinessCondition{name: name, check: check})
}

// update re-evaluates the conditions and applies and logs a change.
func (g *readiness) update() {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	serving, reason, name := true, "", ""
	for _, c := range g.conds {
		if r := c.check(now); r != "" {
			serving, reason, name = false, r, c.name
			break
		}
	}
	if serving == g.serving && reason == g.reason {
		return
	}
	g.serving, g.reason = serving, reason
	g.apply(serving)
	if serving {
		g.log.Info("health: SERVING")
	} else {
		g.log.Warn("health: NOT_SERVING", "condition", name, "reason", reason)
	}
}

// state returns the last decision and, when not serving, why.
func (g *readiness) state() (serving bool, reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.serving, g.reason
}

// run re-evaluates the conditions every interval until ctx ends.
func (g *readiness) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.update()
		}
	}
}

// readinessInterval is how often the conditions are re-evaluated: often
// enough that a replica turns NOT_SERVING soon after its source has been
// unreadable for maxStale (within a quarter of it), and at least every
// second.
func readinessInterval(maxStale time.Duration) time.Duration {
	every := time.Second
	if maxStale > 0 {
		every = min(every, max(maxStale/4, 10*time.Millisecond))
	}
	return every
}
