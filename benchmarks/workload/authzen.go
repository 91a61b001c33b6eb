package workload

import (
	"encoding/json"
	"strings"

	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// AuthZENEntity is an AuthZEN subject or resource.
type AuthZENEntity struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AuthZENAction is an AuthZEN action.
type AuthZENAction struct {
	Name string `json:"name"`
}

// AuthZENEvaluation is an AuthZEN Access Evaluation request.
type AuthZENEvaluation struct {
	Subject  AuthZENEntity `json:"subject"`
	Action   AuthZENAction `json:"action"`
	Resource AuthZENEntity `json:"resource"`
}

// ToAuthZEN converts a request to the AuthZEN evaluation a PEP would send
// for it, with names as cedargate maps them without a mapping: types by
// their name without the namespace (Bench::User is "User"), the action by
// its id. Context and request entities have no place in the RBAC workload
// and are dropped, as for OPA.
func ToAuthZEN(req *pb.AuthorizeRequest) AuthZENEvaluation {
	short := func(t string) string {
		if i := strings.LastIndex(t, "::"); i >= 0 {
			return t[i+2:]
		}
		return t
	}
	return AuthZENEvaluation{
		Subject:  AuthZENEntity{Type: short(req.Principal.Type), ID: req.Principal.Id},
		Action:   AuthZENAction{Name: req.Action.Id},
		Resource: AuthZENEntity{Type: short(req.Resource.Type), ID: req.Resource.Id},
	}
}

// AuthZENBodies renders requests as AuthZEN request bodies: one Access
// Evaluation each when batch is 0, else Access Evaluations requests of
// batch consecutive evaluations (wrapping around).
func AuthZENBodies(reqs []*pb.AuthorizeRequest, batch int) ([][]byte, error) {
	if batch <= 0 {
		out := make([][]byte, len(reqs))
		for i, r := range reqs {
			b, err := json.Marshal(ToAuthZEN(r))
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
		return out, nil
	}
	out := make([][]byte, max(1, len(reqs)/batch))
	for i := range out {
		evs := make([]AuthZENEvaluation, batch)
		for j := range evs {
			evs[j] = ToAuthZEN(reqs[(i*batch+j)%len(reqs)])
		}
		b, err := json.Marshal(map[string]any{"evaluations": evs})
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
