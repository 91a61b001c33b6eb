package benchmarks

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// The registry rollout benchmark (issue 14): how long a rollout through
// an OCI registry takes to reach a fleet, and what it costs the
// registry per replica.

// Fleet shape of the benchmark: three replicas polling every 100 ms.
const (
	fleetReplicas = 3
	fleetPoll     = 100 * time.Millisecond
)

// TestRegistryRollout is the benchmark's correctness check at a small
// size, in `make test`: three replicas converge on a rolled-out revision
// and back on a rollback, each replica downloads the new bundle once
// (the registry sent it about one archive's worth of bytes, counted per
// replica), and a rollback downloads no bundle (it is in the caches).
func TestRegistryRollout(t *testing.T) {
	bt := load(t, "1k")
	f := newRegistryFleet(t, buildCedargate(t), bt.bundle, revisionName("1k", 0), fleetReplicas, fleetPoll)
	size := f.publish(t, revisionName("1k", 1))

	out := f.move(t, revisionName("1k", 1))
	if out.rev != revisionName("1k", 1) || out.converged < out.call || out.activate <= 0 || out.activate >= out.converged {
		t.Fatalf("rollout: %+v", out)
	}
	for i, tr := range out.perReplica {
		// The archive once; the manifests and the channel's document, and
		// the responses' headers, add a few KiB.
		if tr.Bundles != int64(size) || tr.Metadata == 0 || tr.Wire < tr.Bundles+tr.Metadata || tr.Wire > int64(size)+64<<10 {
			t.Errorf("rollout: replica %d was sent %+v, want the %d-byte archive once and a few KiB besides", i, tr, size)
		}
	}
	back := f.move(t, "")
	if back.rev != revisionName("1k", 0) {
		t.Fatalf("rollback to %s, want %s", back.rev, revisionName("1k", 0))
	}
	for i, tr := range back.perReplica {
		if tr.Bundles != 0 || tr.Metadata == 0 || tr.Wire < tr.Metadata || tr.Wire > 64<<10 {
			t.Errorf("rollback: replica %d was sent %+v, want a few KiB of manifests and no bundle", i, tr)
		}
	}
	t.Logf("%d-byte bundle: rollout converged in %v (the move itself %v, the slowest activation %v), rollback in %v; per replica %+v, then %+v",
		size, out.converged, out.call, out.activate, back.converged, out.perReplica[0], back.perReplica[0])
}

// BenchmarkRegistryRollout measures a fleet following a registry
// channel: a CNCF Distribution registry on loopback, and three
// `cedargate serve --source oci://…:prod --poll 100ms` processes, each
// with a cache of its own, serving the 10k or the 100k bundle.
//
// One op is a rollout of a revision never published before, awaited
// until all three replicas serve it, then a rollback, awaited likewise.
// Before each op (timer stopped) the base bundle is published again
// under a new revision, signed: same content and size, another digest,
// so every rollout downloads a whole bundle, as a real one does. Times
// run from the start of the move (the bundle/oci call `cedargate rollout`
// and `rollback` make: read the channel, fetch and verify the bundle,
// write the channel) to the last replica's activation time as its
// GetStatus reports it:
//
//   - ms-p50, ms-max: rollout of a new revision, median and worst;
//     about a poll interval (half of one on average), the download, and
//     the activation (verify, decode, compile) on replicas that share the
//     machine's cores;
//   - ms-rollback-p50, ms-rollback-max: rollback to the previous revision,
//     which every replica holds in its cache: no download;
//   - ms-move-p50: the rollout call alone;
//   - ms-activate-p50: the slowest replica's activation of the rollout
//     (reading the bundle from its cache, decoding, compiling: the
//     activation GetStatus reports), the PDP's share of ms-p50; the rest
//     is the move, the wait for a poll, the download and the
//     verification into the cache;
//   - B/replica: bytes the registry sent each replica per rollout (mean
//     of the replicas), as they left its socket, headers included;
//     B-bundle/replica, the response bodies of bundle archives among
//     them (the rest is manifests, the channel's document and headers);
//     B/replica-rollback likewise per rollback: no bundle;
//   - bundle-B: the bundle archive, the blob a rollout downloads.
//
// Each replica reaches the registry through a TCP relay of its own,
// which counts what flows back and tells the registry's middleware whose
// request it answers; the publisher's own traffic is not counted. An op
// takes more than a second, so `make bench`'s -benchtime 1s runs one per
// size: run it with -benchtime 5x for medians
// (benchmarks/results/2026-12-07-vm-issue14.md).
func BenchmarkRegistryRollout(b *testing.B) {
	bin := buildCedargate(b)
	for _, size := range []string{"10k", "100k"} {
		b.Run("size="+size, func(b *testing.B) {
			bt := load(b, size)
			f := newRegistryFleet(b, bin, bt.bundle, revisionName(size, 0), fleetReplicas, fleetPoll)
			var rollouts, rollbacks, calls, activations []time.Duration
			var sent, bundles, sentBack int64
			archive, n := 0, 0
			for b.Loop() {
				b.StopTimer()
				n++
				rev := revisionName(size, n)
				archive = f.publish(b, rev)
				b.StartTimer()
				out := f.move(b, rev)
				back := f.move(b, "")
				rollouts, rollbacks = append(rollouts, out.converged), append(rollbacks, back.converged)
				calls, activations = append(calls, out.call), append(activations, out.activate)
				for i := range f.replicas {
					sent += out.perReplica[i].Wire
					bundles += out.perReplica[i].Bundles
					sentBack += back.perReplica[i].Wire
				}
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			p50, top := medianMax(rollouts)
			b.ReportMetric(ms(p50), "ms-p50")
			b.ReportMetric(ms(top), "ms-max")
			p50, top = medianMax(rollbacks)
			b.ReportMetric(ms(p50), "ms-rollback-p50")
			b.ReportMetric(ms(top), "ms-rollback-max")
			p50, _ = medianMax(calls)
			b.ReportMetric(ms(p50), "ms-move-p50")
			p50, _ = medianMax(activations)
			b.ReportMetric(ms(p50), "ms-activate-p50")
			per := float64(n * len(f.replicas))
			b.ReportMetric(float64(sent)/per, "B/replica")
			b.ReportMetric(float64(bundles)/per, "B-bundle/replica")
			b.ReportMetric(float64(sentBack)/per, "B/replica-rollback")
			b.ReportMetric(float64(archive), "bundle-B")
			b.Logf("%s: rollouts %v (moves %v, slowest activations %v); rollbacks %v",
				size, rounded(rollouts), rounded(calls), rounded(activations), rounded(rollbacks))
		})
	}
}

// medianMax returns the median (the upper one of an even count) and the
// largest of ds, which must not be empty.
func medianMax(ds []time.Duration) (time.Duration, time.Duration) {
	s := slices.Sorted(slices.Values(ds))
	return s[len(s)/2], s[len(s)-1]
}

// rounded renders durations to the millisecond, for the log.
func rounded(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond).String()
	}
	return fmt.Sprint(out)
}
