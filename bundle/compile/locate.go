package compile

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/bundle/repo"
)

// policyText is the text of a policy being validated, to find in it the
// expression a validation problem is about.
type policyText struct {
	// src is the text the tokens index.
	src string
	// all are the tokens of the policy, conds those of each condition
	// body, parallel to the parsed policy's conditions.
	all   []tok
	conds [][]tok
	// at maps a token to its place in the repository; false when the
	// token's place is not known.
	at func(tok) (diag.Position, bool)
}

// handWritten reads the policy of file f that starts at the byte offset
// and position pos.
func handWritten(f *repo.File, offset int, pos diag.Position) *policyText {
	src := string(f.Data)
	all := tokenizeUntil(src, offset, pos.Line, pos.Col, true)
	return &policyText{src: src, all: all, conds: conditions(all),
		at: func(t tok) (diag.Position, bool) { return diag.Position{File: f.Path, Line: t.line, Col: t.col}, true }}
}

// condition reads a profile permission's when: condition.
func condition(perm repo.Permission) *policyText {
	toks := tokenize(perm.When, 0, 1, 1)
	return &policyText{src: perm.When, all: toks, conds: [][]tok{toks},
		at: func(t tok) (diag.Position, bool) {
			if perm.WhenText.Line == 0 || t.line != 1 {
				return perm.WhenPos, false
			}
			return diag.Position{File: perm.WhenText.File, Line: perm.WhenText.Line, Col: perm.WhenText.Col + t.col - 1}, true
		}}
}

// policyPrefix is what cedar-go's validator puts before most messages.
var policyPrefix = regexp.MustCompile("^for policy `[^`]*`, ")

// Messages of cedar-go's validator (x/exp/schema/validate) that name
// what to look for.
var (
	attrNotFound = regexp.MustCompile("^attribute `([^`]*)` (?:on entity types? (.*)|in context for (.*)) not found$")
	optionalAttr = regexp.MustCompile("^unable to guarantee safety of access to optional attribute `([^`]*)`")
	unknownType  = regexp.MustCompile("^unrecognized entity type `([^`]*)`$")
	unknownAct   = regexp.MustCompile("^unrecognized action `([^`]*)`$")
	incompatible = regexp.MustCompile(`^the types (\S+) and (\S+) are not compatible$`)
	expectedType = regexp.MustCompile(`^unexpected type: expected (.*) but saw (\S+)$`)
	backticked   = regexp.MustCompile("`([^`]*)`")
)

// problem is a validation problem placed in the text.
type problem struct {
	pos  diag.Position
	msg  string
	hint string
}

// locate finds where in pt the validation problem msg of pol is and what
// would fix it; pos is left zero when the place is not certain.
func (c *compiler) locate(pol *expast.Policy, pt *policyText, msg string) problem {
	msg = policyPrefix.ReplaceAllString(msg, "")
	pr := problem{msg: msg}
	if pt == nil {
		return pr
	}
	place := func(t tok) {
		if p, ok := pt.at(t); ok {
			pr.pos = p
		}
	}
	switch {
	case attrNotFound.MatchString(msg):
		s := attrNotFound.FindStringSubmatch(msg)
		attr := lastSegment(s[1])
		inContext := s[3] != ""
		if t, ok := pt.access(attr, inContext, false); ok {
			place(t)
		}
		pr.hint = c.attrHint(attr, s[2], s[3])
	case optionalAttr.MatchString(msg):
		attr := lastSegment(optionalAttr.FindStringSubmatch(msg)[1])
		if t, ok := pt.access(attr, strings.Contains(msg, " in context for "), true); ok {
			place(t)
			pr.hint = fmt.Sprintf("it may be absent: test for it first, `%s has %s && …`", pt.receiver(t), attr)
		} else {
			pr.hint = fmt.Sprintf("it may be absent: test for it first with `has %s`", attr)
		}
	case unknownType.MatchString(msg):
		typ := unknownType.FindStringSubmatch(msg)[1]
		if t, ok := pt.path(typ, ""); ok {
			place(t)
		}
		pr.hint = c.typeHint(typ)
	case unknownAct.MatchString(msg):
		uid, err := repo.ParseEntityUID(unknownAct.FindStringSubmatch(msg)[1])
		if err != nil {
			break
		}
		if t, ok := pt.path(string(uid.Type), string(uid.ID)); ok {
			place(t)
		}
		var ids []string
		for a := range c.out.Schema.Actions {
			if a.Type == uid.Type {
				ids = append(ids, string(a.ID))
			}
		}
		if s := repo.Suggest(string(uid.ID), ids); s != "" {
			pr.hint = fmt.Sprintf("did you mean %q?", s)
		}
	}
	if ext := extensionMismatch(msg); ext != "" {
		if t, ok := pt.bareLiteral(ext); ok {
			place(t)
			pr.hint = fmt.Sprintf("a string is not %s: write %s(%s)", article(ext), extensionFunc(ext), t.text)
		}
	}
	if pr.pos.Line == 0 {
		if t, ok := c.revalidate(pol, pt, msg); ok {
			place(t)
		}
	}
	return pr
}

// lastSegment returns the last name of an attribute path (a.b.c).
func lastSegment(path string) string {
	return path[strings.LastIndexByte(path, '.')+1:]
}

// access finds the access to attribute attr (x.attr or x["attr"]) the
// problem is about: on context or not, as the message says, and, for an
// optional attribute, the first one no earlier `has` tests for.
func (pt *policyText) access(attr string, onContext, unguarded bool) (tok, bool) {
	for _, cond := range pt.conds {
		for i := 1; i < len(cond); i++ {
			dot := cond[i-1].text == "." && cond[i].kind == tokIdent && cond[i].text == attr && (i+1 == len(cond) || cond[i+1].text != "(")
			index := cond[i-1].text == "[" && cond[i].kind == tokString && cond[i].value() == attr
			if !dot && !index {
				continue
			}
			if (chainRoot(cond, i-1).text == "context") != onContext {
				continue
			}
			if unguarded && tested(cond[:i-1], attr) {
				continue
			}
			return cond[i], true
		}
	}
	return tok{}, false
}

// chainRoot returns the first token of the member chain that ends before
// index at (a.b.c.d: a).
func chainRoot(toks []tok, at int) tok {
	j := at - 1
	for j >= 2 && toks[j].kind == tokIdent && toks[j-1].text == "." {
		j -= 2
	}
	return toks[max(j, 0)]
}

// tested reports whether toks, the tokens before an access, hold a `has
// attr` (or has x.attr) that guards what follows them: one not closed off
// by a bracket or an `||` after it.
func tested(toks []tok, attr string) bool {
	for k, t := range toks {
		if t.text != "has" || !guards(toks[k:]) {
			continue
		}
		for j := k + 1; j < len(toks); j += 2 {
			if toks[j].value() == attr {
				return true
			}
			if j+1 >= len(toks) || toks[j+1].text != "." {
				break
			}
		}
	}
	return false
}

// guards reports whether what toks[0] tests still holds after toks: no
// bracket around it closes and no `||` or `else` at its level follows.
func guards(toks []tok) bool {
	depth := 0
	for _, t := range toks {
		switch t.text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			if depth--; depth < 0 {
				return false
			}
		case "||", "else":
			if depth == 0 {
				return false
			}
		}
	}
	return true
}

// receiver renders what the attribute at t is read from: the member chain
// before it.
func (pt *policyText) receiver(t tok) string {
	for _, cond := range pt.conds {
		for i := range cond {
			if cond[i].off == t.off && i >= 2 {
				root := chainRoot(cond, i-1)
				return pt.src[root.off:cond[i-2].end]
			}
		}
	}
	return "…"
}

// path finds the entity type written as name: the first token of
// Name::Name..., followed by ::"id" when id is not empty (an action).
func (pt *policyText) path(name, id string) (tok, bool) {
	parts := strings.Split(name, "::")
	toks := pt.all
	for i := range toks {
		if i > 0 && toks[i-1].text == "::" {
			continue
		}
		j, ok := i, true
		for k, part := range parts {
			if k > 0 {
				if j >= len(toks) || toks[j].text != "::" {
					ok = false
					break
				}
				j++
			}
			if j >= len(toks) || toks[j].kind != tokIdent || toks[j].text != part {
				ok = false
				break
			}
			j++
		}
		// A longer path (Acme::Grup::Sub) is another type.
		if ok && j+1 < len(toks) && toks[j].text == "::" && toks[j+1].kind == tokIdent {
			ok = false
		}
		if ok && id != "" && (j+1 >= len(toks) || toks[j].text != "::" || toks[j+1].kind != tokString || toks[j+1].value() != id) {
			ok = false
		}
		if ok {
			return toks[i], true
		}
	}
	return tok{}, false
}

// extensionMismatch returns the extension type (ipaddr, decimal,
// datetime, duration) a message says a string was given for.
func extensionMismatch(msg string) string {
	var a, b string
	if m := incompatible.FindStringSubmatch(msg); m != nil {
		a, b = m[1], m[2]
	} else if m := expectedType.FindStringSubmatch(msg); m != nil {
		a, b = m[1], m[2]
	}
	if a == "String" {
		a, b = b, a
	}
	if b == "String" && extensionFunc(a) != "" {
		return a
	}
	return ""
}

// extensionFunc is the function that makes a value of an extension type.
func extensionFunc(ext string) string {
	switch ext {
	case "ipaddr":
		return "ip"
	case "decimal", "datetime", "duration":
		return ext
	}
	return ""
}

func article(ext string) string {
	if ext == "ipaddr" {
		return "an ipaddr"
	}
	return "a " + ext
}

// bareLiteral finds a string literal of the conditions, not already the
// argument of a constructor, that is meant as a value of the extension
// type ext: the one that reads as such, or the only one.
func (pt *policyText) bareLiteral(ext string) (tok, bool) {
	var bare []tok
	for _, cond := range pt.conds {
		for i, t := range cond {
			if t.kind != tokString || i >= 2 && cond[i-1].text == "(" && extensionFunc(cond[i-2].text) != "" {
				continue
			}
			bare = append(bare, t)
		}
	}
	for _, t := range bare {
		if readsAs(ext, t.value()) {
			return t, true
		}
	}
	if len(bare) == 1 {
		return bare[0], true
	}
	return tok{}, false
}

var (
	decimalText  = regexp.MustCompile(`^-?\d+\.\d{1,4}$`)
	datetimeText = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)
	durationText = regexp.MustCompile(`^-?(\d+(d|h|ms|m|s))+$`)
)

func readsAs(ext, s string) bool {
	switch ext {
	case "ipaddr":
		_, errAddr := netip.ParseAddr(s)
		_, errPrefix := netip.ParsePrefix(s)
		return errAddr == nil || errPrefix == nil
	case "decimal":
		return decimalText.MatchString(s)
	case "datetime":
		return datetimeText.MatchString(s)
	case "duration":
		return durationText.MatchString(s)
	}
	return false
}

// attrHint offers the attribute the author probably meant, or says which
// there are: on the entity types of the message (`A`, `B`) or in the
// context of action (Ns::Action::"x").
func (c *compiler) attrHint(attr, entityTypes, action string) string {
	var names []string
	var of string
	if action != "" {
		uid, err := repo.ParseEntityUID(action)
		if err != nil {
			return ""
		}
		a, ok := c.out.Schema.Actions[uid]
		if !ok || a.AppliesTo == nil {
			return ""
		}
		for k := range a.AppliesTo.Context {
			names = append(names, string(k))
		}
		of = "the context of " + action
	} else {
		var typeNames []string
		for _, m := range backticked.FindAllStringSubmatch(entityTypes, -1) {
			typeNames = append(typeNames, m[1])
			for k := range c.out.Schema.Entities[types.EntityType(m[1])].Shape {
				if !slices.Contains(names, string(k)) {
					names = append(names, string(k))
				}
			}
		}
		of = strings.Join(typeNames, ", ")
	}
	slices.Sort(names)
	if s := repo.Suggest(attr, names); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	if len(names) == 0 {
		return of + " has no attributes"
	}
	return of + " has: " + strings.Join(names, ", ")
}

// typeHint offers the entity type the author probably meant.
func (c *compiler) typeHint(typ string) string {
	var names []string
	for t := range c.out.Schema.Entities {
		names = append(names, string(t))
	}
	for t := range c.out.Schema.Enums {
		names = append(names, string(t))
	}
	slices.Sort(names)
	if s := repo.Suggest(typ, names); s != "" {
		return fmt.Sprintf("did you mean %s?", s)
	}
	return "the schema declares: " + strings.Join(names, ", ")
}

// revalidate finds the smallest sub-expression of the conditions that has
// the problem msg on its own, validating each in the policy's scope, and
// returns its first token. It is the fallback for problems whose message
// names nothing to look for (a type mismatch, say).
func (c *compiler) revalidate(pol *expast.Policy, pt *policyText, msg string) (tok, bool) {
	if c.validator == nil {
		return tok{}, false
	}
	has := func(body expast.IsNode) bool {
		q := *pol
		q.Conditions = []expast.ConditionType{{Condition: expast.ConditionWhen, Body: body}}
		for _, m := range diag.Problems(c.validator.Policy("", &q)) {
			if m == msg {
				return true
			}
		}
		return false
	}
	// Bounded: a policy with thousands of operators is located no finer
	// than its condition.
	const maxTries = 256
	tries := 0
	for k, cond := range pt.conds {
		sp := spans(cond)
		slices.SortStableFunc(sp, func(a, b span) int { return cmp.Compare(a.to-a.from, b.to-b.from) })
		for _, s := range sp {
			if tries++; tries > maxTries {
				break
			}
			text := pt.src[cond[s.from].off:cond[s.to-1].end]
			// (e) == (e) has e's problems whatever e's type.
			if body, ok := parseExpr("(" + text + ") == (" + text + ")"); ok && has(body) {
				return cond[s.from], true
			}
		}
		// The condition as a whole, for a problem with its own type.
		if k < len(pol.Conditions) && len(cond) > 0 && has(pol.Conditions[k].Body) {
			return cond[0], true
		}
	}
	return tok{}, false
}

// parseExpr parses one Cedar expression.
func parseExpr(text string) (expast.IsNode, bool) {
	list, err := cedar.NewPolicyListFromBytes("", []byte("permit (principal, action, resource) when { "+text+" };"))
	if err != nil || len(list) != 1 {
		return nil, false
	}
	conds := (*expast.Policy)(list[0].AST()).Conditions
	if len(conds) != 1 {
		return nil, false
	}
	return conds[0].Body, true
}

// principalTypeHint explains, for a profile's condition, an attribute
// missing from one principal type that others have: the condition is
// checked for every principal the actions allow, any of which may be
// granted the profile.
func (c *compiler) principalTypeHint(msg string) string {
	m := attrNotFound.FindStringSubmatch(msg)
	if m == nil || m[2] == "" {
		return ""
	}
	attr := types.String(lastSegment(m[1]))
	var with []string
	for name, e := range c.out.Schema.Entities {
		if _, ok := e.Shape[attr]; ok {
			with = append(with, string(name))
		}
	}
	if len(with) == 0 {
		return ""
	}
	slices.Sort(with)
	return fmt.Sprintf("the profile may be granted to any principal its actions allow; if only %s has it, test the type first: `principal is %s && …`", strings.Join(with, " or "), with[0])
}
