package authzen_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/authzen"
)

// shopRepo is a plain Cedar project of 30 users (the even ones readers,
// with levels 0 to 4) and documents d0 to d4 of levels 0 to 4 plus a
// public one: readers view documents up to their level, anyone the public
// one, and nobody after 8 p.m. (the context's hour).
func shopRepo() map[string]string {
	var ents []string
	for i := range 30 {
		parents := `[]`
		if i%2 == 0 {
			parents = `[{"type": "Shop::Group", "id": "readers"}]`
		}
		ents = append(ents, fmt.Sprintf(`{"uid": {"type": "Shop::User", "id": "u%02d"}, "attrs": {"level": %d}, "parents": %s}`, i, i%5, parents))
	}
	for j := range 5 {
		ents = append(ents, fmt.Sprintf(`{"uid": {"type": "Shop::Doc", "id": "d%d"}, "attrs": {"level": %d}, "parents": []}`, j, j))
	}
	ents = append(ents, `{"uid": {"type": "Shop::Doc", "id": "public"}, "attrs": {"level": 9}, "parents": []}`,
		`{"uid": {"type": "Shop::Group", "id": "readers"}, "attrs": {}, "parents": []}`)
	return map[string]string{
		"schema.cedarschema": `namespace Shop {
  entity Group;
  entity User in [Group] { level: Long };
  entity Doc { level: Long };
  action view appliesTo { principal: [User], resource: [Doc], context: { hour?: Long } };
}
`,
		"entities/shop.json": "[\n" + strings.Join(ents, ",\n") + "\n]\n",
		"policies/shop.cedar": `@id("readers-view-their-level")
permit (principal in Shop::Group::"readers", action == Shop::Action::"view", resource is Shop::Doc)
when { principal.level >= resource.level };

@id("anyone-views-public")
permit (principal is Shop::User, action == Shop::Action::"view", resource == Shop::Doc::"public");

@id("closed-at-night")
forbid (principal, action, resource) when { context has hour && context.hour > 20 };
`,
	}
}

// startShop serves shopRepo with opts.
func startShop(t *testing.T, opts authzen.Options) *server {
	t.Helper()
	archive, err := buildRepo(t, shopRepo())
	if err != nil {
		t.Fatal(err)
	}
	return start(t, storeWith(t, archive), opts, pdp.Options{})
}

// allPages runs a search with the given members (JSON object members,
// without page) and page limit, following next_token to the end, and
// returns every result's id (or name) and the number of pages.
func allPages(t *testing.T, s *server, path, members string, limit int) ([]string, int) {
	t.Helper()
	var got []string
	token := ""
	for pages := 1; ; pages++ {
		page := fmt.Sprintf(`"page": {"limit": %d}`, limit)
		if token != "" {
			page = fmt.Sprintf(`"page": {"token": %q}`, token)
		}
		body := "{" + members + ", " + page + "}"
		r := s.post(t, path, body)
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.raw)
		}
		results := r.body["results"].([]any)
		if len(results) > limit {
			t.Fatalf("page %d has %d results, more than its limit %d", pages, len(results), limit)
		}
		for _, x := range results {
			m := x.(map[string]any)
			if id, ok := m["id"].(string); ok {
				got = append(got, id)
			} else {
				got = append(got, m["name"].(string))
			}
		}
		token = r.body["page"].(map[string]any)["next_token"].(string)
		if token == "" {
			return got, pages
		}
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
	}
}

// allowed returns, of ids, those for which the evaluation body(id) makes
// evaluates true.
func allowed(t *testing.T, s *server, ids []string, body func(id string) string) []string {
	t.Helper()
	var evs []string
	for _, id := range ids {
		evs = append(evs, body(id))
	}
	r := s.post(t, authzen.EvaluationsPath, `{"evaluations": [`+strings.Join(evs, ",")+`]}`)
	if r.status != 200 {
		t.Fatalf("evaluations: %d %s", r.status, r.raw)
	}
	var out []string
	for i, ev := range r.body["evaluations"].([]any) {
		if ev.(map[string]any)["decision"] == true {
			out = append(out, ids[i])
		}
	}
	return out
}

// TestSearchAnswersWhatEvaluationsAllow checks that every search, paged
// through to its end, finds exactly what the evaluations with the same
// members allow: properties and context applied, forbids and conditions
// judged, over several pages.
func TestSearchAnswersWhatEvaluationsAllow(t *testing.T) {
	s := startShop(t, authzen.Options{})
	var users, docs []string
	for i := range 30 {
		users = append(users, fmt.Sprintf("u%02d", i))
	}
	docs = []string{"d0", "d1", "d2", "d3", "d4", "public"}
	for _, tt := range []struct {
		name        string
		subjectProp string // subject.properties, for every evaluation
		context     string
		// found is how many results the searches find together.
		found int
	}{
		// d0..d4: 15, 12, 9, 6, 3 readers; public: all 30. u00: d0 and
		// public; u04: all six; u07: public; u12: d0..d2 and public.
		{"bundle attributes", "", "", 75 + 2 + 6 + 1 + 4},
		// Every reader is of level 4.
		{"a level from the request", `, "properties": {"level": 4}`, "", 5*15 + 30 + 6 + 6 + 1 + 6},
		{"at night", "", `, "context": {"hour": 22}`, 0},
		{"in the afternoon", "", `, "context": {"hour": 15}`, 75 + 2 + 6 + 1 + 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			found := 0
			defer func() {
				if found != tt.found {
					t.Errorf("the searches found %d results together, want %d", found, tt.found)
				}
			}()
			for _, doc := range docs {
				members := `"subject": {"type": "user"` + tt.subjectProp + `}, "action": {"name": "view"}, "resource": {"type": "doc", "id": "` + doc + `"}` + tt.context
				got, _ := allPages(t, s, authzen.SearchSubjectPath, members, 4)
				want := allowed(t, s, users, func(u string) string {
					return `{"subject": {"type": "user", "id": "` + u + `"` + tt.subjectProp + `}, "action": {"name": "view"}, "resource": {"type": "doc", "id": "` + doc + `"}` + tt.context + `}`
				})
				if !slices.Equal(got, want) {
					t.Errorf("who views %s: search %v, evaluations %v", doc, got, want)
				}
				found += len(got)
			}
			for _, user := range []string{"u00", "u04", "u07", "u12"} {
				members := `"subject": {"type": "user", "id": "` + user + `"` + tt.subjectProp + `}, "action": {"name": "view"}, "resource": {"type": "doc"}` + tt.context
				got, _ := allPages(t, s, authzen.SearchResourcePath, members, 4)
				want := allowed(t, s, docs, func(d string) string {
					return `{"subject": {"type": "user", "id": "` + user + `"` + tt.subjectProp + `}, "action": {"name": "view"}, "resource": {"type": "doc", "id": "` + d + `"}` + tt.context + `}`
				})
				if !slices.Equal(got, want) {
					t.Errorf("what %s views: search %v, evaluations %v", user, got, want)
				}
				found += len(got)
			}
		})
	}
	// Paging does not change what is found.
	members := `"subject": {"type": "user"}, "action": {"name": "view"}, "resource": {"type": "doc", "id": "d0"}`
	one, pages := allPages(t, s, authzen.SearchSubjectPath, members, 1)
	all, _ := allPages(t, s, authzen.SearchSubjectPath, members, 1000)
	if len(one) != 15 || pages != 15 || !slices.Equal(one, all) {
		t.Errorf("pages of one: %d results in %d pages; in one page: %v", len(one), pages, all)
	}
}

// TestSearchPageTokens checks that a page token continues only the
// request it was issued for, with or without repeating the limit, and
// that a search bounded in the decisions it makes ends its page early
// rather than working without bound.
func TestSearchPageTokens(t *testing.T) {
	s := startShop(t, authzen.Options{MaxSearchDecisions: 5})
	members := `"subject": {"type": "user"}, "action": {"name": "view"}, "resource": {"type": "doc", "id": "d4"}`
	first := s.post(t, authzen.SearchSubjectPath, "{"+members+`, "page": {"limit": 2}}`)
	if first.status != 200 {
		t.Fatalf("%d %s", first.status, first.raw)
	}
	token := first.body["page"].(map[string]any)["next_token"].(string)
	if token == "" {
		t.Fatalf("15 candidates and a bound of 5 decisions, but no next page: %s", first.raw)
	}
	for _, tt := range []struct {
		name, body string
		status     int
	}{
		{"the same request", "{" + members + `, "page": {"token": "` + token + `", "limit": 2}}`, 200},
		{"the limit left out", "{" + members + `, "page": {"token": "` + token + `"}}`, 200},
		{"members in another order and spacing", `{"resource":{"id":"d4","type":"doc"},"action":{"name":"view"},"subject":{"type":"user"},"page":{"token":"` + token + `"}}`, 200},
		{"another limit", "{" + members + `, "page": {"token": "` + token + `", "limit": 3}}`, 400},
		{"another resource", strings.Replace("{"+members+`, "page": {"token": "`+token+`"}}`, `"d4"`, `"d3"`, 1), 400},
		{"a context added", "{" + members + `, "context": {"hour": 1}, "page": {"token": "` + token + `"}}`, 400},
		{"another search", "{" + strings.Replace(members, `"type": "user"}`, `"type": "user", "id": "u04"}`, 1) + `, "page": {"token": "` + token + `"}}`, 400},
		{"a token cut short", "{" + members + `, "page": {"token": "` + token[:len(token)-2] + `"}}`, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, authzen.SearchSubjectPath, tt.body)
			if r.status != tt.status {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if tt.status == 400 && !strings.Contains(string(r.raw), "page.token") {
				t.Errorf("the error does not name page.token: %s", r.raw)
			}
		})
	}
	// The same token on another endpoint is another request.
	r := s.post(t, authzen.SearchResourcePath, `{"subject": {"type": "user", "id": "u04"}, "action": {"name": "view"}, "resource": {"type": "doc"}, "page": {"token": "`+token+`"}}`)
	if r.status != 400 {
		t.Errorf("a subject search's token on a resource search: %d %s", r.status, r.raw)
	}

	// With 5 decisions a page, the pages end early, some empty, but
	// together they find every reader of level 4.
	got, pages := allPages(t, s, authzen.SearchSubjectPath, members, 100)
	if !slices.Equal(got, []string{"u04", "u14", "u24"}) || pages != 3 {
		t.Errorf("%d pages found %v, want u04 u14 u24 in 3 pages of 5 decisions each", pages, got)
	}
	if len(token) > 64 {
		t.Errorf("a token of %d characters", len(token))
	}
}

// TestSearchUnknowns checks that searches find nothing, rather than fail,
// for what the PDP does not know: a type, an action, a subject (refused
// by default), and that they still refuse a request missing a member.
func TestSearchUnknowns(t *testing.T) {
	s := startFixture(t)
	for _, tt := range []struct {
		name, path, body string
		status           int
	}{
		{"an unknown resource type", authzen.SearchSubjectPath, `{"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "ship", "id": "x"}}`, 200},
		{"an unknown action", authzen.SearchResourcePath, `{"subject": {"type": "user", "id": "alice"}, "action": {"name": "launch"}, "resource": {"type": "record"}}`, 200},
		{"an unknown subject", authzen.SearchResourcePath, `{"subject": {"type": "user", "id": "mallory", "properties": {"role": "admin"}}, "action": {"name": "write"}, "resource": {"type": "record"}}`, 200},
		{"an unknown subject's actions", authzen.SearchActionPath, `{"subject": {"type": "user", "id": "mallory"}, "resource": {"type": "record", "id": "record-1"}}`, 200},
		{"an unknown resource type, missing an action", authzen.SearchSubjectPath, `{"subject": {"type": "user"}, "resource": {"type": "ship", "id": "x"}}`, 400},
		{"an unknown type, missing the resource's id", authzen.SearchSubjectPath, `{"subject": {"type": "robot"}, "action": {"name": "read"}, "resource": {"type": "record"}}`, 400},
		{"a property of the wrong shape", authzen.SearchSubjectPath, `{"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1", "properties": {"status": 1.5}}}`, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, tt.path, tt.body)
			if tt.status == 400 {
				checkReply(t, r, expectation{status: 400}, tt.body)
				return
			}
			checkReply(t, r, expectation{path: tt.path, results: []string{}}, tt.body)
		})
	}
	// An unknown record is searched with its properties.
	body := `{"subject": {"type": "user"}, "action": {"name": "write"}, "resource": {"type": "record", "id": "record-9", "properties": {"status": "archived"}}}`
	checkReply(t, s.post(t, authzen.SearchSubjectPath, body), expectation{path: authzen.SearchSubjectPath, results: []string{"bob"}}, body)
	// Searches are not decisions: nothing is logged.
	if n := len(s.decisions(t)); n != 0 {
		t.Errorf("%d decisions logged by searches", n)
	}
}
