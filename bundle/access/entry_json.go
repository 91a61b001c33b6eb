package access

import (
	"encoding/json"
	"fmt"

	"github.com/cedar-policy/cedar-go/types"
)

// entryJSON is Entry as docs/cli.md documents it: UIDs as Cedar strings
// (Acme::User::"alice"), lists never null.
type entryJSON struct {
	Principal  string      `json:"principal"`
	Action     string      `json:"action"`
	Resource   string      `json:"resource"`
	Access     Kind        `json:"access"`
	Policies   []PolicyRef `json:"policies"`
	Conditions []Condition `json:"conditions"`
}

// MarshalJSON encodes the entry in the documented shape.
func (e Entry) MarshalJSON() ([]byte, error) {
	j := entryJSON{Principal: e.Principal.String(), Action: e.Action.String(), Resource: e.Resource.String(),
		Access: e.Access, Policies: e.Policies, Conditions: e.Conditions}
	if j.Policies == nil {
		j.Policies = []PolicyRef{}
	}
	if j.Conditions == nil {
		j.Conditions = []Condition{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the documented shape, for tools and tests that
// read what access and diff print.
func (e *Entry) UnmarshalJSON(data []byte) error {
	var j entryJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	var err error
	uid := func(s string) types.EntityUID {
		var u types.EntityUID
		if err == nil {
			if err = u.UnmarshalCedar([]byte(s)); err != nil {
				err = fmt.Errorf("entity uid %q: %w", s, err)
			}
		}
		return u
	}
	*e = Entry{Principal: uid(j.Principal), Action: uid(j.Action), Resource: uid(j.Resource),
		Access: j.Access, Policies: j.Policies, Conditions: j.Conditions}
	return err
}
