// Package benchmarks holds cedargate's engine benchmarks: decisions
// against generated repositories of every standard size and request mix
// (see package workload), run with
//
//	go test -run '^$' -bench . -benchmem ./benchmarks/
//
// Each benchmark reports, besides ns/op and allocations, the median and
// 99th percentile of single decisions (p50-ns, p99-ns), the policies
// handed to cedar-go per decision (candidates/op) and the bundle's policy
// and entity counts, so that a reader sees at once that a decision's cost
// follows its candidates and not the size of the bundle.
//
// BenchmarkDriftSCIM runs the cedargate binary's drift against a
// generated directory of 1k and 10k identities served by a real SCIM
// server, and reports the process's peak RSS and heap besides its time.
//
// BenchmarkRegistryRollout rolls a new revision of the 10k and 100k
// bundles out through a real OCI registry on loopback to three `cedargate
// serve --source` processes, and reports the time until all three serve
// it (p50, max), the same for a rollback, and the bytes the registry sent
// each replica.
//
// The service benchmarks (the real server under ghz load, beside a bare
// gRPC health check, and OPA as a peer) are in cmd/loadtest; `make bench`
// runs both. docs/performance.md explains how to read the results.
package benchmarks
