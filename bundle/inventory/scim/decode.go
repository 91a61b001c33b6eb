package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
)

// The schema URNs this package reads (RFC 7643 section 8.7, RFC 7644
// section 3.4.2).
const (
	listResponseURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	userURN         = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN        = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseURN   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// listResponse is a SCIM ListResponse; pointers tell a missing field from
// a zero.
type listResponse struct {
	Schemas      []string   `json:"schemas"`
	TotalResults *int       `json:"totalResults"`
	StartIndex   *int       `json:"startIndex"`
	Resources    []resource `json:"Resources"`
}

// resource holds the fields of a User or a Group that the mapping reads.
type resource struct {
	Schemas     []string `json:"schemas"`
	ID          string   `json:"id"`
	ExternalID  string   `json:"externalId"`
	UserName    string   `json:"userName"`
	DisplayName string   `json:"displayName"`
	Active      *bool    `json:"active"`
	Title       string   `json:"title"`
	Emails      []struct {
		Value   string `json:"value"`
		Primary bool   `json:"primary"`
	} `json:"emails"`
	Groups []struct {
		Value   string `json:"value"`
		Display string `json:"display"`
	} `json:"groups"`
	Members []struct {
		Value string `json:"value"`
	} `json:"members"`
	Meta struct {
		ResourceType string `json:"resourceType"`
		Created      string `json:"created"`
	} `json:"meta"`
	Enterprise *struct {
		Department string `json:"department"`
	} `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
}

// readLimited reads r whole, refusing more than max bytes rather than
// truncating.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := inventory.ReadAll(r, max)
	if errors.Is(err, inventory.ErrTooLarge) {
		return nil, fmt.Errorf("larger than the limit of %d bytes (Options.MaxBody)", max)
	}
	return b, err
}

// decodeList decodes a ListResponse and checks its schema and totalResults.
func decodeList(b []byte) (*listResponse, error) {
	var lr listResponse
	if err := json.Unmarshal(b, &lr); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if !slices.Contains(lr.Schemas, listResponseURN) {
		return nil, fmt.Errorf("not a SCIM ListResponse: schemas %q does not hold %s", lr.Schemas, listResponseURN)
	}
	if lr.TotalResults == nil {
		return nil, fmt.Errorf("ListResponse has no totalResults")
	}
	if *lr.TotalResults < 0 {
		return nil, fmt.Errorf("ListResponse has a negative totalResults %d", *lr.TotalResults)
	}
	return &lr, nil
}

// kindOf says whether r is a User or a Group, by meta.resourceType or,
// when a root-level query left that out, by its schemas.
func kindOf(r *resource) (inventory.Kind, bool) {
	switch {
	case r.Meta.ResourceType == "User", slices.Contains(r.Schemas, userURN):
		return inventory.User, true
	case r.Meta.ResourceType == "Group", slices.Contains(r.Schemas, groupURN):
		return inventory.Group, true
	}
	return "", false
}

// collector gathers the resources of all pages, refusing a repeated id
// and more than max objects.
type collector struct {
	max    int
	users  []*resource
	groups []*resource
	origin map[*resource]string
	seen   map[string]bool // "User/id", "Group/id"
}

func newCollector(max int) *collector {
	return &collector{max: max, origin: map[*resource]string{}, seen: map[string]bool{}}
}

func (c *collector) count() int { return len(c.users) + len(c.groups) }

// add takes the resources of one page read at origin.
func (c *collector) add(rs []resource, origin string) error {
	for i := range rs {
		r := &rs[i]
		k, ok := kindOf(r)
		if !ok {
			return fmt.Errorf("resource Resources[%d] (id %q) is neither a User nor a Group (meta.resourceType %q, schemas %q)", i, r.ID, r.Meta.ResourceType, r.Schemas)
		}
		if r.ID == "" {
			return fmt.Errorf("resource Resources[%d]: %s without an id", i, k)
		}
		key := string(k) + "/" + r.ID
		if c.seen[key] {
			return fmt.Errorf("resource Resources[%d]: %s id %q was returned before (the server is paging in a loop)", i, k, r.ID)
		}
		c.seen[key] = true
		if c.count() >= c.max {
			return fmt.Errorf("more than %d objects (Options.MaxObjects)", c.max)
		}
		c.origin[r] = fmt.Sprintf("%s#/Resources/%d", origin, i)
		if k == inventory.User {
			c.users = append(c.users, r)
		} else {
			c.groups = append(c.groups, r)
		}
	}
	return nil
}

// objects maps what was collected to inventory objects.
func (c *collector) objects() ([]inventory.Object, error) {
	groupName := make(map[string]string, len(c.groups))
	for _, r := range c.groups {
		groupName[r.ID] = r.DisplayName
	}
	userName := make(map[string]string, len(c.users))
	var objs []inventory.Object
	for _, r := range c.users {
		o, err := userObject(r, c.origin[r], groupName)
		if err != nil {
			return nil, err
		}
		userName[r.ID] = r.UserName
		objs = append(objs, o)
	}
	for _, r := range c.groups {
		o, err := groupObject(r, c.origin[r], userName, groupName)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

func userObject(r *resource, origin string, groupName map[string]string) (inventory.Object, error) {
	if r.UserName == "" {
		return inventory.Object{}, fmt.Errorf("%s: User %q has no userName", origin, r.ID)
	}
	created, err := parseCreated(r, origin)
	if err != nil {
		return inventory.Object{}, err
	}
	o := inventory.Object{
		Kind:        inventory.User,
		ID:          r.ID,
		Key:         r.UserName,
		Name:        IdentityName(r.UserName),
		DisplayName: r.DisplayName,
		Active:      r.Active == nil || *r.Active, // RFC 7643 leaves a missing active to mean enabled
		Attributes:  map[string]string{},
		Created:     created,
		Origin:      origin,
	}
	for i, e := range r.Emails {
		// The primary address, or the first when none is marked.
		if e.Primary || (i == 0 && o.Attributes["email"] == "") {
			o.Attributes["email"] = e.Value
		}
	}
	setIf(o.Attributes, "externalId", r.ExternalID)
	setIf(o.Attributes, "title", r.Title)
	if r.Enterprise != nil {
		setIf(o.Attributes, "department", r.Enterprise.Department)
	}
	for _, g := range r.Groups {
		// display is optional (RFC 7643 section 4.1.2); without it the
		// group is named by the displayName of its id, when read.
		switch {
		case g.Display != "":
			o.Groups = append(o.Groups, g.Display)
		case groupName[g.Value] != "":
			o.Groups = append(o.Groups, groupName[g.Value])
		}
	}
	slices.Sort(o.Groups)
	o.Groups = slices.Compact(o.Groups)
	return o, nil
}

func groupObject(r *resource, origin string, userName, groupName map[string]string) (inventory.Object, error) {
	if r.DisplayName == "" {
		return inventory.Object{}, fmt.Errorf("%s: Group %q has no displayName", origin, r.ID)
	}
	created, err := parseCreated(r, origin)
	if err != nil {
		return inventory.Object{}, err
	}
	o := inventory.Object{
		Kind:        inventory.Group,
		ID:          r.ID,
		Key:         r.DisplayName,
		Name:        IdentityName(r.DisplayName),
		DisplayName: r.DisplayName,
		Active:      true,
		Attributes:  map[string]string{},
		Created:     created,
		Origin:      origin,
	}
	setIf(o.Attributes, "externalId", r.ExternalID)
	var unresolved []string
	for _, m := range r.Members {
		switch {
		case userName[m.Value] != "":
			o.Members = append(o.Members, userName[m.Value])
		case groupName[m.Value] != "":
			o.Members = append(o.Members, groupName[m.Value])
		case m.Value != "":
			o.Members = append(o.Members, m.Value)
			unresolved = append(unresolved, m.Value)
		}
	}
	slices.Sort(o.Members)
	o.Members = slices.Compact(o.Members)
	if len(unresolved) > 0 {
		slices.Sort(unresolved)
		o.Attributes["unresolved_members"] = strings.Join(slices.Compact(unresolved), ",")
	}
	return o, nil
}

func parseCreated(r *resource, origin string) (time.Time, error) {
	if r.Meta.Created == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, r.Meta.Created)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q has meta.created %q, not an RFC 3339 time", origin, r.ID, r.Meta.Created)
	}
	return t, nil
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// IdentityName suggests an identity name for a SCIM userName or group
// displayName: the local part of an e-mail address, with each character
// that an identity name may not hold (see bundle/repo: '/', ':', '#',
// quotes, white space, control and invisible characters) replaced by '-'.
func IdentityName(s string) string {
	if at := strings.LastIndexByte(s, '@'); at > 0 {
		s = s[:at]
	}
	return inventory.IdentityName(s)
}
