// Package wsguard stops a WebSocket's read at the header of a frame that announces a message over
// the read limit, for the fronts that serve WebSockets with coder/websocket: the GraphQL front's
// (graphql-transport-ws and graphql-ws, through gqlgen's transport) and the REST front's streaming
// calls.
//
// coder/websocket's read limit (Conn.SetReadLimit) counts a message's bytes as it reads them, and
// refuses the message with 1009 once it has read the limit and one more. A frame whose header
// announces more is read all the same, up to the limit, and then the library's close handshake
// reads the rest of its payload, announced as up to 2^63 bytes, a byte at a time, before the
// connection closes; a client that announces a huge frame and sends nothing holds the socket open
// for as long as it likes.
//
// # Data flow
//
// A front accepts the socket on the ResponseWriter Wrap returns: its Hijack hands the library the
// connection read through a Guard, beneath the library, the bytes the server read ahead of the
// handshake's end included. The front gives the Guard the read limit it gives the library
// (Guard.SetLimit). The Guard follows the frames' headers as their bytes go by, and stops the read
// at the header of a data frame that takes the message it is part of over the limit, before the
// library has the header whole: the library's read fails, and so does every read after it,
// its close handshake's included, so the connection ends at once having read none of the payload.
// The front sees the refusal (Guard.Refused, a *TooBig naming the length and the limit) and
// closes the socket with 1009 Message Too Big. A front that fails the connection for another reason
// (a frame the library refuses as a protocol error) stops the read itself (Guard.Stop) before it
// closes the socket, so that the close handshake does not wait on the client either.
package wsguard
