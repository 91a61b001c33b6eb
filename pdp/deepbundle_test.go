package pdp_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cedargate/cedargate/bundle"
	"github.com/cedargate/cedargate/bundle/store"
)

// TestDeepBundleIsRefusedWhileTheLastGoodOneServes rolls out, behind the
// store's back, a bundle with a policy of a million nested brackets, which
// cedar-go cannot parse without overflowing its stack: a fatal error that
// would crash the replica, and every replica at every restart. The PDP
// refuses it before parsing it, says why, and keeps answering with the
// bundle it served.
func TestDeepBundleIsRefusedWhileTheLastGoodOneServes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := buildInto(t, dir, "allow", nil)
	if _, err := st.Activate(t.Context(), "allow", store.ActionRollout, t0); err != nil {
		t.Fatal(err)
	}
	h := start(t, st, nil)
	if d, err := h.client.Authorize(context.Background(), readPlan()); err != nil || !d.Allow {
		t.Fatalf("before: %+v %v", d, err)
	}

	// The served bundle, one policy made deep, as revision "deep". The
	// store's Put refuses it, so it is written as a hostile tool would.
	good, err := bundle.DecodeFile(st.BundlePath("allow"), bundle.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good.Manifest.Revision = "deep"
	good.Policies[0].Cedar = "permit (principal, action, resource) when { " +
		strings.Repeat("(", 1_000_000) + "true" + strings.Repeat(")", 1_000_000) + " };"
	archive, err := bundle.Encode(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), archive); err == nil {
		t.Fatal("the store accepted the deep bundle")
	}
	if err := os.WriteFile(st.BundlePath("deep"), archive, 0o644); err != nil {
		t.Fatal(err)
	}
	writeActive(t, dir, "deep", good.Digest)

	failures := func() string { return metric(t, h, `cedargate_bundle_activations_total{result="failure"}`) }
	eventually(t, "the deep bundle to be refused", func() bool { return failures() == "1" })
	assertServing(t, h, "allow", "Cedar expression nested deeper than 1024 levels")
}
