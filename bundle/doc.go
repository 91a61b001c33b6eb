// Package bundle defines the cedargate bundle: one environment of an identity
// repository at one revision, compiled to Cedar policies, entities and a
// schema, with a manifest, a content digest and an optional ed25519
// signature.
//
// The package is the format only: [Encode] writes a bundle as a
// deterministic tar.gz, [Decode] reads one back and verifies it. Turning an
// identity repository into a bundle lives in the sub-packages (repo, compile,
// guardrail, dectest, build), storing bundles in bundle/store.
package bundle
