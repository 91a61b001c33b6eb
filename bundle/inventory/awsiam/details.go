package awsiam

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
)

// KindTag is the tag whose value (User or ServiceAccount) sets an IAM
// user's Kind.
const KindTag = "cedargate:kind"

// ServicePath is the IAM path prefix that makes an untagged user a
// ServiceAccount.
const ServicePath = "/service/"

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type attached struct {
	PolicyName string `json:"PolicyName"`
	PolicyArn  string `json:"PolicyArn"`
}

type inline struct {
	PolicyName string `json:"PolicyName"`
}

type details struct {
	UserDetailList []struct {
		Path                    string     `json:"Path"`
		UserName                string     `json:"UserName"`
		UserID                  string     `json:"UserId"`
		Arn                     string     `json:"Arn"`
		CreateDate              string     `json:"CreateDate"`
		UserPolicyList          []inline   `json:"UserPolicyList"`
		GroupList               []string   `json:"GroupList"`
		AttachedManagedPolicies []attached `json:"AttachedManagedPolicies"`
		Tags                    []tag      `json:"Tags"`
	} `json:"UserDetailList"`
	GroupDetailList []struct {
		Path                    string     `json:"Path"`
		GroupName               string     `json:"GroupName"`
		GroupID                 string     `json:"GroupId"`
		Arn                     string     `json:"Arn"`
		CreateDate              string     `json:"CreateDate"`
		GroupPolicyList         []inline   `json:"GroupPolicyList"`
		AttachedManagedPolicies []attached `json:"AttachedManagedPolicies"`
	} `json:"GroupDetailList"`
	RoleDetailList []struct {
		Path                     string          `json:"Path"`
		RoleName                 string          `json:"RoleName"`
		RoleID                   string          `json:"RoleId"`
		Arn                      string          `json:"Arn"`
		CreateDate               string          `json:"CreateDate"`
		AssumeRolePolicyDocument json.RawMessage `json:"AssumeRolePolicyDocument"`
		RolePolicyList           []inline        `json:"RolePolicyList"`
		AttachedManagedPolicies  []attached      `json:"AttachedManagedPolicies"`
		Tags                     []tag           `json:"Tags"`
		RoleLastUsed             *struct {
			LastUsedDate string `json:"LastUsedDate"`
			Region       string `json:"Region"`
		} `json:"RoleLastUsed"`
	} `json:"RoleDetailList"`
	// IsTruncated is set by the API (and by the CLI given --max-items)
	// when more pages follow.
	IsTruncated bool `json:"IsTruncated"`
}

// ReadDetails reads a get-account-authorization-details output, refusing
// one over MaxFileSize.
func ReadDetails(file string) ([]inventory.Object, error) {
	data, err := readFile(file, MaxFileSize)
	if err != nil {
		return nil, err
	}
	return ParseDetails(data, file)
}

// ParseDetails maps a get-account-authorization-details JSON document to
// objects; file names it in errors and Origins.
func ParseDetails(data []byte, file string) ([]inventory.Object, error) {
	var d details
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %s", file, inventory.JSONError(data, err))
	}
	if d.IsTruncated {
		return nil, fmt.Errorf("%s: IsTruncated is true: this is one page of several; run aws iam get-account-authorization-details without --max-items so the CLI reads every page", file)
	}
	var objs []inventory.Object
	groupArn := map[string]string{} // GroupName -> Arn
	groupAt := map[string]int{}     // Arn -> index in objs
	for i, g := range d.GroupDetailList {
		o, err := object(file, fmt.Sprintf("GroupDetailList[%d]", i), inventory.Group, g.GroupID, g.Arn, g.GroupName, g.Path, g.CreateDate, nil, g.AttachedManagedPolicies, g.GroupPolicyList)
		if err != nil {
			return nil, err
		}
		groupArn[g.GroupName] = g.Arn
		groupAt[g.Arn] = len(objs)
		objs = append(objs, o)
	}
	for i, u := range d.UserDetailList {
		at := fmt.Sprintf("UserDetailList[%d]", i)
		o, err := object(file, at, inventory.User, u.UserID, u.Arn, u.UserName, u.Path, u.CreateDate, u.Tags, u.AttachedManagedPolicies, u.UserPolicyList)
		if err != nil {
			return nil, err
		}
		o.Kind = userKind(u.Path, u.Tags)
		if v, ok := tagValue(u.Tags, KindTag); ok && v != string(inventory.User) && v != string(inventory.ServiceAccount) {
			return nil, fmt.Errorf("%s: %s.Tags: %s is %q; want User or ServiceAccount", file, at, KindTag, v)
		}
		for j, name := range u.GroupList {
			arn, ok := groupArn[name]
			if !ok {
				return nil, fmt.Errorf("%s: %s.GroupList[%d]: group %q is not in GroupDetailList (run get-account-authorization-details without --filter, so groups are listed)", file, at, j, name)
			}
			o.Groups = append(o.Groups, arn)
			g := &objs[groupAt[arn]]
			g.Members = append(g.Members, u.Arn)
		}
		slices.Sort(o.Groups)
		objs = append(objs, o)
	}
	for i := range objs {
		slices.Sort(objs[i].Members)
		objs[i].Members = slices.Compact(objs[i].Members)
	}
	for i, r := range d.RoleDetailList {
		at := fmt.Sprintf("RoleDetailList[%d]", i)
		o, err := object(file, at, inventory.ServiceAccount, r.RoleID, r.Arn, r.RoleName, r.Path, r.CreateDate, r.Tags, r.AttachedManagedPolicies, r.RolePolicyList)
		if err != nil {
			return nil, err
		}
		if len(r.AssumeRolePolicyDocument) > 0 && string(r.AssumeRolePolicyDocument) != "null" {
			doc, err := trustPolicy(r.AssumeRolePolicyDocument)
			if err != nil {
				return nil, fmt.Errorf("%s: %s.AssumeRolePolicyDocument: %v", file, at, err)
			}
			o.Attributes["assume_role_policy"] = doc
		}
		if r.RoleLastUsed != nil && r.RoleLastUsed.LastUsedDate != "" {
			t, err := time.Parse(time.RFC3339, r.RoleLastUsed.LastUsedDate)
			if err != nil {
				return nil, fmt.Errorf("%s: %s.RoleLastUsed.LastUsedDate: %q is not an ISO 8601 time", file, at, r.RoleLastUsed.LastUsedDate)
			}
			o.Attributes["last_used"] = t.UTC().Format(time.RFC3339)
		}
		objs = append(objs, o)
	}
	seen := map[string]string{}
	for _, o := range objs {
		if prev, ok := seen[o.Key]; ok {
			return nil, fmt.Errorf("%s: Arn %s is also at %s", o.Origin, o.Key, prev)
		}
		seen[o.Key] = o.Origin
	}
	return objs, nil
}

// object maps the fields users, groups and roles share.
func object(file, at string, kind inventory.Kind, id, arn, name, path, created string, tags []tag, policies []attached, inlines []inline) (inventory.Object, error) {
	origin := file + ": " + at
	if arn == "" || name == "" || id == "" {
		return inventory.Object{}, fmt.Errorf("%s: lacks Arn, a name or an id (want the CLI's output unchanged)", origin)
	}
	o := inventory.Object{Kind: kind, ID: id, Key: arn, Name: name, Active: true, Origin: origin, Attributes: map[string]string{"path": path}}
	if created != "" {
		t, err := time.Parse(time.RFC3339, created)
		if err != nil {
			return inventory.Object{}, fmt.Errorf("%s.CreateDate: %q is not an ISO 8601 time", origin, created)
		}
		o.Created = t
	}
	for _, t := range tags {
		o.Attributes["tag:"+t.Key] = t.Value
	}
	for _, p := range policies {
		o.Roles = append(o.Roles, p.PolicyArn)
	}
	slices.Sort(o.Roles)
	var names []string
	for _, p := range inlines {
		names = append(names, p.PolicyName)
	}
	if len(names) > 0 {
		slices.Sort(names)
		o.Attributes["inline_policies"] = strings.Join(names, ",")
	}
	return o, nil
}

func userKind(path string, tags []tag) inventory.Kind {
	if v, ok := tagValue(tags, KindTag); ok && v == string(inventory.ServiceAccount) {
		return inventory.ServiceAccount
	} else if ok {
		return inventory.User
	}
	if strings.HasPrefix(path, ServicePath) {
		return inventory.ServiceAccount
	}
	return inventory.User
}

func tagValue(tags []tag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// trustPolicy returns a role's trust policy as compact JSON. The CLI
// prints it decoded, as a JSON object; the IAM API returns it as a
// URL-encoded string (RFC 3986), which a script may have kept.
func trustPolicy(raw json.RawMessage) (string, error) {
	doc := []byte(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		dec, err := url.QueryUnescape(s)
		if err != nil {
			return "", fmt.Errorf("not URL-encoded JSON: %v", err)
		}
		doc = []byte(dec)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, doc); err != nil {
		return "", fmt.Errorf("not a JSON policy document: %v", err)
	}
	if buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return "", fmt.Errorf("not a JSON policy document (want an object)")
	}
	return buf.String(), nil
}
