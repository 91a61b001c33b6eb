package engine

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

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
	st, _, _, err := readEntities(bytes.NewReader(data), len(data), nil)
	return st, err
}

// entityBytes is about the size of an entity in a bundle's JSON: the
// store is given room for size/entityBytes entities at first. Too little
// room costs copies as the store grows, too much is held for as long as
// the snapshot serves, so it errs towards little.
const entityBytes = 224

// kin is what a store read beside the serving one shares with it.
type kin uint8

const (
	// ownStore: nothing.
	ownStore kin = iota
	// sameStore: the store is the serving one.
	sameStore
	// sameShape: the store has the serving one's entities, in the same
	// order, and shares them and their uid table (see newShaper); its
	// attributes and tags are its own, and its parents when some entity's
	// changed (the entities moved).
	sameShape
)

// readEntities decodes r, size bytes of a JSON array of entities in
// Cedar's format, into a store, as it reads it: a chunk of loadChunk
// entities is held at a time, never the whole array. It accepts and
// refuses what cedar-go's decoding does, and refuses a uid defined twice.
//
// prev, when set, is the store of the snapshot serving: as long as the
// chunks read are the same bytes as prev's (by SHA-256), nothing is
// decoded. If every chunk is, prev itself is returned (sameStore): a
// bundle whose entities did not change, the common case of a policy
// change or a rollback, costs no second store. From the first chunk
// that differs, the entities are compared with prev's as they are read
// and, while each is prev's entity at its place with parents that prev
// holds, only attributes, tags and parents are read, into a store that
// shares prev's entities and uid table (sameShape): a change of some
// identities' attributes or groups costs what changed, not a second
// store. The entities whose parents are not prev's are returned, in
// order (moved); where that leaves a uid prev names only as a parent
// named by no entity, the entities are copied into a store of their
// own (see orphaned). At the first chunk where an entity differs otherwise,
// the entities before it are copied, their attribute records shared,
// and the rest decoded into a store of their own.
func readEntities(r io.Reader, size int, prev *store) (_ *store, _ kin, moved []int32, err error) {
	dec := jsontext.NewDecoder(r)
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, ownStore, nil, err
	}
	if tok.Kind() != '[' {
		return nil, ownStore, nil, fmt.Errorf("want a JSON array of entities, found %v", tok.Kind())
	}
	var (
		// b builds the store once a chunk differs from prev's: with
		// prev's shape as long as b.shape is set.
		b     *storeBuilder
		sums  [][sha256.Size]byte
		arena []byte
		ends  = make([]int, 0, loadChunk)
		chunk = make([][]byte, 0, loadChunk)
		read  chunkReader
	)
	base := 0
	for ; ; base += len(ends) {
		arena, ends, chunk = arena[:0], ends[:0], chunk[:0]
		for len(ends) < loadChunk && dec.PeekKind() != ']' {
			v, err := dec.ReadValue()
			if err != nil {
				return nil, ownStore, nil, err
			}
			arena = append(arena, v...)
			ends = append(ends, len(arena))
		}
		if len(ends) == 0 {
			break
		}
		sums = append(sums, sha256.Sum256(arena))
		k := len(sums) - 1
		// A chunk of prev's bytes, where the chunks before it are
		// prev's entities, holds prev's entities as prev holds them.
		if prev != nil && (b == nil || b.shape != nil) && k < len(prev.chunkSums) && prev.chunkSums[k] == sums[k] {
			continue
		}
		if b == nil {
			b = newShaper(prev, size)
		}
		start := 0
		for _, end := range ends {
			chunk = append(chunk, arena[start:end:end])
			start = end
		}
		ents := read.read(chunk)
		if b.shape != nil {
			ok, err := b.shapeChunk(ents, base)
			if err != nil {
				return nil, ownStore, nil, err
			}
			if ok {
				continue
			}
			if b, err = b.unshape(size, base); err != nil {
				return nil, ownStore, nil, err
			}
		}
		if err := b.addChunk(chunk, ents, base); err != nil {
			return nil, ownStore, nil, err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, ownStore, nil, err
	}
	if b != nil && b.shape != nil && len(b.moved) > 0 {
		b.gather()
		if b.orphaned() {
			if b, err = b.unshape(size, base); err != nil {
				return nil, ownStore, nil, err
			}
		}
	}
	switch {
	case b == nil && prev != nil && len(sums) == len(prev.chunkSums):
		return prev, sameStore, nil, nil
	case b == nil:
		// Fewer chunks than prev's, each the same.
		b = newShaper(prev, size)
		fallthrough
	case b.shape != nil && base < len(prev.order):
		// Fewer entities than prev's, each the same.
		if b, err = b.unshape(size, base); err != nil {
			return nil, ownStore, nil, err
		}
	}
	b.s.chunkSums = sums
	if b.shape != nil {
		st, moved := b.finishShape()
		return st, sameShape, moved, nil
	}
	return b.finish(), ownStore, nil, nil
}

// newShaper returns a builder of a store with prev's shape: prev's
// entities, parents and uid table, attributes and tags to be read
// (shapeChunk). With no prev, it returns a builder of a new store, for
// a JSON of size bytes.
func newShaper(prev *store, size int) *storeBuilder {
	if prev == nil {
		return newStoreBuilder(size / entityBytes)
	}
	s := &store{count: prev.count}
	s.takeShape(prev)
	s.attrs, s.tags = slices.Clone(prev.attrs), slices.Clone(prev.tags)
	s.records, s.recSums = slices.Clone(prev.records), slices.Clone(prev.recSums)
	return &storeBuilder{s: s, records: map[string]uint32{"{}": 0}, shape: prev}
}

// unshape returns a builder of a store of its own, holding the first n
// entities of the JSON as b holds them, for a JSON of size bytes whose
// next entities are not b's shape's.
func (b *storeBuilder) unshape(size, n int) (*storeBuilder, error) {
	b.gather()
	nb := newStoreBuilder(size / entityBytes)
	return nb, nb.copyFrom(b.s, n)
}

// shapeChunk reads ents, read from the JSON of entities base to
// base+len(ents), into b, a builder with a shape, and reports whether it
// could: whether each entity is the one at its place in b's shape, and
// its parents entities of the shape. It changes nothing when it could
// not. An entity's attributes (and tags) whose JSON is that of the
// record the entity had keep that record; others are decoded, each
// distinct JSON once. An entity whose parents are not those it had is
// moved (see moveTo).
func (b *storeBuilder) shapeChunk(ents []rawEntity, base int) (bool, error) {
	shape := b.shape
	// ps holds the parents of the chunk's entities that moved, each
	// entity's as a set; moves says whose, and where in ps.
	type move struct {
		j        int32
		from, to int
	}
	var moves []move
	ps := b.ps[:0]
	for k := range ents {
		e := &ents[k]
		if e.err != nil || e.full != nil || base+k >= len(shape.order) {
			return false, nil
		}
		j := shape.order[base+k]
		if string(shape.typeNames[shape.typeOf[j]]) != string(e.typ) || shape.id(j) != string(e.id) {
			return false, nil
		}
		from := len(ps)
		for _, p := range e.parents {
			pi, ok := shape.findRaw(p.typ, p.id)
			if !ok {
				return false, nil
			}
			ps = append(ps, pi)
		}
		slices.Sort(ps[from:])
		ps = ps[:from+len(slices.Compact(ps[from:]))]
		if slices.Equal(ps[from:], shape.parentsOf(j)) {
			ps = ps[:from]
			continue
		}
		moves = append(moves, move{j, from, len(ps)})
	}
	b.ps = ps
	for _, m := range moves {
		b.moveTo(m.j, ps[m.from:m.to])
	}
	b.recs = slices.Grow(b.recs[:0], len(ents))[:len(ents)]
	recs := b.recs
	parallel.Chunks(len(ents), minChunk, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			recs[k][0] = sha256.Sum256(ents[k].attrs)
			if ents[k].tags != nil {
				recs[k][1] = sha256.Sum256(ents[k].tags)
			}
		}
	})
	var pending []pendingRecord
	for k := range ents {
		e, j := &ents[k], shape.order[base+k]
		b.s.attrs[j] = b.keepRecord(b.s.attrs[j], e.attrs, recs[k][0], j, &pending)
		tags := uint32(0)
		if e.tags != nil {
			tags = b.keepRecord(b.s.tags[j], e.tags, recs[k][1], j, &pending)
		}
		b.s.tags[j] = tags
	}
	return true, b.decodeRecords(pending)
}

// keepRecord returns was when raw, whose SHA-256 is sum, is the JSON
// that record was decoded from, and otherwise the index recordOf gives
// raw.
func (b *storeBuilder) keepRecord(was uint32, raw []byte, sum [sha256.Size]byte, entity int32, pending *[]pendingRecord) uint32 {
	if b.s.recSums[was] == sum && sum != ([sha256.Size]byte{}) {
		return was
	}
	return b.recordOf(raw, entity, pending)
}

// moveTo gives entity j, of a builder with a shape, the parents ps (a
// set, of the shape's entities) in place of the shape's.
func (b *storeBuilder) moveTo(j int32, ps []int32) {
	if len(b.moved) == 0 {
		b.s.parents = slices.Clone(b.shape.parents)
	}
	b.s.parents[j] = span{off: uint32(len(b.movedPool)), n: uint32(len(ps))}
	b.movedPool = append(b.movedPool, ps...)
	b.moved = append(b.moved, j)
}

// finishShape returns the store of a builder with a shape, holding only
// the records its entities have, and the entities moved; the builder
// must not be used again.
func (b *storeBuilder) finishShape() (*store, []int32) {
	s := b.s
	used := make([]bool, len(s.records))
	used[0] = true
	for _, xs := range [][]uint32{s.attrs, s.tags} {
		for _, x := range xs {
			used[x] = true
		}
	}
	if slices.Contains(used, false) {
		remap := make([]uint32, len(s.records))
		records := make([]types.Record, 0, len(s.records))
		recSums := make([][sha256.Size]byte, 0, len(s.records))
		for x, u := range used {
			if u {
				remap[x] = uint32(len(records))
				records, recSums = append(records, s.records[x]), append(recSums, s.recSums[x])
			}
		}
		for _, xs := range [][]uint32{s.attrs, s.tags} {
			for i, x := range xs {
				xs[i] = remap[x]
			}
		}
		s.records, s.recSums = records, recSums
	}
	b.gather()
	moved := b.moved
	b.records, b.shape, b.moved, b.ps = nil, nil, nil, nil
	return s, moved
}

// gather gives a builder with a shape whose entities moved to parents
// in movedPool a parent pool of its own: every entity's parents, from
// the shape's pool or from movedPool, in the order of the entities'
// indexes. When no moved entity has parents, the spans stay in the
// shape's pool.
func (b *storeBuilder) gather() {
	if len(b.movedPool) == 0 {
		// The spans are the shape's, or empty.
		return
	}
	s, shape := b.s, b.shape
	moved := slices.Sorted(slices.Values(b.moved))
	size := len(shape.parentPool) + len(b.movedPool)
	for _, j := range moved {
		size -= int(shape.parents[j].n)
	}
	pool := make([]int32, 0, size)
	for i, sp := range s.parents {
		from := shape.parentPool
		if len(moved) > 0 && moved[0] == int32(i) {
			from, moved = b.movedPool, moved[1:]
		}
		s.parents[i] = span{off: uint32(len(pool)), n: sp.n}
		pool = append(pool, from[sp.off:sp.off+sp.n]...)
	}
	s.parentPool, b.movedPool = pool, nil
}

// orphaned reports whether an entity that the shape names only as a
// parent, one a moved entity had, is named by no entity any more: a
// store decoded alone would not hold it, and a request entity with its
// uid would not shadow one. The parents must be gathered.
func (b *storeBuilder) orphaned() bool {
	shape := b.shape
	was := map[int32]bool{}
	for _, j := range b.moved {
		for _, p := range shape.parentsOf(j) {
			if !shape.defined[p] {
				was[p] = true
			}
		}
	}
	for p := range b.s.parentEdges() {
		if len(was) == 0 {
			return false
		}
		delete(was, p)
	}
	return len(was) > 0
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
			y = b.s.addRecord(prev.records[x], prev.recSums[x])
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

// addChunk interns ents, read from chunk, the JSON of entities base to
// base+len(chunk), in order.
func (b *storeBuilder) addChunk(chunk [][]byte, ents []rawEntity, base int) error {
	var pending []pendingRecord
	for k := range ents {
		if err := b.add(&ents[k], chunk[k], &pending); err != nil {
			return fmt.Errorf("entity %d: %w", base+k, err)
		}
	}
	return b.decodeRecords(pending)
}

// chunkReader reads chunks of entities, keeping from one chunk to the
// next what reading one takes: the entities, and each worker's decoder
// and block of parents' uids. A chunk's entities use them only until
// the chunk is added, and a million entities' parents would otherwise
// cost blocks of their own: twice the store's size, in garbage.
type chunkReader struct {
	ents       []rawEntity
	mu         sync.Mutex
	free, used []*chunkWorker
}

// chunkWorker is what one of chunkReader's workers reads with.
type chunkWorker struct {
	d    *entityDecoder
	uids []rawUID
}

// read reads the entities of chunk in parallel, into slices of its JSON
// where it can, decoded by cedar-go where not. They hold until the next
// read.
func (c *chunkReader) read(chunk [][]byte) []rawEntity {
	if c.ents == nil {
		c.ents = make([]rawEntity, loadChunk)
	}
	ents := c.ents[:len(chunk)]
	clear(ents)
	parallel.Chunks(len(chunk), minChunk, func(lo, hi int) {
		w := c.worker()
		uids := w.uids[:0]
		for i := lo; i < hi; i++ {
			var ok bool
			if uids, ok = w.d.decodeRaw(chunk[i], &ents[i], uids); !ok {
				ents[i] = rawEntity{full: new(types.Entity)}
				if !w.d.decode(chunk[i], ents[i].full) {
					*ents[i].full = types.Entity{}
					ents[i].err = ents[i].full.UnmarshalJSON(chunk[i])
				}
			}
		}
		if &uids[:1][0] != &w.uids[:1][0] {
			// Its block was too small: the next chunk gets a larger one.
			w.uids = make([]rawUID, 0, 2*cap(w.uids))
		}
		c.mu.Lock()
		c.used = append(c.used, w)
		c.mu.Unlock()
	})
	// A worker goes back to the pool only now: one that finished its
	// part early must not be given another part of this chunk.
	c.free, c.used = append(c.free, c.used...), c.used[:0]
	return ents
}

// worker returns a worker that no read is using.
func (c *chunkReader) worker() *chunkWorker {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.free); n > 0 {
		w := c.free[n-1]
		c.free = c.free[:n-1]
		return w
	}
	return &chunkWorker{d: newEntityDecoder(), uids: make([]rawUID, 0, uidBlock)}
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
			*x.dst = b.s.addRecord(x.rec, [sha256.Size]byte{})
		}
	}
	return nil
}

// define marks entity i as defined by the bundle.
func (b *storeBuilder) define(i int32) error {
	if b.s.defined[i] {
		return fmt.Errorf("duplicate entity %s", b.uid(i))
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
	i := b.s.addRecord(types.Record{}, [sha256.Size]byte{})
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
			p := &pending[k]
			b.s.records[p.index], errs[k] = d.record(p.raw)
			b.s.recSums[p.index] = sha256.Sum256(p.raw)
		}
	})
	for k, err := range errs {
		if err != nil {
			i := pending[k].entity
			return fmt.Errorf("entity %s: %w", b.uid(i), err)
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
	// moved are the entities of a shaped st whose parents changed.
	moved []int32
	err   error
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
	var how kin
	e.st, how, e.moved, e.err = readEntities(r, int(min(size, math.MaxInt32)), prev)
	e.shared, e.shaped = how == sameStore, how == sameShape
}

// Holds implements bundle.Holder: once the entities read are the
// serving store or have its shape, the serving snapshot's policies are
// held, and its grants if its policies were and no entity moved but as
// reparent allows. Everything the snapshot built from them then holds
// for the new bundle too (see build).
func (e *Entities) Holds(name string, size int64) ([sha256.Size]byte, bool) {
	s := e.serving
	if s == nil || e.st == nil || e.err != nil || !(e.shared || e.shaped) || (name == bundle.GrantsFile && !e.policies) {
		return [sha256.Size]byte{}, false
	}
	was, ok := s.sums[name]
	if !ok || was.size != size {
		return [sha256.Size]byte{}, false
	}
	// Asked once the policies are offered (with other policies, the
	// snapshot is built whole whatever reparentable says): grants held
	// beside moved entities are what tells reshape to reparent.
	if name == bundle.GrantsFile && len(e.moved) > 0 && !reparentable(s, e.st, e.moved) {
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
	e.st, e.serving, e.moved = nil, nil, nil
	return st, err
}
