package main

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cedargate/cedargate/bundle"
	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// statusJSON is the document `cedargate status --json` prints, a stable
// shape documented in docs/cli.md: GetStatusResponse with the API's field
// names (snake_case, as docs/api.md writes them), enums as the command
// line writes them ("success", "refuse-shadowing"), times in RFC 3339
// (UTC), durations as Go writes them ("1.5s") and counts as numbers. An
// absent message of the response is an absent key.
type statusJSON struct {
	Serving              bool              `json:"serving"`
	Bundle               *bundle.Ref       `json:"bundle,omitempty"`
	ActivationTime       string            `json:"activation_time,omitempty"`
	Build                *buildJSON        `json:"build,omitempty"`
	Source               string            `json:"source"`
	SourceStatus         *sourceStatusJSON `json:"source_status,omitempty"`
	LastFailedActivation *activationJSON   `json:"last_failed_activation,omitempty"`
	RecentActivations    []activationJSON  `json:"recent_activations"`
	DecisionLog          *decisionLogJSON  `json:"decision_log,omitempty"`
	RequestEntities      string            `json:"request_entities,omitempty"`
	Version              string            `json:"version"`
	Hostname             string            `json:"hostname"`
	StartTime            string            `json:"start_time,omitempty"`
}

type buildJSON struct {
	CompilerVersion string `json:"compiler_version"`
	BuildTime       string `json:"build_time,omitempty"`
	EntityCount     int32  `json:"entity_count"`
	PolicyCount     int32  `json:"policy_count"`
	GrantCount      int32  `json:"grant_count"`
	EarliestExpiry  string `json:"earliest_expiry,omitempty"`
}

type activationJSON struct {
	Bundle   bundle.Ref `json:"bundle"`
	Time     string     `json:"time"`
	Result   string     `json:"result"`
	Error    string     `json:"error,omitempty"`
	Duration string     `json:"duration"`
}

type sourceStatusJSON struct {
	LastSuccessTime string      `json:"last_success_time,omitempty"`
	LastErrorTime   string      `json:"last_error_time,omitempty"`
	LastError       string      `json:"last_error,omitempty"`
	ErrorCount      uint64      `json:"error_count"`
	MaxStaleness    string      `json:"max_staleness,omitempty"`
	Stale           bool        `json:"stale"`
	Target          *bundle.Ref `json:"target,omitempty"`
}

type decisionLogJSON struct {
	Path          string `json:"path"`
	Sync          bool   `json:"sync"`
	Required      bool   `json:"required"`
	Written       uint64 `json:"written"`
	Dropped       uint64 `json:"dropped"`
	WriteErrors   uint64 `json:"write_errors"`
	LastError     string `json:"last_error,omitempty"`
	LastErrorTime string `json:"last_error_time,omitempty"`
	Losing        bool   `json:"losing"`
}

// newStatusJSON converts a GetStatusResponse to the documented document.
func newStatusJSON(st *pb.GetStatusResponse) statusJSON {
	out := statusJSON{
		Serving:           st.GetServing(),
		ActivationTime:    jsonTime(st.GetActivationTime()),
		Source:            st.GetSource(),
		RecentActivations: []activationJSON{},
		Version:           st.GetVersion(),
		Hostname:          st.GetHostname(),
		StartTime:         jsonTime(st.GetStartTime()),
	}
	if b := st.GetBundle(); b != nil {
		out.Bundle = &bundle.Ref{Revision: b.GetRevision(), Digest: b.GetDigest(), Environment: b.GetEnvironment()}
	}
	if b := st.GetBuild(); b != nil {
		out.Build = &buildJSON{CompilerVersion: b.GetCompilerVersion(), BuildTime: jsonTime(b.GetBuildTime()),
			EntityCount: b.GetEntityCount(), PolicyCount: b.GetPolicyCount(), GrantCount: b.GetGrantCount(),
			EarliestExpiry: jsonTime(b.GetEarliestExpiry())}
	}
	if s := st.GetSourceStatus(); s != nil {
		out.SourceStatus = &sourceStatusJSON{LastSuccessTime: jsonTime(s.GetLastSuccessTime()), LastErrorTime: jsonTime(s.GetLastErrorTime()),
			LastError: s.GetLastError(), ErrorCount: s.GetErrorCount(), MaxStaleness: jsonDuration(s.GetMaxStaleness()), Stale: s.GetStale()}
		if t := s.GetTarget(); t != nil {
			out.SourceStatus.Target = &bundle.Ref{Revision: t.GetRevision(), Digest: t.GetDigest(), Environment: t.GetEnvironment()}
		}
	}
	if a := st.GetLastFailedActivation(); a != nil {
		j := newActivationJSON(a)
		out.LastFailedActivation = &j
	}
	for _, a := range st.GetRecentActivations() {
		out.RecentActivations = append(out.RecentActivations, newActivationJSON(a))
	}
	if d := st.GetDecisionLog(); d != nil {
		out.DecisionLog = &decisionLogJSON{Path: d.GetPath(), Sync: d.GetSync(), Required: d.GetRequired(), Written: d.GetWritten(),
			Dropped: d.GetDropped(), WriteErrors: d.GetWriteErrors(), LastError: d.GetLastError(),
			LastErrorTime: jsonTime(d.GetLastErrorTime()), Losing: d.GetLosing()}
	}
	if m := st.GetRequestEntities(); m != pb.RequestEntitiesMode_REQUEST_ENTITIES_MODE_UNSPECIFIED {
		out.RequestEntities = entityModeName(m)
	}
	return out
}

func newActivationJSON(a *pb.Activation) activationJSON {
	b := a.GetBundle()
	return activationJSON{
		Bundle:   bundle.Ref{Revision: b.GetRevision(), Digest: b.GetDigest(), Environment: b.GetEnvironment()},
		Time:     jsonTime(a.GetTime()),
		Result:   activationResultName(a.GetResult()),
		Error:    a.GetError(),
		Duration: a.GetDuration().AsDuration().String(),
	}
}

// jsonTime is t in RFC 3339 (UTC, with the fraction of a second it has),
// or "" when it is absent.
func jsonTime(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339Nano)
}

// jsonDuration is d as Go writes it, or "" when it is absent.
func jsonDuration(d *durationpb.Duration) string {
	if d == nil {
		return ""
	}
	return d.AsDuration().String()
}

// activationResultName is r as the command line writes it: "success" or
// "failure".
func activationResultName(r pb.ActivationResult) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "ACTIVATION_RESULT_"))
}

// entityModeName is m as serve --request-entities names it:
// REQUEST_ENTITIES_MODE_MERGE_ATTRIBUTES is "merge-attributes".
func entityModeName(m pb.RequestEntitiesMode) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(m.String(), "REQUEST_ENTITIES_MODE_")), "_", "-")
}
