package pdp_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
	"github.com/cedargate/cedargate/pdp"
	"github.com/cedargate/cedargate/pdp/engine"
)

// TestReloadSharesWhatDidNotChange rolls out, to a serving PDP over a
// real store (fsnotify, no polling), the bundle it serves under another
// revision, then one whose policies changed, then one whose entities
// changed, then one whose entities were tampered with: the first serves
// the serving snapshot's entity store, the second too with its own
// decision, the third its own entities, and the fourth is refused while
// the third keeps serving.
func TestReloadSharesWhatDidNotChange(t *testing.T) {
	f := serveSigned(t)
	st, dir, h, base, priv := f.st, f.dir, f.h, f.base, f.priv
	rollout := f.rollout
	first := serving(t, h)

	same := rollout(clone(base), "same", true)
	if !same.SharesEntities(first) || same == first {
		t.Fatalf("the same content under another revision: shares the store %v, the snapshot itself %v; want a new snapshot sharing the store",
			same.SharesEntities(first), same == first)
	}

	frozen := clone(base)
	frozen.Policies = append([]bundle.Policy{{ID: "freeze", Source: "policies/docs.cedar:5:1", Origin: "policy",
		Cedar: `forbid (principal, action, resource == Docs::Doc::"plan");`}}, frozen.Policies...)
	policyChanged := rollout(frozen, "frozen", false)
	if !policyChanged.SharesEntities(same) {
		t.Fatal("a bundle whose policies alone changed does not share the entity store")
	}

	// alice leaves the team that may read: denied by the first policies.
	moved := clone(base)
	moved.Entities = bytes.Replace(moved.Entities, []byte(`"parents":[{"type":"Docs::Team","id":"eng"}]`), []byte(`"parents":[]`), 1)
	if bytes.Equal(moved.Entities, base.Entities) {
		t.Fatalf("the test's entities did not change:\n%s", base.Entities)
	}
	entitiesChanged := rollout(moved, "moved", false)
	if entitiesChanged.SharesEntities(policyChanged) {
		t.Fatal("a bundle whose entities changed shares the old entity store")
	}

	// Tampered: the pointer names the digest of the base entities, the
	// file holds others (alice back in the team), self-consistent and
	// signed. Refused; "moved" keeps serving.
	tampered := clone(base)
	tampered.Manifest.Revision = "tampered"
	good := encodeSigned(t, clone(tampered), priv)
	if _, err := st.Put(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	want := digestOf(t, good)
	tampered.Entities = bytes.Replace(tampered.Entities, []byte(`"id":"plan"`), []byte(`"id":"plan2"`), 1)
	if err := os.WriteFile(st.BundlePath("tampered"), encodeSigned(t, tampered, priv), 0o644); err != nil {
		t.Fatal(err)
	}
	writeActive(t, dir, "tampered", want)
	eventually(t, "the tampered bundle to be refused", func() bool {
		return metric(t, h, `cedargate_bundle_activations_total{result="failure"}`) == "1"
	})
	assertServing(t, h, "moved", "digest mismatch")
	if serving(t, h) != entitiesChanged {
		t.Fatal("the refused bundle replaced the snapshot serving")
	}
}

// signedServing is a PDP serving, over a real store (fsnotify), the
// signed bundle "allow", which it verifies with the key of priv.
type signedServing struct {
	t    *testing.T
	dir  string
	st   *store.Store
	h    *harness
	base *bundle.Bundle
	priv ed25519.PrivateKey
}

// serveSigned builds "allow" into a new store, signed, activates it and
// starts a PDP on it that verifies signatures.
func serveSigned(t *testing.T) *signedServing {
	t.Helper()
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
	return &signedServing{t: t, dir: dir, st: st, h: h, base: base, priv: priv}
}

// rollout stores b as revision rev, signed, activates it and waits until
// the PDP decides readPlan with it, as allow says; it returns the
// snapshot.
func (f *signedServing) rollout(b *bundle.Bundle, rev string, allow bool) *engine.Snapshot {
	t := f.t
	t.Helper()
	b.Manifest.Revision = rev
	if _, err := f.st.Put(t.Context(), encodeSigned(t, b, f.priv)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Activate(t.Context(), rev, store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	eventually(t, rev+" served", func() bool {
		d, err := f.h.client.Authorize(context.Background(), readPlan())
		return err == nil && d.Bundle.Revision == rev
	})
	d, err := f.h.client.Authorize(context.Background(), readPlan())
	if err != nil || d.Allow != allow {
		t.Fatalf("%s: %+v %v, want allow %v", rev, d, err, allow)
	}
	return serving(t, f.h)
}

// errCaptured stops Decide once it has handed over its snapshot.
var errCaptured = errors.New("captured")

// serving returns the snapshot h serves.
func serving(t *testing.T, h *harness) *engine.Snapshot {
	t.Helper()
	var snap *engine.Snapshot
	_, err := h.srv.Decide(context.Background(), func(s *engine.Snapshot, _ time.Time) (*engine.Request, error) {
		snap = s
		return nil, errCaptured
	})
	if !errors.Is(err, errCaptured) {
		t.Fatal(err)
	}
	return snap
}

// clone copies what rollout and the test change of b.
func clone(b *bundle.Bundle) *bundle.Bundle {
	c := *b
	c.Entities = bytes.Clone(b.Entities)
	c.Policies = append([]bundle.Policy(nil), b.Policies...)
	c.Signature, c.Sums = nil, nil
	return &c
}

// encodeSigned encodes b signed with key.
func encodeSigned(t *testing.T, b *bundle.Bundle, key ed25519.PrivateKey) []byte {
	t.Helper()
	if err := bundle.Sign(b, key); err != nil {
		t.Fatal(err)
	}
	archive, err := bundle.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	return archive
}
