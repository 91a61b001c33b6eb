package change

import (
	"encoding/json"
	"io"
)

// WriteJSON writes r as the one JSON document docs/cli.md documents:
// {"from":{"revision"},"to":{"revision"},"gained":[entry],"lost":[entry],
// "identities":[{"kind","name","change","fields":[{"field","from","to"}]}]},
// with entries as access.Entry marshals them and no list ever null.
func WriteJSON(w io.Writer, r *Report) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}
