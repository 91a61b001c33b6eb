package authzen

import (
	"net/http"

	"github.com/go-json-experiment/json"
)

// metadataJSON is the PDP metadata document (the specification's Policy
// Decision Point Metadata).
type metadataJSON struct {
	PolicyDecisionPoint       string `json:"policy_decision_point"`
	AccessEvaluationEndpoint  string `json:"access_evaluation_endpoint"`
	AccessEvaluationsEndpoint string `json:"access_evaluations_endpoint"`
	SearchSubjectEndpoint     string `json:"search_subject_endpoint"`
	SearchResourceEndpoint    string `json:"search_resource_endpoint"`
	SearchActionEndpoint      string `json:"search_action_endpoint"`
}

// metadataMaxAge is how long clients and caches may keep the metadata
// document: it changes only when the PDP is restarted with another base
// URL.
const metadataMaxAge = "max-age=300"

// metadata serves GET /.well-known/authzen-configuration: the PDP's
// identifier and every endpoint's URL, under the configured base URL or,
// without one, the one the request was sent to. It needs no bearer token
// and no active bundle.
func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return h.fail(w, r, &httpError{http.StatusMethodNotAllowed, "use GET"})
	}
	base := h.baseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	body, err := json.Marshal(metadataJSON{
		PolicyDecisionPoint:       base,
		AccessEvaluationEndpoint:  base + EvaluationPath,
		AccessEvaluationsEndpoint: base + EvaluationsPath,
		SearchSubjectEndpoint:     base + SearchSubjectPath,
		SearchResourceEndpoint:    base + SearchResourcePath,
		SearchActionEndpoint:      base + SearchActionPath,
	})
	if err != nil {
		return h.fail(w, r, err)
	}
	w.Header().Set("Cache-Control", metadataMaxAge)
	writeJSON(w, http.StatusOK, body)
	return http.StatusOK
}
