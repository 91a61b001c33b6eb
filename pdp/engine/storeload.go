package engine

import (
	"fmt"
	"slices"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/internal/parallel"
)

// Loading the store reads a bundle's entities a chunk at a time: the
// entities of a chunk are read in parallel into slices of the JSON
// (rawEntity), interned one after the other (ids into the store, parents
// as indexes, each distinct attribute object once), and the attribute
// objects not seen before are decoded in parallel. Nothing is held per
// entity beyond what the store keeps, so loading a million entities
// needs little more memory than the store itself.

// loadChunk is how many entities the loader reads at a time.
const loadChunk = 4096

// loadEntities decodes data, a JSON array of entities in Cedar's format,
// into a store. It accepts and refuses what cedar-go's decoding does, and
// refuses a uid defined twice.
func loadEntities(data []byte) (*store, error) {
	raw, err := splitArray(data)
	if err != nil {
		return nil, err
	}
	b := newStoreBuilder(len(raw))
	ents := make([]rawEntity, loadChunk)
	for base := 0; base < len(raw); base += loadChunk {
		chunk := raw[base:min(len(raw), base+loadChunk)]
		ents := ents[:len(chunk)]
		clear(ents)
		parallel.Chunks(len(chunk), minChunk, func(lo, hi int) {
			d := newEntityDecoder()
			var uids []rawUID
			for i := lo; i < hi; i++ {
				var ok bool
				if uids, ok = d.decodeRaw(chunk[i], &ents[i], uids); !ok {
					ents[i] = rawEntity{full: new(types.Entity)}
					if !d.decode(chunk[i], ents[i].full) {
						*ents[i].full = types.Entity{}
						ents[i].err = ents[i].full.UnmarshalJSON(chunk[i])
					}
				}
			}
		})
		var pending []pendingRecord
		for k := range ents {
			if err := b.add(&ents[k], chunk[k], &pending); err != nil {
				return nil, fmt.Errorf("entity %d: %w", base+k, err)
			}
		}
		if err := b.decodeRecords(pending); err != nil {
			return nil, err
		}
	}
	return b.finish(), nil
}

// pendingRecord is a record the loader has given an index and has yet to
// decode.
type pendingRecord struct {
	index uint32
	raw   []byte
	// entity is the first entity that has it.
	entity int32
}

// add interns e, read from raw, into the store. An entity whose type
// cedar-go's fast path would not take is decoded whole by cedar-go here.
func (b *storeBuilder) add(e *rawEntity, raw []byte, pending *[]pendingRecord) error {
	if e.err != nil {
		return e.err
	}
	if e.full == nil {
		ok := b.knownType(e.typ)
		for _, p := range e.parents {
			ok = ok && b.knownType(p.typ)
		}
		if !ok {
			e.full = new(types.Entity)
			if err := e.full.UnmarshalJSON(raw); err != nil {
				return err
			}
		}
	}
	if e.full != nil {
		return b.addFull(e.full)
	}
	i, err := b.intern(b.typeIDs[string(e.typ)], e.id)
	if err != nil {
		return err
	}
	if err := b.define(i); err != nil {
		return err
	}
	ps := make([]int32, 0, len(e.parents))
	for _, p := range e.parents {
		pi, err := b.intern(b.typeIDs[string(p.typ)], p.id)
		if err != nil {
			return err
		}
		ps = append(ps, pi)
	}
	b.setParents(i, ps)
	b.s.attrs[i] = b.recordOf(e.attrs, i, pending)
	if e.tags != nil {
		b.s.tags[i] = b.recordOf(e.tags, i, pending)
	}
	return nil
}

// knownType reports whether typ is a valid entity type name, adding it.
func (b *storeBuilder) knownType(typ []byte) bool {
	if _, ok := b.typeIDs[string(typ)]; ok {
		return true
	}
	t, err := types.NewEntityType(string(typ))
	if err != nil {
		return false
	}
	i, err := b.typeIdx(t)
	if err != nil {
		return false
	}
	b.typeIDs[string(typ)] = i
	return true
}

// addFull interns an entity cedar-go decoded.
func (b *storeBuilder) addFull(e *types.Entity) error {
	t, err := b.typeIdx(e.UID.Type)
	if err != nil {
		return err
	}
	i, err := b.intern(t, []byte(e.UID.ID))
	if err != nil {
		return err
	}
	if err := b.define(i); err != nil {
		return err
	}
	var ps []int32
	for p := range e.Parents.All() {
		pt, err := b.typeIdx(p.Type)
		if err != nil {
			return err
		}
		pi, err := b.intern(pt, []byte(p.ID))
		if err != nil {
			return err
		}
		ps = append(ps, pi)
	}
	b.setParents(i, ps)
	for _, x := range []struct {
		rec types.Record
		dst *uint32
	}{{e.Attributes, &b.s.attrs[i]}, {e.Tags, &b.s.tags[i]}} {
		if x.rec.Len() > 0 {
			*x.dst = uint32(len(b.s.records))
			b.s.records = append(b.s.records, x.rec)
		}
	}
	return nil
}

// define marks entity i as defined by the bundle.
func (b *storeBuilder) define(i int32) error {
	if b.s.defined[i] {
		return fmt.Errorf("duplicate entity %s", types.EntityUID{Type: b.s.typeNames[b.s.typeOf[i]], ID: types.String(b.idBytes(i))})
	}
	b.s.defined[i] = true
	b.s.count++
	return nil
}

// setParents sets entity i's parents, as a set: sorted, each once.
func (b *storeBuilder) setParents(i int32, ps []int32) {
	slices.Sort(ps)
	ps = slices.Compact(ps)
	b.s.parents[i] = span{off: uint32(len(b.s.parentPool)), n: uint32(len(ps))}
	b.s.parentPool = append(b.s.parentPool, ps...)
}

// recordOf returns the index of the record raw encodes, giving a new one
// to decode later (pending) to a record not seen before.
func (b *storeBuilder) recordOf(raw []byte, entity int32, pending *[]pendingRecord) uint32 {
	if i, ok := b.records[string(raw)]; ok {
		return i
	}
	i := uint32(len(b.s.records))
	b.s.records = append(b.s.records, types.Record{})
	b.records[string(raw)] = i
	*pending = append(*pending, pendingRecord{index: i, raw: raw, entity: entity})
	return i
}

// decodeRecords decodes the pending records, in parallel.
func (b *storeBuilder) decodeRecords(pending []pendingRecord) error {
	errs := make([]error, len(pending))
	parallel.Chunks(len(pending), minChunk, func(lo, hi int) {
		d := newEntityDecoder()
		for k := lo; k < hi; k++ {
			b.s.records[pending[k].index], errs[k] = d.record(pending[k].raw)
		}
	})
	for k, err := range errs {
		if err != nil {
			i := pending[k].entity
			return fmt.Errorf("entity %s: %w", types.EntityUID{Type: b.s.typeNames[b.s.typeOf[i]], ID: types.String(b.idBytes(i))}, err)
		}
	}
	return nil
}
