package transcoder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/routing"
)

// Streaming over REST. Streams is the StreamServer of the REST front; which wire format a call gets
// depends on the method's streaming kind and the request:
//
//   - A WebSocket upgrade (GET with Upgrade: websocket) on the path of any streaming binding, whatever
//     the binding's HTTP method: one message per frame both ways (stream_ws.go).
//   - Server streaming, and bidi streaming over plain HTTP: the responses as newline-delimited JSON,
//     {"result": <message>} a line, as grpc-gateway writes them (stream_ndjson.go); or, when the
//     request's Accept prefers text/event-stream, as Server-Sent Events (stream_sse.go). Responses
//     that are google.api.HttpBody messages are one document instead, their data one after the
//     other (stream_httpbody.go).
//   - Client streaming, and the requests of bidi streaming over plain HTTP: the body is
//     newline-delimited JSON, one request message a line (stream_body.go); a client-streaming call's
//     single response is rendered as a unary one.
//
// Each streamed request message is the whole request as JSON; path variables then override its
// fields (and query parameters set the fields the path and body leave, unless the body is "*"), as
// for a unary request. Responses honour response_body. Each JSON request message (a line, a text
// frame) is handed, once decoded and before it goes upstream, to the request's
// policy.MessageInspector when its policies put one in its context (the WAF does, for streams it
// cannot read ahead); a refusal ends the call as any failure of a request message does. A WebSocket
// text frame is held to the request's JSON limits first (policy.MessageLimits), as a body is by
// the limits policy itself.
//
// Failures. Until the first response message, a failure is an ordinary error response (the HTTP
// status of the code table and a google.rpc.Status body), with the upstream's headers and trailers
// as Grpc-Metadata-* and Grpc-Trailer-* headers. Once the first message is out, the status is 200 and
// a failure is the stream's last element: {"error": <google.rpc.Status>} in NDJSON, an "error" event
// in SSE, a final frame and a close code in WebSocket; a google.api.HttpBody stream, which has no
// place for it, is cut off (stream_httpbody.go). Upstream headers go out with the first message
// as Grpc-Metadata-*; trailers arrive after the body has begun and are sent as HTTP trailers
// Grpc-Trailer-* (HTTP/1.1 chunked and HTTP/2 both carry them).
//
// A client that goes away (its connection closed, or the WebSocket closed) cancels the upstream call.
// Every call is routed with Call.Route and reports its outcome with Upstream.DoneWith exactly once,
// so circuit breakers, outlier detection and concurrency limits see streams as they see unary calls.

// Streams serves the streaming calls of the REST front: plug it in with WithStreaming. Build it with
// NewStreams; it holds no per-call state and is safe for concurrent use.
type Streams struct {
	origins []string
}

// StreamsOption configures NewStreams.
type StreamsOption func(*Streams)

// WithWebSocketOrigins lets browsers on other origins open WebSockets: host patterns as path.Match
// takes them ("app.example.com", "*.example.com"), or "scheme://host" patterns. By default only
// same-origin browser requests (Origin's host equal to Host) and clients that send no Origin are
// accepted; others get 403, which keeps other sites' pages from using a visitor's cookies
// (cross-site WebSocket hijacking).
func WithWebSocketOrigins(patterns ...string) StreamsOption {
	return func(s *Streams) { s.origins = append(s.origins, patterns...) }
}

// NewStreams returns the streaming server. It fails on an origin pattern path.Match cannot read.
func NewStreams(opts ...StreamsOption) (*Streams, error) {
	s := new(Streams)
	for _, o := range opts {
		o(s)
	}
	for _, p := range s.origins {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("transcoder: WebSocket origin pattern %q: %w", p, err)
		}
	}
	return s, nil
}

// ServeStream serves one call of a streaming method. A google.api.HttpBody stream that fails after
// its first message is cut off: ServeStream then panics with http.ErrAbortHandler, once the call is
// over and, over HTTP/2, its reset delayed (see stream_httpbody.go); net/http's servers abort the
// response on it.
func (s *Streams) ServeStream(c *Call) {
	if isWebSocket(c.r) {
		s.serveWebSocket(c)
		return
	}
	switch c.binding.kind {
	case routing.KindServerStream:
		c.serveServerStream()
	case routing.KindClientStream:
		c.serveClientStream()
	default:
		c.serveBidiStream()
	}
	if c.cutOff {
		c.delayReset()
		panic(http.ErrAbortHandler)
	}
}

// upstreamStream is the upstream half of one streaming call: the routed upstream, its client stream,
// and the first failure the gateway itself caused (a bad request line, a client gone).
type upstreamStream struct {
	up     routing.Upstream
	cs     grpc.ClientStream
	ctx    context.Context // the call's context: ends when the call does
	cancel context.CancelFunc

	mu      sync.Mutex
	aborted error // set once by abort
	done    bool
}

// openStream routes the call and opens its upstream stream. The stream must be ended with finish.
func (c *Call) openStream() (*upstreamStream, error) {
	md, err := c.Metadata()
	if err != nil {
		return nil, err
	}
	ctx, cancelTimeout, err := c.Context()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := func() { cancel(); cancelTimeout() }
	up, err := c.Route(ctx, md)
	if err != nil {
		stop()
		return nil, err
	}
	desc := grpc.StreamDesc{
		ServerStreams: c.binding.kind == routing.KindServerStream || c.binding.kind == routing.KindBidiStream,
		ClientStreams: c.binding.kind == routing.KindClientStream || c.binding.kind == routing.KindBidiStream,
	}
	cs, err := up.Conn.NewStream(up.Ctx, &desc, c.binding.fullMethod, c.CallOptions()...)
	if err != nil {
		up.DoneWith(err)
		stop()
		return nil, upstreamError(err)
	}
	return &upstreamStream{up: up, cs: cs, ctx: ctx, cancel: stop}, nil
}

// abort ends the call because of err, the gateway's side of it (a request message that does not
// decode, a client gone): the upstream call is cancelled, and err, not Canceled, is what the call
// reports. The first abort wins.
func (s *upstreamStream) abort(err error) {
	s.blame(err)
	s.cancel()
}

// blame records err as what ends the call, as abort does, without ending it yet: for a cause known
// before the step that ends the call, which may take a while, and meanwhile see the client go.
func (s *upstreamStream) blame(err error) {
	s.mu.Lock()
	if s.aborted == nil {
		s.aborted = err
	}
	s.mu.Unlock()
}

// result turns the error that ended the upstream stream into the call's: nil for io.EOF, the abort's
// error if the gateway ended it (recorded for the request's telemetry: the upstream's status is
// CANCELLED), the upstream's status otherwise.
func (s *upstreamStream) result(err error) error {
	s.mu.Lock()
	aborted := s.aborted
	s.mu.Unlock()
	switch {
	case aborted != nil:
		callinfo.EndCall(s.ctx, uint32(asError(aborted).code))
		return aborted
	case err == nil || errors.Is(err, io.EOF):
		return nil
	}
	return upstreamError(routing.StreamError(s.up.Ctx, err))
}

// errHeadersOnly ends the call of a HEAD once its headers are out: all the client asked for.
var errHeadersOnly = status.Error(codes.Canceled, "HEAD: the response's headers are all the client asked for")

// stop ends a call its client has all it asked of (a HEAD, answered once the first message gave the
// headers): the upstream call is cancelled and reported to the routing core as Canceled, not as the
// upstream's failure, and to the request's telemetry as OK.
func (s *upstreamStream) stop() {
	callinfo.EndCall(s.ctx, uint32(codes.OK))
	s.finish(errHeadersOnly)
}

// finish reports the call's result to the upstream (its breaker, outlier detection, limits) and
// releases it. It is called once the upstream stream has ended, or to end it (stop); later calls do
// nothing.
func (s *upstreamStream) finish(err error) {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.done = true
	s.mu.Unlock()
	s.up.DoneWith(reportable(err))
	s.cancel()
}

// reportable is err as the routing core classifies it: the gateway's own errors about the request
// (a bad line) are not the upstream's failures, so they are reported as Canceled.
func reportable(err error) error {
	var e *Error
	if errors.As(err, &e) && e.cause == nil {
		return status.Error(codes.Canceled, e.msg)
	}
	return err
}

// send sends one request message upstream. A stream the upstream has already ended answers io.EOF:
// the upstream's status comes from RecvMsg.
func (s *upstreamStream) send(msg []byte) error {
	var f routing.Frame
	f.SetBytes(msg)
	err := s.cs.SendMsg(&f)
	if err != nil {
		f.Free()
	}
	return err
}

// errClientGone is what a call reports when its client went away.
var errClientGone = status.Error(codes.Canceled, "the client went away")

// decodeStreamMessage decodes one streamed JSON request message (a line, a WebSocket frame) and
// returns its wire encoding; path variables override its fields, and the query sets others unless
// the body is "*", as for a unary request.
func (c *Call) decodeStreamMessage(data []byte) ([]byte, error) {
	b := c.binding
	if len(b.vars) == 0 && (b.body == "*" || c.r.URL.RawQuery == "") {
		return c.DecodeJSON(data)
	}
	msg := dynamicpb.NewMessage(b.method.Input())
	if err := c.decodeBody(msg, data, formatJSON, contentTypeJSON); err != nil {
		return nil, err
	}
	if err := c.bindPathAndQuery(msg); err != nil {
		return nil, err
	}
	return marshalRequest(msg)
}

// inspectMessage has a policy inspect one streamed JSON message (a line, a WebSocket text frame)
// before it goes upstream: the WAF's per-message inspection (policy.MessageInspector), when the
// request's policies put one in its context; in is nil otherwise. A refusal keeps its status and
// details, and is the gateway's own, not the upstream's: the call is reported as cancelled to its
// breaker and outlier detection (see reportable).
func inspectMessage(ctx context.Context, in policy.MessageInspector, msg []byte) error {
	if in == nil {
		return nil
	}
	if err := in.InspectMessage(ctx, msg); err != nil {
		return ownRefusal(err)
	}
	return nil
}

// ownRefusal is a policy's refusal of a message as an error of the gateway's own: its status and
// details kept, its cause dropped, so that the call is reported as cancelled rather than failed
// (see reportable).
func ownRefusal(err error) error {
	e := *asError(err)
	e.cause = nil
	return &e
}

// numbered prefixes the message of a request error with where it happened ("line 3").
func numbered(err error, what string, n int) error {
	e := *asError(err)
	e.msg = fmt.Sprintf("%s %d: %s", what, n, e.msg)
	return &e
}

// serveServerStream serves a server-streaming call over plain HTTP: one request built as for a unary
// call, the responses as NDJSON or SSE.
func (c *Call) serveServerStream() {
	req, err := c.requestBytes()
	if err != nil {
		c.WriteError(err)
		return
	}
	st, err := c.openStream()
	if err != nil {
		c.WriteError(err)
		return
	}
	if err := st.send(req); err != nil && !errors.Is(err, io.EOF) {
		st.abort(upstreamError(err))
	}
	if err := st.cs.CloseSend(); err != nil {
		st.abort(upstreamError(err))
	}
	c.relay(st, newResponseStream(c))
}

// serveClientStream serves a client-streaming call over plain HTTP: the NDJSON body's lines as the
// request messages, the single response rendered as a unary response.
func (c *Call) serveClientStream() {
	st := c.openBodyStream()
	if st == nil {
		return
	}
	if err := c.sendBody(st, &bodyDeadline{rc: http.NewResponseController(c.w)}); err != nil {
		st.abort(err)
	}
	var resp routing.Frame
	err := st.cs.RecvMsg(&resp)
	err = st.result(err)
	header, _ := st.cs.Header()
	trailer := st.cs.Trailer()
	st.finish(err)
	c.WriteMetadata(header, trailer)
	if err != nil {
		resp.Free()
		c.WriteError(err)
		return
	}
	data := resp.Bytes()
	resp.Free()
	c.render(data)
}

// serveBidiStream serves a bidi-streaming call over plain HTTP, as grpc-gateway does: the NDJSON
// body's lines go upstream while the responses come back as NDJSON or SSE. With HTTP/1.1 the
// exchange is full duplex where the client allows it (responses may arrive while the body is still
// being sent); a client that sends its whole body first gets the same answer.
func (c *Call) serveBidiStream() {
	st := c.openBodyStream()
	if st == nil {
		return
	}
	rc := http.NewResponseController(c.w)
	_ = rc.EnableFullDuplex() // HTTP/2 is full duplex already; a writer that cannot is half duplex
	dl := &bodyDeadline{rc: rc}
	if c.r.ProtoMajor == 1 {
		// When the upstream ends first, the body read still waiting is stopped below, and with
		// HTTP/1 that ends the connection's context in net/http (and leaves the body's framing
		// unread): a next request on the connection would start cancelled. The connection
		// carries this call only.
		c.w.Header().Set("Connection", "close")
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if err := c.sendBody(st, dl); err != nil {
			st.abort(err)
		}
	}()
	c.relay(st, newResponseStream(c))
	// The upstream has ended: stop a body read still waiting for the client, so that the reader is
	// done before the handler returns.
	select {
	case <-sent:
	default:
		dl.stop()
		<-sent
	}
}

// openBodyStream opens the upstream stream of a call whose request messages are the lines of its
// body (client and bidi streaming), once the body's type says it holds lines. On failure it has
// answered the request and returns nil.
func (c *Call) openBodyStream() *upstreamStream {
	if err := checkStreamBodyType(c.r.Header.Get("Content-Type")); err != nil {
		c.WriteError(err)
		return nil
	}
	st, err := c.openStream()
	if err != nil {
		c.WriteError(err)
		return nil
	}
	return st
}

// sendBody sends the lines of the request body upstream and half-closes the stream. It stops early,
// without error, when the upstream ends the call (its status then comes from RecvMsg). The first
// line must arrive in the time the front allows it, under dl's bound (see body_time.go); the others
// may take as long as the client likes.
func (c *Call) sendBody(st *upstreamStream, dl *bodyDeadline) error {
	if c.r.Body == nil || c.r.Body == http.NoBody {
		return st.closeSend()
	}
	maxLine := int(min(c.h.maxBody, maxStreamMessage))
	lines := newMessageReader(c.r.Body, c.r.Header.Get("Content-Type"), maxLine)
	inspector := policy.MessageInspectorFrom(c.r.Context())
	wait := dl.bound(c.h.readTime, firstMessageAnnounced(c.r.ContentLength, maxLine))
	for first := true; ; first = false {
		line, err := lines.next()
		if first && (err == nil || errors.Is(err, io.EOF)) {
			dl.lift()
		}
		if errors.Is(err, io.EOF) {
			return st.closeSend()
		}
		if err != nil {
			if first {
				// (Before the context: on HTTP/1.x, net/http cancels the request's context when a
				// read of its connection fails, as this one does on the bound's deadline.)
				if late := dl.late(err, wait); late != nil {
					return late
				}
			}
			if st.ctx.Err() != nil {
				return nil // the call ended while the body was being read; its status tells why
			}
			return err
		}
		msg, err := c.decodeStreamMessage(line)
		if err == nil {
			err = inspectMessage(st.ctx, inspector, line)
		}
		if err != nil {
			what, n := lines.position()
			return numbered(err, what, n)
		}
		if err := st.send(msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return upstreamError(err)
		}
	}
}

func (s *upstreamStream) closeSend() error {
	if err := s.cs.CloseSend(); err != nil {
		return upstreamError(err)
	}
	return nil
}

// relay copies the upstream's responses to the client in the format of out until the upstream
// stream ends, and finishes the call.
func (c *Call) relay(st *upstreamStream, out responseStream) {
	var f routing.Frame
	var buf []byte
	started := false
	for {
		err := st.cs.RecvMsg(&f)
		if err != nil {
			err = st.result(err)
			trailer := st.cs.Trailer()
			st.finish(err)
			if !started {
				// Nothing written yet: an ordinary response, trailers as headers.
				header, _ := st.cs.Header()
				c.WriteMetadata(header, trailer)
				if err != nil {
					c.WriteError(err)
					return
				}
				out.start(nil)
				out.end(nil, nil)
				return
			}
			out.end(trailer, err)
			return
		}
		data := f.Bytes()
		f.Free()
		if !started {
			header, _ := st.cs.Header()
			writeMetadata(c.w.Header(), metadataHeaderPrefix, header)
			out.start(data)
			started = true
			if c.r.Method == http.MethodHead {
				st.stop() // the headers are all a HEAD asks for (a google.api.HttpBody stream's: Router.head)
				return
			}
		}
		if buf, err = out.message(buf[:0], data); err != nil {
			st.abort(err) // the response does not render: end the call with Internal
			continue
		}
		if err := out.flush(buf); err != nil {
			st.abort(errClientGone)
		}
	}
}

// maxStreamMessage bounds a streamed request message (a line, a frame) when the handler's body
// limit is larger.
const maxStreamMessage = 64 << 20

// aLongTimeAgo is a read deadline in the past: it wakes a blocked body read.
var aLongTimeAgo = time.Unix(1, 0)

// responseStream writes the responses of a streaming call in one format: NDJSON, SSE, or the data
// of google.api.HttpBody messages.
type responseStream interface {
	// start sets the response headers and sends them with status 200. first is the first response
	// message (wire bytes), nil when the stream ended without one: the headers may depend on it.
	start(first []byte)
	// message appends one response message (wire bytes), rendered, to b.
	message(b, data []byte) ([]byte, error)
	// flush writes b and flushes it to the client; an error means the client is gone.
	flush(b []byte) error
	// end finishes a stream that has started: the upstream's trailers, and the failure that ended
	// it (nil for OK) as the stream's last element.
	end(trailer metadata.MD, err error)
}

// newResponseStream picks the response format: the data of google.api.HttpBody responses whatever
// the request accepts; else, from the request's Accept header, SSE when it prefers
// text/event-stream (acceptsEventStream), NDJSON otherwise.
func newResponseStream(c *Call) responseStream {
	if c.binding.responseRaw {
		return &httpBodyStream{c: c, rc: http.NewResponseController(c.w)}
	}
	if acceptsEventStream(c.r.Header["Accept"]) {
		return &sseStream{c: c, rc: http.NewResponseController(c.w)}
	}
	return &ndjsonStream{c: c, rc: http.NewResponseController(c.w)}
}

// appendResponseJSON appends the JSON of one response message (wire bytes), honouring
// response_body: straight from the wire bytes where it can, else through protojson.
func (c *Call) appendResponseJSON(b, data []byte) ([]byte, error) {
	if c.binding.responseJSON != nil && !c.h.emitUnpopulated {
		if out, err := c.binding.responseJSON.appendJSON(b, data, 0); err == nil {
			return out, nil
		}
	}
	msg, err := c.decodeResponse(data)
	if err != nil {
		return nil, err
	}
	target, last := c.responseTarget(msg)
	out, err := c.marshalJSON(b, target, last)
	if err != nil {
		return nil, &Error{code: codes.Internal, msg: fmt.Sprintf("rendering the response as JSON: %v", err), cause: err}
	}
	return out, nil
}

// setTrailers sets the upstream's trailers as HTTP trailers Grpc-Trailer-<key>, after the headers
// have been sent.
func setTrailers(h http.Header, trailer metadata.MD) {
	if len(trailer) == 0 {
		return
	}
	tmp := make(http.Header, len(trailer))
	writeMetadata(tmp, trailerHeaderPrefix, trailer)
	for name, values := range tmp {
		h[http.TrailerPrefix+name] = values
	}
}

// setStreamHeaders sets the headers every streamed response carries.
func setStreamHeaders(h http.Header, contentType string) {
	h.Del("Content-Length")
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx and others: pass each message on at once
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
