package inventory

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle/repo"
)

func TestNewSnapshotSorts(t *testing.T) {
	at := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	s := NewSnapshot("scim", at, []Object{
		{Kind: User, Key: "bob", ID: "2"},
		{Kind: Group, Key: "ops", ID: "9"},
		{Kind: User, Key: "alice", ID: "3"},
		{Kind: User, Key: "alice", ID: "1"},
	})
	var got []string
	for _, o := range s.Objects {
		got = append(got, string(o.Kind)+"/"+o.Key+"#"+o.ID)
	}
	want := []string{"Group/ops#9", "User/alice#1", "User/alice#3", "User/bob#2"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
	if s.Source != "scim" || !s.Read.Equal(at) {
		t.Fatalf("%+v", s)
	}
}

func TestReadAllRefusesRatherThanTruncates(t *testing.T) {
	if b, err := ReadAll(strings.NewReader("12345"), 5); err != nil || string(b) != "12345" {
		t.Fatalf("at the limit: %q, %v", b, err)
	}
	if b, err := ReadAll(strings.NewReader("123456"), 5); !errors.Is(err, ErrTooLarge) || b != nil {
		t.Fatalf("over the limit: %q, %v", b, err)
	}
}

func TestJSONErrorNamesLineAndColumn(t *testing.T) {
	data := []byte("{\n  \"a\": 1,\n  \"b\" 2\n}")
	var v any
	err := json.Unmarshal(data, &v)
	if got := JSONError(data, err); !strings.HasPrefix(got, "line 3:7: ") {
		t.Fatalf("%q", got)
	}
}

// TestIdentityName checks that suggested names pass the rules bundle/repo
// applies to the name field of identity code.
func TestIdentityName(t *testing.T) {
	for in, want := range map[string]string{
		"system:controller:x y\x00": "system-controller-x-y-",
		"Platform Ops":              "Platform-Ops",
		"a/b#c\"d'e`f":              "a-b-c-d-e-f",
		"bidi\u202eevil":            "bidi-evil",
		"ana.lima@x":                "ana.lima@x",
	} {
		got := IdentityName(in)
		if got != want {
			t.Errorf("IdentityName(%q) = %q, want %q", in, got, want)
		}
		if err := repo.CheckIdent(got); err != nil {
			t.Errorf("IdentityName(%q) = %q: %v", in, got, err)
		}
	}
}
