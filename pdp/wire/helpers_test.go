package wire_test

import (
	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// Builders for wire messages, so that test tables read like the values
// they hold.

func ref(typ, id string) *cedargatev1.EntityRef { return &cedargatev1.EntityRef{Type: typ, Id: id} }

func str(s string) *cedargatev1.Value {
	return &cedargatev1.Value{Kind: &cedargatev1.Value_String_{String_: s}}
}
func long(n int64) *cedargatev1.Value {
	return &cedargatev1.Value{Kind: &cedargatev1.Value_Long{Long: n}}
}
func boolean(b bool) *cedargatev1.Value {
	return &cedargatev1.Value{Kind: &cedargatev1.Value_Boolean{Boolean: b}}
}
func ext(fn, arg string) *cedargatev1.Value {
	return &cedargatev1.Value{Kind: &cedargatev1.Value_Extension{Extension: &cedargatev1.Extension{Fn: fn, Arg: arg}}}
}
func set(vs ...*cedargatev1.Value) *cedargatev1.Value {
	return &cedargatev1.Value{Kind: &cedargatev1.Value_Set{Set: &cedargatev1.ValueList{Values: vs}}}
}
func record(m map[string]*cedargatev1.Value) *cedargatev1.Value {
	return &cedargatev1.Value{Kind: &cedargatev1.Value_Record{Record: &cedargatev1.ValueMap{Values: m}}}
}
func entityValue(typ, id string) *cedargatev1.Value {
	return &cedargatev1.Value{Kind: &cedargatev1.Value_Entity{Entity: ref(typ, id)}}
}
