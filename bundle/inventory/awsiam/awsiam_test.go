package awsiam

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/cedargate/cedargate/bundle/inventory"
	"github.com/cedargate/cedargate/bundle/repo"
)

var readAt = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

const (
	arnAlice  = "arn:aws:iam::123456789012:user/alice"
	arnCI     = "arn:aws:iam::123456789012:user/service/ci-deployer"
	arnVendor = "arn:aws:iam::123456789012:user/vendor-sync"
	arnRole   = "arn:aws:iam::123456789012:role/ledger-bot"
	arnDevs   = "arn:aws:iam::123456789012:group/developers"
	arnDeploy = "arn:aws:iam::123456789012:group/deployers"
)

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func read(t *testing.T, details, report string) *inventory.Snapshot {
	t.Helper()
	s := &Source{Details: details, CredentialReport: report, Now: func() time.Time { return readAt }}
	snap, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func find(t *testing.T, s *inventory.Snapshot, key string) inventory.Object {
	t.Helper()
	for _, o := range s.Objects {
		if o.Key == key {
			return o
		}
	}
	t.Fatalf("no object %q", key)
	return inventory.Object{}
}

func TestReadFixtures(t *testing.T) {
	for name, report := range map[string]string{
		"csv":  "testdata/credential-report.csv",
		"json": "testdata/credential-report.json",
	} {
		t.Run(name, func(t *testing.T) {
			s := read(t, "testdata/authorization-details.json", report)
			if s.Source != "awsiam" || !s.Read.Equal(readAt) {
				t.Errorf("snapshot %q at %v", s.Source, s.Read)
			}
			var got []string
			for _, o := range s.Objects {
				got = append(got, string(o.Kind)+" "+o.Key)
			}
			want := []string{
				"Group " + arnDeploy,
				"Group " + arnDevs,
				"ServiceAccount " + arnRole,
				"ServiceAccount " + arnCI,
				"ServiceAccount " + arnVendor,
				"User " + arnAlice,
			}
			if !slices.Equal(got, want) {
				t.Fatalf("objects\n%v\nwant\n%v", got, want)
			}

			alice := find(t, s, arnAlice)
			if alice.ID != "AIDAQ3EGRT5ZALICE0001" || alice.Name != "alice" || !alice.Created.Equal(date("2025-05-12T08:30:11Z")) ||
				alice.Attributes["tag:team"] != "payments" || alice.Attributes["path"] != "/" || !slices.Equal(alice.Groups, []string{arnDevs}) {
				t.Errorf("alice: %+v", alice)
			}
			wantPw := []inventory.Credential{{ID: "password", Type: "password", Active: true, Created: date("2026-09-01T10:00:00Z"), LastUsed: date("2026-11-28T09:12:40Z"), UsedKnown: true}}
			if !equalCreds(alice.Credentials, wantPw) {
				t.Errorf("alice credentials %+v", alice.Credentials)
			}

			ci := find(t, s, arnCI)
			if ci.Name != "ci-deployer" || ci.Attributes["inline_policies"] != "deploy-artifacts" {
				t.Errorf("ci-deployer: %+v", ci)
			}
			wantCI := []inventory.Credential{
				{ID: "access-key-1", Type: "access-key", Active: true, Created: date("2026-02-10T11:05:09Z"), LastUsed: date("2026-11-30T22:41:00Z"), UsedKnown: true},
				{ID: "access-key-2", Type: "access-key", Active: false, Created: date("2025-01-20T14:03:10Z"), LastUsed: date("2025-08-01T06:00:00Z"), UsedKnown: true},
			}
			if !equalCreds(ci.Credentials, wantCI) {
				t.Errorf("ci-deployer credentials %+v", ci.Credentials)
			}
			if age := readAt.Sub(ci.Credentials[0].Created); age <= 90*24*time.Hour {
				t.Errorf("fixture: ci-deployer key 1 is %v old, want older than 90 days", age)
			}

			vendor := find(t, s, arnVendor)
			if !slices.Equal(vendor.Roles, []string{"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}) || vendor.Attributes["tag:owner"] != "team-payments" {
				t.Errorf("vendor-sync: %+v", vendor)
			}
			// N/A last use of an existing key: never used, known.
			wantV := []inventory.Credential{{ID: "access-key-1", Type: "access-key", Active: true, Created: date("2025-11-03T10:16:21Z"), UsedKnown: true}}
			if !equalCreds(vendor.Credentials, wantV) {
				t.Errorf("vendor-sync credentials %+v", vendor.Credentials)
			}

			devs := find(t, s, arnDevs)
			if !slices.Equal(devs.Members, []string{arnAlice}) || !slices.Equal(devs.Roles, []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}) {
				t.Errorf("developers: %+v", devs)
			}
			if m := find(t, s, arnDeploy).Members; !slices.Equal(m, []string{arnCI}) {
				t.Errorf("deployers members %v", m)
			}

			role := find(t, s, arnRole)
			if role.ID != "AROAQ3EGRT5ZLEDGR0001" || role.Name != "ledger-bot" || !slices.Equal(role.Roles, []string{"arn:aws:iam::123456789012:policy/payments-ledger-read"}) ||
				!strings.Contains(role.Attributes["assume_role_policy"], `"system:serviceaccount:payments:ledger-bot"`) || role.Attributes["last_used"] != "2026-11-30T18:22:07Z" {
				t.Errorf("role: %+v", role)
			}
			if len(role.Credentials) != 0 {
				t.Errorf("role credentials %+v", role.Credentials)
			}
		})
	}
}

func equalCreds(a, b []inventory.Credential) bool {
	return slices.EqualFunc(a, b, func(x, y inventory.Credential) bool {
		return x.ID == y.ID && x.Type == y.Type && x.Active == y.Active && x.Created.Equal(y.Created) && x.LastUsed.Equal(y.LastUsed) && x.UsedKnown == y.UsedKnown
	})
}

func TestWithoutReport(t *testing.T) {
	s := read(t, "testdata/authorization-details.json", "")
	for _, o := range s.Objects {
		if len(o.Credentials) != 0 {
			t.Errorf("%s has credentials without a report", o.Key)
		}
	}
}

func TestUserKind(t *testing.T) {
	tests := []struct {
		name, path string
		tags       []tag
		want       inventory.Kind
	}{
		{"default", "/", nil, inventory.User},
		{"service path", "/service/ci/", nil, inventory.ServiceAccount},
		{"tag", "/", []tag{{KindTag, "ServiceAccount"}}, inventory.ServiceAccount},
		{"tag wins over path", "/service/", []tag{{KindTag, "User"}}, inventory.User},
		{"path must be a prefix", "/team/service/", nil, inventory.User},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := userKind(tt.path, tt.tags); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestURLEncodedTrustPolicy(t *testing.T) {
	doc := `{"RoleDetailList":[{"Path":"/","RoleName":"r","RoleId":"AROA1","Arn":"arn:aws:iam::1:role/r","CreateDate":"2026-01-01T00:00:00Z",` +
		`"AssumeRolePolicyDocument":"%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"}]}`
	objs, err := ParseDetails([]byte(doc), "d.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := objs[0].Attributes["assume_role_policy"]; got != `{"Version":"2012-10-17","Statement":[]}` {
		t.Errorf("trust policy %q", got)
	}
}

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDetailsErrors(t *testing.T) {
	const user = `{"Path":"/","UserName":"a","UserId":"AIDA1","Arn":"arn:aws:iam::1:user/a","CreateDate":"2026-01-01T00:00:00+00:00"`
	tests := []struct {
		name, body string
		want       []string
	}{
		{"syntax", "{\n    \"UserDetailList\": [\n        {,}\n    ]\n}", []string{"details.json: line 3:10", "invalid character"}},
		{"type", "{\n  \"UserDetailList\": [" + user + `,"GroupList":"devs"}]}`, []string{"details.json: line 2:", "UserDetailList.GroupList is string"}},
		{"bad date", `{"UserDetailList":[` + user + `},{"Path":"/","UserName":"b","UserId":"AIDA2","Arn":"arn:aws:iam::1:user/b","CreateDate":"last week"}]}`, []string{"details.json: UserDetailList[1].CreateDate: \"last week\""}},
		{"unknown group", `{"UserDetailList":[` + user + `,"GroupList":["ops"]}]}`, []string{"UserDetailList[0].GroupList[0]: group \"ops\" is not in GroupDetailList"}},
		{"bad kind tag", `{"UserDetailList":[` + user + `,"Tags":[{"Key":"cedargate:kind","Value":"Robot"}]}]}`, []string{"UserDetailList[0].Tags: cedargate:kind is \"Robot\""}},
		{"no arn", `{"RoleDetailList":[{"RoleName":"r","RoleId":"AROA1"}]}`, []string{"RoleDetailList[0]: lacks Arn"}},
		{"bad trust policy", `{"RoleDetailList":[{"RoleName":"r","RoleId":"AROA1","Arn":"arn:aws:iam::1:role/r","AssumeRolePolicyDocument":"%7Bnot"}]}`, []string{"RoleDetailList[0].AssumeRolePolicyDocument: not a JSON policy document"}},
		{"truncated", `{"UserDetailList":[],"IsTruncated":true,"Marker":"abc"}`, []string{"IsTruncated is true"}},
		{"duplicate", `{"UserDetailList":[` + user + `},` + user + `}]}`, []string{"UserDetailList[1]: Arn arn:aws:iam::1:user/a is also at", "UserDetailList[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Source{Details: write(t, "details.json", tt.body)}
			snap, err := s.Read(context.Background())
			if err == nil {
				t.Fatalf("no error; %d objects", len(snap.Objects))
			}
			if snap != nil {
				t.Error("a snapshot beside an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestReportErrors(t *testing.T) {
	header := strings.Join(ReportColumns, ",")
	row := func(user string, vals map[string]string) string {
		var f []string
		for _, c := range ReportColumns {
			v, ok := vals[c]
			if !ok {
				v = "N/A"
			}
			switch c {
			case "user":
				v = user
			case "arn":
				v = "arn:aws:iam::1:user/" + user
			}
			f = append(f, v)
		}
		return strings.Join(f, ",")
	}
	ok := row("a", map[string]string{"password_enabled": "false", "mfa_active": "false", "access_key_1_active": "false", "access_key_2_active": "false", "cert_1_active": "false", "cert_2_active": "false"})
	missing := strings.Replace(header, ",access_key_2_active", "", 1)
	tests := []struct {
		name, body string
		want       []string
	}{
		{"missing column", missing + "\n", []string{"report.csv: line 1: the header lacks column(s) [access_key_2_active]"}},
		{"empty", "", []string{"report.csv: empty"}},
		{"bad time", header + "\n" + ok + "\n" + row("b", map[string]string{"password_enabled": "false", "access_key_1_active": "true", "access_key_1_last_rotated": "2026-13-01"}) + "\n", []string{"report.csv: line 3: user b: access_key_1_last_rotated is \"2026-13-01\""}},
		{"bad flag", header + "\n" + row("b", map[string]string{"password_enabled": "yes"}) + "\n", []string{"report.csv: line 2: user b: password_enabled is \"yes\""}},
		{"short row", header + "\n" + ok + "\nb,arn\n", []string{"report.csv: line 3: wrong number of fields"}},
		{"bad base64", `{"Content":"!!!","ReportFormat":"text/csv"}`, []string{"report.csv: Content is not base64"}},
		{"no content", `{"GeneratedTime":"2026-12-01T00:00:00Z"}`, []string{"report.csv: no Content"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCredentialReport(write(t, "report.csv", tt.body))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestReportNotApplicable(t *testing.T) {
	// A user with no password, no keys and no certificates: every
	// optional column N/A, no credentials.
	var vals []string
	for _, c := range ReportColumns {
		switch c {
		case "user":
			vals = append(vals, "idle")
		case "arn":
			vals = append(vals, "arn:aws:iam::1:user/idle")
		case "user_creation_time":
			vals = append(vals, "2026-01-01T00:00:00+00:00")
		case "password_enabled", "mfa_active", "access_key_1_active", "access_key_2_active", "cert_1_active", "cert_2_active":
			vals = append(vals, "false")
		default:
			vals = append(vals, "N/A")
		}
	}
	rep, err := ParseCredentialReport([]byte(strings.Join(ReportColumns, ",")+"\n"+strings.Join(vals, ",")+"\n"), "r.csv")
	if err != nil {
		t.Fatal(err)
	}
	creds, ok := rep["arn:aws:iam::1:user/idle"]
	if !ok || len(creds) != 0 {
		t.Fatalf("credentials %+v (present %v), want none", creds, ok)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestSizeLimit(t *testing.T) {
	_, err := readAll(endless{}, "huge.json", 1<<20)
	if err == nil || !strings.Contains(err.Error(), "huge.json: more than 1048576 bytes") {
		t.Fatalf("error %v", err)
	}
}

// TestNamesAreValid checks every suggested Name against the rules
// bundle/repo applies to the name field of identity code.
func TestNamesAreValid(t *testing.T) {
	for _, o := range read(t, "testdata/authorization-details.json", "").Objects {
		if strings.ContainsAny(o.Name, "/:#\"") || strings.ContainsFunc(o.Name, unicode.IsSpace) || repo.CheckIdent(o.Name) != nil {
			t.Errorf("%s: name %q is not a valid identity name", o.Key, o.Name)
		}
	}
}

func TestReportNoInformation(t *testing.T) {
	// A password used only before IAM tracked sign-ins, and a row for a
	// user the details do not list (deleted after the report was made).
	var a, b []string
	for _, c := range ReportColumns {
		switch c {
		case "user":
			a, b = append(a, "old"), append(b, "gone")
		case "arn":
			a, b = append(a, arnAlice), append(b, "arn:aws:iam::123456789012:user/gone")
		case "password_enabled":
			a, b = append(a, "true"), append(b, "false")
		case "password_last_used":
			a, b = append(a, "no_information"), append(b, "N/A")
		case "password_last_changed":
			a, b = append(a, "2014-06-01T00:00:00+00:00"), append(b, "N/A")
		case "mfa_active", "access_key_1_active", "access_key_2_active", "cert_1_active", "cert_2_active":
			a, b = append(a, "false"), append(b, "false")
		default:
			a, b = append(a, "N/A"), append(b, "N/A")
		}
	}
	rep, err := ParseCredentialReport([]byte(strings.Join(ReportColumns, ",")+"\n"+strings.Join(a, ",")+"\n"+strings.Join(b, ",")+"\n"), "r.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Credential{{ID: "password", Type: "password", Active: true, Created: date("2014-06-01T00:00:00Z")}}
	if !equalCreds(rep[arnAlice], want) {
		t.Errorf("credentials %+v, want %+v (last use unknown)", rep[arnAlice], want)
	}
	objs, err := ReadDetails("testdata/authorization-details.json")
	if err != nil {
		t.Fatal(err)
	}
	Merge(objs, rep)
	for _, o := range objs {
		if o.Key == "arn:aws:iam::123456789012:user/gone" {
			t.Error("a report row without a user became an object")
		}
		if o.Key == arnAlice && !equalCreds(o.Credentials, want) {
			t.Errorf("merged %+v", o.Credentials)
		}
	}
}
