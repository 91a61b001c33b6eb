// Package oci distributes bundles through an OCI registry (Harbor, ECR,
// GCR, ACR, GHCR, the CNCF Distribution registry), the way operators who
// outgrow one shared volume already ship software.
//
// A bundle travels as an OCI 1.1 artifact: a manifest of artifact type
// ArtifactTypeBundle whose one layer (MediaTypeBundle) is the bundle's
// .tar.gz exactly as a store keeps it, signature.json included, tagged by
// its revision (RevisionTag). Its annotations name the revision,
// environment and bundle digest, for people and for rollout; a replica
// trusts none of them: Fetch checks the OCI digests, then the bundle's own
// digest and signature, then that the bundle is the revision and
// environment the channel names.
//
// A channel (a tag such as "prod") is an artifact of its own type
// (ArtifactTypeChannel): a small signed document (Channel) naming the
// manifest of the bundle it serves, with the last moves and a sequence
// number that every rollout and rollback increments. Moving the channel is
// one PUT of its manifest; its history travels with it, so rollback needs
// no local state. Registries have no compare-and-swap on tags: a
// concurrent move is detected by reading the channel back (see
// Repository.Rollout), and replicas refuse a channel whose sequence goes
// backwards, a validly signed older document replayed to the tag.
//
// docs/oci.md documents the layout for operators and for other tools.
package oci
