package pdp_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"path/filepath"
	"testing"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
)

// TestReloadOfChangedAttributesKeepsPoliciesAndGrants rolls out, to a
// serving PDP over a real store (fsnotify), bundles whose entities
// differ from the serving ones only in an attribute, their policies and
// grants the same bytes: the PDP takes the serving snapshot's policies
// without decoding them, and decides with the new attributes.
func TestReloadOfChangedAttributesKeepsPoliciesAndGrants(t *testing.T) {
	privPEM, pubPEM, _ := bundle.GenerateKey()
	priv, _ := bundle.ParsePrivateKey(privPEM)
	pub, _ := bundle.ParsePublicKey(pubPEM)
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", priv)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	h := start(t, st, func(o *pdp.Options) { o.VerifyKeys = []ed25519.PublicKey{pub} })
	base, err := st.LoadRevision("allow", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		rev   string
		from  string
		to    string
		allow bool
	}{
		// The plan becomes classified: denied.
		{"classified", `"id":"plan"},"parents":[],"attrs":{"classified":false}`, `"id":"plan"},"parents":[],"attrs":{"classified":true}`, false},
		// And back.
		{"unclassified", "", "", true},
	} {
		b := clone(base)
		b.Manifest.Revision = step.rev
		if step.from != "" {
			b.Entities = bytes.Replace(b.Entities, []byte(step.from), []byte(step.to), 1)
			if bytes.Equal(b.Entities, base.Entities) {
				t.Fatalf("the test's entities did not change:\n%s", base.Entities)
			}
		}
		if _, err := st.Put(t.Context(), encodeSigned(t, b, priv)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Activate(t.Context(), step.rev, store.ActionRollout, t0); err != nil {
			t.Fatal(err)
		}
		eventually(t, step.rev+" served", func() bool {
			d, err := h.client.Authorize(context.Background(), readPlan())
			return err == nil && d.Bundle.Revision == step.rev
		})
		if d, err := h.client.Authorize(context.Background(), readPlan()); err != nil || d.Allow != step.allow {
			t.Fatalf("%s: %+v %v, want allow %v", step.rev, d, err, step.allow)
		}
	}
}
