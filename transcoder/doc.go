// Package transcoder is the gateway's REST front: it turns HTTP/JSON calls into gRPC calls and back,
// per the services' google.api.http annotations, with descriptors known only at run time.
//
// Data flow. Off the request path, NewRouter compiles every exposed method's HttpRules (primary and
// additional_bindings, plus a default POST /{package.Service}/{Method} route for methods without a
// rule) into a Router: a trie of path segments whose leaves hold one Binding per HTTP method and
// custom verb. A Binding is the compiled plan of one rule: the field descriptors of its path
// variables, its body and response_body fields, the fields query parameters may not touch, and the
// update_mask to fill on PATCH. The registry compiles one Router per snapshot (Snapshot.REST).
//
// Per request, Handler loads the current Router, matches the method and path (Router.Match: one walk
// over the path, no allocation for a static path), builds the request message from the body, the
// path variables and the query (in that order, so the path wins over the body), encodes it, and
// calls the upstream through the routing core (the same Proxy.Route as the gRPC front, so routing,
// balancing and deadlines are shared). A JSON body with no query to bind takes a fast path instead:
// the binding's compiled plan transcodes it straight to wire bytes and appends the path variables
// (jsonwire.go, request_fast.go), leaving whatever it does not handle to the dynamic path, which then
// also reports the errors. The response is rendered as protojson, as binary protobuf when the client
// accepts it, or as raw bytes for google.api.HttpBody.
//
// Every failure, the gateway's own or the upstream's, is rendered by WriteError as a google.rpc.Status
// JSON body with the HTTP status of the standard code table (HTTPStatus).
//
// Streaming methods are matched like unary ones; their calls go to the StreamServer set with
// WithStreaming, and are answered 501 Unimplemented while none is. Streams is the front's own:
// server streaming as newline-delimited JSON ({"result": ...} a line, grpc-gateway's format) or
// Server-Sent Events (a stream of google.api.HttpBody as one document, its messages' data), client
// streaming from a newline-delimited JSON body, bidi streaming as both on
// one POST or as a WebSocket on the binding's path (a GET upgrade matches a streaming binding of any
// HTTP method). Streams open the upstream call through the same Route, report its end with
// Upstream.DoneWith, and cancel it when the client goes away; stream.go documents the formats. A
// stream's first request message must arrive in bounded time, the rest need not (body_time.go).
package transcoder
