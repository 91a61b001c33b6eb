// Package wire converts between the cedargate.v1 API messages
// (package cedargatev1) and cedar-go's types, in both directions, and
// validates everything that arrives from outside.
//
// The proto → Cedar direction ([DecodeRequest], [DecodeBatch] and the
// smaller decoders) is the server's request path. It fails closed: a
// request that is not exactly representable in Cedar, names an invalid
// entity type, carries an extension literal Cedar would reject, or exceeds
// a [Limits] bound is refused with a [*FieldError] naming the offending
// field, such as
//
//	context["src_ip"].extension.arg: "10.0.0.300" is not a valid ip (...)
//
// which [Status] turns into a gRPC INVALID_ARGUMENT. Extension values are
// parsed with cedar-go's own parsers, so their meaning is Cedar's. The path
// allocates only what the Cedar values themselves need: no reflection, and
// no fmt unless a request is refused. [DecodeRequestBody] takes a typical
// Authorize body straight from its protobuf encoding to the same engine
// request, and leaves every other body to the general way.
//
// The Cedar → proto direction ([EncodeRequest], [EncodeValue], ...) serves
// clients and tests. It is exact: decoding what it encodes gives a value
// equal to the original, and a value that has no exact wire form (a string
// that is not UTF-8, an extension value whose text cedar-go cannot parse
// back) is an error rather than an approximation.
//
// [EncodeResponse] and [DecodeResponse] carry an engine decision the other
// way, from the server back to the client.
package wire
