// Package cedargatev1 is the Go code for the cedargate.v1 gRPC API: the
// messages and the client and server stubs of AuthorizationService
// (Authorize, BatchAuthorize) and AdminService (GetStatus).
//
// The API is defined by the .proto files in this directory, which document
// every message and field. The *.pb.go files are generated from them by
// `make proto` with pinned plugins and committed; never edit them by hand,
// and `make proto-check` fails when they are stale.
//
// Cedar values travel as [Value], whose oneof cases are the wrapper types
// [Value_Boolean], [Value_Long], [Value_String_] (the proto field is named
// "string", so Go adds an underscore), [Value_Set], [Value_Record],
// [Value_Entity] and [Value_Extension].
package cedargatev1
