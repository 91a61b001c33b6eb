package cedarjson_test

import (
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/cedargate/cedargate/pdp/cedarjson"
)

const schemaText = `namespace Acme {
  entity User, Group;
  entity Host { ip: ipaddr, owner: User } tags ipaddr;
  action read appliesTo {
    principal: [User], resource: [Host],
    context: {
      source_ip: ipaddr,
      amount?: decimal,
      at?: datetime,
      ttl?: duration,
      owner?: User,
      nets?: Set<ipaddr>,
      route?: { via: ipaddr, hops: Set<{ gw: ipaddr }> },
      mfa?: Bool,
      note?: String,
    }
  };
}
namespace Other { entity User; }
`

var read = types.NewEntityUID("Acme::Action", "read")

func converter(t *testing.T) *cedarjson.Converter {
	t.Helper()
	c, err := cedarjson.NewFromSchemaText([]byte(schemaText), "Acme")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustIP(t *testing.T, s string) types.IPAddr {
	t.Helper()
	ip, err := types.ParseIPAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return ip
}

// TestContextConverts converts each kind of value the schema can ask for
// from the plain JSON people write, nested in sets and records.
func TestContextConverts(t *testing.T) {
	c := converter(t)
	dec, _ := types.ParseDecimal("1.5")
	dt, _ := types.ParseDatetime("2026-01-31T09:00:00Z")
	dur, _ := types.ParseDuration("1h30m")
	for name, tt := range map[string]struct {
		json  string
		field types.String
		want  types.Value
	}{
		"ipaddr":             {`{"source_ip":"10.1.1.1"}`, "source_ip", mustIP(t, "10.1.1.1")},
		"cidr":               {`{"source_ip":"10.0.0.0/8"}`, "source_ip", mustIP(t, "10.0.0.0/8")},
		"decimal":            {`{"amount":"1.5"}`, "amount", dec},
		"datetime":           {`{"at":"2026-01-31T09:00:00Z"}`, "at", dt},
		"duration":           {`{"ttl":"1h30m"}`, "ttl", dur},
		"entity short":       {`{"owner":"User/alice"}`, "owner", types.NewEntityUID("Acme::User", "alice")},
		"entity qualified":   {`{"owner":"Acme::User/alice"}`, "owner", types.NewEntityUID("Acme::User", "alice")},
		"entity cedar":       {`{"owner":"Acme::User::\"alice\""}`, "owner", types.NewEntityUID("Acme::User", "alice")},
		"entity implicit":    {`{"owner":{"type":"Acme::User","id":"alice"}}`, "owner", types.NewEntityUID("Acme::User", "alice")},
		"cedar json extn":    {`{"source_ip":{"__extn":{"fn":"ip","arg":"10.1.1.1"}}}`, "source_ip", mustIP(t, "10.1.1.1")},
		"cedar json entity":  {`{"owner":{"__entity":{"type":"Acme::User","id":"alice"}}}`, "owner", types.NewEntityUID("Acme::User", "alice")},
		"set":                {`{"nets":["10.0.0.0/8","192.168.1.1"]}`, "nets", types.NewSet(mustIP(t, "10.0.0.0/8"), mustIP(t, "192.168.1.1"))},
		"bool stays":         {`{"mfa":true}`, "mfa", types.True},
		"undeclared is json": {`{"extra":"10.1.1.1"}`, "extra", types.String("10.1.1.1")},
		"nested": {`{"route":{"via":"10.0.0.1","hops":[{"gw":"10.0.0.2"}]}}`, "route", types.NewRecord(types.RecordMap{
			"via":  mustIP(t, "10.0.0.1"),
			"hops": types.NewSet(types.NewRecord(types.RecordMap{"gw": mustIP(t, "10.0.0.2")})),
		})},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, err := c.Context(read, []byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := ctx.Get(tt.field)
			if !ok || !got.Equal(tt.want) {
				t.Fatalf("%s = %v, want %v", tt.field, got, tt.want)
			}
		})
	}
}

// TestContextErrorsNameThePath checks that a value that does not convert
// is an error naming its field from `context`, nested or not.
func TestContextErrorsNameThePath(t *testing.T) {
	c := converter(t)
	for name, tt := range map[string]struct{ json, want string }{
		"ipaddr":      {`{"source_ip":"x"}`, `context.source_ip: "x" is not an ipaddr: write an IPv4 or IPv6 address`},
		"decimal":     {`{"amount":"1.55555"}`, `context.amount: "1.55555" is not a decimal`},
		"datetime":    {`{"at":"yesterday"}`, `context.at: "yesterday" is not a datetime`},
		"duration":    {`{"ttl":"forever"}`, `context.ttl: "forever" is not a duration`},
		"entity":      {`{"owner":"alice"}`, `context.owner: "alice" is not an entity UID: write Type/id`},
		"set element": {`{"nets":["10.0.0.1","nope"]}`, `context.nets[1]: "nope" is not an ipaddr`},
		"nested":      {`{"route":{"via":"10.0.0.1","hops":[{"gw":"10.0.0.2"},{"gw":"gw"}]}}`, `context.route.hops[1].gw: "gw" is not an ipaddr`},
		"odd key":     {`{"route":{"via":"10.0.0.1","hops":[]}, "a b": {"__extn": {"fn": "nope", "arg": "x"}}}`, `context["a b"]: `},
		"not object":  {`[1]`, `context: must be a JSON object, not set`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Context(read, []byte(tt.json))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to start with %q", err, tt.want)
			}
		})
	}
}

// TestWithoutSchemaJSONIsCedarJSON checks the pass-through: with no schema
// a string stays a string and Cedar's escapes are read.
func TestWithoutSchemaJSONIsCedarJSON(t *testing.T) {
	c := cedarjson.New(nil, "")
	ctx, err := c.Context(read, []byte(`{"source_ip":"10.1.1.1","ip":{"__extn":{"fn":"ip","arg":"10.1.1.1"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ctx.Get("source_ip"); v != types.String("10.1.1.1") {
		t.Errorf("source_ip = %v, want the string", v)
	}
	if v, _ := ctx.Get("ip"); !v.Equal(mustIP(t, "10.1.1.1")) {
		t.Errorf("ip = %v, want the ipaddr", v)
	}
}

// TestEntities converts request entities' attributes and tags by their
// type, and names the entity by its index in errors.
func TestEntities(t *testing.T) {
	c := converter(t)
	ents, err := c.Entities([]byte(`[{"uid":{"type":"Acme::Host","id":"h1"},"parents":[],
		"attrs":{"ip":"10.0.0.5","owner":"User/bob"},"tags":{"gw":"10.0.0.1"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	e := ents[0]
	if v, _ := e.Attributes.Get("ip"); !v.Equal(mustIP(t, "10.0.0.5")) {
		t.Errorf("ip = %v", v)
	}
	if v, _ := e.Attributes.Get("owner"); v != types.NewEntityUID("Acme::User", "bob") {
		t.Errorf("owner = %v", v)
	}
	if v, _ := e.Tags.Get("gw"); !v.Equal(mustIP(t, "10.0.0.1")) {
		t.Errorf("tag gw = %v", v)
	}
	_, err = c.Entities([]byte(`[{"uid":{"type":"Acme::User","id":"a"},"parents":[],"attrs":{}},
		{"uid":{"type":"Acme::Host","id":"h2"},"parents":[],"attrs":{"ip":"host-2","owner":"User/bob"}}]`))
	if err == nil || !strings.HasPrefix(err.Error(), `entities[1].attrs.ip: "host-2" is not an ipaddr`) {
		t.Fatalf("error %v", err)
	}
}

// TestUID reads every form of UID, and resolves short types in the
// schema.
func TestUID(t *testing.T) {
	c := converter(t)
	for text, want := range map[string]types.EntityUID{
		`User/alice`:          types.NewEntityUID("Acme::User", "alice"),
		`Acme::User/alice`:    types.NewEntityUID("Acme::User", "alice"),
		`Other::User/alice`:   types.NewEntityUID("Other::User", "alice"),
		`Acme::User::"alice"`: types.NewEntityUID("Acme::User", "alice"),
		`Host/db/1`:           types.NewEntityUID("Acme::Host", "db/1"),
		`Undeclared/x`:        types.NewEntityUID("Acme::Undeclared", "x"),
		`Acme::User::"a\"b"`:  types.NewEntityUID("Acme::User", `a"b`),
	} {
		got, err := c.UID(text)
		if err != nil || got != want {
			t.Errorf("UID(%s) = %v, %v; want %v", text, got, err, want)
		}
	}
	if got, err := c.ActionUID("read"); err != nil || got != read {
		t.Errorf("ActionUID(read) = %v, %v", got, err)
	}
	if got, err := c.ActionUID("Action/read"); err != nil || got != read {
		t.Errorf("ActionUID(Action/read) = %v, %v", got, err)
	}
	for _, bad := range []string{"alice", "/alice", "User/", `User::"alice`} {
		if u, err := c.UID(bad); err == nil {
			t.Errorf("UID(%s) = %v, want an error", bad, u)
		}
	}
	plain := cedarjson.New(nil, "")
	if got, _ := plain.UID("User/alice"); got != types.NewEntityUID("User", "alice") {
		t.Errorf("without schema or namespace: %v", got)
	}
}

// TestCheckNamesTheField checks the explanation of a refused context.
func TestCheckNamesTheField(t *testing.T) {
	c := converter(t)
	for name, tt := range map[string]struct {
		ctx  types.RecordMap
		want string
	}{
		"string for ipaddr": {types.RecordMap{"source_ip": types.String("10.1.1.1")}, `context.source_ip: expected ipaddr, got string "10.1.1.1"`},
		"missing":           {types.RecordMap{}, `context.source_ip: required by the schema, missing`},
		"undeclared":        {types.RecordMap{"source_ip": mustIP(t, "10.1.1.1"), "zz": types.True}, `context.zz: not declared in the schema`},
		"wrong entity":      {types.RecordMap{"source_ip": mustIP(t, "10.1.1.1"), "owner": types.NewEntityUID("Acme::Group", "g")}, `context.owner: expected entity Acme::User, got entity Acme::Group::"g"`},
		"set element":       {types.RecordMap{"source_ip": mustIP(t, "10.1.1.1"), "nets": types.NewSet(types.Long(1))}, `context.nets[]: expected ipaddr, got long 1`},
		"nested":            {types.RecordMap{"source_ip": mustIP(t, "10.1.1.1"), "route": types.NewRecord(types.RecordMap{"via": types.True, "hops": types.NewSet()})}, `context.route.via: expected ipaddr, got bool true`},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.CheckContext(read, types.NewRecord(tt.ctx))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
		})
	}
	if err := c.CheckContext(read, types.NewRecord(types.RecordMap{"source_ip": mustIP(t, "10.1.1.1")})); err != nil {
		t.Fatalf("a valid context: %v", err)
	}
}
