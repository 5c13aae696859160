// Package resolvers executes GraphQL operations against the gateway's unified schema: it is the
// GraphQL front, a hand-written graphql.ExecutableSchema served by gqlgen's handler, with no
// generated code. NewHandler builds it once per snapshot from the snapshot's *schema.Schema and a
// Caller (the routing core's *routing.Proxy); the front swaps the handler whole with the snapshot. A
// WebSocket stays on the handler it was upgraded under, and starts no operation once that is no
// longer the snapshot's (Options.Current): it closes with 1012, and its client reconnects.
//
// # Data flow
//
// gqlgen's WebSocket transport and the package's POST and GET transports (http.go), which answer
// in the response type Accept negotiates by its q-values and, for GET, read the query string as
// the request's policies parsed it (policy.Query: one parse for the firewall, the handler's checks
// and the transport), and its SSE transport (sse.go), read the request; a WebSocket's messages
// are held to the request's JSON limits first, when its policies put a policy.MessageLimits in its context
// (wsprotocol.go), as a POST's body is by the limits policy itself. gqlgen's executor runs the
// extensions that see the request before its document is parsed: the message inspection of
// operations sent over a WebSocket (the WAF's, when the request's policies put a
// policy.MessageInspector in its context; inspect.go), persisted operations and APQ, then the
// limits of the document itself (its size, the number of fields and fragment spreads validation
// will check, and of fragments, for which it parses the document when gqlgen has not validated it
// yet: validation's time grows with the square of the fields sharing a response name, and of the
// fragments spread in one selection set). gqlgen then parses the document (with an LRU cache of parsed
// documents), validates it and the variables, and runs the extensions that measure the
// operation: the limits (depth, aliases, root fields), complexity, introspection. Then Exec runs
// the operation in three steps:
//
//  1. Root fields. Each root field's arguments become its request message, encoded straight to
//     protobuf's wire form (input.go), and its method is called through Caller.Route and
//     Upstream.Conn.Invoke with routing.Frame messages: the bytes go out and come back untouched.
//     A query's root fields run in parallel (identical ones once); a mutation's in order.
//  2. Links, in waves. The responses are walked along the selections for link fields; each link
//     registers its call. When the walk is done, the wave's calls run in parallel: every distinct
//     call once, and every batched link's keys collected into one call of its batch method (more
//     only beyond 500 keys), whatever the number of parents and however deep they sit. A batch
//     first meets the policies of the method its links call (Caller.Admit), as one decision
//     weighing one call per key, so a link gets that method's decision as its field would, and
//     holds that method's concurrency slots until the batch call is over. The results are walked
//     for the next wave, until a wave finds no link. So listing N orders with their users and
//     products costs three calls, and independent calls never wait for each other: a query
//     across three services costs about one service's latency, not three.
//  3. Output. The writer (output.go) turns the wire bytes into the response JSON following the
//     selections: only selected fields, __typename, enums by name, 64-bit integers as strings,
//     bytes in base64, Timestamp and Duration in protobuf's JSON form, wrappers as nullable
//     scalars, maps and Struct as JSON. Nothing goes through dynamicpb or an intermediate JSON
//     document, except Any and messages inside maps, which protojson renders.
//
// A subscription is a server-streaming call opened on the subscription's context; each message
// goes through steps 2 and 3. The client unsubscribing or going away cancels the context and so
// the upstream call.
//
// # Errors
//
// A failed call, an invalid argument or malformed upstream data is a field error: the field is
// null, or if it is non-null its nearest nullable ancestor is, and the error carries the path,
// the location, extensions.code (the gRPC code's name, e.g. NOT_FOUND) and extensions.details (the
// status details in protobuf's JSON form, each with "@type"). Everything else still resolves. The
// error presenter builds every error a client sees, so raw gRPC error text never leaves. Request
// errors keep gqlgen's codes (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED,
// PERSISTED_QUERY_NOT_FOUND) or use this package's (the Code constants); a limit's refusal also
// names the limit, its max and the actual value (extensions limit, max, actual). A document that
// does not validate is answered with its first 100 errors, and one saying the list was cut; but a
// persisted operation that does not validate is the operator's fault, not the client's: NewHandler
// validates them once, Handler.PersistedProblems reports those that fail, and a call to one is
// refused with INTERNAL (persisted.go).
//
// # Metadata
//
// Upstream calls carry, as gRPC metadata, the request headers on an allowlist: Authorization,
// X-Request-Id, Traceparent, Tracestate, Baggage, plus Options.ForwardHeaders (to which the gateway
// adds, per snapshot, the headers its routes match on and its ring_hash clusters hash, so routing
// sees them as it does a gRPC call's). Over WebSocket the upgrade request's headers count, and the
// connection_init payload's string values stand in for those it lacks (by header name, at the top
// level or in a "headers" object): the same keys go upstream, and the policies read any of them, an
// API key's header included, as they read the upgrade's (policy.Request.InitHeader).
package resolvers
