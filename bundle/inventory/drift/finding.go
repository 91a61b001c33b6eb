package drift

import (
	"cmp"
	"slices"
)

// Kind is what a finding is about.
type Kind string

// The kinds of findings; docs/drift.md explains each and its fix.
const (
	// LiveOnly is a live object that no identity object in code matches:
	// created outside the pipeline.
	LiveOnly Kind = "live-only"
	// CodeOnly is an identity object that no live object of a source
	// covering its kind matches: never provisioned, or removed by hand.
	CodeOnly Kind = "code-only"
	// Membership is a group membership that the live directory and code
	// disagree on, in either direction.
	Membership Kind = "membership"
	// Disabled is a live account that code declares but the directory
	// has disabled: a person who left, an account switched off by hand.
	Disabled Kind = "disabled"
	// Attribute is a field of a matched live object that contradicts
	// code: a Kubernetes ServiceAccount whose IRSA role annotation names
	// another role than the account's aws_arn.
	Attribute Kind = "attribute"
	// BindingUnknown is a live Kubernetes binding to a group or service
	// account that code knows, granting a role that code does not grant.
	BindingUnknown Kind = "binding-unknown"
	// CredentialStale is an active live access key older than the
	// rotation code requires.
	CredentialStale Kind = "credential-stale"
	// CredentialOnExpired is an active live credential on a
	// ServiceAccount whose expires has passed in code.
	CredentialOnExpired Kind = "credential-on-expired"
	// CredentialUnused is an active live credential not used (or never
	// used since it was issued) for longer than Options.UnusedAfter.
	CredentialUnused Kind = "credential-unused"
)

// Kinds are all finding kinds, in the order reports list them.
var Kinds = []Kind{LiveOnly, CodeOnly, Membership, Disabled, Attribute, BindingUnknown, CredentialStale, CredentialOnExpired, CredentialUnused}

// Finding is one difference between a live directory and identity code.
type Finding struct {
	// Kind is what the finding is about.
	Kind Kind `json:"kind"`
	// Source is the snapshot's source name (scim, kubernetes, awsiam).
	Source string `json:"source"`
	// LiveKind, LiveID and LiveKey name the live object (its kind, the
	// directory's id, and the key the mapping matched on); empty for a
	// code-only finding.
	LiveKind string `json:"live_kind,omitempty"`
	LiveID   string `json:"live_id,omitempty"`
	LiveKey  string `json:"live_key,omitempty"`
	// Code names the identity object ("User/ana"); empty for a
	// live-only finding.
	Code string `json:"code,omitempty"`
	// Pos is the code's file:line:column that the finding is about (the
	// field to change, or the object); empty for a live-only finding.
	Pos string `json:"pos,omitempty"`
	// Message says what differs, for people.
	Message string `json:"message"`
}

// Report is the result of a comparison.
type Report struct {
	// Env is the environment compared.
	Env string `json:"environment"`
	// At is the instant credentials and expiries were judged at.
	At string `json:"at"`
	// Sources are the snapshots' source names, in the order given.
	Sources []string `json:"sources"`
	// Findings are sorted by Source, Kind, LiveKey, Code, Message.
	Findings []Finding `json:"findings"`
}

// Count returns how many findings have one of kinds.
func (r *Report) Count(kinds ...Kind) int {
	n := 0
	for _, f := range r.Findings {
		if slices.Contains(kinds, f.Kind) {
			n++
		}
	}
	return n
}

func kindRank(k Kind) int {
	if i := slices.Index(Kinds, k); i >= 0 {
		return i
	}
	return len(Kinds)
}

func sortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)),
			cmp.Compare(a.LiveKey, b.LiveKey), cmp.Compare(a.Code, b.Code), cmp.Compare(a.Message, b.Message))
	})
}
