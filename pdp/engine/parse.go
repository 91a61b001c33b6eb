package engine

import (
	"bytes"
	"fmt"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/ast"
	expast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/internal/parallel"
)

// Parsing a bundle's policies and entities dominates building a snapshot
// (seconds for 100k identities) and every element parses on its own, so
// New spreads the work over the processors. This runs off the request
// path, during activation, where a shorter activation is worth a burst of
// CPU.

// minChunk is the least work worth a goroutine of its own.
const minChunk = 256

// parsedPolicy is a bundle policy parsed: its AST, and its evaluator with
// the scope removed (see policy.eval).
type parsedPolicy struct {
	ast  *expast.Policy
	eval *cedar.Policy
	err  error
}

// parsePolicies parses every policy of ps, several at a time as one
// document: cedar-go's tokenizer allocates several kilobytes per
// call, which for a bundle of 60k policies was half a gigabyte of garbage
// and most of the collector's work during a reload. A policy that is not
// exactly one policy on its own, or a document that does not parse, is
// parsed again policy by policy, for the exact error.
func parsePolicies(ps []bundle.Policy) []parsedPolicy {
	out := make([]parsedPolicy, len(ps))
	parallel.Chunks(len(ps), minChunk, func(lo, hi int) {
		// Documents of policiesPerDocument: the tokenizer's fixed cost is
		// spread thin, and its token slice stays small (one document of a
		// worker's whole share grew a slice of millions of tokens).
		for start := lo; start < hi; start += policiesPerDocument {
			end := min(hi, start+policiesPerDocument)
			if !parseTogether(ps[start:end], out[start:end]) {
				for i := start; i < end; i++ {
					out[i] = parseOne(&ps[i])
				}
			}
		}
	})
	return out
}

// policiesPerDocument is how many policies parsePolicies parses at once.
const policiesPerDocument = 64

// parseTogether parses ps as one document into out. It reports false,
// having set nothing, unless the document holds exactly one policy per
// element of ps, each starting within that element's text.
func parseTogether(ps []bundle.Policy, out []parsedPolicy) bool {
	var doc bytes.Buffer
	starts := make([]int, len(ps)+1)
	for i := range ps {
		starts[i] = doc.Len()
		doc.WriteString(ps[i].Cedar)
		doc.WriteByte('\n')
	}
	starts[len(ps)] = doc.Len()
	list, err := cedar.NewPolicyListFromBytes("", doc.Bytes())
	if err != nil || len(list) != len(ps) {
		return false
	}
	for i, p := range list {
		if off := p.Position().Offset; off < starts[i] || off >= starts[i+1] {
			return false
		}
	}
	for i, p := range list {
		p.SetFilename(ps[i].Source)
		out[i] = compiled(p)
	}
	return true
}

// parseOne parses a policy on its own.
func parseOne(bp *bundle.Policy) parsedPolicy {
	list, err := cedar.NewPolicyListFromBytes(bp.Source, []byte(bp.Cedar))
	switch {
	case err != nil:
		return parsedPolicy{err: fmt.Errorf("policy %q: %w", bp.ID, err)}
	case len(list) != 1:
		return parsedPolicy{err: fmt.Errorf("policy %q: holds %d policies, want 1", bp.ID, len(list))}
	}
	return compiled(list[0])
}

// compiled returns p's AST and its evaluator without the scope.
func compiled(p *cedar.Policy) parsedPolicy {
	a := (*expast.Policy)(p.AST())
	unscoped := *a
	unscoped.Principal, unscoped.Action, unscoped.Resource = expast.ScopeTypeAll{}, expast.ScopeTypeAll{}, expast.ScopeTypeAll{}
	return parsedPolicy{ast: a, eval: cedar.NewPolicyFromAST((*ast.Policy)(&unscoped))}
}
