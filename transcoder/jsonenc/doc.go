// Package jsonenc appends JSON scalars to byte slices: strings, floats, base64 bytes, and the
// Timestamp and Duration forms of protobuf's JSON mapping. It is the one encoder of these values for
// the code that writes JSON by hand on a hot path: the REST front's wire-to-JSON renderer, the
// GraphQL response writer and the access log.
//
// Strings have two policies, each defined as the output of a reference encoder and fuzzed against
// it, so neither is a matter of taste:
//   - AppendString writes what encoding/json writes with HTML escaping off: for JSON read by
//     anything, including JavaScript and line-oriented log tools.
//   - AppendProtoString writes what protojson writes, and refuses invalid UTF-8 as protojson does:
//     for REST responses, which match protojson's (and so grpc-gateway's) output byte for byte.
//
// Every function appends to dst and allocates only when dst has to grow.
//
// The package lives under transcoder because the top level is fixed (DESIGN.md) and JSON for
// protobuf values is the transcoder's concern in that layout. It imports nothing from the module, so
// the GraphQL front and the policies use it without depending on the REST front, as they use
// policies/telemetry/callinfo.
package jsonenc
