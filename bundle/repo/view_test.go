package repo

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"
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
// view decoded ahead has the entities of a direct decode's principals,
// groups, teams and resources, its service accounts by kind, name and
// position with their SPIFFE ids and where they are, and nothing else.
func TestAheadNamesOnlyKeepsWhatTheGuardrailsRead(t *testing.T) {
	direct, ahead := acmeTwice(t, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	ahead.DecodeAhead, ahead.AheadNamesOnly = true, true
	envs := direct.Config.Environments
	gotFirst, _ := ahead.View(envs[0])
	wantFirst, _ := direct.View(envs[0])
	if !reflect.DeepEqual(gotFirst, wantFirst) {
		t.Fatalf("View(%s), the one asked for, is not the full view", envs[0])
	}
	if gotFirst.Names != nil {
		t.Fatalf("View(%s), the one asked for, has names-only entries", envs[0])
	}
	type name struct {
		Key  string
		Pos  string
		More string
	}
	accounts := func(v *View) []name {
		var out []name
		for _, o := range v.ServiceAccounts {
			out = append(out, name{o.Key(), o.Pos.String(), fmt.Sprint(o.SPIFFEIDs, o.FieldPos("spiffe_id"))})
		}
		return out
	}
	entities := func(v *View) []string {
		var out []string
		for _, o := range v.Users {
			out = append(out, v.Config.UID(&o.Meta).String())
		}
		for _, o := range v.Groups {
			out = append(out, v.Config.UID(&o.Meta).String())
		}
		for _, o := range v.Teams {
			out = append(out, v.Config.UID(&o.Meta).String())
		}
		for _, o := range v.Resources {
			out = append(out, types.NewEntityUID(types.EntityType(o.Type), types.String(o.Name)).String())
		}
		for _, uid := range v.Names {
			out = append(out, uid.String())
		}
		slices.Sort(out)
		return out
	}
	for _, env := range envs[1:] {
		got, gotDiags := ahead.View(env)
		want, _ := direct.View(env)
		if g, w := accounts(got), accounts(want); len(w) == 0 || !reflect.DeepEqual(g, w) {
			t.Fatalf("names-only View(%s) service accounts:\n got %v\nwant %v", env, g, w)
		}
		if g, w := entities(got), entities(want); len(w) == 0 || !reflect.DeepEqual(g, w) {
			t.Fatalf("names-only View(%s) entities:\n got %v\nwant %v", env, g, w)
		}
		if len(got.Users)+len(got.Groups)+len(got.Teams)+len(got.Resources) > 0 {
			t.Fatalf("names-only View(%s) keeps objects it only needs the names of", env)
		}
		if len(got.Profiles)+len(got.Entitlements)+len(got.Exceptions) > 0 || gotDiags != nil {
			t.Fatalf("names-only View(%s) keeps profiles, grants, waivers or problems", env)
		}
		for _, sa := range got.ServiceAccounts {
			if sa.Groups != nil || sa.Description != "" || sa.Owner != "" {
				t.Fatalf("names-only View(%s) keeps more of %s than its name and SPIFFE ids", env, sa.Key())
			}
		}
	}
}

// TestDropSourcesLetsTheFilesGoOnceDecoded checks that DropSources keeps
// the views the same, lets the identity files' bytes go once every
// environment is decoded, and fails a View that would decode them again.
func TestDropSourcesLetsTheFilesGoOnceDecoded(t *testing.T) {
	direct, dropping := acmeTwice(t, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	dropping.DecodeAhead, dropping.DropSources = true, true
	sameViews(t, "DropSources", dropping, direct)
	for _, f := range dropping.identities {
		if f.data != nil {
			t.Fatalf("%s: bytes kept after every environment was decoded", f.path)
		}
	}
	env := direct.Config.Environments[0]
	v, diags := dropping.View(env)
	if diags.Errors() != 1 || !strings.Contains(diags.String(), "let go") || len(v.Users) > 0 {
		t.Fatalf("View(%s) after the files were let go: %v, %d users", env, diags, len(v.Users))
	}
}

// acmeTwice loads examples/acme twice, both judged at now.
func acmeTwice(t *testing.T, now time.Time) (*Repo, *Repo) {
	a, b := loadDir(t, "../../examples/acme"), loadDir(t, "../../examples/acme")
	a.Now, b.Now = now, now
	return a, b
}

// TestParseLaterFindsWhatLoadFinds checks that a repository loaded with
// ParseLater has, once a view is asked for, the problems and objects an
// eager Load gives: the syntax error of a file that does not parse,
// reported once however many views are asked for.
func TestParseLaterFindsWhatLoadFinds(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"identities/ok.yaml":     "kind: User\nname: ok\n",
		"identities/broken.yaml": "kind: User\nname: broken\n  email: [\n",
	})
	eager, err := Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := eager.Problems.String()
	if !strings.Contains(want, "identities/broken.yaml:") {
		t.Fatalf("an eager Load does not report the broken file:\n%s", want)
	}
	later, err := LoadWith(t.Context(), dir, LoadOptions{ParseLater: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := later.Problems.String(); strings.Contains(got, "broken.yaml") {
		t.Fatalf("ParseLater parsed the files in Load:\n%s", got)
	}
	wantView, _ := eager.View("")
	for range 2 {
		got, diags := later.View("")
		if p := later.Problems.String(); p != want {
			t.Fatalf("problems after View:\n%s\nwant (an eager Load's):\n%s", p, want)
		}
		if !reflect.DeepEqual(got, wantView) {
			t.Fatalf("View with ParseLater differs from an eager Load's: %d users, want %d", len(got.Users), len(wantView.Users))
		}
		if diags.Errors() > 1 {
			t.Fatalf("View reports the broken file %d times:\n%s", diags.Errors(), diags)
		}
	}
	acmeEager := loadDir(t, "../../examples/acme")
	acmeLater, err := LoadWith(t.Context(), "../../examples/acme", LoadOptions{ParseLater: true})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	acmeEager.Now, acmeLater.Now = day, day
	sameViews(t, "ParseLater", acmeLater, acmeEager)
}

// sameViews requires got's view of each of want's environments, and its
// diagnostics, to be want's; how names what got was loaded or set with.
func sameViews(t *testing.T, how string, got, want *Repo) {
	t.Helper()
	for _, env := range want.Config.Environments {
		g, gDiags := got.View(env)
		w, wDiags := want.View(env)
		if !reflect.DeepEqual(g, w) || !reflect.DeepEqual(gDiags, wDiags) {
			t.Fatalf("View(%s) with %s differs from a direct decode", env, how)
		}
	}
}
