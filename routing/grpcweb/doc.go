// Package grpcweb serves gRPC-Web (the protocol browsers can speak, see
// PROTOCOL-WEB.md in grpc/grpc) by translating each request into a call of
// the gateway's one grpc.StreamHandler — the same handler its native gRPC
// server runs as grpc.UnknownServiceHandler — or of a service registered on
// the Handler, as on the native server. One proxy core, two transports:
// routing, policies and telemetry see a gRPC-Web call exactly as they see a
// native one.
//
// # Request
//
// A gRPC-Web request is an HTTP POST (any HTTP version) whose path is the
// gRPC method, /package.Service/Method, and whose Content-Type is
// application/grpc-web[+proto] (binary) or application/grpc-web-text[+proto]
// (the same bytes in base64). IsGRPCWebRequest recognises it; Handler serves
// it. Other HTTP methods get 405 with "Allow: POST", other content types
// 415. Everything after that is answered as a gRPC status.
//
// The handler's stream gets:
//   - a context derived from the request's, so a client that goes away
//     cancels the call; with the grpc-timeout header (1 to 8 digits and a
//     unit H M S m u n) as its deadline, malformed -> InvalidArgument;
//   - incoming metadata from the request headers, lower-cased, as a native
//     gRPC server would give it: hop-by-hop and transport headers (connection
//     and what it names, keep-alive, te, transfer-encoding, upgrade, host,
//     content-length, content-type, content-encoding, accept-encoding,
//     x-grpc-web, grpc-timeout, grpc-encoding, ...) dropped, -bin values
//     base64-decoded (padded or not), :authority set to the Host, and headers
//     gRPC metadata cannot carry (keys outside [0-9a-z-_.], values that are
//     not printable ASCII) dropped, since they could not be forwarded;
//   - a grpc.ServerTransportStream in the context, so grpc.Method,
//     grpc.MethodFromServerStream, grpc.SetHeader, grpc.SendHeader and
//     grpc.SetTrailer work as on a native server.
//
// RecvMsg reads the body as gRPC length-prefixed frames (flag byte, 4-byte
// big-endian length, payload), decoding text mode as it streams in; the body
// may be any concatenation of separately padded base64 chunks (CR and LF are
// ignored). RecvMsg returns io.EOF at the clean end of the body. A message
// over the size limit fails with ResourceExhausted before it is read, a
// compressed one with Unimplemented (browsers do not compress messages), and
// a broken body (truncated frame, malformed base64, a trailer or unknown
// flag) with Internal, as grpc-go reports a broken HTTP/2 stream. The payload
// bytes reach the handler's message through the Handler's codec
// (WithCodec), in the buffer-ownership terms of encoding.CodecV2.
//
// # Registered services
//
// A Handler is also a grpc.ServiceRegistrar. A service registered on it
// (RegisterService; the generated Register functions take a Handler) is
// served by its own handlers: the gateway registers grpc.health.v1 and
// server reflection there, the same implementations its native gRPC server
// has. Every other method, an unknown method of a registered service
// included, goes to the StreamHandler, as grpc.Server dispatches between its
// services and its UnknownServiceHandler. Unary and server-streaming methods
// take exactly one request message, as on grpc-go's server: a body with none
// or more fails the call with Internal ("cardinality violation"). Client and
// bidi streaming methods read every message of the body, so a server
// reflection client that sends its one request as the body, as gRPC-Web
// clients do, gets its answer.
//
// # Response
//
// Headers go out on the first SendMsg or SendHeader, or at the end: HTTP 200,
// Content-Type application/grpc-web+proto or application/grpc-web-text+proto
// after the request's mode, and the header metadata (-bin values base64).
// Each message is one frame, written and flushed at once, so server
// streaming reaches the browser message by message. When the handler
// returns, its status (converted as grpc-go converts a handler's error) ends
// the body as a trailer frame: flag 0x80 and lower-case "key: value\r\n"
// lines with grpc-status, grpc-message (percent-encoded as in gRPC),
// grpc-status-details-bin when the status has details, and the trailer
// metadata. A call that fails before any header or message was sent, and
// whose handler set no header metadata, gets a trailers-only response
// instead: all of that in the HTTP headers, with an empty body, and the HTTP
// headers the handler's error asks for when it has a method
// HTTPHeader() http.Header (a policy's WWW-Authenticate or Retry-After). (Like
// grpc-go, a call that did set header metadata sends headers and then a
// trailer frame, so that header and trailer metadata stay apart.) In text
// mode each frame goes out as one padded base64 chunk.
//
// -bin trailer values stay base64 in text mode too. PROTOCOL-WEB.md says the
// extra encoding "is skipped" there, but raw bytes could contain CR LF and
// break the trailer block, and Envoy, the reference gRPC-Web proxy, passes
// them through as base64 too.
//
// # Transport notes
//
// On HTTP/1.1 the handler enables full duplex when the response starts, so
// client and bidi streaming work (with clients that can stream a request
// body). A deadline (on HTTP/2 also a cancellation) ends a RecvMsg that is
// waiting for the client. The stream is a routing.RecvBounder: the handler
// may bound the time its request takes to arrive, which grows with the
// lengths the frames' headers announce as they come (the proxy bounds a
// call's request, a stream's first message). The stream follows grpc.ServerStream's rules: one
// goroutine may receive while another sends; after the handler returns every
// call on the stream fails instead of touching the finished response. CORS,
// response compression and access policies are other packages' business.
package grpcweb
