package access

import (
	"slices"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/pdp/engine"
)

// This file answers searches whose requests carry facts the bundle does
// not (AuthZEN's: properties that change attributes, a context): which
// entities or actions could such a request be allowed for? Scopes read
// only uids and ancestry, which request properties never change, so the
// permits whose scopes cover a triple are the same whatever the request
// says; their conditions are another matter, and the caller decides the
// candidates returned here with the request's facts (pdp/authzen decides
// each exactly as an evaluation would).

// Candidates returns, sorted, the bundle entities of type typ that can
// be allowed, at instant at, as the principal (find is
// engine.PrincipalDim) or the resource (engine.ResourceDim) of a request
// for action with other on the opposite side: those the principal or
// resource scope of a permit in force at that instant covers, among the
// permits whose action scope covers action and whose scope on the other
// side other satisfies (other need not be a bundle entity). Conditions
// and forbids are not looked at.
func (a *Analyzer) Candidates(find engine.Dim, typ types.EntityType, other, action types.EntityUID, at time.Time) []types.EntityUID {
	t, ok := a.typeNames[typ]
	if !ok {
		return nil
	}
	opposite := engine.ResourceDim
	if find == engine.ResourceDim {
		opposite = engine.PrincipalDim
	}
	var hit []int32
	for _, i := range a.an.Matching(opposite, other, nil) {
		if a.info[i].Forbid || !a.an.ActiveAt(i, at) || !a.an.ScopeMatches(i, engine.ActionDim, action) {
			continue
		}
		for _, x := range a.covered(i, find) {
			if a.typeOf[x] == t {
				hit = append(hit, x)
			}
		}
	}
	// Indexes sort as the entities do.
	slices.Sort(hit)
	hit = slices.Compact(hit)
	out := make([]types.EntityUID, len(hit))
	for k, x := range hit {
		out[k] = a.all[x]
	}
	return out
}

// CandidateActions returns, sorted, the bundle's actions (the schema's)
// that a request of principal on resource can be allowed, at instant at:
// those the action scope of a permit in force covers, among the permits
// whose principal and resource scopes the two satisfy (neither need be a
// bundle entity). Conditions, forbids and the schema's appliesTo are not
// looked at.
func (a *Analyzer) CandidateActions(principal, resource types.EntityUID, at time.Time) []types.EntityUID {
	var permits []int32
	for _, i := range a.an.Matching(engine.PrincipalDim, principal, nil) {
		if !a.info[i].Forbid && a.an.ActiveAt(i, at) && a.an.ScopeMatches(i, engine.ResourceDim, resource) {
			permits = append(permits, i)
		}
	}
	var out []types.EntityUID
	for k := range a.actions {
		uid := a.actions[k].uid
		for _, i := range permits {
			if a.an.ScopeMatches(i, engine.ActionDim, uid) {
				out = append(out, uid)
				break
			}
		}
	}
	return out
}
