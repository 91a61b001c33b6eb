package repo

import (
	"github.com/cedargate/cedargate/bundle/diag"
	"github.com/cedargate/cedargate/internal/cedarscan"
)

// cedar-go's parsers recurse once per bracket and per if-then-else with no
// bound: a policy of a million "(" overflows the goroutine stack, a fatal
// error no recover can catch. So Cedar text is scanned first (package
// cedarscan, which bundle.Decode uses too), with constant memory per
// nesting level, and refused beyond limits.cedar_depth and the fixed
// cedarscan.ExpressionDepth; each policy's text is also bounded
// (limits.policy_size). Its tokens count as values of the repository
// (limits.repository_nodes): a parsed policy holds about as much per
// token as a parsed YAML file per value.

// scanCedar checks the nesting depth of Cedar text and, for policies and
// conditions, the size of each policy, and returns every breach. Its
// tokens are charged to b. at, when set, is where every problem is
// reported: the position of a condition in its YAML file, whose text has
// no lines of its own.
func scanCedar(file string, src []byte, b *budget, kind cedarscan.Kind, at *diag.Position) diag.List {
	lim := cedarscan.Limits{Depth: b.CedarDepth, PolicySize: b.PolicySize, Tokens: b.RepositoryNodes}
	var diags diag.List
	for _, p := range cedarscan.Scan(src, kind, lim, &b.nodes) {
		pos := diag.Position{File: file, Line: p.Pos.Line, Col: p.Pos.Col}
		if at != nil {
			pos = *at
		}
		switch p.Limit {
		case cedarscan.TooDeep:
			diags.Add(limitError(pos, b.Limits, "cedar_depth", "%s", p.Describe(kind, lim)))
		case cedarscan.TooLarge:
			diags.Add(limitError(pos, b.Limits, "policy_size", "%s", p.Describe(kind, lim)))
		case cedarscan.TooManyTokens:
			diags.Add(limitError(pos, b.Limits, "repository_nodes", repositoryNodesMsg, b.RepositoryNodes))
		case cedarscan.TooChained:
			diags.Add(diag.Diagnostic{Pos: pos, Message: p.Describe(kind, lim) + " (a fixed limit: Cedar's parser recurses on each level; split the expression, or list values in a set: resource in [...])"})
		}
	}
	return diags
}

// checkCondition checks a when: condition written at pos against the
// limits on Cedar text, before anything parses it.
func checkCondition(pos diag.Position, when string, lim Limits) diag.List {
	// The condition is a value of its YAML file, counted there.
	b := &budget{Limits: lim}
	return scanCedar(pos.File, []byte(when), b, cedarscan.Condition, &pos)
}
