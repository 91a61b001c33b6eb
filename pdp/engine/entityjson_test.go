package engine

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/internal/cedarcorpus"
)

// agree decodes raw with the entityDecoder and with cedar-go and reports
// whether the entityDecoder accepted it; where it did, cedar-go must have
// accepted it too, with the same entity.
func agree(t testing.TB, d *entityDecoder, raw []byte) bool {
	t.Helper()
	var fast, slow types.Entity
	ok := d.decode(raw, &fast)
	err := slow.UnmarshalJSON(raw)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("entityDecoder accepted %s, which cedar-go refuses: %v", raw, err)
	}
	if !fast.Equal(slow) {
		t.Fatalf("entityDecoder decoded %s as %v, cedar-go as %v", raw, fast, slow)
	}
	fj, ferr := fast.MarshalJSON()
	sj, serr := slow.MarshalJSON()
	if (ferr == nil) != (serr == nil) || !bytes.Equal(fj, sj) {
		t.Fatalf("%s: entityDecoder's entity marshals as %s (%v), cedar-go's as %s (%v)", raw, fj, ferr, sj, serr)
	}
	return true
}

// edgeEntities are entities at the edges of the canonical form, with
// whether the entityDecoder takes them (true) or leaves them to cedar-go.
var edgeEntities = []struct {
	json string
	fast bool
}{
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{}}`, true},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{},"tags":{}}`, true},
	{`{"tags":{"t":"v"},"attrs":{"n":-12,"b":false,"s":"x\u00e9\n"},"parents":[{"id":"g","type":"Ns::G"}],"uid":{"id":"a","type":"Ns::A"}}`, true},
	{`{"uid":{"type":"A","id":""},"parents":[{"type":"G","id":"g"},{"type":"G","id":"g"}],"attrs":{"":1}}`, true},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"s":[1,1,[2],{"x":{}}],"e":{"__entity":{"type":"B","id":"b"}},"r":{}}}`, true},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"max":9223372036854775807,"min":-9223372036854775808}}`, true},
	// Everything below is cedar-go's to decide.
	{`{"uid":{"__entity":{"type":"A","id":"a"}},"parents":[],"attrs":{}}`, false},
	{`{"uid":{"type":"A","id":"a","x":1},"parents":[],"attrs":{}}`, false},
	{`{"uid":{"type":"A::","id":"a"},"parents":[],"attrs":{}}`, false},
	{`{"uid":{"type":"A","id":1},"parents":[],"attrs":{}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[{"__entity":{"type":"G","id":"g"}}],"attrs":{}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{},"extra":true}`, false},
	{`{"\u0075id":{"type":"A","id":"a"},"parents":[],"attrs":{}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[]}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":null}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{},"tags":null}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{},"attrs":{}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"n":-0}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"n":1.5}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"n":1e3}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"n":9223372036854775808}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"n":null}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"ip":{"__extn":{"fn":"ip","arg":"10.0.0.1"}}}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"e":{"__entity":{"type":"B","id":"b"},"x":1}}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"e":{"x":1,"__entity":{"type":"B","id":"b"}}}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"e":{"__entity":{"type":"B","id":"b","x":1}}}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"__entity":{"type":"B","id":"b"}}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"r":{"k":1,"k":2}}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"s":"\xff"}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{"d":` + strings.Repeat("[", maxFastDepth+1) + strings.Repeat("]", maxFastDepth+1) + `}}`, false},
	{`{"uid":{"type":"A","id":"a"},"parents":[],"attrs":{}`, false},
	{`[]`, false},
}

// TestEntityDecoderAgreesWithCedar holds the entityDecoder to cedar-go's
// decoding: on the edges of the canonical form, and on every entity of
// Cedar's corpus, both as the corpus writes it and as a bundle holds it.
// Every entity of a bundle that has no extension value must take the fast
// path, or building snapshots would silently be slow again.
func TestEntityDecoderAgreesWithCedar(t *testing.T) {
	d := newEntityDecoder()
	for _, c := range edgeEntities {
		if got := agree(t, d, []byte(c.json)); got != c.fast {
			t.Errorf("%s: entityDecoder took it: %v, want %v", c.json, got, c.fast)
		}
	}
	cases, err := cedarcorpus.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	var total, fast int
	for _, c := range cases {
		b, _, err := c.Bundle()
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range [][]byte{c.Entities, b.Entities} {
			var raw []json.RawMessage
			if err := json.Unmarshal(doc, &raw); err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			for _, r := range raw {
				total++
				if agree(t, d, r) {
					fast++
				} else if bytes.Equal(doc, b.Entities) && !bytes.Contains(r, []byte(`"__extn"`)) {
					t.Errorf("%s: entityDecoder left %s to cedar-go", c.Name, r)
				}
			}
		}
	}
	if total == 0 {
		t.Fatal("the corpus has no entities")
	}
	t.Logf("%d of %d corpus entities decoded without cedar-go", fast, total)
}

// FuzzEntityDecoder checks that whatever the entityDecoder accepts,
// cedar-go accepts too, as the same entity.
func FuzzEntityDecoder(f *testing.F) {
	for _, c := range edgeEntities {
		f.Add([]byte(c.json))
	}
	d := newEntityDecoder()
	f.Fuzz(func(t *testing.T, raw []byte) {
		agree(t, d, raw)
	})
}
