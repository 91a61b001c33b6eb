package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/pdp/engine"
)

func TestDuplicateSPIFFEIDsAreRefused(t *testing.T) {
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: 1, Revision: "r", Environment: "e"}, Entities: []byte(`[
{"uid": {"type": "ServiceAccount", "id": "a"}, "parents": [], "attrs": {"spiffe_id": "spiffe://x/a"}},
{"uid": {"type": "Group", "id": "admins"}, "parents": [], "attrs": {"spiffe_id": "spiffe://x/a"}}
]`)}
	if _, err := engine.New(b); err == nil || !strings.Contains(err.Error(), `both have spiffe_id "spiffe://x/a"`) {
		t.Fatalf("New = %v, want a refusal naming the shared SPIFFE id", err)
	}
}

// TestWindowsFarFromNow checks window bounds outside the range of int64
// nanoseconds: one in the year 1000 is in the past, one in 3000 in the
// future, as they are, rather than wrapped around.
func TestWindowsFarFromNow(t *testing.T) {
	past := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	future := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	b := &bundle.Bundle{Manifest: bundle.Manifest{FormatVersion: 1, Revision: "r", Environment: "e"}, Entities: []byte("[]"),
		Policies: []bundle.Policy{
			{ID: "expired-long-ago", Source: "x", NotAfter: &past, Cedar: `permit (principal == User::"a", action, resource);`},
			{ID: "starts-far-ahead", Source: "x", NotBefore: &future, Cedar: `permit (principal == User::"b", action, resource);`},
			{ID: "open-until-far-ahead", Source: "x", NotAfter: &future, Cedar: `permit (principal == User::"c", action, resource);`},
		}}
	snap, err := engine.New(b)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for user, want := range map[string]bool{"a": false, "b": false, "c": true} {
		d := snap.Decide(&engine.Request{Principal: types.NewEntityUID("User", types.String(user)), Action: types.NewEntityUID("Action", "x"),
			Resource: types.NewEntityUID("R", "x"), Time: now})
		if d.Allow != want {
			t.Errorf("user %s: allow = %v, want %v", user, d.Allow, want)
		}
	}
}
