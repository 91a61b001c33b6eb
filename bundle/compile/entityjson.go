package compile

import (
	"bytes"
	"cmp"
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go/types"
)

// Entities are the compiled entities of an environment, by UID.
type Entities map[types.EntityUID]Entity

// Entity is a compiled entity as a build keeps it: its parents, which the
// checks walk, and the rest already in the bundle's JSON. A hundred
// thousand identities held as Cedar values (a map per record, a set per
// parent list) were a third of a build's live heap; nothing but the
// bundle reads their attributes.
type Entity struct {
	// Parents are sorted by type, then id, without duplicates.
	Parents []types.EntityUID
	// tail is the entity's JSON from its attributes on:
	// `"attrs":{...},"tags":{...}}`.
	tail []byte
}

// newEntity encodes e, keeping what Entity keeps.
func newEntity(e types.Entity) Entity {
	parents := slices.Collect(e.Parents.All())
	e.Parents = types.EntityUIDSet{}
	line, err := e.MarshalJSON()
	if err != nil {
		// Entities come from parsing JSON, so they always marshal.
		panic("compile: marshalling entity " + e.UID.String() + ": " + err.Error())
	}
	head := entityHead(nil, e.UID, nil)
	if !bytes.HasPrefix(line, head) {
		panic("compile: entity " + e.UID.String() + " does not encode as " + string(head) + "...: " + string(line))
	}
	// A copy, so the entity does not keep the head and the slack of the
	// marshalling buffer.
	return Entity{Parents: sortUIDs(parents), tail: bytes.Clone(line[len(head):])}
}

// withParents returns e with parents added to its own.
func (e Entity) withParents(parents ...types.EntityUID) Entity {
	e.Parents = sortUIDs(append(slices.Clip(e.Parents), parents...))
	return e
}

// sortUIDs sorts uids as Cedar's entity JSON lists parents, dropping
// duplicates.
func sortUIDs(uids []types.EntityUID) []types.EntityUID {
	slices.SortFunc(uids, compareUIDs)
	return slices.Clip(slices.Compact(uids))
}

func compareUIDs(a, b types.EntityUID) int {
	return cmp.Or(strings.Compare(string(a.Type), string(b.Type)), strings.Compare(string(a.ID), string(b.ID)))
}

// entityHead appends to buf the JSON types.Entity.MarshalJSON writes
// before an entity's attributes: its UID and parents, in the implicit
// form, parents sorted.
func entityHead(buf []byte, uid types.EntityUID, parents []types.EntityUID) []byte {
	buf = append(buf, `{"uid":`...)
	buf = appendUID(buf, uid)
	buf = append(buf, `,"parents":[`...)
	for i, p := range parents {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendUID(buf, p)
	}
	return append(buf, "],"...)
}

func appendUID(buf []byte, uid types.EntityUID) []byte {
	b, err := types.ImplicitlyMarshaledEntityUID(uid).MarshalJSON()
	if err != nil {
		panic("compile: marshalling " + uid.String() + ": " + err.Error())
	}
	return append(buf, b...)
}

// JSON renders the entities in Cedar's JSON entity format, one entity per
// line, sorted by UID, so the file is deterministic and diffs well: the
// bytes EntitiesJSON writes for the same entities.
func (es Entities) JSON() []byte {
	uids := make([]types.EntityUID, 0, len(es))
	size := 4
	for uid, e := range es {
		uids = append(uids, uid)
		size += len(e.tail) + 64*(1+len(e.Parents))
	}
	slices.SortFunc(uids, compareUIDs)
	buf := make([]byte, 0, size)
	buf = append(buf, '[')
	for i, uid := range uids {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '\n')
		e := es[uid]
		buf = entityHead(buf, uid, e.Parents)
		buf = append(buf, e.tail...)
	}
	return append(buf, "\n]\n"...)
}

// EntitiesJSON renders entities in Cedar's JSON entity format, one entity
// per line, sorted by UID, so the file is deterministic and diffs well.
func EntitiesJSON(entities types.EntityMap) []byte {
	es := make(Entities, len(entities))
	for uid, e := range entities {
		es[uid] = newEntity(e)
	}
	return es.JSON()
}
