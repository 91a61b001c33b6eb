package decisionlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/repo"
)

// lineJSON is a log line as encoding/json sees it. Pointers tell a missing
// field from an empty one: a line without them is not an entry, and
// reading it as one would explain a decision nobody made.
type lineJSON struct {
	DecisionID *string `json:"decision_id"`
	Time       *string `json:"time"`
	Principal  *string `json:"principal"`
	Action     *string `json:"action"`
	Resource   *string `json:"resource"`
	Decision   *string `json:"decision"`
	Policies   []string
	Errors     []struct {
		PolicyID string `json:"policy_id"`
		Message  string `json:"message"`
	}
	Bundle    *Bundle
	LatencyUS int64 `json:"latency_us"`
	Caller    string
	Frontend  string
}

// ParseEntry reads one line of the decision log (without its line break)
// back into the entry that was written. A line that is not JSON, is not an
// object, or lacks a field every entry has is an error that says which.
// Fields it does not know are ignored, so that a log written by a later
// version still reads.
func ParseEntry(line []byte) (Entry, error) {
	var l lineJSON
	if err := json.Unmarshal(line, &l); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Entry{}, fmt.Errorf("not JSON (at byte %d: %v)", se.Offset, se)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return Entry{}, fmt.Errorf("a JSON %s, not an object", te.Value)
		}
		return Entry{}, fmt.Errorf("not a decision log entry: %v", err)
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"decision_id", l.DecisionID}, {"time", l.Time}, {"principal", l.Principal}, {"action", l.Action},
		{"resource", l.Resource}, {"decision", l.Decision}} {
		if f.v == nil {
			return Entry{}, fmt.Errorf("not a decision log entry: no %q", f.name)
		}
	}
	if l.Bundle == nil {
		return Entry{}, errors.New(`not a decision log entry: no "bundle"`)
	}
	e := Entry{DecisionID: *l.DecisionID, Policies: l.Policies, Bundle: *l.Bundle,
		Latency: time.Duration(l.LatencyUS) * time.Microsecond, Caller: l.Caller, Frontend: l.Frontend}
	var err error
	if e.Time, err = time.Parse(time.RFC3339Nano, *l.Time); err != nil {
		return Entry{}, fmt.Errorf("time: %v", err)
	}
	for _, u := range []struct {
		name string
		v    string
		dst  *types.EntityUID
	}{{"principal", *l.Principal, &e.Principal}, {"action", *l.Action, &e.Action}, {"resource", *l.Resource, &e.Resource}} {
		if *u.dst, err = repo.ParseEntityUID(u.v); err != nil {
			return Entry{}, fmt.Errorf("%s: %v", u.name, err)
		}
	}
	switch *l.Decision {
	case "allow":
		e.Allow = true
	case "deny":
	default:
		return Entry{}, fmt.Errorf("decision: %q is neither \"allow\" nor \"deny\"", *l.Decision)
	}
	for _, er := range l.Errors {
		e.Errors = append(e.Errors, Error{PolicyID: er.PolicyID, Message: er.Message})
	}
	return e, nil
}
