package wire

// Defaults of the Limits fields.
const (
	// DefaultMaxEntities bounds request-scoped entities: enough for the
	// facts a caller knows about one request (the document, its folder),
	// far from a way to upload a directory.
	DefaultMaxEntities = 100
	// DefaultMaxDepth bounds how deep sets and records nest. Real contexts
	// and attributes rarely nest beyond 3 or 4 levels; the bound keeps
	// decoding and Cedar's own recursive evaluation shallow.
	DefaultMaxDepth = 16
	// DefaultMaxValues bounds the Values of one request, at any depth, plus
	// the parents of its entities. Decoding and deciding cost grows with
	// it, so it bounds the CPU a single request can take.
	DefaultMaxValues = 10_000
	// DefaultMaxSetElements bounds the elements of one set, because
	// DefaultMaxValues alone does not bound CPU there: cedar-go's Set is a
	// linear-probing table keyed by each value's hash, and a Long,
	// Decimal, Datetime or Duration hashes to its own int64, so a set
	// mixing Longs 0..n with decimals 0.0000..n/10000 probes
	// quadratically. One such set of 10,000 elements takes about 65 times
	// as long to build as an ordinary one (and Cedar's lookups in it are
	// slow too); with sets of at most 1,000, a request at the default
	// limits built to collide costs about 20 times an ordinary one
	// (BenchmarkDecodeWorstSets: 15 ms against 0.8 ms).
	DefaultMaxSetElements = 1_000
	// DefaultMaxStringBytes bounds each string value, entity type, entity
	// id, record key and extension argument, in bytes.
	DefaultMaxStringBytes = 64 << 10
	// DefaultMaxBatch bounds the requests of one BatchAuthorize call, so
	// one call cannot hold a snapshot and a worker for long.
	DefaultMaxBatch = 100
)

// Limits bounds what one request may carry, so that a single caller
// cannot make the PDP spend unbounded memory or CPU. A request over a
// limit is refused with a [*FieldError], like a malformed one.
//
// A field that is zero or negative takes its default (the Default*
// constants), so the zero Limits is the defaults and a server sets only
// what it changes.
type Limits struct {
	// MaxEntities is the most request-scoped entities (AuthorizeRequest.entities).
	MaxEntities int
	// MaxDepth is the deepest a Value may nest. An entry of the context, an
	// attribute or a tag is at depth 1; the elements of a set or record at
	// depth d are at depth d+1.
	MaxDepth int
	// MaxValues is the most Values of one request (context, attributes and
	// tags, at every depth, each set or record counting as one besides its
	// elements) plus the parents of its entities.
	MaxValues int
	// MaxSetElements is the most elements one set may have, duplicates
	// included.
	MaxSetElements int
	// MaxStringBytes is the longest, in bytes, a string value, entity type,
	// entity id, record/attribute/tag key or extension argument may be.
	MaxStringBytes int
	// MaxBatch is the most requests of one BatchAuthorizeRequest. Each of
	// them is bounded by the other limits on its own.
	MaxBatch int
}

// DefaultLimits returns the limits a server uses unless configured
// otherwise.
func DefaultLimits() Limits {
	return Limits{}.withDefaults()
}

// withDefaults fills the fields that are not set.
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxEntities, DefaultMaxEntities)
	def(&l.MaxDepth, DefaultMaxDepth)
	def(&l.MaxValues, DefaultMaxValues)
	def(&l.MaxSetElements, DefaultMaxSetElements)
	def(&l.MaxStringBytes, DefaultMaxStringBytes)
	def(&l.MaxBatch, DefaultMaxBatch)
	return l
}
