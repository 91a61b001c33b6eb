package repo

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/cedargate/cedargate/bundle/diag"
)

// nodeKind is the shape of a YAML value once parsed.
type nodeKind int

const (
	scalarNode nodeKind = iota
	seqNode
	mapNode
	nullNode
)

// scalarType is what YAML's core schema makes of an unquoted scalar.
type scalarType int

const (
	strScalar scalarType = iota
	intScalar
	boolScalar
	floatScalar
)

// node is a YAML value reduced to what identity files need, with its
// position. cedargate decodes identity files from nodes by hand rather than
// through struct tags so that every value, and every unknown key, can be
// reported at its own line and column.
type node struct {
	kind   nodeKind
	pos    diag.Position
	text   string // scalar text, after ${env} expansion in a view
	scalar scalarType
	items  []*node // sequence items
	keys   []*node // mapping keys, in file order
	values []*node // mapping values, parallel to keys
	// textPos is where the scalar's text starts in the file when the file
	// holds that text as it is, on one line (a plain scalar, or a quoted
	// one with no escapes and no ${env}); zero otherwise. A position
	// inside the text, a Cedar condition's say, then maps to the file.
	textPos diag.Position
}

// get returns the value for key in a mapping, or nil.
func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k.text == key {
			return n.values[i]
		}
	}
	return nil
}

// describe names the shape of n for error messages.
func (n *node) describe() string {
	switch n.kind {
	case seqNode:
		return "a list"
	case mapNode:
		return "a mapping"
	case nullNode:
		return "empty"
	}
	switch n.scalar {
	case intScalar:
		return "a number"
	case boolScalar:
		return "a boolean"
	case floatScalar:
		return "a decimal number"
	}
	return fmt.Sprintf("the string %q", n.text)
}

var yamlErrPos = regexp.MustCompile(`^\[(\d+):(\d+)\] `)

// parseYAML parses a file of YAML documents into nodes, within the limits
// of b (see scanYAML). A syntax error or a limit is reported at its line
// and column.
func parseYAML(file string, src []byte, b *budget) ([]*node, error) {
	scan, d := scanYAML(file, src, b)
	if d != nil {
		return nil, &diag.Failure{List: diag.List{*d}}
	}
	return parseDocs(file, src, scan.docs, b.YAMLDepth)
}

// parseDocs parses the documents scanYAML found in a file into nodes;
// depth bounds their nesting (see convert).
func parseDocs(file string, src []byte, spans []docSpan, depth int) ([]*node, error) {
	var docs []*node
	for _, span := range spans {
		tokens := lexer.Tokenize(string(src[span.start:span.end]))
		shiftTokens(tokens, span)
		f, err := parser.Parse(tokens, 0)
		if err != nil {
			return nil, yamlHint(yamlError(file, err), src)
		}
		for _, doc := range f.Docs {
			if doc.Body == nil {
				continue
			}
			n, err := convert(file, doc.Body, depth)
			if err != nil {
				return nil, err
			}
			if n.kind == nullNode {
				continue
			}
			docs = append(docs, n)
		}
	}
	return docs, nil
}

// shiftTokens moves the positions of a document's tokens from the start of
// the document to the start of the file, so that nodes and the parser's
// messages ("already defined at [11:1]") give the file's lines.
func shiftTokens(tokens token.Tokens, span docSpan) {
	if span.line == 1 && span.start == 0 {
		return
	}
	for _, t := range tokens {
		if t.Position != nil {
			t.Position.Line += span.line - 1
			t.Position.Offset += span.start
		}
	}
}

// yamlError turns the parser's message ("[2:7] sequence end token ']' not
// found" followed by a source excerpt) into path:line:column: message. The
// excerpt is dropped, and the message kept to one line: it may quote the
// file's text.
func yamlError(file string, err error) error {
	var se *yaml.SyntaxError
	msg := err.Error()
	if errors.As(err, &se) && se.Token != nil {
		return &diag.Failure{List: diag.List{{Pos: diag.Position{File: file, Line: se.Token.Position.Line, Col: se.Token.Position.Column},
			Message: "invalid YAML: " + Excerpt(se.Message)}}}
	}
	first, _, _ := strings.Cut(msg, "\n")
	pos := diag.Position{File: file}
	if m := yamlErrPos.FindStringSubmatch(first); m != nil {
		pos.Line, _ = strconv.Atoi(m[1])
		pos.Col, _ = strconv.Atoi(m[2])
		first = first[len(m[0]):]
	}
	return &diag.Failure{List: diag.List{{Pos: pos, Message: "invalid YAML: " + Excerpt(first)}}}
}

// yamlHint adds advice to a syntax error on a line that uses ${env}
// inside a flow collection, where YAML reads "{" as the start of a mapping.
func yamlHint(err error, src []byte) error {
	f, ok := err.(*diag.Failure)
	if !ok || len(f.List) != 1 || f.List[0].Pos.Line == 0 {
		return err
	}
	lines := strings.Split(string(src), "\n")
	for _, l := range []int{f.List[0].Pos.Line - 1, f.List[0].Pos.Line - 2} {
		if l >= 0 && l < len(lines) && strings.Contains(lines[l], "${") && strings.ContainsAny(lines[l], "[{") {
			f.List[0].Message += ` (inside [ ] or { }, quote values that use ${env}: ["ledger-${env}"])`
			break
		}
	}
	return err
}

// textPos returns where a string scalar's text starts, when the file
// holds it verbatim on one line (see node.textPos).
func textPos(pos diag.Position, v *ast.StringNode) diag.Position {
	t := v.GetToken()
	if t == nil || strings.Contains(v.Value, "${") || strings.ContainsAny(v.Value, "\r\n") {
		return diag.Position{}
	}
	raw := strings.TrimSpace(t.Origin)
	switch {
	case raw == v.Value:
		return pos
	case len(raw) >= 2 && (raw[0] == '"' || raw[0] == '\'') && raw[len(raw)-1] == raw[0] && raw[1:len(raw)-1] == v.Value:
		pos.Col++
		return pos
	}
	return diag.Position{}
}

func tokenPos(file string, t *token.Token) diag.Position {
	if t == nil || t.Position == nil {
		return diag.Position{File: file}
	}
	return diag.Position{File: file, Line: t.Position.Line, Col: t.Position.Column}
}

// convert turns the parser's tree into nodes. depth is how many more
// levels of lists and mappings may nest: scanYAML has bounded them
// already, and this bounds convert's own recursion should the two ever
// disagree.
func convert(file string, in ast.Node, depth int) (*node, error) {
	pos := tokenPos(file, in.GetToken())
	fail := func(format string, args ...any) (*node, error) {
		return nil, &diag.Failure{List: diag.List{{Pos: pos, Message: fmt.Sprintf(format, args...)}}}
	}
	switch in.(type) {
	case *ast.MappingValueNode, *ast.MappingNode, *ast.SequenceNode:
		if depth <= 0 {
			return fail("YAML nested too deeply")
		}
		depth--
	}
	switch v := in.(type) {
	case *ast.NullNode:
		return &node{kind: nullNode, pos: pos}, nil
	case *ast.StringNode:
		return &node{kind: scalarNode, pos: pos, text: v.Value, textPos: textPos(pos, v)}, nil
	case *ast.LiteralNode:
		return &node{kind: scalarNode, pos: pos, text: v.Value.Value}, nil
	case *ast.IntegerNode:
		return &node{kind: scalarNode, pos: pos, text: v.GetToken().Value, scalar: intScalar}, nil
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return &node{kind: scalarNode, pos: pos, text: v.GetToken().Value, scalar: floatScalar}, nil
	case *ast.BoolNode:
		return &node{kind: scalarNode, pos: pos, text: strconv.FormatBool(v.Value), scalar: boolScalar}, nil
	case *ast.TagNode:
		inner, err := convert(file, v.Value, depth)
		if err != nil {
			return nil, err
		}
		if v.Start != nil && v.Start.Value == "!!str" && inner.kind == scalarNode {
			inner.scalar = strScalar
		}
		return inner, nil
	case *ast.MappingValueNode:
		return convertMapping(file, pos, []*ast.MappingValueNode{v}, depth)
	case *ast.MappingNode:
		p := pos
		if len(v.Values) > 0 {
			p = tokenPos(file, v.Values[0].Key.GetToken())
		}
		return convertMapping(file, p, v.Values, depth)
	case *ast.SequenceNode:
		n := &node{kind: seqNode, pos: pos}
		for _, item := range v.Values {
			c, err := convert(file, item, depth)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, c)
		}
		return n, nil
	case *ast.AnchorNode, *ast.AliasNode, *ast.MergeKeyNode:
		return fail(errAnchors)
	}
	return fail("unsupported YAML construct (%s)", in.Type())
}

func convertMapping(file string, pos diag.Position, pairs []*ast.MappingValueNode, depth int) (*node, error) {
	n := &node{kind: mapNode, pos: pos}
	seen := make(map[string]diag.Position)
	for _, mv := range pairs {
		k, err := convert(file, mv.Key, depth)
		if err != nil {
			return nil, err
		}
		if k.kind != scalarNode {
			return nil, &diag.Failure{List: diag.List{{Pos: k.pos, Message: "mapping keys must be plain strings"}}}
		}
		if prev, dup := seen[k.text]; dup {
			return nil, &diag.Failure{List: diag.List{{Pos: k.pos, Message: fmt.Sprintf("key %q is already set at line %d", k.text, prev.Line)}}}
		}
		seen[k.text] = k.pos
		v, err := convert(file, mv.Value, depth)
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, k)
		n.values = append(n.values, v)
	}
	return n, nil
}
