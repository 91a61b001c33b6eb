package decisionlog

import (
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"
)

func baseEntry() Entry {
	return Entry{
		DecisionID: "d-1",
		Time:       time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		Principal:  types.NewEntityUID("Acme::User", "alice"),
		Action:     types.NewEntityUID("Acme::Action", "read"),
		Resource:   types.NewEntityUID("Acme::Doc", "d1"),
		Bundle:     Bundle{Revision: "r1", Digest: "sha256:ab", Environment: "prod"},
		Latency:    1500 * time.Nanosecond,
	}
}

func TestAppendEntry(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Entry)
		want   []string // substrings of the line; a full line when it starts with {
	}{
		{
			name:   "deny with no determining policy",
			mutate: func(*Entry) {},
			want: []string{`{"decision_id":"d-1","time":"2025-01-02T03:04:05.000000006Z",` +
				`"principal":"Acme::User::\"alice\"","action":"Acme::Action::\"read\"",` +
				`"resource":"Acme::Doc::\"d1\"","decision":"deny","policies":[],"errors":[],` +
				`"bundle":{"revision":"r1","digest":"sha256:ab","environment":"prod"},"latency_us":1}` + "\n"},
		},
		{
			name: "allow with policies, errors and caller",
			mutate: func(e *Entry) {
				e.Allow = true
				e.Policies = []string{"p1", "p2"}
				e.Errors = []Error{{PolicyID: "p3", Message: "type error"}, {PolicyID: "p4", Message: "overflow"}}
				e.Caller = "spiffe://acme/pep"
				e.Frontend = "authzen"
			},
			want: []string{`{"decision_id":"d-1","time":"2025-01-02T03:04:05.000000006Z",` +
				`"principal":"Acme::User::\"alice\"","action":"Acme::Action::\"read\"",` +
				`"resource":"Acme::Doc::\"d1\"","decision":"allow","policies":["p1","p2"],` +
				`"errors":[{"policy_id":"p3","message":"type error"},{"policy_id":"p4","message":"overflow"}],` +
				`"bundle":{"revision":"r1","digest":"sha256:ab","environment":"prod"},"latency_us":1,` +
				`"caller":"spiffe://acme/pep","frontend":"authzen"}` + "\n"},
		},
		{
			name:   "time in another zone is written in UTC with nine digits",
			mutate: func(e *Entry) { e.Time = time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 2*3600)) },
			want:   []string{`"time":"2025-01-02T01:04:05.000000000Z"`},
		},
		{
			name:   "latency truncates to whole microseconds",
			mutate: func(e *Entry) { e.Latency = 2999 * time.Nanosecond },
			want:   []string{`"latency_us":2}`},
		},
		{
			name:   "quotes and backslashes",
			mutate: func(e *Entry) { e.DecisionID = `a"b\c` },
			want:   []string{`"decision_id":"a\"b\\c"`},
		},
		{
			name:   "control characters",
			mutate: func(e *Entry) { e.Caller = "\x00\x01\t\n\r\b\f\x1f\x7f" },
			want:   []string{`"caller":"\u0000\u0001\t\n\r\b\f\u001f` + "\x7f" + `"}`},
		},
		{
			name:   "invalid UTF-8 becomes one U+FFFD per bad byte",
			mutate: func(e *Entry) { e.Policies = []string{"a\xffb\xc3", "\xed\xa0\x80"} },
			want:   []string{`"policies":["a\ufffdb\ufffd","\ufffd\ufffd\ufffd"]`},
		},
		{
			name:   "line and paragraph separators are escaped",
			mutate: func(e *Entry) { e.Errors = []Error{{PolicyID: "p\u2028", Message: "\u2029m"}} },
			want:   []string{`"errors":[{"policy_id":"p\u2028","message":"\u2029m"}]`},
		},
		{
			name:   "valid multi-byte UTF-8 and HTML characters are kept as is",
			mutate: func(e *Entry) { e.Bundle.Environment = "héllo ✓ 😀 <a&b>" },
			want:   []string{`"environment":"héllo ✓ 😀 <a&b>"`},
		},
		{
			name:   "entity id that Cedar escapes",
			mutate: func(e *Entry) { e.Principal = types.NewEntityUID("Acme::User", "o'brien \"x\"\n") },
			want:   []string{`"principal":"Acme::User::\"o\\'brien \\\"x\\\"\\n\""`},
		},
		{
			name:   "entity id with non-ASCII letters",
			mutate: func(e *Entry) { e.Resource = types.NewEntityUID("Acme::Doc", "josé") },
			want:   []string{`"resource":"Acme::Doc::\"josé\""`},
		},
		{
			name:   "entity type with invalid UTF-8 and a quote",
			mutate: func(e *Entry) { e.Action = types.NewEntityUID("A\xff\"", "x") },
			want:   []string{`"action":"A\ufffd\"::\"x\""`},
		},
		{
			name:   "zero entity UID",
			mutate: func(e *Entry) { e.Principal = types.EntityUID{} },
			want:   []string{`"principal":"::\"\""`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := baseEntry()
			tt.mutate(&e)
			line := appendEntry(nil, &e)
			for _, w := range tt.want {
				if strings.HasPrefix(w, "{") && string(line) != w {
					t.Errorf("line\n got %s\nwant %s", line, w)
				} else if !strings.Contains(string(line), w) {
					t.Errorf("line %s\ndoes not contain %s", line, w)
				}
			}
			checkLine(t, line, &e)
		})
	}
}

func TestAppendEntryAppends(t *testing.T) {
	e := baseEntry()
	one := appendEntry(nil, &e)
	two := appendEntry(appendEntry(nil, &e), &e)
	if string(two) != string(one)+string(one) {
		t.Fatalf("appending twice gave %q, want the line twice", two)
	}
}

// FuzzEncode checks that any strings, times and latencies encode to one valid
// JSON line that decodes back to the entry's values.
func FuzzEncode(f *testing.F) {
	f.Add("d-1", "Acme::User", "alice", "read", "p1", "msg", "r1", "", true, int64(1500), int64(1735787045000000006))
	f.Add("a\"b\\c", "A\xff", "o'brien \"x\"\n", "\u2028", "\x00\x1f", "\xed\xa0\x80", "é", "spiffe://x", false, int64(-1), int64(0))
	f.Add("", "", "", "", "", "", "", "\u2029", false, int64(1<<62), int64(-1<<62))
	f.Fuzz(func(t *testing.T, id, typ, pid, aid, policy, msg, rev, caller string, allow bool, latency, unixNano int64) {
		e := Entry{
			DecisionID: id,
			Time:       time.Unix(0, unixNano),
			Principal:  types.NewEntityUID(types.EntityType(typ), types.String(pid)),
			Action:     types.NewEntityUID("Acme::Action", types.String(aid)),
			Resource:   types.NewEntityUID(types.EntityType(msg), types.String(policy)),
			Allow:      allow,
			Bundle:     Bundle{Revision: rev, Digest: id, Environment: caller},
			Latency:    time.Duration(latency),
			Caller:     caller,
			Frontend:   rev,
		}
		if policy != "" {
			e.Policies = []string{policy, msg}
			e.Errors = []Error{{PolicyID: policy, Message: msg}, {PolicyID: rev, Message: pid}}
		}
		// Encode after garbage so a bug that reads b instead of appending shows.
		line := appendEntry([]byte("x\n"), &e)[2:]
		checkLine(t, line, &e)
	})
}
