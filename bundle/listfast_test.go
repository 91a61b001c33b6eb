package bundle

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// fastSeeds are list elements in and out of the form the hand reader
// reads.
var fastSeeds = []string{
	`{"id":"entitlement:User/a:p","source":"identities/a.yaml:3:1","origin":"Entitlement","principal":{"type":"User","id":"a"},"parent":{"type":"AccessProfile","id":"p"},"members":true,"not_before":"2026-01-02T03:04:05Z","not_after":"2026-12-01T00:00:00.5+01:00"}`,
	`{"id":"profile:p#0","source":"p.yaml:1:1","origin":"AccessProfile","cedar":"permit (principal in A::\"p\", action, resource)\nwhen { \"\\/\" };","template":true}`,
	` { "id" : "a" , "id":"b", "members":false } `,
	`{}`,
	`{"ID":"case"}`,
	`{"id":"\u00e9"}`,
	`{"id":"bad utf8 ` + "\xff" + `"}`,
	`{"id":null}`,
	`{"id":7}`,
	`{"not_after":"tomorrow"}`,
	`{"not_after":null}`,
	`{"principal":{"type":"T","id":"x","extra":1}}`,
	`{"i\u0064":"escaped key"}`,
	`{"members":true,}`,
	`{"cedar":"tab	raw"}`,
	`{"id":"a"} trailing`,
}

// TestFastReaderAgreesWithEncodingJSON holds the hand reader to
// encoding/json: whatever it reads, encoding/json reads to the same
// grant or policy; and it reads what Encode writes.
func TestFastReaderAgreesWithEncodingJSON(t *testing.T) {
	for _, seed := range fastSeeds {
		checkFast(t, []byte(seed))
	}
	exp := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, v := range []any{
		&Grant{ID: "g", Source: "s:1:1", Origin: "Entitlement", Principal: UID{"User", "a"}, Parent: UID{"AccessProfile", "p"}, Members: true, NotBefore: &exp, NotAfter: &exp},
		&Policy{ID: "p#0", Source: "p.cedar:1:1", Origin: "policy", Cedar: "permit (principal == User::\"a\", action, resource)\nwhen { context.x < 3 && \"é\" like \"*\" };", Template: true, NotAfter: &exp},
	} {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fresh := reflect.New(reflect.TypeOf(v).Elem()).Interface().(fastElement)
		if !fresh.readFast(raw, interner{}) {
			t.Errorf("the hand reader declines what Encode writes: %s", raw)
		}
		if !reflect.DeepEqual(fresh, v) {
			t.Errorf("read %+v, want %+v", fresh, v)
		}
	}
}

func FuzzFastReader(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkFast)
}

// checkFast checks the hand reader against encoding/json on raw, as a
// grant and as a policy.
func checkFast(t *testing.T, raw []byte) {
	for _, typ := range []reflect.Type{reflect.TypeFor[Grant](), reflect.TypeFor[Policy]()} {
		fast := reflect.New(typ).Interface().(fastElement)
		if !fast.readFast(raw, interner{}) {
			continue
		}
		slow := reflect.New(typ).Interface()
		if err := strictUnmarshal(bytes.Clone(raw), slow); err != nil {
			t.Fatalf("%s: the hand reader read %s, encoding/json refuses it: %v", typ, raw, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%s: %s reads as %+v by hand, %+v by encoding/json", typ, raw, fast, slow)
		}
	}
}
