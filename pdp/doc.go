// Package pdp is the cedargate policy decision point: a gRPC server that
// decides access requests against the active bundle of a store, hot-reloads
// bundles without dropping requests, logs every decision and exports
// Prometheus metrics.
package pdp
