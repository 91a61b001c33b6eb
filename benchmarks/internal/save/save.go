// Package save writes the results of a benchmark run: a Markdown
// report for people and the measurements as JSON beside it, for later
// comparison and for rewriting the report.
package save

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// Results saves res as base.json and markdown as base.md, creating base's
// directory.
func Results(base string, res any, markdown []byte) error {
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".md", markdown, 0o644)
}
