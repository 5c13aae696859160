// Package listen splits one cleartext listener between the native gRPC server
// and net/http, and closes the connections of clients that reset their
// HTTP/2 streams as soon as they open them (Guard).
//
// grpc.Server.Serve on its own listener is 2-3x faster than
// grpc.Server.ServeHTTP behind net/http, yet the gateway serves gRPC,
// gRPC-Web, REST and GraphQL on one port. A Split accepts every connection of
// the port, looks at its opening bytes, and hands it to one of two child
// listeners:
//
//	base listener ──Accept──> Split.Serve ──goroutine per conn: classify──┬─> GRPC() ─> grpc.Server.Serve
//	                                                                      └─> HTTP() ─> http.Server.Serve
//
// # Classification
//
// A connection that does not open with the HTTP/2 client preface
// ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") goes to HTTP(): HTTP/1.1, which
// carries REST, GraphQL and gRPC-Web. After a preface the Split reads HTTP/2
// frames (SETTINGS, then any WINDOW_UPDATE, PING, PRIORITY, PRIORITY_UPDATE
// or unknown frames) up to the end of the first header block, decodes it,
// and sends the connection to GRPC() if its content-type is one the native
// server accepts (application/grpc, alone or followed by "+" or ";"), and to
// HTTP() otherwise: REST or gRPC-Web over HTTP/2 with prior knowledge, for
// which the http.Server needs UnencryptedHTTP2 in its Protocols. HTTP/1.1
// Upgrade to h2c is not supported (net/http no longer offers it).
//
// The decision is per connection: a connection that mixes gRPC and other
// requests goes where its first request goes, and the other server answers
// the rest as it would any request it does not serve (the native gRPC server
// answers 415 to non-gRPC requests). Clients open separate connections for
// gRPC and for other traffic in practice.
//
// The server whose listener accepts a connection reads it from its first
// byte: the bytes the Split read are replayed before the socket.
//
// # The SETTINGS frame the Split writes
//
// grpc-go and grpc-java clients send no request until they have read the
// server's SETTINGS frame, so a sniffer that only listens would wait for
// them until its timeout. On a preface the Split therefore writes one empty
// SETTINGS frame (which changes no setting) before it reads on; the server
// that gets the connection sends its own SETTINGS as usual, and the client
// applies both in order. The client acknowledges both, and net/http treats an
// acknowledgement of SETTINGS it never sent as a connection error, so the
// handed-over connection removes the client's first SETTINGS ACK from what
// the server reads. This is the only byte the Split ever writes; an HTTP/1
// connection gets none.
//
// # Limits and errors
//
// Classification never blocks Accept: each connection is read in its own
// goroutine, under a deadline (WithSniffTimeout, default 10 s) and a byte cap
// (WithMaxSniffBytes, default 64 KiB). A connection that runs out of either,
// ends, or sends an invalid HTTP/2 opening is closed without an answer. The
// one exception is a first request whose header block goes on past the cap:
// it is a request, and it goes to net/http, which serves gRPC too and answers
// one whose headers are over the gateway's limits.
//
// # Shutdown
//
// Closing a child listener, as grpc.Server.Stop, GracefulStop and
// http.Server.Shutdown do, stops that server only: the base listener and the
// other child go on, Accept on the closed child returns net.ErrClosed and
// connections classified for it are closed. Split.Close closes the base
// listener and the connections still being classified; Serve then returns
// nil and both children return net.ErrClosed. Connections already accepted
// by a server belong to that server. Both children must be served (or
// closed): a classified connection waits until its listener accepts it.
//
// # TLS
//
// There is no TLS split here. With TLS, ALPN makes gRPC and REST clients
// alike negotiate h2, so one connection's protocol says nothing about the
// requests on it; the gateway serves TLS with http.Server and dispatches per
// request. Do not put a tls.Listener under a Split.
//
// # Premature resets
//
// An HTTP/2 client can open a stream and reset it at once, over and over
// ("rapid reset", CVE-2023-44487): each stream costs the server a request to
// start, and the client nothing, and resets free their streams, so
// SETTINGS_MAX_CONCURRENT_STREAMS bounds nothing. Guard wraps the port's
// listener, under the Split or the TLS listener, so that every connection
// counts its streams as its server's handlers end them (Resets.StreamEnded):
// a stream its client reset before its response was complete, within
// Lifetime (default 1 s) of its start, is premature. Streams are counted in
// windows of Window ended streams (default 500); once more than half of a
// window's streams are premature (at its Window/2+1st premature reset,
// whatever the rest of the window would be) the connection is closed. These
// are Envoy's defaults. A client that cancels some of its calls (deadlines,
// users leaving a page) keeps its connection: it takes a majority of a
// window. The connection is closed without a GOAWAY, which neither server
// offers for one connection.
//
// Only the servers' handlers know when a stream ended, and whether its
// client reset it: they report to the Resets of their connection, which
// ResetsOf finds through the connections wrapped around it (a Split's, a
// *tls.Conn). A connection that failed or was closed first is not closed
// again for the streams that end with it.
//
// # What the servers lose
//
// The servers see a wrapping net.Conn, not *net.TCPConn. net/http keeps
// CloseWrite and sendfile through it; grpc-go skips TCP_USER_TIMEOUT (which
// it sets from its keepalive parameters only on *net.TCPConn) and channelz
// socket options.
package listen
