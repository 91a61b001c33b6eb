package repo

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// TestDecodeAheadGivesTheViewsADirectDecodeGives checks that the views
// DecodeAhead keeps are those View decodes when asked directly, that each
// is handed out once, and that one decoded for another day is not used.
func TestDecodeAheadGivesTheViewsADirectDecodeGives(t *testing.T) {
	day := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	direct, ahead := acmeTwice(t, day)
	ahead.DecodeAhead = true
	if len(direct.Config.Environments) < 2 {
		t.Fatalf("examples/acme declares %v; the test needs several environments", direct.Config.Environments)
	}
	first := direct.Config.Environments[0]
	gotFirst, gotDiags := ahead.View(first)
	wantFirst, wantDiags := direct.View(first)
	if !reflect.DeepEqual(gotFirst, wantFirst) || !reflect.DeepEqual(gotDiags, wantDiags) {
		t.Fatalf("View(%s) with DecodeAhead differs from a direct decode", first)
	}
	if len(ahead.ahead) != len(direct.Config.Environments)-1 {
		t.Fatalf("kept %d views ahead, want %d", len(ahead.ahead), len(direct.Config.Environments)-1)
	}
	for _, env := range direct.Config.Environments[1:] {
		got, gotDiags := ahead.View(env)
		want, wantDiags := direct.View(env)
		if got.Env != env || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotDiags, wantDiags) {
			t.Fatalf("View(%s) decoded ahead differs from a direct decode", env)
		}
		if _, kept := ahead.ahead[env]; kept {
			t.Fatalf("View(%s) is still kept after it was handed out", env)
		}
	}

	// acme writes relative dates: a view decoded ahead for one day must
	// not serve another.
	ahead.View(first)
	second := direct.Config.Environments[1]
	stale := ahead.ahead[second].view
	ahead.Now = day.Add(48 * time.Hour)
	direct.Now = ahead.Now
	got, _ := ahead.View(second)
	want, _ := direct.View(second)
	if got == stale || !reflect.DeepEqual(got, want) {
		t.Fatalf("View(%s) served a view decoded for another day", second)
	}
}

// TestAheadNamesOnlyKeepsWhatTheGuardrailsRead checks that a names-only
// view decoded ahead has the principals, groups, teams and resources of a
// direct decode, by kind, name and position, service accounts' SPIFFE ids
// and where they are, and nothing else.
func TestAheadNamesOnlyKeepsWhatTheGuardrailsRead(t *testing.T) {
	direct, ahead := acmeTwice(t, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	ahead.DecodeAhead, ahead.AheadNamesOnly = true, true
	envs := direct.Config.Environments
	gotFirst, _ := ahead.View(envs[0])
	wantFirst, _ := direct.View(envs[0])
	if !reflect.DeepEqual(gotFirst, wantFirst) {
		t.Fatalf("View(%s), the one asked for, is not the full view", envs[0])
	}
	type name struct {
		Key  string
		Pos  string
		More string
	}
	names := func(v *View) []name {
		var out []name
		for _, o := range v.Users {
			out = append(out, name{o.Key(), o.Pos.String(), ""})
		}
		for _, o := range v.ServiceAccounts {
			out = append(out, name{o.Key(), o.Pos.String(), fmt.Sprint(o.SPIFFEIDs, o.FieldPos("spiffe_id"))})
		}
		for _, o := range v.Groups {
			out = append(out, name{o.Key(), o.Pos.String(), ""})
		}
		for _, o := range v.Teams {
			out = append(out, name{o.Key(), o.Pos.String(), ""})
		}
		for _, o := range v.Resources {
			out = append(out, name{o.Key(), o.Pos.String(), o.Type})
		}
		return out
	}
	for _, env := range envs[1:] {
		got, gotDiags := ahead.View(env)
		want, _ := direct.View(env)
		if g, w := names(got), names(want); len(w) == 0 || !reflect.DeepEqual(g, w) {
			t.Fatalf("names-only View(%s):\n got %v\nwant %v", env, g, w)
		}
		if len(got.Profiles)+len(got.Entitlements)+len(got.Exceptions) > 0 || gotDiags != nil {
			t.Fatalf("names-only View(%s) keeps profiles, grants, waivers or problems", env)
		}
		for _, u := range got.Users {
			if u.Attributes != nil || u.Groups != nil || u.Description != "" {
				t.Fatalf("names-only View(%s) keeps more of %s than its name", env, u.Key())
			}
		}
	}
}

// acmeTwice loads examples/acme twice, both judged at now.
func acmeTwice(t *testing.T, now time.Time) (*Repo, *Repo) {
	a, b := loadDir(t, "../../examples/acme"), loadDir(t, "../../examples/acme")
	a.Now, b.Now = now, now
	return a, b
}
