package pdp_test

import (
	"bytes"
	"testing"
)

// TestReloadOfChangedAttributesKeepsPoliciesAndGrants rolls out, to a
// serving PDP over a real store (fsnotify), bundles whose entities
// differ from the serving ones only in an attribute, their policies and
// grants the same bytes: the PDP takes the serving snapshot's policies
// without decoding them, and decides with the new attributes.
func TestReloadOfChangedAttributesKeepsPoliciesAndGrants(t *testing.T) {
	f := serveSigned(t)
	base := f.base
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
		if step.from != "" {
			b.Entities = bytes.Replace(b.Entities, []byte(step.from), []byte(step.to), 1)
			if bytes.Equal(b.Entities, base.Entities) {
				t.Fatalf("the test's entities did not change:\n%s", base.Entities)
			}
		}
		f.rollout(b, step.rev, step.allow)
	}
}
