package compile

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go/types"
)

// referenceEntitiesJSON is how entities.json was written before compiled
// entities were kept encoded: every entity marshalled by cedar-go.
func referenceEntitiesJSON(t *testing.T, entities types.EntityMap) []byte {
	uids := make([]types.EntityUID, 0, len(entities))
	for uid := range entities {
		uids = append(uids, uid)
	}
	slices.SortFunc(uids, func(a, b types.EntityUID) int {
		return cmp.Or(strings.Compare(string(a.Type), string(b.Type)), strings.Compare(string(a.ID), string(b.ID)))
	})
	var buf bytes.Buffer
	buf.WriteString("[")
	for i, uid := range uids {
		if i > 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
		line, err := entities[uid].MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
	}
	buf.WriteString("\n]\n")
	return buf.Bytes()
}

// TestEntitiesJSONAsCedarWritesIt checks that the encoded form writes,
// byte for byte, what cedar-go's Entity.MarshalJSON writes, for ids and
// values that need escaping, extension values, nested records, sets,
// entity references, tags, and parents added after encoding.
func TestEntitiesJSONAsCedarWritesIt(t *testing.T) {
	odd := []string{"plain", `quote"d`, `back\slash`, "<html>&amp;", "line\nbreak", "tab\t", "ünïcödé ✓", "\u2028\u2029", "\x01ctl", "", "emoji 🎉"}
	ip, err := types.ParseIPAddr("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	dec, err := types.ParseDecimal("12.5")
	if err != nil {
		t.Fatal(err)
	}
	entities := types.EntityMap{}
	compact := Entities{}
	for i, id := range odd {
		typ := types.EntityType([]string{"Acme::User", "Acme::Group", "Action", "Weird::\"Type"}[i%4])
		uid := types.NewEntityUID(typ, types.String(id))
		parents := []types.EntityUID{types.NewEntityUID("Acme::Group", types.String(odd[(i+1)%len(odd)])), types.NewEntityUID("Acme::Group", "b"), types.NewEntityUID("Acme::Group", "a")}
		later := []types.EntityUID{types.NewEntityUID("Acme::AccessProfile", types.String(odd[(i+3)%len(odd)])), types.NewEntityUID("Acme::Group", "a")}
		attrs := types.RecordMap{
			"name":           types.String(id),
			"n":              types.Long(int64(i) - 5),
			"ok":             types.Boolean(i%2 == 0),
			"ip":             ip,
			"score":          dec,
			"set":            types.NewSet(types.String(id), types.Long(3), types.String("a")),
			"rec":            types.NewRecord(types.RecordMap{"z": types.String("<&>"), "a": types.NewEntityUID("Acme::User", types.String(id))}),
			types.String(id): types.String("key named " + id),
		}
		var tags types.Record
		if i%3 == 0 {
			tags = types.NewRecord(types.RecordMap{"t": types.String(id)})
		}
		if i%5 == 4 {
			attrs = nil
			parents = nil
		}
		e := types.Entity{UID: uid, Parents: types.NewEntityUIDSet(parents...), Attributes: types.NewRecord(attrs), Tags: tags}
		compact[uid] = newEntity(e).withParents(later...)
		e.Parents = types.NewEntityUIDSet(append(parents, later...)...)
		entities[uid] = e
	}
	want := referenceEntitiesJSON(t, entities)
	if got := compact.JSON(); !bytes.Equal(got, want) {
		t.Errorf("Entities.JSON\n%s\nwant\n%s", got, want)
	}
	if got := EntitiesJSON(entities); !bytes.Equal(got, want) {
		t.Errorf("EntitiesJSON\n%s\nwant\n%s", got, want)
	}
	if got, want := (Entities{}).JSON(), referenceEntitiesJSON(t, types.EntityMap{}); !bytes.Equal(got, want) {
		t.Errorf("no entities: %q, want %q", got, want)
	}
}
