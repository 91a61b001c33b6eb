package pdp_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cedargate/cedargate/bundle/store"
)

// TestGetSchema asks a real PDP for the schema it serves: UNAVAILABLE
// before a bundle is active, then the active bundle's schema and revision,
// from which the Go client's converter reads short UIDs and plain JSON
// context as the schema's types.
func TestGetSchema(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	h := start(t, st, nil)
	ctx := context.Background()
	if _, err := h.client.Schema(ctx); status.Code(err) != codes.Unavailable {
		t.Fatalf("without a bundle: %v, want UNAVAILABLE", err)
	}
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the bundle to be served", func() bool {
		s, err := h.client.Schema(ctx)
		return err == nil && s.Bundle.Revision == "allow"
	})
	s, err := h.client.Schema(ctx)
	if err != nil || !strings.Contains(s.Text, "namespace Docs") {
		t.Fatalf("schema %+v, %v", s, err)
	}
	conv, ref, err := h.client.Converter(ctx)
	if err != nil || ref.Revision != "allow" {
		t.Fatalf("converter: %v %+v", err, ref)
	}
	read, err := conv.ActionUID("read")
	if err != nil || read != uid("Docs::Action", "read") {
		t.Fatalf("read = %v, %v", read, err)
	}
	if u, err := conv.UID("User/alice"); err != nil || u != uid("Docs::User", "alice") {
		t.Fatalf("User/alice = %v, %v", u, err)
	}
	c, err := conv.Context(read, []byte(`{"source_ip": "10.1.1.1", "mfa": true}`))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := c.Get("source_ip")
	if _, ok := v.(types.IPAddr); !ok {
		t.Fatalf("source_ip = %#v, want an ipaddr", v)
	}
	r := readPlan()
	r.Context = c
	if d, err := h.client.Authorize(ctx, r); err != nil || !d.Allow {
		t.Fatalf("a converted request: %+v %v", d, err)
	}
}
