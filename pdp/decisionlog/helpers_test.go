package decisionlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
	"unicode/utf8"
)

// wantKeys is the contract's field order; caller and frontend are
// optional.
var wantKeys = []string{"decision_id", "time", "principal", "action", "resource",
	"decision", "policies", "errors", "bundle", "latency_us"}

// validUTF8 is what a JSON decoder returns for s after our encoder replaced
// each invalid byte with U+FFFD.
func validUTF8(s string) string { return string([]rune(s)) }

// checkLine fails t unless line is exactly one valid JSON line holding e's
// fields, in the contract's order, with the contract's types.
func checkLine(t testing.TB, line []byte, e *Entry) {
	t.Helper()
	if err := lineError(line, e); err != nil {
		t.Fatalf("line %q for entry %+v: %v", line, e, err)
	}
}

func lineError(line []byte, e *Entry) error {
	if len(line) == 0 || line[len(line)-1] != '\n' {
		return fmt.Errorf("does not end in a newline")
	}
	body := line[:len(line)-1]
	for _, c := range body {
		if c < 0x20 {
			return fmt.Errorf("raw control byte %#x", c)
		}
	}
	if bytes.Contains(body, []byte("\u2028")) || bytes.Contains(body, []byte("\u2029")) {
		return fmt.Errorf("raw U+2028/U+2029")
	}
	if !utf8.Valid(body) || !json.Valid(body) {
		return fmt.Errorf("not valid UTF-8 JSON")
	}

	keys, raw, err := objectFields(body)
	if err != nil {
		return err
	}
	want := wantKeys
	if e.Caller != "" {
		want = append(slices.Clip(want), "caller")
	}
	if e.Frontend != "" {
		want = append(slices.Clip(want), "frontend")
	}
	if !slices.Equal(keys, want) {
		return fmt.Errorf("keys %v, want %v", keys, want)
	}

	str := func(k string) string {
		var s string
		if err := json.Unmarshal(raw[k], &s); err != nil {
			return fmt.Sprintf("<%s: %v>", k, err)
		}
		return s
	}
	decision := "deny"
	if e.Allow {
		decision = "allow"
	}
	for _, c := range []struct{ key, got, want string }{
		{"decision_id", str("decision_id"), validUTF8(e.DecisionID)},
		{"time", str("time"), e.Time.UTC().Format(timeLayout)},
		{"principal", str("principal"), validUTF8(e.Principal.String())},
		{"action", str("action"), validUTF8(e.Action.String())},
		{"resource", str("resource"), validUTF8(e.Resource.String())},
		{"decision", str("decision"), decision},
		{"latency_us", string(raw["latency_us"]), fmt.Sprint(e.Latency.Microseconds())},
	} {
		if c.got != c.want {
			return fmt.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
	}
	if ts, err := time.Parse(time.RFC3339Nano, str("time")); err != nil || !ts.Equal(e.Time) {
		return fmt.Errorf("time %q does not parse back to %v: %v", str("time"), e.Time, err)
	}
	if e.Caller != "" && str("caller") != validUTF8(e.Caller) {
		return fmt.Errorf("caller = %q, want %q", str("caller"), validUTF8(e.Caller))
	}
	if e.Frontend != "" && str("frontend") != validUTF8(e.Frontend) {
		return fmt.Errorf("frontend = %q, want %q", str("frontend"), validUTF8(e.Frontend))
	}

	var policies []string
	if err := json.Unmarshal(raw["policies"], &policies); err != nil || policies == nil {
		return fmt.Errorf("policies %s is not an array of strings: %v", raw["policies"], err)
	}
	wantPolicies := []string{}
	for _, p := range e.Policies {
		wantPolicies = append(wantPolicies, validUTF8(p))
	}
	if !slices.Equal(policies, wantPolicies) {
		return fmt.Errorf("policies = %q, want %q", policies, wantPolicies)
	}

	var errs []json.RawMessage
	if err := json.Unmarshal(raw["errors"], &errs); err != nil || errs == nil {
		return fmt.Errorf("errors %s is not an array: %v", raw["errors"], err)
	}
	if len(errs) != len(e.Errors) {
		return fmt.Errorf("%d errors, want %d", len(errs), len(e.Errors))
	}
	for i, obj := range errs {
		want := e.Errors[i]
		if err := checkObject(obj, "policy_id", want.PolicyID, "message", want.Message); err != nil {
			return fmt.Errorf("errors[%d]: %w", i, err)
		}
	}
	b := e.Bundle
	if err := checkObject(raw["bundle"], "revision", b.Revision, "digest", b.Digest, "environment", b.Environment); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}

// checkObject checks that obj is a JSON object whose keys and string values
// are exactly kv (key, value, key, value...), in that order.
func checkObject(obj []byte, kv ...string) error {
	keys, raw, err := objectFields(obj)
	if err != nil {
		return err
	}
	var want []string
	for i := 0; i < len(kv); i += 2 {
		want = append(want, kv[i])
	}
	if !slices.Equal(keys, want) {
		return fmt.Errorf("keys %v, want %v", keys, want)
	}
	for i := 0; i < len(kv); i += 2 {
		var s string
		if err := json.Unmarshal(raw[kv[i]], &s); err != nil {
			return fmt.Errorf("%s: %w", kv[i], err)
		}
		if s != validUTF8(kv[i+1]) {
			return fmt.Errorf("%s = %q, want %q", kv[i], s, validUTF8(kv[i+1]))
		}
	}
	return nil
}

// objectFields returns the keys of a JSON object in document order, with
// their raw values. Duplicate keys are an error.
func objectFields(obj []byte) ([]string, map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("not an object: %v %v", tok, err)
	}
	var keys []string
	raw := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		if _, dup := raw[k]; dup {
			return nil, nil, fmt.Errorf("duplicate key %q", k)
		}
		keys = append(keys, k)
		raw[k] = v
	}
	return keys, raw, nil
}
