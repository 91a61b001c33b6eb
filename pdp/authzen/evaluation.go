package authzen

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/wire"
)

// The evaluation semantics of an Access Evaluations request
// (options.evaluations_semantic).
const (
	ExecuteAll          = "execute_all"
	DenyOnFirstDeny     = "deny_on_first_deny"
	PermitOnFirstPermit = "permit_on_first_permit"
)

// evaluationsJSON is an Access Evaluations request: the top-level
// subject, action, resource and context are the defaults of each
// evaluation.
type evaluationsJSON struct {
	Subject     *entityJSON      `json:"subject"`
	Action      *actionJSON      `json:"action"`
	Resource    *entityJSON      `json:"resource"`
	Context     jsontext.Value   `json:"context"`
	Evaluations []evaluationJSON `json:"evaluations"`
	Options     *struct {
		EvaluationsSemantic *string `json:"evaluations_semantic"`
	} `json:"options"`
}

// outcome is the answer to one evaluation.
type outcome struct {
	allow bool
	// id is the decision id; empty when no decision was made.
	id string
	// reason says why an evaluation was answered false without a
	// decision (a refusal).
	reason string
	// err is an evaluation of an Access Evaluations request that could
	// not be decided: false, with the error in its context.
	err *wire.FieldError
}

// evaluation serves POST /access/v1/evaluation.
func (h *Handler) evaluation(w http.ResponseWriter, r *http.Request, body []byte) (int, error) {
	var ev evaluationJSON
	if e := decode(body, &ev); e != nil {
		return 0, e
	}
	return h.single(w, r, &ev)
}

// single answers one evaluation: the Access Evaluation API, and an Access
// Evaluations request without evaluations.
func (h *Handler) single(w http.ResponseWriter, r *http.Request, ev *evaluationJSON) (int, error) {
	b, m, err := h.begin(r)
	if err != nil {
		return 0, err
	}
	o, err := h.decide(b, m, h.converter(m), ev)
	if err != nil {
		return 0, err
	}
	if err := b.Commit(r.Context()); err != nil {
		return 0, err
	}
	writeJSON(w, http.StatusOK, appendOutcome(make([]byte, 0, 128), &o))
	return http.StatusOK, nil
}

// decide answers one evaluation. A malformed or unmapped request is an
// error (a *wire.FieldError); so is a failure to decide at all.
func (h *Handler) decide(b *pdp.Batch, m *model, c *converter, ev *evaluationJSON) (outcome, error) {
	req, err := m.request(c, b.Snapshot(), ev)
	var ref *refusal
	if errors.As(err, &ref) {
		return outcome{reason: ref.reason}, nil
	}
	if err != nil {
		return outcome{}, err
	}
	res, err := b.Decide(req)
	if err != nil {
		return outcome{}, err
	}
	return outcome{allow: res.Allow, id: res.ID}, nil
}

// evaluations serves POST /access/v1/evaluations. Every evaluation is
// decided against one snapshot at one instant, in order; with
// deny_on_first_deny the answers stop at the first false, with
// permit_on_first_permit at the first true. An evaluation that cannot be
// decided (a member missing after the defaults, an unknown type) is
// false with the error in its context, and the others are answered; a
// request that does not read at all is refused with 400.
func (h *Handler) evaluations(w http.ResponseWriter, r *http.Request, body []byte) (int, error) {
	var req evaluationsJSON
	if e := decode(body, &req); e != nil {
		return 0, e
	}
	if len(req.Evaluations) == 0 {
		return h.single(w, r, &evaluationJSON{Subject: req.Subject, Action: req.Action, Resource: req.Resource, Context: req.Context})
	}
	if n := len(req.Evaluations); n > h.lim.MaxBatch {
		return 0, badRequest("evaluations: %d evaluations, more than the limit of %d", n, h.lim.MaxBatch)
	}
	semantic := ExecuteAll
	if req.Options != nil && req.Options.EvaluationsSemantic != nil {
		semantic = *req.Options.EvaluationsSemantic
		switch semantic {
		case ExecuteAll, DenyOnFirstDeny, PermitOnFirstPermit:
		default:
			return 0, badRequest("options.evaluations_semantic: must be %s, %s or %s, not %s", ExecuteAll, DenyOnFirstDeny, PermitOnFirstPermit, wire.Quote(semantic))
		}
	}
	b, m, err := h.begin(r)
	if err != nil {
		return 0, err
	}
	out := append(make([]byte, 0, 64*len(req.Evaluations)), `{"evaluations":[`...)
	for i := range req.Evaluations {
		item := &req.Evaluations[i]
		ev := evaluationJSON{Subject: item.Subject, Action: item.Action, Resource: item.Resource, Context: item.Context}
		// Defaults replace a missing member whole: no member of an
		// entity is merged with the default's.
		if ev.Subject == nil {
			ev.Subject = req.Subject
		}
		if ev.Action == nil {
			ev.Action = req.Action
		}
		if ev.Resource == nil {
			ev.Resource = req.Resource
		}
		if !given(ev.Context) {
			ev.Context = req.Context
		}
		c := h.converter(m)
		c.push("evaluations")
		c.pushIndex(i)
		o, err := h.decide(b, m, c, &ev)
		var fe *wire.FieldError
		switch {
		case errors.As(err, &fe):
			o = outcome{err: fe}
		case err != nil:
			return 0, err
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = appendOutcome(out, &o)
		if (semantic == DenyOnFirstDeny && !o.allow) || (semantic == PermitOnFirstPermit && o.allow) {
			break
		}
	}
	if err := b.Commit(r.Context()); err != nil {
		return 0, err
	}
	writeJSON(w, http.StatusOK, append(out, "]}"...))
	return http.StatusOK, nil
}

// appendOutcome appends the Decision object of o: the decision, and in
// its context the decision id (to find it in the decision log), the
// reason of a refusal, or the error of an evaluation not decided.
func appendOutcome(b []byte, o *outcome) []byte {
	if o.allow {
		b = append(b, `{"decision":true`...)
	} else {
		b = append(b, `{"decision":false`...)
	}
	switch {
	case o.id != "":
		b = append(b, `,"context":{"decision_id":`...)
		b, _ = jsontext.AppendQuote(b, o.id)
		b = append(b, '}')
	case o.reason != "":
		b = append(b, `,"context":{"reason":`...)
		b, _ = jsontext.AppendQuote(b, o.reason)
		b = append(b, '}')
	case o.err != nil:
		b = append(b, `,"context":{"error":{"status":`...)
		b = strconv.AppendInt(b, http.StatusBadRequest, 10)
		b = append(b, `,"message":`...)
		b, _ = jsontext.AppendQuote(b, o.err.Error())
		b = append(b, `}}`...)
	}
	return append(b, '}')
}
