package engine

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/internal/parallel"
)

// Grants are memberships with a validity window (bundle.Grant): while
// the window holds, the grant's principal has the grant's parent as a
// parent; outside it the edge is hidden, from scope matching and from
// cedar-go alike. The bundle's template policies name the parents
// (`principal in Acme::AccessProfile::"payments-db-reader"`), so one
// policy per profile serves every grant of it, and a grant stops granting
// at its instant with no rebuild.
//
// An entity's targeted ancestors (view.tanc) and candidate lists are
// computed once, from the edges that are not grants. A decision adds,
// for its principal (and resource and action, which rarely hold grants),
// the targets the grants it holds at the decision instant lead to, and
// the policies those targets have: the grants it holds are its own and
// those of its ancestors, found through the lists every parent entity
// keeps (reach), so a user in a group holding twenty grants finds them
// in one list. Decisions then name the grants: a determining template
// is reported once per grant that made it apply (see Decide).

// grantRow is a grant of the snapshot.
type grantRow struct {
	// member is the grant's principal, parent what it makes it a member
	// of (store indexes).
	member, parent int32
	// notBefore and notAfter are the window in Unix nanoseconds.
	notBefore, notAfter int64
	// idEnd and sourceEnd locate the grant's id and source in the
	// table's text: the id starts where the previous row's source ends.
	idEnd, sourceEnd uint32
	// members is bundle.Grant.Members.
	members bool
}

// grantTable is a snapshot's grants, in the bundle's order (by id).
type grantTable struct {
	rows []grantRow
	text string
	// byMember lists the rows by member: entity i's are
	// byMember[memberStart[i]:memberStart[i+1]].
	byMember    []int32
	memberStart []uint32
	// reach is, for an entity that is a parent (flagParent), the rows it
	// holds, itself or through its ancestors, sorted.
	reach     []span
	reachPool []int32
	// held is, for an entity that is a parent, the candidates of the
	// principal dimension that its rows bring (see heldEntry), in
	// heldPool: what a member's decision scans, one contiguous list per
	// parent, instead of looking up the policies of each grant's profile.
	held     []span
	heldPool []heldEntry
	// keys is, for an entity that is a parent, where each key of its held
	// candidates starts, in keyPool: a directory that a decision
	// searches in a cache line or two, rather than the candidates.
	keys    []span
	keyPool []keyStart
	// targets is, for an entity that is a parent, the targets its rows
	// lead to (view.tanc of their parents) with the rows' windows, sorted
	// by target, in targetPool: what a member's view gains, merged in one
	// pass.
	targets    []span
	targetPool []heldTarget
	// reasons holds, for each row and each template of its parent whose
	// id has a suffix, the id decisions name ("<grant id>#<n>"), so that
	// naming a grant builds no string: row r's are its parent's templates
	// in policy order (policy.tmplPos), their ends in reasonEnds from
	// reasonStart[r].
	reasonText  string
	reasonEnds  []uint32
	reasonStart []uint32
}

// heldTarget is a target that a grant leads to while it holds.
type heldTarget struct {
	t                   int32
	notBefore, notAfter int64
}

// load reads the bundle's grants: each must make a bundle entity a
// member of one of its parents. Finding a grant's entities hashes two
// uids, for hundreds of thousands of grants: the rows are found in
// parallel, then checked and spelt out in order, so that the first
// grant at fault is the one reported.
func (g *grantTable) load(s *Snapshot, grants []bundle.Grant) error {
	e := s.ents
	g.rows = make([]grantRow, len(grants))
	parallel.Chunks(len(grants), minChunk, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			bg, r := &grants[k], &g.rows[k]
			r.member, r.parent = -1, -1
			if m, ok := e.lookup(types.NewEntityUID(types.EntityType(bg.Principal.Type), types.String(bg.Principal.ID))); ok {
				r.member = m
				if p, ok := e.find(types.NewEntityUID(types.EntityType(bg.Parent.Type), types.String(bg.Parent.ID))); ok && e.hasParent(m, p) {
					r.parent = p
				}
			}
		}
	})
	size := 0
	for k := range grants {
		size += len(grants[k].ID) + len(grants[k].Source)
	}
	var text strings.Builder
	if size <= math.MaxUint32 {
		text.Grow(size)
	}
	counts := make([]uint32, e.len()+1)
	for k := range grants {
		bg, r := &grants[k], &g.rows[k]
		if r.member < 0 {
			return fmt.Errorf("grant %q: its principal %s is not an entity of the bundle", bg.ID, uidText(bg.Principal))
		}
		if r.parent < 0 {
			return fmt.Errorf("grant %q: %s does not have %s as a parent in the bundle's entities", bg.ID, uidText(bg.Principal), uidText(bg.Parent))
		}
		r.notBefore, r.notAfter, r.members = math.MinInt64, math.MaxInt64, bg.Members
		if bg.NotBefore != nil {
			r.notBefore, s.windowed = unixNanos(*bg.NotBefore), true
		}
		if bg.NotAfter != nil {
			r.notAfter, s.windowed = unixNanos(*bg.NotAfter), true
		}
		text.WriteString(bg.ID)
		r.idEnd = uint32(text.Len())
		text.WriteString(bg.Source)
		if text.Len() > math.MaxUint32 {
			return fmt.Errorf("grants: ids and sources longer than %d bytes", uint32(math.MaxUint32))
		}
		r.sourceEnd = uint32(text.Len())
		counts[r.member+1]++
	}
	g.text = text.String()
	g.memberStart = counts
	for i := 1; i < len(counts); i++ {
		g.memberStart[i] += g.memberStart[i-1]
	}
	g.byMember = make([]int32, len(g.rows))
	next := make([]uint32, e.len())
	for r := range g.rows {
		m := g.rows[r].member
		g.byMember[g.memberStart[m]+next[m]] = int32(r)
		next[m]++
	}
	for i := range g.rows {
		s.flags[g.rows[i].member] |= flagRows
	}
	return nil
}

// check refuses grants that nest: a grant's parent must hold no grant,
// its own or through its ancestors, or the windows of a path would have
// to be intersected.
func (g *grantTable) check(s *Snapshot) error {
	for r := range g.rows {
		p := g.rows[r].parent
		if s.flags[p]&flagRows != 0 {
			return fmt.Errorf("grant %q: %s, which it makes a parent of %s, holds grants itself; grants do not nest",
				g.id(int32(r)), s.ents.uid(p), s.ents.uid(g.rows[r].member))
		}
	}
	return nil
}

func uidText(u bundle.UID) string {
	return types.NewEntityUID(types.EntityType(u.Type), types.String(u.ID)).String()
}

// id returns row r's id; source its source.
func (g *grantTable) id(r int32) string {
	start := uint32(0)
	if r > 0 {
		start = g.rows[r-1].sourceEnd
	}
	return g.text[start:g.rows[r].idEnd]
}

func (g *grantTable) source(r int32) string {
	return g.text[g.rows[r].idEnd:g.rows[r].sourceEnd]
}

// own returns the rows whose member is entity i.
func (g *grantTable) own(i int32) []int32 {
	if len(g.rows) == 0 {
		return nil
	}
	return g.byMember[g.memberStart[i]:g.memberStart[i+1]]
}

// isGrantEdge reports whether entity i's parent p is a grant's.
func (g *grantTable) isGrantEdge(i, p int32) bool {
	for _, r := range g.own(i) {
		if g.rows[r].parent == p {
			return true
		}
	}
	return false
}

// edgeActive reports whether entity i's parent edge to p holds at now:
// always for an edge no grant makes, while one of its grants is valid
// otherwise.
func (g *grantTable) edgeActive(i, p int32, now int64) bool {
	found := false
	for _, r := range g.own(i) {
		if g.rows[r].parent == p {
			if g.rows[r].active(now) {
				return true
			}
			found = true
		}
	}
	return !found
}

// active reports whether the row's window contains now.
func (r *grantRow) active(now int64) bool {
	return r.notBefore <= now && now < r.notAfter
}

// reachOf returns the rows entity i, a parent, holds.
func (g *grantTable) reachOf(i int32) []int32 {
	sp := g.reach[i]
	return g.reachPool[sp.off : sp.off+sp.n]
}

// rowsOf appends to dst the rows entity i holds at now (whatever the
// instant when all is set), its own and its ancestors', possibly more
// than once.
func (s *Snapshot) rowsOf(i int32, now int64, all bool, dst []int32) []int32 {
	if s.flags[i]&flagRows == 0 {
		return dst
	}
	g := &s.grants
	add := func(rows []int32) {
		for _, r := range rows {
			if all || g.rows[r].active(now) {
				dst = append(dst, r)
			}
		}
	}
	if s.flags[i]&flagParent != 0 {
		add(g.reachOf(i))
		return dst
	}
	// Leaves keep no list of their own (there are millions of them):
	// theirs is their own rows and their parents' lists. A grant's
	// parent holds none (check), so every parent can be asked.
	add(g.own(i))
	for _, p := range s.ents.parentsOf(i) {
		if s.flags[p]&flagParent != 0 {
			add(g.reachOf(p))
		}
	}
	return dst
}

// entity materialises entity i as cedar-go sees it at now: its parents
// are those of the bundle that hold at now.
func (s *Snapshot) entity(i int32, now int64) types.Entity {
	e := s.ents
	ent := types.Entity{UID: e.uid(i), Attributes: e.records[e.attrs[i]], Tags: e.records[e.tags[i]]}
	ps := e.parentsOf(i)
	if len(ps) == 0 {
		return ent
	}
	own := s.grants.own(i)
	var buf [8]types.EntityUID
	uids := buf[:0]
	for _, p := range ps {
		if len(own) == 0 || s.grants.edgeActive(i, p, now) {
			uids = append(uids, e.uid(p))
		}
	}
	ent.Parents = types.NewEntityUIDSet(uids...)
	return ent
}

// heldEntry is a policy that a grant makes a candidate: its principal
// scope names the grant's parent (or one of the parent's ancestors), so
// the policy applies to the grant's members while the grant holds.
type heldEntry struct {
	e entry
	// row is the grant; its window is copied here so that a scan reads
	// one cache line per candidate.
	row int32
	// key is what the policy's resource scope names (see heldKey): the
	// lists are sorted by it, so that a decision reads only the
	// candidates its resource can match.
	key                 int32
	notBefore, notAfter int64
	// direct is set when holding the grant satisfies the principal scope
	// (`principal in` the parent or an ancestor of it, or a set naming
	// one); otherwise the scope is tested against the principal's view.
	direct bool
}

// active reports whether the grant holds at now.
func (h *heldEntry) active(now int64) bool { return h.notBefore <= now && now < h.notAfter }

// heldOf appends to dst the candidates row r brings.
func (s *Snapshot) heldOf(r int32, dst []heldEntry) []heldEntry {
	row := &s.grants.rows[r]
	idx := &s.index[principalDim]
	for _, t := range s.staticView(row.parent).tanc {
		for _, e := range idx.byTarget[t] {
			sc := &s.filters[e.p()].scopes[principalDim]
			direct := sc.kind == scopeIn && sc.id == t || sc.kind == scopeInSet
			dst = append(dst, heldEntry{e: e, row: r, key: s.heldKey(&s.filters[e.p()].scopes[resourceDim]),
				notBefore: row.notBefore, notAfter: row.notAfter, direct: direct})
		}
	}
	return dst
}

// anyResource is the key of a held candidate whose resource scope any
// resource may satisfy, as far as its key can tell: unconstrained, or
// `in [...]`.
const anyResource int32 = -1

// heldKey returns the key a held candidate is filed under by its
// resource scope sc: the target that ==, in and is-in name, which the
// view of any resource that satisfies them holds; for `is T`, T's type
// id after the targets; anyResource otherwise.
func (s *Snapshot) heldKey(sc *scope) int32 {
	switch sc.kind {
	case scopeEq, scopeIn, scopeIsIn:
		return sc.id
	case scopeIs:
		return s.typeKey(sc.typ)
	}
	return anyResource
}

// typeKey is the key of `is` type id typ.
func (s *Snapshot) typeKey(typ int32) int32 { return int32(len(s.targets)) + typ }

// keyStart is where the held candidates of a key start in their list.
type keyStart struct {
	key int32
	off uint32
}

// heldFor appends to dst the parts of lists (held candidates, sorted by
// key, with their directories dirs) whose resource scope the resource v
// describes can satisfy: the keys of v's targets and type, and
// anyResource. A principal in many groups holds hundreds of candidates
// for every kind of resource; a request's resource can meet a few of
// them, and the others are not read.
func (s *Snapshot) heldFor(lists [][]heldEntry, dirs [][]keyStart, v *view, dst [][]heldEntry) ([][]heldEntry, int) {
	n := 0
	add := func(list []heldEntry, dir []keyStart, k int32) {
		if r := heldRange(list, dir, k); len(r) > 0 {
			dst = append(dst, r)
			n += len(r)
		}
	}
	for j, list := range lists {
		add(list, dirs[j], anyResource)
		for _, t := range v.tanc {
			add(list, dirs[j], t)
		}
		if v.typ >= 0 {
			add(list, dirs[j], s.typeKey(v.typ))
		}
	}
	return dst, n
}

// heldRange returns the candidates of list filed under k, found in its
// directory dir.
func heldRange(list []heldEntry, dir []keyStart, k int32) []heldEntry {
	lo, hi := 0, len(dir)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if dir[m].key < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(dir) || dir[lo].key != k {
		return nil
	}
	end := uint32(len(list))
	if lo+1 < len(dir) {
		end = dir[lo+1].off
	}
	return list[dir[lo].off:end:end]
}

// computeHeld gives every parent that holds grants its held candidates
// and targets, and every other entity that holds grants of its own the
// candidates and targets of those. Each entity's lists are counted
// first, so that the pools are allocated once and the lists, which
// are independent, are filled in parallel, each in its place: a million
// identities hold over a million candidates.
func (s *Snapshot) computeHeld() {
	g := &s.grants
	g.held = make([]span, s.ents.len())
	g.keys = make([]span, s.ents.len())
	g.targets = make([]span, s.ents.len())
	// jobs are the entities that get lists of their own: a parent's
	// list is of the rows it reaches, a leaf's of its own rows. A group
	// with a single parent and no grant of its own shares its parent's
	// rows, and so its candidates and targets.
	var jobs []int32
	var shares [][2]int32
	byReach := map[span]int32{}
	for i := range int32(s.ents.len()) {
		switch {
		case s.flags[i]&flagParent == 0 && len(g.own(i)) > 0:
			// A leaf's own grants: its list, beside its parents'.
			jobs = append(jobs, i)
		case s.flags[i]&(flagParent|flagRows) != flagParent|flagRows:
		default:
			if j, ok := byReach[g.reach[i]]; ok {
				shares = append(shares, [2]int32{i, j})
				continue
			}
			jobs = append(jobs, i)
			byReach[g.reach[i]] = i
		}
	}
	heldEnd := make([]uint32, len(jobs))
	targetEnd := make([]uint32, len(jobs))
	var nheld, ntargets uint32
	idx := &s.index[principalDim]
	rowsOf := func(i int32) []int32 {
		if s.flags[i]&flagParent != 0 {
			return g.reachOf(i)
		}
		return g.own(i)
	}
	for k, i := range jobs {
		for _, r := range rowsOf(i) {
			for _, t := range s.staticView(g.rows[r].parent).tanc {
				nheld += uint32(len(idx.byTarget[t]))
				ntargets++
			}
		}
		heldEnd[k], targetEnd[k] = nheld, ntargets
	}
	g.heldPool = make([]heldEntry, nheld)
	g.targetPool = make([]heldTarget, ntargets)
	parallel.Chunks(len(jobs), minChunk, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			var start, tstart uint32
			if k > 0 {
				start, tstart = heldEnd[k-1], targetEnd[k-1]
			}
			i := jobs[k]
			s.heldFrom(i, rowsOf(i), g.heldPool[start:start:heldEnd[k]], g.targetPool[tstart:tstart:targetEnd[k]])
			g.held[i] = span{off: start, n: heldEnd[k] - start}
			g.targets[i] = span{off: tstart, n: targetEnd[k] - tstart}
		}
	})
	// The keys' directories, in the order of the lists.
	g.keyPool = make([]keyStart, 0, nheld)
	for _, i := range jobs {
		sp := g.held[i]
		list := g.heldPool[sp.off : sp.off+sp.n]
		kstart := len(g.keyPool)
		for k := range list {
			if k == 0 || list[k].key != list[k-1].key {
				g.keyPool = append(g.keyPool, keyStart{key: list[k].key, off: uint32(k)})
			}
		}
		g.keys[i] = span{off: uint32(kstart), n: uint32(len(g.keyPool) - kstart)}
	}
	g.keyPool = slices.Clip(g.keyPool)
	for _, sh := range shares {
		i, j := sh[0], sh[1]
		g.held[i], g.keys[i], g.targets[i] = g.held[j], g.keys[j], g.targets[j]
	}
}

// heldFrom fills held and targets, empty slices with room for exactly
// what rows bring, with entity i's held candidates, sorted by key, and
// targets, sorted.
func (s *Snapshot) heldFrom(i int32, rows []int32, held []heldEntry, targets []heldTarget) {
	for _, r := range rows {
		held = s.heldOf(r, held)
		targets = s.targetsOf(r, targets)
	}
	if len(held) != cap(held) || len(targets) != cap(targets) {
		panic(fmt.Sprintf("engine: entity %d's held lists were miscounted", i))
	}
	// Stable, so that a key's candidates stay in the order of their
	// grants.
	slices.SortStableFunc(held, func(a, b heldEntry) int { return cmp.Compare(a.key, b.key) })
	slices.SortFunc(targets, func(a, b heldTarget) int { return int(a.t - b.t) })
}

// computeReasons spells out the ids decisions name for each row and
// template of its parent.
func (s *Snapshot) computeReasons() {
	g := &s.grants
	tmpls := map[int32][]int32{}
	for i := range s.policies {
		if p := &s.policies[i]; p.template && p.parent >= 0 {
			p.tmplPos = int32(len(tmpls[p.parent]))
			tmpls[p.parent] = append(tmpls[p.parent], int32(i))
		}
	}
	var text strings.Builder
	g.reasonStart = make([]uint32, len(g.rows))
	for r := range g.rows {
		g.reasonStart[r] = uint32(len(g.reasonEnds))
		for _, i := range tmpls[g.rows[r].parent] {
			if suffix := s.policies[i].suffix; suffix != "" {
				text.WriteString(g.id(int32(r)))
				text.WriteString(suffix)
			}
			g.reasonEnds = append(g.reasonEnds, uint32(text.Len()))
		}
	}
	g.reasonText = text.String()
}

// reasonID returns the id decisions name grant row r by, through
// template i of its parent.
func (s *Snapshot) reasonID(r, i int32) string {
	g := &s.grants
	p := &s.policies[i]
	if p.suffix == "" {
		return g.id(r)
	}
	if g.rows[r].parent != p.parent {
		// A template naming an ancestor of the grant's parent: rare, and
		// not spelt out.
		return g.id(r) + p.suffix
	}
	k := g.reasonStart[r] + uint32(p.tmplPos)
	from := uint32(0)
	if k > 0 {
		from = g.reasonEnds[k-1]
	}
	return g.reasonText[from:g.reasonEnds[k]]
}

// targetsOf appends to dst the targets row r leads to.
func (s *Snapshot) targetsOf(r int32, dst []heldTarget) []heldTarget {
	row := &s.grants.rows[r]
	for _, t := range s.staticView(row.parent).tanc {
		dst = append(dst, heldTarget{t: t, notBefore: row.notBefore, notAfter: row.notAfter})
	}
	return dst
}

// heldScratch is what heldLists fills: the lists of held candidates and
// of held targets of an entity, in place.
type heldScratch struct {
	lists  [][]heldEntry
	dirs   [][]keyStart
	tlists [][]heldTarget
}

// heldLists fills h with entity i's held candidates and targets: a
// parent's own list (its grants and its ancestors'); a leaf's list of its
// own grants and its parents' lists.
func (s *Snapshot) heldLists(i int32, h *heldScratch) {
	g := &s.grants
	h.lists, h.dirs, h.tlists = h.lists[:0], h.dirs[:0], h.tlists[:0]
	add := func(p int32) {
		sp, kp, tp := g.held[p], g.keys[p], g.targets[p]
		if sp.n == 0 {
			return
		}
		h.lists = append(h.lists, g.heldPool[sp.off:sp.off+sp.n:sp.off+sp.n])
		h.dirs = append(h.dirs, g.keyPool[kp.off:kp.off+kp.n:kp.off+kp.n])
		h.tlists = append(h.tlists, g.targetPool[tp.off:tp.off+tp.n:tp.off+tp.n])
	}
	add(i)
	if s.flags[i]&flagParent != 0 {
		return
	}
	for _, p := range s.ents.parentsOf(i) {
		if s.flags[p]&(flagParent|flagRows) == flagParent|flagRows {
			add(p)
		}
	}
}
