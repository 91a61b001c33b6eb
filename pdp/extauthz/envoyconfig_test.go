package extauthz_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/goccy/go-yaml"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// TestEnvoyConfig checks deploy/envoy/envoy.yaml against Envoy's own API
// definitions, as far as they go without an Envoy binary: every field and
// typed config must exist (protojson refuses unknown ones) and pass
// Envoy's proto validation rules, and the ext_authz filter must be set up
// to fail closed in front of the router.
func TestEnvoyConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "envoy", "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	var boot bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &boot); err != nil {
		t.Fatalf("envoy.yaml is not an Envoy v3 bootstrap: %v", err)
	}
	validate(t, "bootstrap", &boot)

	listeners := boot.GetStaticResources().GetListeners()
	if len(listeners) != 1 || len(listeners[0].GetFilterChains()) != 1 {
		t.Fatalf("want one listener with one filter chain")
	}
	chain := listeners[0].GetFilterChains()[0]
	if chain.GetTransportSocket() == nil {
		t.Error("the listener does not terminate TLS: without mTLS there is no SPIFFE id to decide on")
	}
	var hcm hcmv3.HttpConnectionManager
	if err := chain.GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	if !hcm.GetNormalizePath().GetValue() || !hcm.GetMergeSlashes() {
		t.Error("paths are not normalised before ext_authz sees them")
	}
	var names []string
	var authz extauthzv3.ExtAuthz
	for _, f := range hcm.GetHttpFilters() {
		names = append(names, f.GetName())
		if f.GetName() == "envoy.filters.http.ext_authz" {
			if err := f.GetTypedConfig().UnmarshalTo(&authz); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want := []string{"envoy.filters.http.header_mutation", "envoy.filters.http.ext_authz", "envoy.filters.http.router"}; !slices.Equal(names, want) {
		t.Errorf("http filters = %q, want %q", names, want)
	}
	grpc := authz.GetGrpcService()
	switch {
	case authz.GetFailureModeAllow():
		t.Error("failure_mode_allow is true: the proxy would fail open")
	case authz.GetWithRequestBody() != nil:
		t.Error("with_request_body is set: bodies would be buffered and sent to the PDP")
	case grpc.GetEnvoyGrpc().GetClusterName() != "cedargate":
		t.Errorf("ext_authz calls cluster %q", grpc.GetEnvoyGrpc().GetClusterName())
	case grpc.GetTimeout().AsDuration() <= 0 || grpc.GetTimeout().AsDuration() > time.Second:
		t.Errorf("ext_authz timeout %v, want a short one", grpc.GetTimeout().AsDuration())
	case authz.GetTransportApiVersion().String() != "V3":
		t.Error("transport_api_version is not V3")
	}

	var pdpCluster *clusterv3.Cluster
	for _, c := range boot.GetStaticResources().GetClusters() {
		if c.GetName() == "cedargate" {
			pdpCluster = c
		}
	}
	if pdpCluster == nil {
		t.Fatal("no cedargate cluster")
	}
	var opts upstreamhttpv3.HttpProtocolOptions
	if err := pdpCluster.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&opts); err != nil ||
		opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Errorf("the cedargate cluster does not speak HTTP/2, which gRPC needs (%v)", err)
	}
	if hc := pdpCluster.GetHealthChecks(); len(hc) != 1 || hc[0].GetGrpcHealthCheck().GetServiceName() != "envoy.service.auth.v3.Authorization" {
		t.Error("the cedargate cluster does not health-check the ext_authz service")
	}
}

// validate runs Envoy's proto validation rules (protoc-gen-validate) on m
// and, since those do not look inside Any fields, on every typed config
// nested in it.
func validate(t *testing.T, where string, m proto.Message) {
	t.Helper()
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
	var walk func(where string, msg protoreflect.Message)
	walk = func(where string, msg protoreflect.Message) {
		if a, ok := msg.Interface().(*anypb.Any); ok {
			inner, err := a.UnmarshalNew()
			if err != nil {
				t.Errorf("%s: %v", where, err)
				return
			}
			validate(t, where+"("+a.GetTypeUrl()+")", inner)
			return
		}
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			path := where + "." + string(fd.Name())
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := 0; i < v.List().Len(); i++ {
					walk(path, v.List().Get(i).Message())
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(path+"["+k.String()+"]", mv.Message())
					return true
				})
			case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
				walk(path, v.Message())
			}
			return true
		})
	}
	walk(where, m.ProtoReflect())
}
