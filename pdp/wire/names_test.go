package wire_test

import (
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/pdp/wire"
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// TestEntityTypeRulesMatchCedarGo checks, over every short name built
// from the characters that matter, that the decoder accepts exactly the
// entity types cedar-go accepts and explains every refusal (an
// explanation falling back to "cedar-go refuses it" means cedar-go's rules
// changed and the explanation needs to follow).
func TestEntityTypeRulesMatchCedarGo(t *testing.T) {
	names := []string{"if", "A::if", "then::B", "__cedar", "A::__cedar::B", "__cedar_x", "true", "is", "has", "like", "in", "else", "false",
		"Action", "A::Action", "é", "A\x00", "A::B::", "A:::B", "A::::B"}
	alphabet := []string{"a", "1", "_", ":", "-", "::"}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		names = append(names, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+c, n-1)
		}
	}
	gen("", 4)
	for _, name := range names {
		_, want := types.NewEntityType(name)
		_, err := wire.DecodeEntityRef(&cedargatev1.EntityRef{Type: name}, wire.Limits{})
		if (err == nil) != (want == nil) {
			t.Errorf("%q: decoder says %v, cedar-go says %v", name, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "cedar-go refuses it") {
			t.Errorf("%q: refusal not explained: %v", name, err)
		}
	}
}
