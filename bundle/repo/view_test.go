package repo

import (
	"reflect"
	"testing"
	"time"
)

// TestDecodeAheadGivesTheViewsADirectDecodeGives checks that the views
// DecodeAhead keeps are those View decodes when asked directly, that each
// is handed out once, and that one decoded for another day is not used.
func TestDecodeAheadGivesTheViewsADirectDecodeGives(t *testing.T) {
	day := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	direct := loadDir(t, "../../examples/acme")
	direct.Now = day
	ahead := loadDir(t, "../../examples/acme")
	ahead.Now = day
	ahead.DecodeAhead = true
	if len(direct.Config.Environments) < 2 {
		t.Fatalf("examples/acme declares %v; the test needs several environments", direct.Config.Environments)
	}
	first := direct.Config.Environments[0]
	gotFirst, gotDiags := ahead.View(first)
	wantFirst, wantDiags := direct.View(first)
	if !reflect.DeepEqual(gotFirst, wantFirst) || !reflect.DeepEqual(gotDiags, wantDiags) {
		t.Fatalf("View(%s) with DecodeAhead differs from a direct decode", first)
	}
	if len(ahead.ahead) != len(direct.Config.Environments)-1 {
		t.Fatalf("kept %d views ahead, want %d", len(ahead.ahead), len(direct.Config.Environments)-1)
	}
	for _, env := range direct.Config.Environments[1:] {
		got, gotDiags := ahead.View(env)
		want, wantDiags := direct.View(env)
		if got.Env != env || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotDiags, wantDiags) {
			t.Fatalf("View(%s) decoded ahead differs from a direct decode", env)
		}
		if _, kept := ahead.ahead[env]; kept {
			t.Fatalf("View(%s) is still kept after it was handed out", env)
		}
	}

	// acme writes relative dates: a view decoded ahead for one day must
	// not serve another.
	ahead.View(first)
	second := direct.Config.Environments[1]
	stale := ahead.ahead[second].view
	ahead.Now = day.Add(48 * time.Hour)
	direct.Now = ahead.Now
	got, _ := ahead.View(second)
	want, _ := direct.View(second)
	if got == stale || !reflect.DeepEqual(got, want) {
		t.Fatalf("View(%s) served a view decoded for another day", second)
	}
}
