package engine

import (
	"fmt"
	"math"
	"strings"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
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
}

// load reads the bundle's grants: each must make a bundle entity a
// member of one of its parents.
func (g *grantTable) load(s *Snapshot, grants []bundle.Grant) error {
	e := s.ents
	var text strings.Builder
	g.rows = make([]grantRow, 0, len(grants))
	counts := make([]uint32, e.len()+1)
	for k := range grants {
		bg := &grants[k]
		member, ok := e.lookup(types.NewEntityUID(types.EntityType(bg.Principal.Type), types.String(bg.Principal.ID)))
		if !ok {
			return fmt.Errorf("grant %q: its principal %s is not an entity of the bundle", bg.ID, uidText(bg.Principal))
		}
		parent, ok := e.find(types.NewEntityUID(types.EntityType(bg.Parent.Type), types.String(bg.Parent.ID)))
		if !ok || !e.hasParent(member, parent) {
			return fmt.Errorf("grant %q: %s does not have %s as a parent in the bundle's entities", bg.ID, uidText(bg.Principal), uidText(bg.Parent))
		}
		r := grantRow{member: member, parent: parent, notBefore: math.MinInt64, notAfter: math.MaxInt64, members: bg.Members}
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
		g.rows = append(g.rows, r)
		counts[member+1]++
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
