package engine

import (
	"crypto/sha256"
	"fmt"
	"hash/maphash"
	"iter"
	"math"
	"slices"

	"github.com/cedar-policy/cedar-go/types"
)

// A snapshot holds every entity of its bundle for as long as it serves,
// and a bundle holds an entity per identity: a million, in a large
// organisation. cedar-go's types.Entity keeps its parents and attributes
// in maps, about a kilobyte per entity, so the snapshot keeps entities in
// a store instead: every entity is an index; its type is an index into a
// table of types, its id a range of one string holding every id, its
// parents a range of one slice of indexes, its attributes and tags an
// index into a table of records, each distinct record held once
// (identities mostly share theirs: a department, an employment, a
// clearance). An entity becomes a types.Entity only when cedar-go reads
// it (see getter), and then only for that decision. Parents that the
// bundle names but does not define (Cedar lets a parent exist as a name
// only) are entities of the store too, marked undefined.

// span is a range of a pool: pool[off : off+n].
type span struct{ off, n uint32 }

// store is the read-only entity store of a snapshot.
type store struct {
	// typeNames are the entity types by type index, typeIndex the
	// reverse; typeOf is each entity's type index.
	typeNames []types.EntityType
	typeIndex map[types.EntityType]uint16
	typeOf    []uint16
	// ids holds every entity's id, end to end; entity i's ends at
	// idEnd[i] and starts where i-1's ends.
	ids   string
	idEnd []uint32
	// parents is each entity's parents, as written, in parentPool.
	parents    []span
	parentPool []int32
	// attrs and tags index records; records[0] is the empty record.
	// recSums holds, by record, the SHA-256 of the JSON it was decoded
	// from (zero if it was not decoded alone): a later bundle's entities
	// whose attributes are the same bytes take the record rather than
	// decode it again (see shaper).
	attrs, tags []uint32
	records     []types.Record
	recSums     [][sha256.Size]byte
	// defined marks the entities the bundle defines; count is how many.
	defined []bool
	count   int
	// order is the defined entities in the order of the bundle's JSON,
	// and chunkSums the SHA-256 of each chunk of it, as the loader read
	// it: a later bundle's entities are compared with them chunk by
	// chunk, and what is the same is taken from this store rather than
	// decoded again (see readEntities).
	order     []int32
	chunkSums [][sha256.Size]byte
	// slots is an open-addressing hash table of entity indexes by uid
	// (-1 for an empty slot); typeHash is the hash of each type.
	slots    []int32
	typeHash []uint64
	seed     maphash.Seed
}

// uidHash hashes a uid from its type's hash and its id's.
func uidHash(typeHash, idHash uint64) uint64 { return idHash ^ (typeHash * 0x9e3779b97f4a7c15) }

// len returns the number of entities, undefined parents included.
func (s *store) len() int { return len(s.typeOf) }

// id returns entity i's id.
func (s *store) id(i int32) string {
	start := uint32(0)
	if i > 0 {
		start = s.idEnd[i-1]
	}
	return s.ids[start:s.idEnd[i]]
}

// uid returns entity i's uid, sharing the store's strings.
func (s *store) uid(i int32) types.EntityUID {
	return types.EntityUID{Type: s.typeNames[s.typeOf[i]], ID: types.String(s.id(i))}
}

// parentsOf returns entity i's parents (indexes), as written.
func (s *store) parentsOf(i int32) []int32 {
	sp := s.parents[i]
	return s.parentPool[sp.off : sp.off+sp.n]
}

// hashBytes hashes an entity uid held as bytes, given its type's hash.
func (s *store) hashBytes(typeHash uint64, id []byte) uint64 {
	return uidHash(typeHash, maphash.Bytes(s.seed, id))
}

// find returns the index of uid, defined or only named as a parent. It
// hashes the type with the id rather than looking it up in typeIndex:
// one hash of a short string costs less than a map lookup, and a lookup
// happens several times per decision.
func (s *store) find(uid types.EntityUID) (int32, bool) {
	if len(s.slots) == 0 {
		return -1, false
	}
	mask := uint64(len(s.slots) - 1)
	h := uidHash(maphash.String(s.seed, string(uid.Type)), maphash.String(s.seed, string(uid.ID)))
	for h &= mask; ; h = (h + 1) & mask {
		i := s.slots[h]
		if i < 0 {
			return -1, false
		}
		if s.id(i) == string(uid.ID) && s.typeNames[s.typeOf[i]] == uid.Type {
			return i, true
		}
	}
}

// findRaw is find for a uid held as bytes of JSON.
func (s *store) findRaw(typ, id []byte) (int32, bool) {
	if len(s.slots) == 0 {
		return -1, false
	}
	mask := uint64(len(s.slots) - 1)
	h := s.hashBytes(maphash.Bytes(s.seed, typ), id)
	for h &= mask; ; h = (h + 1) & mask {
		i := s.slots[h]
		if i < 0 {
			return -1, false
		}
		if s.id(i) == string(id) && string(s.typeNames[s.typeOf[i]]) == string(typ) {
			return i, true
		}
	}
}

// lookup returns the index of bundle entity uid (one the bundle defines).
func (s *store) lookup(uid types.EntityUID) (int32, bool) {
	i, ok := s.find(uid)
	return i, ok && s.defined[i]
}

// entity materialises entity i for cedar-go, with the parents keep
// accepts (all when keep is nil).
func (s *store) entity(i int32, keep func(child, parent int32) bool) types.Entity {
	e := types.Entity{UID: s.uid(i), Attributes: s.records[s.attrs[i]], Tags: s.records[s.tags[i]]}
	ps := s.parentsOf(i)
	if len(ps) == 0 {
		return e
	}
	var buf [8]types.EntityUID
	uids := buf[:0]
	for _, p := range ps {
		if keep == nil || keep(i, p) {
			uids = append(uids, s.uid(p))
		}
	}
	e.Parents = types.NewEntityUIDSet(uids...)
	return e
}

// parentEdges yields, for every entity the bundle defines, each of its
// parents: an entity is yielded once per child.
func (s *store) parentEdges() iter.Seq[int32] {
	return func(yield func(int32) bool) {
		for i := range int32(s.len()) {
			if !s.defined[i] {
				continue
			}
			for _, p := range s.parentsOf(i) {
				if !yield(p) {
					return
				}
			}
		}
	}
}

// hasParent reports whether parent is among entity i's parents.
func (s *store) hasParent(i, parent int32) bool {
	return slices.Contains(s.parentsOf(i), parent)
}

// storeBuilder fills a store, entity by entity.
type storeBuilder struct {
	s *store
	// ids is the store's ids while they are written.
	ids []byte
	// records indexes the records added so far by their JSON, so that
	// each distinct one is decoded and held once; typeIDs indexes the
	// types by their JSON, once checked.
	records map[string]uint32
	typeIDs map[string]uint16
	// shape, when set, is the store whose shape s shares (see
	// newShaper): s's entities are shape's, and only their attributes,
	// tags and parents are read; recs is scratch for the SHA-256 of a
	// chunk's attributes and tags.
	shape *store
	recs  [][2][sha256.Size]byte
	// moved are the entities whose parents are not the shape's, their
	// parents in movedPool until gather makes s.parentPool of them and
	// the shape's; ps is scratch for a chunk's parents.
	moved     []int32
	movedPool []int32
	ps        []int32
}

func newStoreBuilder(expect int) *storeBuilder {
	s := &store{typeIndex: map[types.EntityType]uint16{}, seed: maphash.MakeSeed(),
		records: []types.Record{{}}, recSums: [][sha256.Size]byte{sha256.Sum256([]byte("{}"))}}
	size := 16
	for size < 2*expect {
		size *= 2
	}
	s.slots = make([]int32, size)
	for i := range s.slots {
		s.slots[i] = -1
	}
	// The empty object is the empty record, record 0.
	b := &storeBuilder{s: s, records: map[string]uint32{"{}": 0}, typeIDs: map[string]uint16{}}
	s.typeOf = make([]uint16, 0, expect)
	s.idEnd = make([]uint32, 0, expect)
	s.parents = make([]span, 0, expect)
	s.attrs = make([]uint32, 0, expect)
	s.tags = make([]uint32, 0, expect)
	s.defined = make([]bool, 0, expect)
	s.order = make([]int32, 0, expect)
	return b
}

// addRecord adds r, decoded from JSON whose SHA-256 is sum (zero if
// none), and returns its index.
func (s *store) addRecord(r types.Record, sum [sha256.Size]byte) uint32 {
	s.records = append(s.records, r)
	s.recSums = append(s.recSums, sum)
	return uint32(len(s.records) - 1)
}

// typeIdx returns the index of type t, adding it.
func (b *storeBuilder) typeIdx(t types.EntityType) (uint16, error) {
	s := b.s
	if i, ok := s.typeIndex[t]; ok {
		return i, nil
	}
	if len(s.typeNames) == math.MaxUint16 {
		return 0, fmt.Errorf("more than %d entity types", math.MaxUint16-1)
	}
	i := uint16(len(s.typeNames))
	s.typeNames = append(s.typeNames, t)
	s.typeIndex[t] = i
	s.typeHash = append(s.typeHash, maphash.String(s.seed, string(t)))
	return i, nil
}

// intern returns the index of the entity of type t and id, adding it
// (undefined, with no parents and no attributes) if it is new.
func (b *storeBuilder) intern(t uint16, id []byte) (int32, error) {
	s := b.s
	mask := uint64(len(s.slots) - 1)
	h := s.hashBytes(s.typeHash[t], id) & mask
	for ; ; h = (h + 1) & mask {
		i := s.slots[h]
		if i < 0 {
			break
		}
		if s.typeOf[i] == t && string(b.idBytes(i)) == string(id) {
			return i, nil
		}
	}
	if len(s.typeOf) >= math.MaxInt32 || len(b.ids)+len(id) > math.MaxUint32 {
		return -1, fmt.Errorf("too many entities")
	}
	i := int32(len(s.typeOf))
	b.ids = append(b.ids, id...)
	s.typeOf = append(s.typeOf, t)
	s.idEnd = append(s.idEnd, uint32(len(b.ids)))
	s.parents = append(s.parents, span{})
	s.attrs = append(s.attrs, 0)
	s.tags = append(s.tags, 0)
	s.defined = append(s.defined, false)
	s.slots[h] = i
	if 2*len(s.typeOf) > len(s.slots) {
		b.grow()
	}
	return i, nil
}

// grow doubles the hash table.
func (b *storeBuilder) grow() {
	s := b.s
	s.slots = make([]int32, 2*len(s.slots))
	for i := range s.slots {
		s.slots[i] = -1
	}
	mask := uint64(len(s.slots) - 1)
	for i := range int32(len(s.typeOf)) {
		h := s.hashBytes(s.typeHash[s.typeOf[i]], b.idBytes(i)) & mask
		for s.slots[h] >= 0 {
			h = (h + 1) & mask
		}
		s.slots[h] = i
	}
}

// uid returns entity i's uid while building.
func (b *storeBuilder) uid(i int32) types.EntityUID {
	if b.shape != nil {
		return b.s.uid(i)
	}
	return types.EntityUID{Type: b.s.typeNames[b.s.typeOf[i]], ID: types.String(b.idBytes(i))}
}

// idBytes is entity i's id while building; store.ids is set by finish.
func (b *storeBuilder) idBytes(i int32) []byte {
	start := uint32(0)
	if i > 0 {
		start = b.s.idEnd[i-1]
	}
	return b.ids[start:b.s.idEnd[i]]
}

// finish returns the store; the builder must not be used again.
func (b *storeBuilder) finish() *store {
	s := b.s
	s.ids = string(b.ids)
	// The sums grew by doubling: held for as long as the snapshot
	// serves, they are cut to size.
	s.recSums = slices.Clone(s.recSums)
	b.records, b.typeIDs, b.ids = nil, nil, nil
	return s
}

// takeShape makes s share o's entities, parents and uid table: s is to
// hold o's entities with attributes of its own (see newShaper).
func (s *store) takeShape(o *store) {
	s.typeNames, s.typeIndex, s.typeOf = o.typeNames, o.typeIndex, o.typeOf
	s.ids, s.idEnd, s.parents, s.parentPool = o.ids, o.idEnd, o.parents, o.parentPool
	s.defined, s.order = o.defined, o.order
	s.slots, s.typeHash, s.seed = o.slots, o.typeHash, o.seed
}
