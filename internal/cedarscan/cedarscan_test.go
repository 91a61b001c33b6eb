package cedarscan

import (
	"runtime"
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	lim := Limits{Depth: 4, PolicySize: 200}
	cond := func(body string) string { return "permit (principal, action, resource) when { " + body + " };" }
	tests := []struct {
		name string
		kind Kind
		src  string
		want []Problem // nil when the text is within the limits
	}{
		{"flat", Policies, cond("principal.a.b == resource.c && context.x"), nil},
		{"brackets at the limit", Policies, cond("((( true )))"), nil},
		{"brackets beyond", Policies, cond("(((( true ))))"), []Problem{{Limit: TooDeep, Pos: Pos{Offset: 47, Line: 1, Col: 48}}}},
		{"reported once per policy", Policies, cond("((((( true )))))") + "\n" + cond("(((((true)))))"),
			[]Problem{{Limit: TooDeep, Pos: Pos{Offset: 47, Line: 1, Col: 48}}, {Limit: TooDeep, Pos: Pos{Offset: 111, Line: 2, Col: 48}}}},
		{"closing brackets restore the depth", Policies, cond("((( true ))) && ((( true )))"), nil},
		{"if-then-else nests", Policies, cond("if true then if true then if true then if true then 1 else 2 else 3 else 4 else 5"),
			[]Problem{{Limit: TooDeep, Pos: Pos{Offset: 83, Line: 1, Col: 84}}}},
		{"a comma ends the ifs of a list element", Policies, cond("[if a then 1 else 2, if b then 1 else 2, if c then 1 else 2].contains(1)"), nil},
		{"brackets in strings and comments", Policies, "// ((((((\n" + cond(`"(((((((" == "]]]]]]"`), nil},
		{"escaped quote", Policies, cond(`"\"((((((" == "x"`), nil},
		{"multi-byte columns", Policies, "permit (principal, action, resource) when { \"é\" == ((((\"x\")))) };",
			[]Problem{{Limit: TooDeep, Pos: Pos{Offset: 55, Line: 1, Col: 55}}}},
		{"policy too large", Policies, cond(`"` + strings.Repeat("x", 200) + `" == ""`),
			[]Problem{{Limit: TooLarge, Pos: Pos{Offset: 0, Line: 1, Col: 1}, Size: 255}}},
		{"condition too large", Condition, strings.Repeat("true && ", 30) + "true", []Problem{{Limit: TooLarge, Pos: Pos{Line: 1, Col: 1}, Size: 244}}},
		{"schema angle brackets nest", Schema, "entity A { a: Set<Set<Set<Set<Long>>>> };", []Problem{{Limit: TooDeep, Pos: Pos{Offset: 29, Line: 1, Col: 30}}}},
		{"schema size is not bounded", Schema, "entity A;\n" + strings.Repeat("entity B;\n", 100), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Scan([]byte(tt.src), tt.kind, lim, nil)
			if len(got) != len(tt.want) {
				t.Fatalf("Scan = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("problem %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestScanBoundsTheExpressionTree checks ExpressionDepth: whatever makes
// cedar-go's tree deeper (chained operators, member accesses, unary
// operators, brackets) counts, up to the fixed bound, and what does not
// (list elements, separate policies, closed brackets) does not add up.
func TestScanBoundsTheExpressionTree(t *testing.T) {
	lim := Limits{Depth: MaxDepth, PolicySize: MaxPolicySize}
	cond := func(body string) string { return "permit (principal, action, resource) when { " + body + " };" }
	n := ExpressionDepth
	tests := []struct {
		name    string
		src     string
		chained bool
	}{
		{"a chain of && at the bound", cond("true" + strings.Repeat(" && true", n-1)), false},
		{"a chain of && beyond", cond("true" + strings.Repeat(" && true", n)), true},
		{"|| counts once", cond("true" + strings.Repeat("||true", n)), true},
		{"member accesses", cond("context" + strings.Repeat(".a", n)), true},
		{"unary operators", cond(strings.Repeat("!", n) + "true"), true},
		{"unary minus", cond(strings.Repeat("-", n) + "1 == 1"), true},
		{"has, in, like, is", cond(strings.Repeat("a has b && ", n/2+1) + "true"), true},
		{"chains inside brackets add up", cond(strings.Repeat("1 + (", 100) + "1" + strings.Repeat(" + 1", n-150) + strings.Repeat(")", 100) + " == 1"), true},
		{"closed brackets take their chains with them", cond(strings.Repeat("(1"+strings.Repeat(" + 1", 100)+") == 1 && ", 60) + "true"), false},
		{"list elements do not chain", cond("[" + strings.Repeat("a.b.c, ", n) + "1].contains(1)"), false},
		{"policies do not chain", strings.Repeat(cond("a.b.c && d.e"), n), false},
		{"operators in strings", cond(`"` + strings.Repeat("&&", n) + `" == ""`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Scan([]byte(tt.src), Policies, lim, nil)
			chained := len(got) == 1 && got[0].Limit == TooChained
			if chained != tt.chained || (!tt.chained && len(got) > 0) {
				t.Fatalf("Scan = %+v, want a TooChained problem: %v", got, tt.chained)
			}
		})
	}
}

// TestScanSharesATokenBudget checks that texts scanned with one counter
// share Limits.Tokens, and that the scan stops at the first token beyond.
func TestScanSharesATokenBudget(t *testing.T) {
	lim := Limits{Depth: MaxDepth, Tokens: 20}
	text := []byte("permit (principal, action, resource);\n") // 9 tokens
	var tokens int
	if got := Scan(text, Policies, lim, &tokens); len(got) != 0 || tokens != 9 {
		t.Fatalf("first text: %+v, %d tokens", got, tokens)
	}
	if got := Scan(text, Policies, lim, &tokens); len(got) != 0 || tokens != 18 {
		t.Fatalf("second text: %+v, %d tokens", got, tokens)
	}
	got := Scan(text, Policies, lim, &tokens)
	want := Problem{Limit: TooManyTokens, Pos: Pos{Offset: 8, Line: 1, Col: 9}}
	if len(got) != 1 || got[0] != want || tokens != 21 {
		t.Fatalf("third text: %+v, %d tokens; want %+v", got, tokens, want)
	}
}

func TestDescribe(t *testing.T) {
	lim := Limits{Depth: 64, PolicySize: 65536, Tokens: 10}
	for _, tt := range []struct {
		p    Problem
		kind Kind
		want string
	}{
		{Problem{Limit: TooDeep}, Policies, "Cedar expression nested deeper than 64 levels (brackets and if-then-else)"},
		{Problem{Limit: TooLarge, Size: 70000}, Policies, "policy is 70000 bytes long, more than 65536"},
		{Problem{Limit: TooLarge, Size: 70000}, Condition, "condition is 70000 bytes long, more than 65536"},
		{Problem{Limit: TooChained}, Policies, "Cedar expression deeper than 4096 levels of operators and brackets (a chain such as a || b || ..., a.b.c..., or !!!...)"},
		{Problem{Limit: TooManyTokens}, Policies, "more than 10 Cedar tokens"},
	} {
		if got := tt.p.Describe(tt.kind, lim); got != tt.want {
			t.Errorf("Describe = %q, want %q", got, tt.want)
		}
	}
}

// TestScanMemoryIsBoundedByTheLimit scans a million nested brackets: the
// scan keeps one level per bracket only up to the depth limit, so what it
// allocates does not grow with the input.
func TestScanMemoryIsBoundedByTheLimit(t *testing.T) {
	src := "permit (principal, action, resource) when { " + strings.Repeat("([{", 1_000_000) + "true" + strings.Repeat("}])", 1_000_000) + " };"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	lim := Limits{Depth: MaxDepth}
	got := Scan(src, Policies, lim, nil)
	runtime.ReadMemStats(&after)
	if len(got) != 1 || got[0].Limit != TooDeep {
		t.Fatalf("Scan = %+v, want one TooDeep", got)
	}
	// The levels up to MaxDepth (16 bytes each, grown by doubling) and
	// the problem.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 128<<10 {
		t.Fatalf("Scan allocated %d bytes for %d bytes of text", alloc, len(src))
	}
	// The policy still ends where it ends: the next one is scanned.
	two := src + "\n" + "permit (principal, action, resource) when { " + strings.Repeat("(", 2000) + strings.Repeat(")", 2000) + " };"
	if got := Scan(two, Policies, lim, nil); len(got) != 2 || got[1].Pos.Line != 2 {
		t.Fatalf("two policies: %+v", got)
	}
}
