package repo

import (
	"bytes"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/cedargate/cedargate/bundle/diag"
)

// scanJSON checks an entities file against the limits on JSON, token by
// token and before anything decodes it: how deeply arrays and objects nest
// (limits.json_depth), and how many values the repository holds
// (limits.repository_nodes, shared with YAML). The decoder that reads the
// entities later reports syntax errors, so this scan stops quietly at one.
func scanJSON(file string, src []byte, b *budget) *diag.Diagnostic {
	// A bytes.Buffer is parsed in place, without a copy.
	dec := jsontext.NewDecoder(bytes.NewBuffer(src))
	values := 0
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			b.nodes += values
			return nil
		}
		switch tok.Kind() {
		case ']', '}':
			continue
		case '[', '{':
			if dec.StackDepth() > b.JSONDepth {
				d := limitError(offsetPos(file, src, dec.InputOffset()-1), b.Limits, "json_depth", "JSON nested deeper than %d levels", b.JSONDepth)
				return &d
			}
		}
		values++
		if b.nodes+values > b.RepositoryNodes {
			d := limitError(offsetPos(file, src, dec.InputOffset()-1), b.Limits, "repository_nodes", repositoryNodesMsg, b.RepositoryNodes)
			return &d
		}
	}
}

// offsetPos is the line and column of a byte offset in src.
func offsetPos(file string, src []byte, off int64) diag.Position {
	off = max(0, min(off, int64(len(src))))
	before := src[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return diag.Position{File: file, Line: line, Col: utf8.RuneCount(before[lineStart:]) + 1}
}
