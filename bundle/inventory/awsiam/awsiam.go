// Package awsiam reads AWS IAM users, groups and roles from the output of
//
//	aws iam get-account-authorization-details
//
// and their long-lived credentials from the IAM credential report
// (aws iam get-credential-report), either as the decoded CSV or as the
// command's JSON, whose Content is the CSV in base64.
//
// Mapping into inventory objects (field names are those of the AWS CLI
// and the IAM API):
//
//   - A user (UserDetailList) becomes Kind User, or Kind ServiceAccount
//     when it is tagged cedargate:kind=ServiceAccount or, without that
//     tag, when its Path starts with "/service/". IAM does not say whether
//     a person or software holds a user, so the tag, then the path,
//     decide; a tag cedargate:kind=User keeps a /service/ user a User.
//     ID is UserId, Key the ARN, Name UserName, Created CreateDate; Groups
//     are the ARNs of the groups in GroupList; Roles the ARNs in
//     AttachedManagedPolicies.
//   - A role (RoleDetailList) becomes Kind ServiceAccount with ID RoleId,
//     Key the ARN, Name RoleName, Roles its attached policy ARNs, and the
//     trust policy (AssumeRolePolicyDocument, decoded whether the CLI
//     printed it as JSON or the API returned it URL-encoded) in Attribute
//     "assume_role_policy".
//   - A group (GroupDetailList) becomes Kind Group with ID GroupId, Key the
//     ARN, Members the ARNs of the users whose GroupList names it (sorted),
//     Roles its attached policy ARNs.
//
// Every object carries Attribute "path", "tag:KEY" for each tag, and
// "inline_policies" (comma-separated names) when it has inline policies.
// Managed policies (Policies) are not objects of their own; their ARNs
// appear in Roles.
//
// Credentials come from the credential report, merged into users by ARN:
// "password" when password_enabled is true, "access-key-1" and
// "access-key-2" when the key exists (its last_rotated is not N/A),
// "cert-1" and "cert-2" likewise. An access key's Created is its
// last_rotated, LastUsed its last_used_date (N/A: never used, so
// UsedKnown with a zero time); a password's LastUsed is
// password_last_used (no_information: unknown). The report holds no key
// ids, so a credential's ID is its column's name. The root account's row
// and rows of users the details do not list (the report may be up to four
// hours older than the details) are skipped.
//
// Limits: each file is read whole, and a file larger than MaxFileSize is
// refused. Errors name the file and the JSON path (UserDetailList[3]) or
// the CSV line.
package awsiam

import (
	"context"
	"fmt"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
)

// Source reads IAM from files.
type Source struct {
	// Name is the source's name in snapshots ("awsiam" by default).
	Name string
	// Details is a get-account-authorization-details output.
	Details string
	// CredentialReport is a credential report (CSV, or the JSON of
	// get-credential-report); none is read when empty, and users then
	// have no Credentials.
	CredentialReport string
	// Now gives the snapshot's read time; time.Now when nil.
	Now func() time.Time
}

var _ inventory.Source = (*Source)(nil)

// Read reads the details and the credential report into one snapshot,
// or returns the first error and no snapshot.
func (s *Source) Read(ctx context.Context) (*inventory.Snapshot, error) {
	name := s.Name
	if name == "" {
		name = "awsiam"
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if s.Details == "" {
		return nil, fmt.Errorf("source %s: no file given (want aws iam get-account-authorization-details output)", name)
	}
	read := now()
	objs, err := ReadDetails(s.Details)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	if s.CredentialReport != "" {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep, err := ReadCredentialReport(s.CredentialReport)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", name, err)
		}
		Merge(objs, rep)
	}
	return inventory.NewSnapshot(name, read, objs), nil
}

// Merge adds each user's credentials from report (keyed by user ARN) to
// the objects with that Key. Rows without an object are skipped.
func Merge(objs []inventory.Object, report map[string][]inventory.Credential) {
	for i := range objs {
		if creds, ok := report[objs[i].Key]; ok {
			objs[i].Credentials = append(objs[i].Credentials, creds...)
		}
	}
}
