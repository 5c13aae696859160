package transcoder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/internal/wsguard"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/routing"
)

// WebSocket. A GET request with "Connection: Upgrade" and "Upgrade: websocket" on the path of a
// streaming binding is served as a WebSocket, whatever HTTP method the binding names (an HTTP/1.1
// upgrade is always a GET, and streaming methods are usually bound to POST):
//
//   - Client to gateway: each text frame is one request message as JSON (the whole request; path
//     variables override its fields, as for NDJSON lines); each binary frame is one request message
//     in the protobuf wire format. Text frames are held to the request's JSON limits before they
//     are decoded (policy.MessageLimits, put in the handshake's context by the limits policy: a
//     frame over them ends the call as a malformed one does, INVALID_ARGUMENT naming the limit and
//     close code 4003), and once decoded inspected by the request's message inspector (the WAF's);
//     binary frames are protobuf, which neither reads. An empty text frame
//     half-closes: the client sends no more, and the responses keep coming (a client-streaming
//     call answers then). For server streaming the one request is built from the handshake's path
//     and query, and a data frame from the client is a protocol violation (the socket closes with
//     1008); a binding whose body is "*" takes its request as a body alone, which a socket cannot
//     carry, and its handshake is refused with 400.
//   - Gateway to client: each response message is a text frame {"result": <message>}, the NDJSON
//     line without its newline; a google.api.HttpBody response message is a binary frame of its
//     data.
//   - The end. OK: a close frame 1000 (normal closure). A failure: a last text frame
//     {"error": <google.rpc.Status>} with the whole status (details included), then a close frame
//     whose code is 4000 + the gRPC code (4005 for NOT_FOUND, 4013 for INTERNAL) and whose reason
//     is the status message (cut to the 123 bytes a close frame holds). Clients that only watch the
//     close event still learn the code; the frame carries the rest.
//
// A client that closes the socket, or whose connection drops, cancels the upstream call. A client
// that breaks the protocol (RFC 6455: an unmasked frame, reserved bits set, an unknown opcode, a
// control frame over 125 bytes) ends the call with INVALID_ARGUMENT, and the socket closes with
// 1002 Protocol Error, no error frame before it, as the RFC fails a connection (7.1.7): nothing more
// of the client's is read (protocolError). A message
// may be as large as the handler's body limit (WithMaxBodyBytes; 64 MiB at most): a frame whose
// header announces more for its message (fragments counted) closes the socket with 1009 Message Too
// Big as soon as its header arrives, none of its payload read (internal/wsguard), the reason naming
// the length and the limit, and ends the call. The handshake's headers become
// metadata as for any REST call; upstream headers and trailers are not relayed (the 101 response
// leaves before the upstream answers). A handshake the gateway refuses (routing, origin, a bad
// request) gets an ordinary error response.

// isWebSocket reports whether r asks for a WebSocket.
func isWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && hasToken(r.Header["Connection"], "upgrade") && hasToken(r.Header["Upgrade"], "websocket")
}

// hasToken reports whether a comma-separated header names token, case-insensitively.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// matchUpgrade finds the binding of a WebSocket handshake that Match refused with 405: a streaming
// binding of another HTTP method on the same path. Otherwise it returns err.
func (rt *Router) matchUpgrade(r *http.Request, p *Params, err error) (*Binding, error) {
	var e *Error
	if !errors.As(err, &e) || e.allow == "" {
		return nil, err
	}
	path, raw := r.URL.Path, false
	if r.URL.RawPath != "" {
		path, raw = r.URL.RawPath, true
	}
	for m := range strings.SplitSeq(e.allow, ", ") {
		if b, lerr := rt.Lookup(m, path, raw, p); lerr == nil && b.kind != routing.KindUnary {
			return b, nil
		}
	}
	return nil, err
}

// wsCloseTimeout bounds the last frames of a socket: the error frame and the close handshake.
const wsCloseTimeout = 5 * time.Second

func (s *Streams) serveWebSocket(c *Call) {
	if err := s.checkOrigin(c.r); err != nil {
		c.WriteError(err)
		return
	}
	var req []byte
	if b := c.binding; b.kind == routing.KindServerStream {
		if b.body == "*" {
			// The request is the body, which the socket cannot carry (it takes no data frame), and
			// the query sets none of its fields: refused, rather than called with an empty request.
			c.WriteError(NewError(codes.InvalidArgument, fmt.Sprintf("%s takes its request as the body of %s %s, "+
				"which a WebSocket does not carry: send it as that body, and the responses stream back as "+
				"newline-delimited JSON (or Server-Sent Events, with Accept: text/event-stream)",
				b.method.FullName(), b.httpMethod, b.template)))
			return
		}
		var err error
		if req, err = c.requestBytes(); err != nil {
			c.WriteError(err)
			return
		}
	}
	st, err := c.openStream()
	if err != nil {
		c.WriteError(err)
		return
	}
	// The origin is checked above, with the error model's responses. frames is nil when c.w cannot
	// hand over its connection: Accept refuses the handshake (501).
	w, frames := wsguard.Wrap(c.w)
	conn, err := websocket.Accept(w, c.r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		st.finish(errClientGone) // Accept has answered the handshake
		return
	}
	limit := min(c.h.maxBody, maxStreamMessage)
	conn.SetReadLimit(limit)
	frames.SetLimit(limit)
	// Reads and writes run on contexts of their own: the library closes the socket when an
	// operation's context ends, even one that has just completed, and the socket must stay open
	// for the last frames after the upstream call is over (an abort ends st.ctx, and then the
	// error frame must still go out). Writes end when the client is gone.
	wctx, clientGone := context.WithCancel(context.Background())
	defer clientGone()
	gone := func() {
		clientGone()
		st.abort(errClientGone)
	}
	read := make(chan struct{})
	if c.binding.kind == routing.KindServerStream {
		close(read)
		if err := st.send(req); err != nil && !isEOF(err) {
			st.abort(upstreamError(err))
		} else if err := st.closeSend(); err != nil {
			st.abort(err)
		}
		closeRead(conn, frames, st, gone)
	} else {
		go func() {
			defer close(read)
			c.readFrames(st, conn, frames, gone)
		}()
	}

	var f routing.Frame
	var buf []byte
	for {
		err := st.cs.RecvMsg(&f)
		if err != nil {
			err = st.result(err)
			st.finish(err)
			c.closeWebSocket(conn, err)
			break
		}
		data := f.Bytes()
		f.Free()
		typ, frame := websocket.MessageText, []byte(nil)
		if c.binding.responseRaw {
			typ = websocket.MessageBinary
			_, frame, err = c.httpBody(data)
		} else if buf, err = appendResultLine(buf[:0], c, data); err == nil {
			frame = buf[:len(buf)-1]
		}
		if err != nil {
			st.abort(err)
			continue
		}
		if err := conn.Write(wctx, typ, frame); err != nil {
			gone()
		}
	}
	<-read
}

// readFrames sends the client's frames upstream until it half-closes, the call ends or the socket
// closes. frames is what conn is read through (nil: nothing): a frame it stops ends the call.
func (c *Call) readFrames(st *upstreamStream, conn *websocket.Conn, frames *wsguard.Guard, gone func()) {
	limits := policy.MessageLimitsFrom(c.r.Context())
	inspector := policy.MessageInspectorFrom(c.r.Context())
	for n := 1; ; n++ {
		typ, data, err := conn.Read(context.Background())
		if err != nil {
			if tooBig := frames.Refused(); tooBig != nil {
				closeTooBig(conn, tooBig)
				st.abort(&Error{code: codes.ResourceExhausted, msg: fmt.Sprintf(
					"message %d of %d bytes announced, over the limit of %d bytes", n, tooBig.Announced, tooBig.Limit)})
				return
			}
			readFailed(st, frames, err, gone)
			return
		}
		var msg []byte
		switch {
		case typ == websocket.MessageText && len(data) == 0:
			if err := st.closeSend(); err != nil {
				st.abort(err)
			}
			closeRead(conn, frames, st, gone)
			return
		case typ == websocket.MessageText:
			err = checkMessageLimits(st.ctx, limits, data)
			if err == nil {
				msg, err = c.decodeStreamMessage(data)
			}
			if err == nil {
				err = inspectMessage(st.ctx, inspector, data)
			}
		default:
			// Protobuf, which neither the JSON limits nor the WAF's rules read: bounded by the frame
			// size limit alone, as gRPC messages are by theirs.
			msg = data
			if werr := checkWire(data); werr != nil {
				err = badRequest("", fmt.Sprintf("invalid protobuf message for %s: %v", c.binding.method.Input().FullName(), werr))
			}
		}
		if err != nil {
			st.abort(numbered(err, "message", n))
			return
		}
		if err := st.send(msg); err != nil {
			if !isEOF(err) {
				st.abort(upstreamError(err))
			}
			return // the upstream has ended the call: its status closes the socket
		}
	}
}

// checkMessageLimits holds one WebSocket text frame to the request's JSON limits
// (policy.MessageLimits) before it is decoded, when the request's policies put them in its context;
// limits is nil otherwise. NDJSON lines need no such check: the limits hold the body they are read
// from. A refusal is the gateway's own, as inspectMessage's is.
func checkMessageLimits(ctx context.Context, limits policy.MessageLimits, msg []byte) error {
	if limits == nil {
		return nil
	}
	if err := limits.CheckMessage(ctx, msg); err != nil {
		return ownRefusal(err)
	}
	return nil
}

// readFailed ends the call of st when a read of the client's frames, through frames, failed with
// err: with the client's protocol error when it broke the protocol (the read stopped, so that
// closeWebSocket's close handshake does not wait on the client), otherwise by gone, the client
// having closed the socket or dropped the connection, or closeWebSocket having closed it once the
// call was over.
func readFailed(st *upstreamStream, frames *wsguard.Guard, err error, gone func()) {
	if pe := readProtocolError(err); pe != nil {
		frames.Stop()
		st.abort(pe)
		return
	}
	gone()
}

// protocolError ends a call whose client broke the WebSocket protocol: the call reports
// INVALID_ARGUMENT, and closeWebSocket closes the socket with 1002 Protocol Error, the reason the
// library's words for what it refused.
type protocolError struct {
	reason string
	err    *Error // the status
}

func (e *protocolError) Error() string { return e.err.msg }

// Unwrap gives the error model the status.
func (e *protocolError) Unwrap() error { return e.err }

// readProtocolError returns the protocol error a read of the client's frames failed with, or nil
// when the connection failed instead: a close frame from the client, the connection dropped or
// closed. coder/websocket reports a frame it refuses (RFC 6455 5.1, 5.2, 5.5) with an error of
// its own words, wrapping none of those; for some it has sent its close frame, 1002, already (not
// for an unmasked frame).
func readProtocolError(err error) *protocolError {
	var netErr net.Error
	switch {
	case websocket.CloseStatus(err) != -1, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.As(err, &netErr):
		return nil
	}
	for inner := errors.Unwrap(err); inner != nil; inner = errors.Unwrap(err) {
		err = inner // the library's words, without its "failed to get reader: "
	}
	return &protocolError{reason: err.Error(), err: &Error{code: codes.InvalidArgument, msg: "WebSocket protocol error: " + err.Error()}}
}

// closeRead reads what the client sends once it may send no more messages (a server-streaming
// call, or after its half-close), in a goroutine of its own, as coder/websocket's CloseRead does:
// the library answers its control frames, and a data frame closes the socket with 1008 Policy
// Violation. One that frames stops (nil: none), announced over the read limit, closes it with 1009
// at its header instead (CloseRead would drop the connection without a close frame). Once the read
// has ended the call of st ends: by gone, the socket closing, or with the client's protocol error
// (readFailed).
func closeRead(conn *websocket.Conn, frames *wsguard.Guard, st *upstreamStream, gone func()) {
	go func() {
		_, _, err := conn.Reader(context.Background())
		switch tooBig := frames.Refused(); {
		case err == nil:
			// The client sent what the call takes no more of: the call ends with its error, not
			// as if the client had gone, even should it go during the close handshake.
			st.blame(errUnexpectedMessage)
			_ = conn.Close(websocket.StatusPolicyViolation, "unexpected data message")
			st.abort(errUnexpectedMessage)
			return
		case tooBig != nil:
			closeTooBig(conn, tooBig)
		default:
			readFailed(st, frames, err, gone)
			return
		}
		gone()
	}()
}

// errUnexpectedMessage ends a call whose client sent a data message once it could send no more.
var errUnexpectedMessage = &Error{code: codes.InvalidArgument, msg: "a WebSocket data message after the request's last (the call takes no more)"}

// closeTooBig closes the socket with 1009 Message Too Big for the frame the guard stopped the read
// at, the reason naming its length and the limit. The close handshake ends at once: every read
// fails once the guard has stopped one.
func closeTooBig(conn *websocket.Conn, tooBig *wsguard.TooBig) {
	_ = conn.Close(websocket.StatusMessageTooBig, closeReason(tooBig.Error()))
}

// closeWebSocket ends the socket with the call's result: see the comment at the top of the file.
func (c *Call) closeWebSocket(conn *websocket.Conn, err error) {
	if err == nil {
		_ = conn.Close(websocket.StatusNormalClosure, "")
		return
	}
	var pe *protocolError
	if errors.As(err, &pe) {
		// The client's read is stopped: the close handshake ends at once. After the library's own
		// 1002 this sends nothing more.
		_ = conn.Close(websocket.StatusProtocolError, closeReason(pe.reason))
		return
	}
	e := asError(err)
	ctx, cancel := context.WithTimeout(context.Background(), wsCloseTimeout)
	defer cancel()
	frame := appendErrorLine(nil, e, c.router.types)
	if conn.Write(ctx, websocket.MessageText, frame[:len(frame)-1]) != nil {
		_ = conn.CloseNow()
		return
	}
	_ = conn.Close(websocket.StatusCode(4000+int(e.code)), closeReason(e.msg))
}

// closeReason is msg cut to fit a close frame (123 bytes), on a character boundary.
func closeReason(msg string) string {
	const max = 123
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if len(msg) <= max {
		return msg
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}

// checkOrigin refuses a browser handshake from another origin unless the CORS policy allowed it
// (policy.CrossOriginAllowed) or a pattern does; requests without an Origin header (not from a
// browser) pass. The check is the one coder/websocket's Accept
// makes, done here so that a refusal is rendered in the error model.
func (s *Streams) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil {
		return NewError(codes.PermissionDenied, fmt.Sprintf("WebSocket origin %q is not a URL", origin))
	}
	if strings.EqualFold(r.Host, u.Host) || policy.CrossOriginAllowed(r.Context()) {
		return nil
	}
	for _, p := range s.origins {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return nil
		}
	}
	return NewError(codes.PermissionDenied, fmt.Sprintf("WebSocket from origin %q refused: allow it in policies.cors.allowed_origins", origin))
}
