package authzen

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"strconv"

	"github.com/cedar-policy/cedar-go/types"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/engine"
	"github.com/cedargate/cedargate/pdp/wire"
)

// This file serves the Search APIs. The effective-access index (package
// bundle/access) finds the candidates: the bundle's entities of the type
// searched for (or its actions) that some permit's scope covers together
// with the request's other members. Each candidate is then decided as an
// evaluation with the same members would be, the request's properties
// and context applied, so that every result evaluates to true. A type,
// action or entity the PDP does not know finds nothing (an empty result,
// not an error); a request missing a member it needs is refused with 400.
// Searches are questions, not decisions anyone enforces: they are not in
// the decision log and not counted as decisions.

// pageJSON is a search request's page.
type pageJSON struct {
	Token      *string        `json:"token"`
	Limit      jsontext.Value `json:"limit"`
	Properties jsontext.Value `json:"properties"`
}

// searchJSON is a Subject, Resource or Action Search request.
type searchJSON struct {
	Subject  *entityJSON    `json:"subject"`
	Action   *actionJSON    `json:"action"`
	Resource *entityJSON    `json:"resource"`
	Context  jsontext.Value `json:"context"`
	Page     *pageJSON      `json:"page"`
}

// searchRaw is the same request as written, which a page token must be
// continued with.
type searchRaw struct {
	Subject  jsontext.Value `json:"subject"`
	Action   jsontext.Value `json:"action"`
	Resource jsontext.Value `json:"resource"`
	Context  jsontext.Value `json:"context"`
	Page     struct {
		Properties jsontext.Value `json:"properties"`
	} `json:"page"`
}

// searchResponse is a Search API response; page comes first, as the
// specification recommends.
type searchResponse struct {
	Page    pageResponse `json:"page"`
	Results []any        `json:"results"`
}

type pageResponse struct {
	NextToken string `json:"next_token"`
	Count     int    `json:"count"`
}

type entityResult struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type actionResult struct {
	Name string `json:"name"`
}

// The kinds of search, as their tokens and metrics name them.
const (
	searchSubject  = "subject"
	searchResource = "resource"
	searchAction   = "action"
)

func (h *Handler) searchSubject(w http.ResponseWriter, r *http.Request, body []byte) (int, error) {
	return h.search(w, r, body, searchSubject)
}

func (h *Handler) searchResource(w http.ResponseWriter, r *http.Request, body []byte) (int, error) {
	return h.search(w, r, body, searchResource)
}

func (h *Handler) searchAction(w http.ResponseWriter, r *http.Request, body []byte) (int, error) {
	return h.search(w, r, body, searchAction)
}

// search answers a search of kind.
func (h *Handler) search(w http.ResponseWriter, r *http.Request, body []byte, kind string) (int, error) {
	var req searchJSON
	if e := decode(body, &req); e != nil {
		return 0, e
	}
	limit, offset, fp, err := h.page(body, kind, req.Page)
	if err != nil {
		return 0, err
	}
	b, m, err := h.begin(r)
	if err != nil {
		return 0, err
	}
	c := h.converter(m)
	// Every member the search needs must be there before anything is
	// looked up: a missing one is a bad request even when another names
	// a type the PDP does not know.
	if err := c.required(kind, &req); err != nil {
		return 0, err
	}
	s := &searcher{h: h, b: b, m: m, c: c, req: &req, kind: kind, limit: limit, offset: offset}
	err = s.run()
	switch {
	case isUnknown(err), errors.Is(err, errNothing):
		s.results, s.next = nil, -1
	case err != nil:
		return 0, err
	}
	resp := searchResponse{Results: s.results, Page: pageResponse{Count: len(s.results)}}
	if resp.Results == nil {
		resp.Results = []any{}
	}
	if s.next >= 0 {
		resp.Page.NextToken = token(s.next, limit, fp)
	}
	out, err := json.Marshal(&resp)
	if err != nil {
		return 0, err
	}
	writeJSON(w, http.StatusOK, out)
	return http.StatusOK, nil
}

// required checks that a search of kind has the members it needs: the
// searched-for entity its type (its id, if any, is ignored), every other
// entity its type and id, the action its name (but for action searches,
// which have none).
func (c *converter) required(kind string, req *searchJSON) error {
	if err := c.shapeOf("subject", req.Subject, kind != searchSubject); err != nil {
		return err
	}
	if kind != searchAction {
		if req.Action == nil {
			return c.missing("action")
		}
		if err := c.text("action", "name", req.Action.Name); err != nil {
			return err
		}
	}
	return c.shapeOf("resource", req.Resource, kind != searchResource)
}

// errNothing ends a search that can find nothing: an input entity the
// bundle does not know and the mapping denies.
var errNothing = errors.New("nothing to find")

// searcher is one search request being answered.
type searcher struct {
	h             *Handler
	b             *pdp.Batch
	m             *model
	c             *converter
	req           *searchJSON
	kind          string
	limit, offset int
	results       []any
	// next is the offset of the next page, -1 when there is none.
	next int
}

// run finds the page of results.
func (s *searcher) run() error {
	m, c, req := s.m, s.c, s.req
	sub, err := m.entity(c, "subject", req.Subject, s.kind != searchSubject)
	if err != nil {
		return err
	}
	res, err := m.entity(c, "resource", req.Resource, s.kind != searchResource)
	if err != nil {
		return err
	}
	snap := s.b.Snapshot()
	if (s.kind != searchSubject && m.denySubjects && !snap.HasEntity(sub.uid)) ||
		(s.kind != searchResource && m.denyResource && !snap.HasEntity(res.uid)) {
		return errNothing
	}
	if s.kind == searchAction {
		return s.actions(sub, res)
	}
	act, err := m.actionOf(c, req.Action)
	if err != nil {
		return err
	}
	ctx, err := m.context(c, act, req.Action.Properties, req.Context)
	if err != nil {
		return err
	}
	find, other, searched := engine.PrincipalDim, res.uid, req.Subject
	if s.kind == searchResource {
		find, other, searched = engine.ResourceDim, sub.uid, req.Resource
	}
	want := sub.uid.Type
	if s.kind == searchResource {
		want = res.uid.Type
	}
	an, err := m.access()
	if err != nil {
		return err
	}
	cands := an.Candidates(find, want, other, act, s.b.Now())
	return s.page(len(cands), func(i int) (any, bool) {
		t := cands[i]
		p, rs := sub, res
		if s.kind == searchSubject {
			p.uid = t
		} else {
			rs.uid = t
		}
		if !s.allowed(p, act, rs, ctx) {
			return nil, false
		}
		return entityResult{Type: searched.Type, ID: string(t.ID)}, true
	})
}

// actions answers an action search: each action some permit covers for
// the subject and resource, under each of its AuthZEN names, decided with
// the request's context (converted for that action).
func (s *searcher) actions(sub, res target) error {
	type named struct {
		act  types.EntityUID
		name string
	}
	var cands []named
	an, err := s.m.access()
	if err != nil {
		return err
	}
	for _, a := range an.CandidateActions(sub.uid, res.uid, s.b.Now()) {
		for _, n := range s.m.names[a] {
			cands = append(cands, named{a, n})
		}
	}
	decided := map[types.EntityUID]bool{}
	return s.page(len(cands), func(i int) (any, bool) {
		a := cands[i].act
		allow, ok := decided[a]
		if !ok {
			// A context that does not suit an action's schema (a string
			// where it declares a number) finds nothing for that action.
			n := len(s.c.path)
			ctx, err := s.m.context(s.c, a, nil, s.req.Context)
			s.c.path = s.c.path[:n]
			allow = err == nil && s.allowed(sub, a, res, ctx)
			decided[a] = allow
		}
		if !allow {
			return nil, false
		}
		return actionResult{Name: cands[i].name}, true
	})
}

// allowed decides one candidate as an evaluation would; a candidate the
// request cannot be made for (one the schema refuses, when the PDP
// validates requests) is not allowed.
func (s *searcher) allowed(sub target, act types.EntityUID, res target, ctx types.Record) bool {
	req, err := s.m.assemble(s.c, sub, act, res, ctx)
	if err != nil {
		return false
	}
	d, err := s.b.Evaluate(req)
	return err == nil && d.Allow
}

// page collects, from the offset on, the results of the n candidates that
// try finds, until the page is full or the search has decided as many
// candidates as it may; next is where the following page starts.
func (s *searcher) page(n int, try func(i int) (any, bool)) error {
	s.next = -1
	steps := 0
	for i := s.offset; i < n; i++ {
		if len(s.results) == s.limit || steps == s.h.maxSteps {
			s.next = i
			return nil
		}
		steps++
		if r, ok := try(i); ok {
			s.results = append(s.results, r)
		}
	}
	return nil
}

// page reads a search's page: its limit, the offset its token continues
// from, and the fingerprint of the request, which a token carries so that
// it continues only the request it was issued for. A token also carries
// its page's limit: the request that continues may leave page.limit out
// (as the specification's example and the certification scenario do),
// but not change it.
func (h *Handler) page(body []byte, kind string, p *pageJSON) (limit, offset int, fp [16]byte, err error) {
	limit = DefaultPageSize
	var raw searchRaw
	// The body has decoded into searchJSON already, so it decodes here.
	_ = json.Unmarshal(body, &raw)
	fp = fingerprint(kind, &raw)
	if p == nil {
		return limit, 0, fp, nil
	}
	asked := 0
	if len(p.Limit) > 0 && p.Limit.Kind() != 'n' {
		n, err := strconv.ParseUint(string(p.Limit), 10, 32)
		if p.Limit.Kind() != '0' || err != nil {
			return 0, 0, fp, badRequest("page.limit: must be a non-negative integer, not %s", wire.Quote(string(p.Limit)))
		}
		// 0 asks for no particular size: the default.
		if n > 0 {
			limit = int(min(n, MaxPageSize))
			asked = limit
		}
	}
	if p.Token == nil || *p.Token == "" {
		return limit, 0, fp, nil
	}
	off, tlimit, tfp, ok := parseToken(*p.Token)
	switch {
	case !ok:
		return 0, 0, fp, badRequest("page.token: not a token this PDP issued")
	case tfp != fp || (asked != 0 && asked != tlimit):
		return 0, 0, fp, badRequest("page.token: the request is not the one the token continues: its subject, action, resource, context and page (but for the token) must stay the same")
	}
	return tlimit, off, fp, nil
}

// fingerprint identifies a search request, but for its page token and
// limit (which the token carries): its kind and members in canonical JSON
// (RFC 8785), so that the same request written with other spacing or
// member order has the same one.
func fingerprint(kind string, raw *searchRaw) [16]byte {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, v := range []jsontext.Value{raw.Subject, raw.Action, raw.Resource, raw.Context, raw.Page.Properties} {
		h.Write([]byte{0})
		if given(v) {
			c := v.Clone()
			if c.Canonicalize() == nil {
				h.Write(c)
			}
		}
	}
	var fp [16]byte
	copy(fp[:], h.Sum(nil))
	return fp
}

// tokenVersion is the first byte of every page token, so that the
// format can change.
const tokenVersion = 1

// token is the page token that continues a search at offset with pages
// of limit: the fingerprint of the request, the offset and the limit,
// base64url. It is opaque to callers and needs no secret: a caller that
// forges one only chooses where its own search continues.
func token(offset, limit int, fp [16]byte) string {
	b := append([]byte{tokenVersion}, fp[:]...)
	b = binary.AppendUvarint(b, uint64(offset))
	b = binary.AppendUvarint(b, uint64(limit))
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseToken(s string) (offset, limit int, fp [16]byte, ok bool) {
	if len(s) > 64 {
		return 0, 0, fp, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+len(fp)+2 || b[0] != tokenVersion {
		return 0, 0, fp, false
	}
	copy(fp[:], b[1:])
	rest := b[1+len(fp):]
	off, k := binary.Uvarint(rest)
	if k <= 0 || off > 1<<31 {
		return 0, 0, fp, false
	}
	lim, j := binary.Uvarint(rest[k:])
	if j <= 0 || k+j != len(rest) || lim < 1 || lim > MaxPageSize {
		return 0, 0, fp, false
	}
	return int(off), int(lim), fp, true
}
