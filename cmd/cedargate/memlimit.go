package main

import (
	"context"
	"errors"
	"log/slog"
	"math"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// memoryLimitRatio is the share of the container's memory limit that
// serve and build give the Go runtime as its soft memory limit
// (GOMEMLIMIT): the collector works harder as the heap nears it, rather
// than letting a hot reload's garbage (or a large build's) reach the
// limit and the kernel kill the process. The
// rest is room for what the runtime does not count as heap (goroutine
// stacks, its own metadata) and for the gap between the heap and the
// resident size.
const memoryLimitRatio = 0.9

// limitProviderKey is the context key of withContainerLimit's provider.
type limitProviderKey struct{}

// withContainerLimit returns ctx in which commands learn the container's
// memory limit from provider rather than from the cgroup (for tests).
func withContainerLimit(ctx context.Context, provider memlimit.Provider) context.Context {
	return context.WithValue(ctx, limitProviderKey{}, provider)
}

// containerLimit returns what reports the container's memory limit: the
// cgroup's, unless ctx says otherwise (withContainerLimit).
func containerLimit(ctx context.Context) memlimit.Provider {
	if p, ok := ctx.Value(limitProviderKey{}).(memlimit.Provider); ok {
		return p
	}
	return memlimit.FromCgroup
}

// limitMemory sets the Go runtime's memory limit to memoryLimitRatio of
// the limit provider reports (the cgroup's, in a container), unless the
// GOMEMLIMIT environment variable sets one already or AUTOMEMLIMIT=off
// turns this off (AUTOMEMLIMIT=0.8 chooses another ratio). Without a
// limit, or outside a cgroup, the runtime is left as it is: a process
// the operating system does not limit has nothing to keep under.
func limitMemory(log *slog.Logger, provider memlimit.Provider) {
	limit, err := memlimit.Set(memlimit.WithRatio(memoryLimitRatio), memlimit.WithProvider(provider))
	switch {
	case err != nil && (errors.Is(err, memlimit.ErrNoCgroup) || errors.Is(err, memlimit.ErrCgroupsNotSupported)):
		log.Debug("no container memory limit to derive GOMEMLIMIT from", "reason", err.Error())
	case err != nil:
		log.Warn("could not derive GOMEMLIMIT from the container's memory limit; set GOMEMLIMIT", "error", err.Error())
	case limit < math.MaxInt64:
		log.Info("Go memory limit", "gomemlimit_bytes", limit)
	}
}
