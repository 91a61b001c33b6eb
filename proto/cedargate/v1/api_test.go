package cedargatev1_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	cedargatev1 "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// TestAuthorizeRequestRoundTrip checks that a request using every Value
// kind, nested in sets, records, entity attributes and tags, survives the
// wire format unchanged.
func TestAuthorizeRequestRoundTrip(t *testing.T) {
	ref := func(typ, id string) *cedargatev1.EntityRef {
		return &cedargatev1.EntityRef{Type: typ, Id: id}
	}
	str := func(s string) *cedargatev1.Value {
		return &cedargatev1.Value{Kind: &cedargatev1.Value_String_{String_: s}}
	}
	ext := func(fn, arg string) *cedargatev1.Value {
		return &cedargatev1.Value{Kind: &cedargatev1.Value_Extension{Extension: &cedargatev1.Extension{Fn: fn, Arg: arg}}}
	}
	in := &cedargatev1.AuthorizeRequest{
		Principal: ref("Acme::ServiceAccount", "ledger-bot"),
		Action:    ref("Acme::Action", "read"),
		Resource:  ref("Acme::Service", "payments-api"),
		Context: map[string]*cedargatev1.Value{
			"mfa":      {Kind: &cedargatev1.Value_Boolean{Boolean: true}},
			"attempts": {Kind: &cedargatev1.Value_Long{Long: -3}},
			"reason":   str("incident 42"),
			"scopes": {Kind: &cedargatev1.Value_Set{Set: &cedargatev1.ValueList{Values: []*cedargatev1.Value{
				str("read"), str("write"),
			}}}},
			"client": {Kind: &cedargatev1.Value_Record{Record: &cedargatev1.ValueMap{Values: map[string]*cedargatev1.Value{
				"src_ip": ext("ip", "10.1.2.3"),
				"owner":  {Kind: &cedargatev1.Value_Entity{Entity: ref("Acme::Team", "payments")}},
			}}}},
			"amount": ext("decimal", "12.3456"),
			"at":     ext("datetime", "2024-10-15T11:35:00Z"),
			"ttl":    ext("duration", "1h30m"),
		},
		Entities: []*cedargatev1.Entity{{
			Uid:     ref("Acme::Document", "q3-report"),
			Attrs:   map[string]*cedargatev1.Value{"classification": str("confidential")},
			Parents: []*cedargatev1.EntityRef{ref("Acme::Folder", "finance")},
			Tags:    map[string]*cedargatev1.Value{"cost-center": {Kind: &cedargatev1.Value_Long{Long: 4711}}},
		}},
	}

	b, err := proto.Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	out := &cedargatev1.AuthorizeRequest{}
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if !proto.Equal(in, out) {
		t.Errorf("round trip changed the request\nsent:\n%s\nreceived:\n%s", prototext.Format(in), prototext.Format(out))
	}

	// Every oneof case must have been exercised, so a case added to the
	// .proto without a test here fails.
	seen := map[protoreflect.Name]bool{}
	var walk func(v *cedargatev1.Value)
	walk = func(v *cedargatev1.Value) {
		fd := v.ProtoReflect().WhichOneof(v.ProtoReflect().Descriptor().Oneofs().ByName("kind"))
		if fd == nil {
			t.Fatalf("value with no kind after round trip: %v", v)
		}
		seen[fd.Name()] = true
		for _, e := range v.GetSet().GetValues() {
			walk(e)
		}
		for _, e := range v.GetRecord().GetValues() {
			walk(e)
		}
	}
	for _, v := range out.GetContext() {
		walk(v)
	}
	for _, e := range out.GetEntities() {
		for _, v := range e.GetAttrs() {
			walk(v)
		}
		for _, v := range e.GetTags() {
			walk(v)
		}
	}
	fields := (&cedargatev1.Value{}).ProtoReflect().Descriptor().Oneofs().ByName("kind").Fields()
	for i := range fields.Len() {
		if name := fields.Get(i).Name(); !seen[name] {
			t.Errorf("Value kind %q not covered by the round trip", name)
		}
	}
}

// TestServiceNames pins the fully qualified service and method names that
// clients, Envoy configuration and grpcurl scripts depend on.
func TestServiceNames(t *testing.T) {
	tests := []struct {
		name    string
		service protoreflect.ServiceDescriptor
		methods []protoreflect.Name
	}{
		{
			name:    "cedargate.v1.AuthorizationService",
			service: cedargatev1.File_cedargate_v1_authorization_proto.Services().ByName("AuthorizationService"),
			methods: []protoreflect.Name{"Authorize", "BatchAuthorize"},
		},
		{
			name:    "cedargate.v1.AdminService",
			service: cedargatev1.File_cedargate_v1_admin_proto.Services().ByName("AdminService"),
			methods: []protoreflect.Name{"GetStatus", "GetSchema"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.service == nil {
				t.Fatalf("service %s not found in its file descriptor", tt.name)
			}
			if got := string(tt.service.FullName()); got != tt.name {
				t.Errorf("FullName = %q, want %q", got, tt.name)
			}
			var got []protoreflect.Name
			for i := range tt.service.Methods().Len() {
				got = append(got, tt.service.Methods().Get(i).Name())
			}
			if !slices.Equal(got, tt.methods) {
				t.Errorf("methods = %v, want %v", got, tt.methods)
			}
		})
	}

	// The names the gRPC stubs register must agree with the descriptors.
	for _, tc := range []struct{ got, want string }{
		{cedargatev1.AuthorizationService_ServiceDesc.ServiceName, "cedargate.v1.AuthorizationService"},
		{cedargatev1.AuthorizationService_Authorize_FullMethodName, "/cedargate.v1.AuthorizationService/Authorize"},
		{cedargatev1.AuthorizationService_BatchAuthorize_FullMethodName, "/cedargate.v1.AuthorizationService/BatchAuthorize"},
		{cedargatev1.AdminService_ServiceDesc.ServiceName, "cedargate.v1.AdminService"},
		{cedargatev1.AdminService_GetStatus_FullMethodName, "/cedargate.v1.AdminService/GetStatus"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
