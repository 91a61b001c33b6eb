package inventory

import (
	"testing"
	"time"
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
