package kubernetes

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

func read(t *testing.T, files ...string) *inventory.Snapshot {
	t.Helper()
	s := New("kubernetes", files...)
	s.Now = func() time.Time { return readAt }
	snap, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func keys(s *inventory.Snapshot) []string {
	var out []string
	for _, o := range s.Objects {
		out = append(out, string(o.Kind)+" "+o.Key)
	}
	return out
}

func find(t *testing.T, s *inventory.Snapshot, key string) inventory.Object {
	t.Helper()
	for _, o := range s.Objects {
		if o.Key == key {
			return o
		}
	}
	t.Fatalf("no object %q in %v", key, keys(s))
	return inventory.Object{}
}

func TestReadFixtures(t *testing.T) {
	want := []string{
		"Binding payments/contractors-edit",
		"Binding payments/ledger-bot-reader",
		"Binding system:basic-user",
		"ServiceAccount payments/default",
		"ServiceAccount payments/hotfix-debugger",
		"ServiceAccount payments/ledger-bot",
	}
	for name, files := range map[string][]string{
		"combined": {"testdata/all.json"},
		"per-kind": {"testdata/clusterrolebindings.json", "testdata/serviceaccounts.json", "testdata/rolebindings.json"},
	} {
		t.Run(name, func(t *testing.T) {
			s := read(t, files...)
			if got := keys(s); !slices.Equal(got, want) {
				t.Fatalf("objects\n%v\nwant\n%v", got, want)
			}
			if s.Source != "kubernetes" || !s.Read.Equal(readAt) {
				t.Errorf("snapshot %q at %v", s.Source, s.Read)
			}
			sa := find(t, s, "payments/ledger-bot")
			if sa.ID != "6f1c2b9e-0d51-4a8e-9d7a-3c0e6b1f2a11" || sa.Name != "payments.ledger-bot" || !sa.Active {
				t.Errorf("ledger-bot: %+v", sa)
			}
			if !sa.Created.Equal(time.Date(2026, 3, 2, 9, 14, 27, 0, time.UTC)) {
				t.Errorf("ledger-bot created %v", sa.Created)
			}
			wantAttrs := map[string]string{
				"namespace":                             "payments",
				"label:owner":                           "team-payments",
				"label:app.kubernetes.io/managed-by":    "cedargate",
				"annotation:eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/ledger-bot",
			}
			if len(sa.Attributes) != len(wantAttrs) {
				t.Errorf("ledger-bot attributes %v, want %v", sa.Attributes, wantAttrs)
			}
			for k, v := range wantAttrs {
				if sa.Attributes[k] != v {
					t.Errorf("ledger-bot %s = %q, want %q", k, sa.Attributes[k], v)
				}
			}
			if !strings.Contains(sa.Origin, "items[") {
				t.Errorf("origin %q names no item", sa.Origin)
			}

			rb := find(t, s, "payments/ledger-bot-reader")
			if !slices.Equal(rb.Roles, []string{"Role/payments/ledger-reader"}) || !slices.Equal(rb.Members, []string{"ServiceAccount:payments/ledger-bot"}) {
				t.Errorf("ledger-bot-reader: roles %v members %v", rb.Roles, rb.Members)
			}
			grp := find(t, s, "payments/contractors-edit")
			if !slices.Equal(grp.Roles, []string{"ClusterRole/edit"}) || !slices.Equal(grp.Members, []string{"Group:contractors", "User:alice@example.com"}) {
				t.Errorf("contractors-edit: roles %v members %v", grp.Roles, grp.Members)
			}
			crb := find(t, s, "system:basic-user")
			if crb.Name != "system-basic-user" || crb.Attributes["scope"] != "cluster" || !slices.Equal(crb.Members, []string{"Group:system:authenticated"}) {
				t.Errorf("system:basic-user: %+v", crb)
			}
		})
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

func TestErrors(t *testing.T) {
	const sa = `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"n","uid":"u1"}}`
	tests := []struct {
		name, body string
		want       []string
	}{
		{"syntax", "{\n  \"kind\": \"List\",\n  \"items\": [,]\n}", []string{"bad.json: line 3:13", "invalid character"}},
		{"items not array", `{"kind":"List","items":{}}`, []string{"bad.json:", "items"}},
		{"field type", `{"kind":"List","items":[` + sa + `,{"kind":"ServiceAccount","metadata":{"name":7}}]}`, []string{"bad.json: items[1].metadata.name: is number, want string"}},
		{"no uid", `{"kind":"List","items":[{"kind":"ServiceAccount","metadata":{"name":"a","namespace":"n"}}]}`, []string{"bad.json: items[0]: ServiceAccount \"a\" has no metadata.uid"}},
		{"bad time", `{"kind":"List","items":[{"kind":"ServiceAccount","metadata":{"name":"a","namespace":"n","uid":"u","creationTimestamp":"yesterday"}}]}`, []string{"items[0]: metadata.creationTimestamp \"yesterday\""}},
		{"other kind", `{"kind":"List","items":[` + sa + `,{"kind":"Pod","metadata":{"name":"p","namespace":"n","uid":"u2"}}]}`, []string{"items[1]: kind Pod is not read"}},
		{"bad subject", `{"kind":"List","items":[{"kind":"RoleBinding","metadata":{"name":"b","namespace":"n","uid":"u"},"roleRef":{"kind":"Role","name":"r"},"subjects":[{"kind":"Robot","name":"x"}]}]}`, []string{"items[0]: subjects[0].kind \"Robot\""}},
		{"no roleRef", `{"kind":"List","items":[{"kind":"ClusterRoleBinding","metadata":{"name":"b","uid":"u"}}]}`, []string{"items[0]: ClusterRoleBinding \"b\" has no roleRef.name"}},
		{"duplicate", `{"kind":"List","items":[` + sa + `,` + sa + `]}`, []string{"items[1]: uid u1 is also at", "items[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("k", write(t, "bad.json", tt.body))
			snap, err := s.Read(context.Background())
			if err == nil {
				t.Fatalf("no error; snapshot %v", keys(snap))
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

func TestSingleObject(t *testing.T) {
	p := write(t, "sa.json", `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"n","uid":"u1"}}`)
	s := read(t, p)
	if got := keys(s); !slices.Equal(got, []string{"ServiceAccount n/a"}) {
		t.Fatal(got)
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
	_, err := parse(endless{}, "huge.json", 1<<20)
	if err == nil || !strings.Contains(err.Error(), "huge.json: more than 1048576 bytes") {
		t.Fatalf("error %v", err)
	}
}

// TestNamesAreValid checks every suggested Name against the rules
// bundle/repo applies to the name field of identity code.
func TestNamesAreValid(t *testing.T) {
	for _, o := range read(t, "testdata/all.json").Objects {
		if strings.ContainsAny(o.Name, "/:#\"") || strings.ContainsFunc(o.Name, unicode.IsSpace) || repo.CheckIdent(o.Name) != nil {
			t.Errorf("%s: name %q is not a valid identity name", o.Key, o.Name)
		}
	}
}

func TestTypedList(t *testing.T) {
	// The API server (kubectl get --raw /api/v1/serviceaccounts) answers
	// with a typed list rather than kubectl's v1 List.
	p := write(t, "sa.json", `{"apiVersion":"v1","kind":"ServiceAccountList","metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"a","namespace":"n","uid":"u1"}}]}`)
	s := read(t, p)
	if got := keys(s); !slices.Equal(got, []string{"ServiceAccount n/a"}) {
		t.Fatal(got)
	}
	p = write(t, "l.json", `{"apiVersion":"v1","kind":"List","items":[{"metadata":{"name":"a","namespace":"n","uid":"u1"}}]}`)
	if _, err := New("k", p).Read(context.Background()); err == nil || !strings.Contains(err.Error(), "items[0]: no kind") {
		t.Fatalf("error %v; want the item without kind named", err)
	}
}
