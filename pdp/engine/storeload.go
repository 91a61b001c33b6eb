package engine

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/cedargate/cedargate/bundle"

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
// into a store (see readEntities).
func loadEntities(data []byte) (*store, error) {
	st, _, err := readEntities(bytes.NewReader(data), len(data), nil)
	return st, err
}

// entityBytes is about the size of an entity in a bundle's JSON: the
// store is given room for size/entityBytes entities at first. Too little
// room costs copies as the store grows, too much is held for as long as
// the snapshot serves, so it errs towards little.
const entityBytes = 224

// readEntities decodes r, size bytes of a JSON array of entities in
// Cedar's format, into a store, as it reads it: a chunk of loadChunk
// entities is held at a time, never the whole array. It accepts and
// refuses what cedar-go's decoding does, and refuses a uid defined twice.
//
// prev, when set, is the store of the snapshot serving: as long as the
// chunks read are the same bytes as prev's (by SHA-256), nothing is
// decoded. If every chunk is, prev itself is returned, shared (true): a
// bundle whose entities did not change, the common case of a policy
// change or a rollback, costs no second store. At the first chunk that
// differs, the entities of the chunks before it are copied from prev,
// their attribute records shared, and the rest decoded.
func readEntities(r io.Reader, size int, prev *store) (_ *store, shared bool, _ error) {
	dec := jsontext.NewDecoder(r)
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, false, err
	}
	if tok.Kind() != '[' {
		return nil, false, fmt.Errorf("want a JSON array of entities, found %v", tok.Kind())
	}
	var (
		b     *storeBuilder
		sums  [][sha256.Size]byte
		arena []byte
		ends  = make([]int, 0, loadChunk)
		chunk = make([][]byte, 0, loadChunk)
		ents  []rawEntity
	)
	// same is how many entities are the same as prev's, so far.
	same, base := 0, 0
	for ; ; base += len(ends) {
		arena, ends, chunk = arena[:0], ends[:0], chunk[:0]
		for len(ends) < loadChunk && dec.PeekKind() != ']' {
			v, err := dec.ReadValue()
			if err != nil {
				return nil, false, err
			}
			arena = append(arena, v...)
			ends = append(ends, len(arena))
		}
		if len(ends) == 0 {
			break
		}
		sums = append(sums, sha256.Sum256(arena))
		k := len(sums) - 1
		if prev != nil && same == base && k < len(prev.chunkSums) && prev.chunkSums[k] == sums[k] {
			same += len(ends)
			continue
		}
		if b == nil {
			b = newStoreBuilder(size / entityBytes)
			ents = make([]rawEntity, loadChunk)
			if err := b.copyFrom(prev, same); err != nil {
				return nil, false, err
			}
		}
		start := 0
		for _, end := range ends {
			chunk = append(chunk, arena[start:end:end])
			start = end
		}
		if err := b.addChunk(chunk, ents[:len(chunk)], base); err != nil {
			return nil, false, err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, false, err
	}
	if b == nil {
		if prev != nil && len(sums) == len(prev.chunkSums) {
			return prev, true, nil
		}
		// Fewer chunks than prev's, each the same.
		b = newStoreBuilder(size / entityBytes)
		if err := b.copyFrom(prev, same); err != nil {
			return nil, false, err
		}
	}
	b.s.chunkSums = sums
	return b.finish(), false, nil
}

// copyFrom adds the first n entities of prev's JSON, as prev holds them,
// sharing their attribute records.
func (b *storeBuilder) copyFrom(prev *store, n int) error {
	if n == 0 {
		return nil
	}
	recs := map[uint32]uint32{0: 0}
	record := func(x uint32) uint32 {
		y, ok := recs[x]
		if !ok {
			y = uint32(len(b.s.records))
			b.s.records = append(b.s.records, prev.records[x])
			recs[x] = y
		}
		return y
	}
	var ps []int32
	for _, j := range prev.order[:n] {
		i, err := b.internFrom(prev, j)
		if err != nil {
			return err
		}
		if err := b.define(i); err != nil {
			return err
		}
		ps = ps[:0]
		for _, p := range prev.parentsOf(j) {
			pi, err := b.internFrom(prev, p)
			if err != nil {
				return err
			}
			ps = append(ps, pi)
		}
		b.setParents(i, ps)
		b.s.attrs[i], b.s.tags[i] = record(prev.attrs[j]), record(prev.tags[j])
	}
	return nil
}

// internFrom interns prev's entity j.
func (b *storeBuilder) internFrom(prev *store, j int32) (int32, error) {
	t, err := b.typeIdx(prev.typeNames[prev.typeOf[j]])
	if err != nil {
		return -1, err
	}
	return b.intern(t, []byte(prev.id(j)))
}

// addChunk decodes the entities of chunk, the JSON of entities base to
// base+len(chunk), in parallel into ents, and interns them in order.
func (b *storeBuilder) addChunk(chunk [][]byte, ents []rawEntity, base int) error {
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
			return fmt.Errorf("entity %d: %w", base+k, err)
		}
	}
	return b.decodeRecords(pending)
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
	b.s.order = append(b.s.order, i)
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

// Entities reads a bundle's entities into a store as the bundle streams
// (bundle.DecodeOptions.Entities), so that activating a bundle never
// holds its entities' JSON whole: for a million identities, a quarter of
// a gigabyte. Given the snapshot serving, it takes from that snapshot's
// store what did not change (see readEntities), and New shares the
// serving snapshot whole when nothing it was built from changed (see
// share). New takes the store from the bundle that Decode returns; one
// Entities serves one Decode.
type Entities struct {
	serving *Snapshot
	st      *store
	shared  bool
	// shaped is set when st, not shared, has the serving store's shape
	// (sameShape) and shares it; policies that Holds offered, of the
	// size the serving snapshot's were.
	shaped, policies bool
	err              error
}

var _ bundle.Holder = (*Entities)(nil)

// NewEntities returns an Entities to stream one bundle's entities into,
// beside serving, the snapshot serving (nil if none).
func NewEntities(serving *Snapshot) *Entities { return &Entities{serving: serving} }

// ReadEntities implements bundle.EntityReader.
func (e *Entities) ReadEntities(r io.Reader, size int64) {
	var prev *store
	if e.serving != nil {
		prev = e.serving.ents
	}
	e.st, e.shared, e.err = readEntities(r, int(min(size, math.MaxInt32)), prev)
	if e.err == nil && !e.shared && prev != nil && e.st.sameShape(prev) {
		e.st.takeShape(prev)
		e.shaped = true
	}
}

// Holds implements bundle.Holder: once the entities read are the
// serving store or have its shape, the serving snapshot's policies are
// held, and its grants if its policies were. Everything the snapshot
// built from them then holds for the new bundle too (see build).
func (e *Entities) Holds(name string, size int64) ([sha256.Size]byte, bool) {
	s := e.serving
	if s == nil || e.st == nil || e.err != nil || !(e.shared || e.shaped) || (name == bundle.GrantsFile && !e.policies) {
		return [sha256.Size]byte{}, false
	}
	was, ok := s.sums[name]
	if !ok || was.size != size {
		return [sha256.Size]byte{}, false
	}
	if name == bundle.PoliciesFile {
		e.policies = true
	}
	return was.sum, true
}

// streamed returns the Entities b's entities were read into, if they
// were.
func streamed(b *bundle.Bundle) (*Entities, bool) {
	e, ok := b.EntityReader.(*Entities)
	return e, ok && b.Entities == nil
}

// entitiesOf returns the store of b's entities: the one read as b
// streamed, or one decoded from b.Entities.
func entitiesOf(b *bundle.Bundle) (*store, error) {
	e, ok := streamed(b)
	if !ok {
		return loadEntities(b.Entities)
	}
	if e.st == nil && e.err == nil {
		return nil, fmt.Errorf("%s was not read", bundle.EntitiesFile)
	}
	st, err := e.st, e.err
	// The store is the snapshot's from now on, and the serving snapshot
	// is no longer needed: the bundle, which may outlive this call, must
	// not keep it alive.
	e.st, e.serving = nil, nil
	return st, err
}
