package wire

import (
	"strconv"

	"github.com/cedar-policy/cedar-go/types"

	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// entities decodes the request-scoped entities.
func (d *decoder) entities(list []*cedargatev1.Entity) ([]types.Entity, *FieldError) {
	if len(list) == 0 {
		return nil, nil
	}
	// Checked before any work, so an oversized list costs nothing.
	if len(list) > d.lim.MaxEntities {
		return nil, &FieldError{Reason: strconv.Itoa(len(list)) + " entities, more than the limit of " +
			strconv.Itoa(d.lim.MaxEntities)}
	}
	out := make([]types.Entity, len(list))
	for i, e := range list {
		ent, fe := d.entity(e)
		if fe != nil {
			return nil, fe.under(indexPath(i))
		}
		out[i] = ent
	}
	// The API names the second of two entities with the same uid; which
	// one should win is not ours to guess.
	if j, i := duplicate(out); j >= 0 {
		return nil, &FieldError{Field: indexPath(j) + ".uid",
			Reason: "duplicate of entities" + indexPath(i) + ".uid (" + QuoteUID(out[i].UID) + ")"}
	}
	return out, nil
}

// duplicate returns the first index j whose uid equals that of an earlier
// entity i, or -1, -1.
func duplicate(ents []types.Entity) (j, i int) {
	// A few entities compare faster pairwise than through a map, and
	// without allocating.
	if len(ents) <= 16 {
		for j := 1; j < len(ents); j++ {
			for i := range j {
				if ents[i].UID == ents[j].UID {
					return j, i
				}
			}
		}
		return -1, -1
	}
	seen := make(map[types.EntityUID]int, len(ents))
	for j := range ents {
		if i, ok := seen[ents[j].UID]; ok {
			return j, i
		}
		seen[ents[j].UID] = j
	}
	return -1, -1
}

// QuoteUID renders a caller's uid for an error message, as Cedar writes it
// (Acme::Doc::"d1") but with a long id shortened as Quote does. Front ends
// that report their own field errors use it too.
func QuoteUID(uid types.EntityUID) string {
	return string(uid.Type) + "::" + Quote(string(uid.ID))
}

// entity decodes one entity.
func (d *decoder) entity(e *cedargatev1.Entity) (types.Entity, *FieldError) {
	if e == nil {
		return types.Entity{}, required()
	}
	uid, fe := d.entityRef(e.Uid)
	if fe != nil {
		return types.Entity{}, fe.under(".uid")
	}
	attrs, fe := d.record(e.Attrs, 1)
	if fe != nil {
		return types.Entity{}, fe.under(".attrs")
	}
	var parents types.EntityUIDSet
	if len(e.Parents) > 0 {
		// NewEntityUIDSet copies the uids into its own map, so a few are
		// gathered on the stack.
		var buf [8]types.EntityUID
		ps := buf[:0]
		for i, p := range e.Parents {
			if fe := d.count(); fe != nil {
				return types.Entity{}, fe.under(".parents" + indexPath(i))
			}
			uid, fe := d.entityRef(p)
			if fe != nil {
				return types.Entity{}, fe.under(".parents" + indexPath(i))
			}
			ps = append(ps, uid)
		}
		parents = types.NewEntityUIDSet(ps...)
	}
	tags, fe := d.record(e.Tags, 1)
	if fe != nil {
		return types.Entity{}, fe.under(".tags")
	}
	return types.Entity{UID: uid, Attributes: attrs, Parents: parents, Tags: tags}, nil
}
