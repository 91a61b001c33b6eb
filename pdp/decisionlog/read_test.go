package decisionlog

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// normalized is e as ParseEntry returns it: no policies is an empty list,
// as the line writes it.
func normalized(e Entry) Entry {
	if e.Policies == nil {
		e.Policies = []string{}
	}
	return e
}

// TestParseEntryReadsWhatTheWriterWrote encodes entries with the writer's
// encoder and reads them back: every field survives, escapes included.
func TestParseEntryReadsWhatTheWriterWrote(t *testing.T) {
	for i := range 60 {
		e := entryFor(i%3, i)
		line := appendEntry(nil, &e)
		got, err := ParseEntry(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
		if want := normalized(e); !reflect.DeepEqual(got, want) {
			t.Fatalf("line %s\nread as %+v\nwant    %+v", line, got, want)
		}
	}
}

// TestParseEntryRefusesWhatIsNotAnEntry checks that a line that is not an
// entry is refused with a message that says what is wrong with it.
func TestParseEntryRefusesWhatIsNotAnEntry(t *testing.T) {
	e := entryFor(0, 1)
	good := string(bytes.TrimSuffix(appendEntry(nil, &e), []byte("\n")))
	tests := []struct {
		name, line, want string
	}{
		{"not JSON", `decision g0-1 allowed`, "not JSON (at byte 1"},
		{"torn", good[:40], "not JSON"},
		{"an array", `["g0-1"]`, "a JSON array, not an object"},
		{"no bundle", strings.Replace(good, `"bundle"`, `"bundel"`, 1), `no "bundle"`},
		{"no time", strings.Replace(good, `"time"`, `"when"`, 1), `no "time"`},
		{"a bad decision", strings.Replace(good, `"decision":"deny"`, `"decision":"maybe"`, 1), `decision: "maybe" is neither`},
		{"a bad time", strings.Replace(good, `"2025-01-02T`, `"2025-13-02T`, 1), "time: "},
		{"a bad principal", strings.Replace(good, `"Acme::User::\"user-1\""`, `"user-1"`, 1), "principal: "},
		{"a field of the wrong type", strings.Replace(good, `"latency_us":1`, `"latency_us":"1"`, 1), "not a decision log entry: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEntry([]byte(tt.line))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseEntry(%s): %v, want an error saying %q", tt.line, err, tt.want)
			}
		})
	}
}

// FuzzParseEntry feeds ParseEntry arbitrary lines: it never panics, and
// what it accepts the writer writes back to a line that reads as the same
// entry.
func FuzzParseEntry(f *testing.F) {
	for i := range 6 {
		e := entryFor(1, i)
		f.Add(bytes.TrimSuffix(appendEntry(nil, &e), []byte("\n")))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseEntry(line)
		if err != nil {
			return
		}
		again := appendEntry(nil, &e)
		e2, err := ParseEntry(bytes.TrimSuffix(again, []byte("\n")))
		if err != nil {
			t.Fatalf("%q was read as %+v, written as %s, which does not read: %v", line, e, again, err)
		}
		if !reflect.DeepEqual(normalized(e), normalized(e2)) {
			t.Fatalf("%q was read as %+v, written as %s, read back as %+v", line, e, again, e2)
		}
	})
}
