package guardrail

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle/compile"
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
)

// views returns the view of every environment of the repository: the
// compiled one where results has it, decoded otherwise.
func (c *checker) views(results []*compile.Result) []*repo.View {
	compiled := map[string]*repo.View{}
	for _, res := range results {
		compiled[res.Env] = res.View
	}
	envs := c.r.Config.Environments
	if len(envs) == 0 {
		envs = []string{""}
	}
	out := make([]*repo.View, 0, len(envs))
	for _, env := range envs {
		v := compiled[env]
		if v == nil {
			v, _ = c.r.View(env)
		}
		out = append(out, v)
	}
	return out
}

// entitySet is every entity of the repository, in any environment, by type.
type entitySet struct {
	ids map[types.EntityType]map[types.String]bool
	// repoTypes are the types whose entities the repository alone defines:
	// those with an entity somewhere, and the identity kinds. An entity of
	// another type may arrive with the request, so a reference to one is
	// not judged.
	repoTypes map[types.EntityType]bool
}

func (k *entitySet) add(uid types.EntityUID) {
	if k.ids[uid.Type] == nil {
		k.ids[uid.Type] = map[types.String]bool{}
	}
	k.ids[uid.Type][uid.ID] = true
	k.repoTypes[uid.Type] = true
}

// knownEntities collects the entities of every environment: those of the
// compiled results (identities, entity files, the schema's actions), and
// the identity objects of the environments not compiled.
func (c *checker) knownEntities(results []*compile.Result, views []*repo.View) *entitySet {
	k := &entitySet{ids: map[types.EntityType]map[types.String]bool{}, repoTypes: map[types.EntityType]bool{}}
	compiled := map[string]bool{}
	for _, res := range results {
		compiled[res.Env] = true
		for uid := range res.Entities {
			k.add(uid)
		}
	}
	cfg := c.r.Config
	for _, v := range views {
		if compiled[v.Env] {
			continue
		}
		var metas []*repo.Meta
		for _, o := range v.Users {
			metas = append(metas, &o.Meta)
		}
		for _, o := range v.ServiceAccounts {
			metas = append(metas, &o.Meta)
		}
		for _, o := range v.Groups {
			metas = append(metas, &o.Meta)
		}
		for _, o := range v.Teams {
			metas = append(metas, &o.Meta)
		}
		for _, m := range metas {
			k.add(cfg.UID(m))
		}
		for _, r := range v.Resources {
			k.add(types.NewEntityUID(types.EntityType(r.Type), types.String(r.Name)))
		}
		for _, uid := range v.Names {
			k.add(uid)
		}
	}
	if c.r.HasIdentities() {
		for _, kind := range []repo.Kind{repo.KindUser, repo.KindServiceAccount, repo.KindGroup, repo.KindTeam} {
			k.repoTypes[types.EntityType(cfg.Qualify(string(kind)))] = true
		}
	}
	return k
}

// unknownEntities reports entity literals (Type::"id") of hand-written
// policies and of access profiles' when: conditions that name an entity
// no environment has: a forbid naming a misspelt account never applies,
// a permit naming one grants nothing. An entity that exists in some
// environment is fine in all: one policy file serves them all. Unknown
// entity types and actions are the schema validator's to report; this
// rule reports them only when validation is off.
func (c *checker) unknownEntities(results []*compile.Result, views []*repo.View) {
	if len(results) == 0 {
		return
	}
	k := c.knownEntities(results, views)
	res := results[0]
	validating := res.Schema != nil && c.r.Config.Validation != repo.ValidationOff
	actionTypes := map[types.EntityType]bool{}
	if res.Schema != nil {
		for uid := range res.Schema.Actions {
			actionTypes[uid.Type] = true
		}
	}
	// problem says what is wrong with uid, or "" when nothing is.
	problem := func(uid types.EntityUID) string {
		switch {
		case k.ids[uid.Type][uid.ID]:
			return ""
		case actionTypes[uid.Type] && validating:
			return "" // the validator reports an unrecognized action
		case !k.repoTypes[uid.Type] && !actionTypes[uid.Type]:
			if res.Schema == nil || validating {
				return ""
			}
			if _, declared := res.Schema.Entities[uid.Type]; declared {
				return "" // request-scoped: declared, never defined in the repository
			}
			msg := fmt.Sprintf("%s: unknown entity type %s", uid, uid.Type)
			var names []string
			for t := range res.Schema.Entities {
				names = append(names, string(t))
			}
			slices.Sort(names)
			if s := repo.Suggest(string(uid.Type), names); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			return msg
		}
		msg := fmt.Sprintf("%s exists in no environment", uid)
		if len(c.r.Config.Environments) == 0 {
			msg = fmt.Sprintf("%s does not exist", uid)
		}
		var ids []string
		for id := range k.ids[uid.Type] {
			ids = append(ids, string(id))
		}
		slices.Sort(ids)
		if s := repo.Suggest(string(uid.ID), ids); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", types.NewEntityUID(uid.Type, types.String(s)))
		}
		return msg
	}

	files := map[string][]byte{}
	for _, f := range c.r.Policies {
		files[f.Path] = f.Data
	}
	byFile := map[string][]compile.Policy{}
	for _, p := range res.Policies {
		if p.Origin == compile.OriginPolicy {
			byFile[p.Pos.File] = append(byFile[p.Pos.File], p)
		}
	}
	for _, path := range slices.Sorted(maps.Keys(byFile)) {
		policies := byFile[path]
		slices.SortFunc(policies, func(a, b compile.Policy) int { return a.Pos.Compare(b.Pos) })
		for _, l := range entityLiterals(string(files[path])) {
			pos := diag.Position{File: path, Line: l.line, Col: l.col}
			// The policy is the last one that starts before the literal.
			i := sort.Search(len(policies), func(i int) bool { return policies[i].Pos.Compare(pos) > 0 }) - 1
			if i < 0 {
				continue
			}
			if msg := problem(l.uid); msg != "" {
				p := policies[i]
				c.report(UnknownEntity, pos, p.ID, fmt.Sprintf("policy %q", p.ID), "%s; the policy can never match it", msg)
			}
		}
	}
	for _, v := range views {
		for _, ap := range v.Profiles {
			for _, perm := range ap.Permissions {
				for _, l := range entityLiterals(perm.When) {
					if msg := problem(l.uid); msg != "" {
						c.report(UnknownEntity, conditionPos(perm.WhenPos, perm.When, l), ap.Key(), ap.Label(), "when: %s; the condition can never match it", msg)
					}
				}
			}
		}
	}
}

// conditionPos places a literal of the when: condition text, written at
// at, in its YAML file. A value of one line is taken to be written as it
// reads (a plain scalar, the usual `when: principal in ...`), so the
// literal's column counts from the value's. A block scalar (`when: |`)
// or any condition over several lines is reported at the value: the YAML
// reader keeps no map from its text back to the file's lines.
func conditionPos(at diag.Position, text string, l literal) diag.Position {
	if !strings.Contains(text, "\n") && at.Line > 0 {
		at.Col += l.col - 1
	}
	return at
}

// literal is an entity UID literal in Cedar text, with its line and
// column (counting characters) from 1.
type literal struct {
	uid       types.EntityUID
	line, col int
}

// entityLiterals finds the entity literals of Cedar text: a path of
// identifiers joined by "::" and ending in a string (App::Group::"admins"),
// outside strings and comments. Text that does not parse as a literal is
// skipped: reporting syntax is the parser's work.
func entityLiterals(src string) []literal {
	var out []literal
	var lines []int // offsets where lines start, after the first
	at := func(off int) (int, int) {
		n := sort.SearchInts(lines, off+1)
		start := 0
		if n > 0 {
			start = lines[n-1]
		}
		return n + 1, utf8.RuneCountInString(src[start:off]) + 1
	}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			lines = append(lines, i+1)
		}
	}
	ident := func(i int) int {
		for i < len(src) && isIdentByte(src[i]) {
			i++
		}
		return i
	}
	space := func(i int) int {
		for i < len(src) && strings.IndexByte(" \t\r\n", src[i]) >= 0 {
			i++
		}
		return i
	}
	for i := 0; i < len(src); {
		switch ch := src[i]; {
		case ch == '/' && strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case ch == '"':
			i = skipString(src, i)
		case isIdentStart(ch):
			start, j := i, ident(i)
			path := []string{src[i:j]}
			for {
				k := space(j)
				if !strings.HasPrefix(src[k:], "::") {
					break
				}
				k = space(k + 2)
				if k < len(src) && src[k] == '"' {
					end := skipString(src, k)
					if uid, err := repo.ParseEntityUID(strings.Join(path, "::") + "::" + src[k:end]); err == nil {
						line, col := at(start)
						out = append(out, literal{uid: uid, line: line, col: col})
					}
					j = end
					break
				}
				if k >= len(src) || !isIdentStart(src[k]) {
					break
				}
				j = ident(k)
				path = append(path, src[k:j])
			}
			i = j
		case ch >= '0' && ch <= '9':
			i = ident(i) // a number, or a number run into letters: not a path
		default:
			i++
		}
	}
	return out
}

// skipString returns the offset after the string that starts at src[i].
func skipString(src string, i int) int {
	for i++; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(src)
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isIdentByte(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
