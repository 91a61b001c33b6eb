package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
)

// snapshotOf builds a snapshot of policies (id → Cedar text) and entities
// (Cedar JSON).
func snapshotOf(t *testing.T, policies map[string]string, entities string) *engine.Snapshot {
	t.Helper()
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: bundle.FormatVersion, Revision: "r", Environment: "test"},
		Entities: []byte(entities)}
	for id, text := range policies {
		b.Policies = append(b.Policies, bundle.Policy{ID: id, Source: id + ".cedar:1:1", Cedar: text})
	}
	slices.SortFunc(b.Policies, func(x, y bundle.Policy) int { return strings.Compare(x.ID, y.ID) })
	s, err := engine.New(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func uid(typ, id string) types.EntityUID {
	return types.NewEntityUID(types.EntityType(typ), types.String(id))
}

func reasonIDs(d engine.Decision) []string {
	var ids []string
	for _, r := range d.Reasons {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestActionBitsOverflow covers bundles naming more actions than the
// action prefilter has bits: policies on the actions without a bit must
// still be found, and only for their own action.
func TestActionBitsOverflow(t *testing.T) {
	const n = 40
	policies := map[string]string{
		"pair": `permit (principal, action in [Action::"a0", Action::"a39"], resource);`,
	}
	for i := range n {
		policies[fmt.Sprintf("p%02d", i)] = fmt.Sprintf(`permit (principal == User::"u", action == Action::"a%d", resource);`, i)
	}
	s := snapshotOf(t, policies, "[]")
	for i := range n {
		d := s.Decide(&engine.Request{Principal: uid("User", "u"), Action: uid("Action", fmt.Sprintf("a%d", i)), Resource: uid("R", "r")})
		want := []string{fmt.Sprintf("p%02d", i)}
		if i == 0 || i == n-1 {
			want = append([]string{"pair"}, want...)
			slices.Sort(want)
		}
		if got := reasonIDs(d); !d.Allow || !slices.Equal(got, want) {
			t.Errorf("action a%d: allow=%v reasons %v, want allow with %v", i, d.Allow, got, want)
		}
		if c := s.Candidates(&engine.Request{Principal: uid("User", "u"), Action: uid("Action", fmt.Sprintf("a%d", i)), Resource: uid("R", "r")}); c != len(want) {
			t.Errorf("action a%d: %d candidates, want %d", i, c, len(want))
		}
	}
}

// TestPlainAndConditional covers decisions that mix policies without
// conditions (decided without cedar-go) and with them (decided by it).
func TestPlainAndConditional(t *testing.T) {
	s := snapshotOf(t, map[string]string{
		"a-plain-permit":  `permit (principal == User::"u", action, resource);`,
		"b-cond-forbid":   `forbid (principal, action == Action::"write", resource) when { context.blocked };`,
		"c-cond-permit":   `permit (principal, action == Action::"read", resource) when { context.ok };`,
		"d-plain-forbid":  `forbid (principal == User::"banned", action, resource);`,
		"e-erroring":      `permit (principal, action == Action::"read", resource) when { context.missing == 1 };`,
		"f-cond-permit-2": `permit (principal == User::"banned", action == Action::"read", resource) when { true };`,
	}, "[]")
	ctx := func(kv ...any) types.Record {
		m := types.RecordMap{}
		for i := 0; i < len(kv); i += 2 {
			m[types.String(kv[i].(string))] = kv[i+1].(types.Value)
		}
		return types.NewRecord(m)
	}
	for _, tc := range []struct {
		name      string
		principal string
		action    string
		context   types.Record
		allow     bool
		reasons   []string
		errors    []string
	}{
		{"plain permit alone", "u", "deploy", ctx(), true, []string{"a-plain-permit"}, nil},
		{"conditional forbid beats plain permit", "u", "write", ctx("blocked", types.True), false, []string{"b-cond-forbid"}, nil},
		{"conditional forbid not met", "u", "write", ctx("blocked", types.False), true, []string{"a-plain-permit"}, nil},
		{"plain and conditional permits", "u", "read", ctx("ok", types.True, "missing", types.Long(2)), true, []string{"a-plain-permit", "c-cond-permit"}, nil},
		{"error beside a plain permit", "u", "read", ctx("ok", types.False), true, []string{"a-plain-permit"}, []string{"e-erroring"}},
		{"plain forbid beats conditional permit", "banned", "read", ctx("ok", types.True, "missing", types.Long(1)), false, []string{"d-plain-forbid"}, nil},
		{"nothing matches", "other", "deploy", ctx(), false, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := s.Decide(&engine.Request{Principal: uid("User", tc.principal), Action: uid("Action", tc.action), Resource: uid("R", "r"), Context: tc.context})
			var errs []string
			for _, e := range d.Errors {
				errs = append(errs, e.PolicyID)
			}
			if d.Allow != tc.allow || !slices.Equal(reasonIDs(d), tc.reasons) || !slices.Equal(errs, tc.errors) {
				t.Errorf("allow=%v reasons=%v errors=%v, want allow=%v reasons=%v errors=%v", d.Allow, reasonIDs(d), errs, tc.allow, tc.reasons, tc.errors)
			}
			for _, r := range d.Reasons {
				if r.Source != r.ID+".cedar:1:1" {
					t.Errorf("reason %s has source %q", r.ID, r.Source)
				}
			}
		})
	}
}

// TestNewRefusesBadPolicies covers the errors of policies parsed
// together: the one at fault is named, whatever its neighbours.
func TestNewRefusesBadPolicies(t *testing.T) {
	good := `permit (principal, action, resource);`
	for _, tc := range []struct {
		name, text, want string
	}{
		{"syntax error", `permit (principal, action, resource`, `policy "p1"`},
		{"two policies", good + "\n" + good, `policy "p1": holds 2 policies, want 1`},
		{"no policy", `// nothing here`, `policy "p1": holds 0 policies, want 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &bundle.Bundle{Entities: []byte("[]"), Policies: []bundle.Policy{
				{ID: "p0", Source: "a.cedar:1:1", Cedar: good},
				{ID: "p1", Source: "b.cedar:1:1", Cedar: tc.text},
				{ID: "p2", Source: "c.cedar:1:1", Cedar: `// lead
forbid (principal, action, resource);`},
			}}
			_, err := engine.New(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
