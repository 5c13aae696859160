// Package sanitize bounds and normalizes what requests of the HTTP fronts (REST, GraphQL, gRPC-Web)
// carry, before any front decodes them: body size, header count and size, URL length, path
// normalization (dot segments, empty segments, encoded slashes and dots, double encoding, NUL and
// control characters), UTF-8 in the path, query and JSON strings, and the shape of JSON bodies (depth,
// array and string lengths).
//
// Data flow: New compiles a config.Limits into a policy.Middleware once per snapshot. Per request the
// middleware checks the request target and headers, then the body:
//   - a body in a content coding (Content-Encoding other than identity), which neither front
//     decodes, is refused with 415;
//   - a body whose Content-Length is over the limit is refused with 413 before a byte is read,
//     unless it is a stream (below);
//   - a body is JSON, newline-delimited JSON or neither as the REST front reads its Content-Type
//     (transcoder.RequestBodyKind, the one reading of the header), whatever its parameters, so no
//     body the front decodes as JSON escapes the checks (the GraphQL front takes application/json
//     alone, JSON here too);
//   - a JSON body (no Content-Type, application/json or application/*+json) of known length is read
//     into a pooled buffer while JSONShape checks it, so a violation is answered at once with a
//     precise 400; the front then reads the same bytes from r.Body, so good requests reach it
//     unchanged;
//   - any other body, of unknown length (chunked) or not JSON (protobuf...), or a stream
//     (application/x-ndjson, application/jsonl and NDJSON's other names, to the REST front) is not
//     buffered: r.Body is wrapped so reading past the limit fails with *http.MaxBytesError (the
//     fronts answer 413) and a JSON shape violation fails the read with an InvalidArgument status
//     (400); a stream has no total limit, with a Content-Length or without: the REST front bounds
//     each of its messages when the method streams requests, and holds the whole body to this same
//     limit (WithMaxBodyBytes) when it does not. The GraphQL front reads no streams: NDJSON sent to
//     it is bounded as any other body;
//   - every body but a stream must arrive within bodyReadTime, by the length it announced (or,
//     without one, the most the limit lets it have): read by the middleware or by the front, one
//     that is later fails with 408. The REST front bounds a stream's first message itself, and lets
//     the rest come as slowly as the client likes;
//   - a WebSocket's messages come after the handshake: the handshake carries the limits in its
//     context, and the REST and GraphQL fronts hold each JSON message to them (messages.go);
//   - gRPC-Web bodies are framed protobuf: their messages are bounded by grpc.max_message_bytes, so
//     only the target and headers are checked.
//
// Refusals are rendered in the front's error shape: a google.rpc.Status JSON body through
// transcoder.WriteError for REST and GraphQL (413, 414, 415, 431 or 400 with a google.rpc.BadRequest
// detail naming the part of the request), a trailers-only response for gRPC-Web.
package sanitize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/transcoder"
)

// limits is a compiled config.Limits.
type limits struct {
	body, headerBytes, urlBytes, str int64
	headerCount, depth, array        int
	shapes                           sync.Pool // *JSONShape
}

// New compiles cfg into a middleware for the HTTP fronts. Zero fields take the defaults of
// config.Limits; negative ones are an error.
func New(cfg config.Limits) (policy.Middleware, error) {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"max_body_bytes", int64(cfg.MaxBodyBytes)}, {"max_header_count", int64(cfg.MaxHeaderCount)},
		{"max_header_bytes", int64(cfg.MaxHeaderBytes)}, {"max_json_depth", int64(cfg.MaxJSONDepth)},
		{"max_array_length", int64(cfg.MaxArrayLength)}, {"max_string_length", int64(cfg.MaxStringLength)},
		{"max_url_bytes", int64(cfg.MaxURLBytes)},
	} {
		if f.v < 0 {
			return nil, fmt.Errorf("sanitize: %s is negative (%d)", f.name, f.v)
		}
	}
	l := &limits{
		body:        or(int64(cfg.MaxBodyBytes), int64(config.DefaultMaxBodyBytes)),
		headerBytes: or(int64(cfg.MaxHeaderBytes), int64(config.DefaultMaxHeaderBytes)),
		urlBytes:    or(int64(cfg.MaxURLBytes), int64(config.DefaultMaxURLBytes)),
		str:         or(int64(cfg.MaxStringLength), int64(config.DefaultMaxStringLength)),
		headerCount: int(or(int64(cfg.MaxHeaderCount), config.DefaultMaxHeaderCount)),
		depth:       int(or(int64(cfg.MaxJSONDepth), config.DefaultMaxJSONDepth)),
		array:       int(or(int64(cfg.MaxArrayLength), config.DefaultMaxArrayLength)),
	}
	l.shapes.New = func() any { return NewJSONShape(l.depth, l.array, l.str) }
	return l.middleware, nil
}

func or(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

func (l *limits) middleware(front policy.Front, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := l.checkHead(r); err != nil {
			deny(w, r, front, err)
			return
		}
		if front == policy.FrontGRPCWeb {
			next.ServeHTTP(w, r)
			return
		}
		r = l.withMessageLimits(r)
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if err := checkContentEncoding(r.Header); err != nil {
			deny(w, r, front, err)
			return
		}
		kind := transcoder.RequestBodyKind(r.Header.Get("Content-Type"))
		// An NDJSON body to the REST front has no total limit here, whatever its framing: the
		// front reads it as a stream of messages, each bounded, when the method streams requests,
		// and as one body held to this same limit (its WithMaxBodyBytes) otherwise.
		stream := front == policy.FrontREST && kind == transcoder.BodyNDJSON
		if !stream && r.ContentLength > l.body {
			deny(w, r, front, transcoder.WithHTTPStatus(tooLarge(fmt.Sprintf(
				"request body of %d bytes is larger than the limit of %d bytes", r.ContentLength, l.body)),
				http.StatusRequestEntityTooLarge))
			return
		}
		if kind == transcoder.BodyJSON && r.ContentLength >= 0 {
			buf, err := l.readJSON(w, r)
			if err != nil {
				deny(w, r, front, err)
				return
			}
			r.Body = &replay{Reader: bytes.NewReader(buf.Bytes()), orig: r.Body}
			defer putBuffer(buf)
			next.ServeHTTP(w, r)
			return
		}
		body := r.Body
		if !stream {
			body = http.MaxBytesReader(w, timed(w, r, l.body), l.body)
		}
		if kind == transcoder.BodyJSON || kind == transcoder.BodyNDJSON {
			shape := l.shapes.Get().(*JSONShape)
			shape.Reset()
			defer l.shapes.Put(shape)
			body = &checkedBody{ReadCloser: body, shape: shape}
		}
		r.Body = body
		next.ServeHTTP(w, r)
	})
}

// checkHead checks the request target and headers.
func (l *limits) checkHead(r *http.Request) error {
	target := r.RequestURI
	if target == "" || target[0] != '/' {
		target = r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
	}
	if int64(len(target)) > l.urlBytes {
		return transcoder.WithHTTPStatus(badRequest("path", fmt.Sprintf(
			"request target of %d bytes is longer than the limit of %d bytes", len(target), l.urlBytes)),
			http.StatusRequestURITooLong)
	}
	path, query, _ := strings.Cut(target, "?")
	if err := CheckPath(path); err != nil {
		return badRequest("path", err.Error())
	}
	if err := CheckQuery(query); err != nil {
		return badRequest("query", err.Error())
	}
	hs := measureHeaders(r.Header)
	if hs.count > l.headerCount {
		return transcoder.WithHTTPStatus(badRequest("headers", fmt.Sprintf(
			"request has %d header lines, more than the limit of %d", hs.count, l.headerCount)),
			http.StatusRequestHeaderFieldsTooLarge)
	}
	return hs.checkBytes(l.headerBytes)
}

// checkContentEncoding refuses a body in a content coding (RFC 9110 8.4): neither REST nor GraphQL
// decodes one, so a gzip body would be read as it is (and refused as malformed, or its bytes taken
// for the message), and a body labelled with a coding it is not in taken for what it is. No coding,
// or identity, passes. The refusal is 415 naming the coding, with Accept-Encoding: identity, as RFC
// 9110 (12.5.3) has a server answer a coding it does not support, INVALID_ARGUMENT as the fronts'
// own 415 for a Content-Type. The codings are a comma-separated list with spaces and tabs around
// each (textproto.TrimString trims them; strings.TrimSpace would also take a non-ASCII space for
// one, and a coding of one for none).
func checkContentEncoding(h http.Header) error {
	for _, v := range h["Content-Encoding"] {
		for coding := range strings.SplitSeq(v, ",") {
			if coding = textproto.TrimString(coding); coding != "" && !strings.EqualFold(coding, "identity") {
				return transcoder.WithHTTPStatus(policy.Deny(codes.InvalidArgument, fmt.Sprintf(
					"unsupported content coding %q: send the body uncompressed (Content-Encoding: identity)", coding)).
					WithHeader("Accept-Encoding", "identity"), http.StatusUnsupportedMediaType)
			}
		}
	}
	return nil
}

// CheckHeaderBytes refuses headers h whose names, values and 2 bytes of separator each total more
// than limit bytes, as limits.max_header_bytes refuses an HTTP front's request: for native gRPC
// calls that reach the gateway through net/http (over TLS), whose headers grpc-go's own limit does
// not see.
func CheckHeaderBytes(h http.Header, limit int64) error {
	return measureHeaders(h).checkBytes(limit)
}

// headerStats is what the limits count of a request's headers.
type headerStats struct {
	count        int
	size         int64
	largest      string
	largestBytes int64
}

func measureHeaders(h http.Header) headerStats {
	var hs headerStats
	for k, vs := range h {
		hs.count += len(vs)
		for _, v := range vs {
			n := int64(len(k) + len(v) + 2)
			hs.size += n
			if n > hs.largestBytes {
				hs.largest, hs.largestBytes = k, n
			}
		}
	}
	return hs
}

func (hs headerStats) checkBytes(limit int64) error {
	if hs.size <= limit {
		return nil
	}
	return transcoder.WithHTTPStatus(badRequest("headers", fmt.Sprintf(
		"request headers total %d bytes, more than the limit of %d (largest: %s, %d bytes)",
		hs.size, limit, hs.largest, hs.largestBytes)),
		http.StatusRequestHeaderFieldsTooLarge)
}

// maxPooledBuffer is the largest body buffer kept for reuse.
const maxPooledBuffer = 1 << 20

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		bufferPool.Put(b)
	}
}

// bodyBufferStart bounds the buffer readJSON makes ready before a body arrives: the rest is grown as
// bytes come, so a client that announces a large body and sends none of it costs no more than this.
const bodyBufferStart = 16 << 10

// bodyReadTime bounds how long a body may take to arrive, by the length it announced: a client that
// stops sending, or trickles a byte now and then, has its request ended with 408 rather than held
// forever. A variable for tests.
var bodyReadTime = routing.DefaultReadTime

// readJSON reads a JSON body of known length (at most the limit) into a pooled buffer, checking its
// shape chunk by chunk as it arrives, within bodyReadTime.
func (l *limits) readJSON(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, error) {
	wait := bodyReadTime.Allow(r.ContentLength)
	// The deadline is lifted once the body is read. On a refusal it stays: net/http then reads what
	// is left of the body before it answers, and must not wait on a client that stalled for longer.
	rc := http.NewResponseController(w)
	deadline := rc.SetReadDeadline(time.Now().Add(wait)) == nil
	buf := bufferPool.Get().(*bytes.Buffer)
	buf.Reset()
	buf.Grow(int(min(r.ContentLength, bodyBufferStart)) + 1)
	shape := l.shapes.Get().(*JSONShape)
	shape.Reset()
	defer l.shapes.Put(shape)
	src := io.LimitReader(r.Body, l.body+1)
	for {
		chunk := buf.AvailableBuffer()
		if len(chunk[:cap(chunk)]) == 0 {
			buf.Grow(32 << 10)
			chunk = buf.AvailableBuffer()
		}
		n, err := src.Read(chunk[:cap(chunk)])
		if n > 0 {
			if int64(buf.Len()+n) > l.body {
				putBuffer(buf)
				return nil, transcoder.WithHTTPStatus(tooLarge(fmt.Sprintf(
					"request body larger than the limit of %d bytes", l.body)), http.StatusRequestEntityTooLarge)
			}
			if _, serr := shape.Write(chunk[:n]); serr != nil {
				putBuffer(buf)
				return nil, badRequest("body", serr.Error())
			}
			buf.Write(chunk[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			putBuffer(buf)
			return nil, ReadError(r.Context(), err, wait)
		}
	}
	if err := shape.Close(); err != nil {
		putBuffer(buf)
		return nil, badRequest("body", err.Error())
	}
	if deadline {
		_ = rc.SetReadDeadline(time.Time{})
	}
	return buf, nil
}

// timed returns r's body, which the front reads whole (as the middleware reads a JSON body of known
// length: readJSON), bounded by bodyReadTime as readJSON's: by the length it announced, or, when it
// announced none (chunked), the most the limit lets it have. Once that time is up its reads fail
// with 408, a refusal of the limits recorded as readJSON's is (Refused); its end lifts the bound. A
// body left unread keeps it, so that net/http, which reads what is left of it before it answers,
// does not wait longer on a client that stalled.
func timed(w http.ResponseWriter, r *http.Request, limit int64) io.ReadCloser {
	announced := r.ContentLength
	if announced < 0 {
		announced = limit
	}
	wait := bodyReadTime.Allow(announced)
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(wait)) != nil {
		return r.Body // a writer without deadlines: the server's own timeouts apply
	}
	return &timedBody{ReadCloser: r.Body, ctx: r.Context(), rc: rc, wait: wait}
}

// timedBody is a body read within wait (timed).
type timedBody struct {
	io.ReadCloser
	ctx  context.Context // the request's
	rc   *http.ResponseController
	wait time.Duration
	done bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF && !b.done:
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		err = ReadError(b.ctx, err, b.wait)
		Refused(b.ctx, err)
	}
	return n, err
}

// replay gives the front the bytes the middleware read; Close closes the original body.
type replay struct {
	*bytes.Reader
	orig io.Closer
}

func (r *replay) Close() error { return r.orig.Close() }

// checkedBody checks the shape of a body the front reads as a stream.
type checkedBody struct {
	io.ReadCloser
	shape *JSONShape
	err   error
}

func (b *checkedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		if _, serr := b.shape.Write(p[:n]); serr != nil {
			b.err = &readError{badRequest("body", serr.Error())}
			return 0, b.err
		}
	}
	if err == io.EOF {
		if cerr := b.shape.Close(); cerr != nil {
			b.err = &readError{badRequest("body", cerr.Error())}
			return n, b.err
		}
	}
	return n, err
}

// readError is a refusal surfacing as a read error of the body: its text is the message alone, as
// fronts quote it in their own ("reading the request body: ..."); its status is the denial's.
type readError struct{ d *policy.Denial }

func (e *readError) Error() string              { return e.d.GRPCStatus().Message() }
func (e *readError) GRPCStatus() *status.Status { return e.d.GRPCStatus() }

// badRequest is an InvalidArgument naming the part of the request at fault.
func badRequest(part, msg string) *policy.Denial {
	return policy.Deny(codes.InvalidArgument, msg, &errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: part, Description: msg}},
	})
}

func tooLarge(msg string) *policy.Denial {
	return policy.Deny(codes.ResourceExhausted, msg)
}

// ReadError is the refusal of a request whose body could not be read: what a check that read it
// refused it with (a denial, a status, a body over its bound) as it is, and the reader's own
// failures as the client's: 400 for a body that ended early or is not valid HTTP framing (a bad
// chunk), 408 for one that did not arrive within wait (0: its deadline, unnamed), CANCELLED (499)
// for one its client gave up on otherwise, resetting its HTTP/2 stream (ctx, the request's, is
// then cancelled; net/http also cancels it for the failures before, which come first).
func ReadError(ctx context.Context, err error, wait time.Duration) error {
	var tooBig *http.MaxBytesError
	if _, ok := status.FromError(err); ok || errors.As(err, &tooBig) {
		return err
	}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("body", "request body ended early")
	case errors.Is(err, os.ErrDeadlineExceeded) && wait > 0:
		return transcoder.BodyLate(wait, nil)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return transcoder.WithHTTPStatus(status.Error(codes.DeadlineExceeded,
			"the request body did not arrive in time"), http.StatusRequestTimeout)
	case ctx.Err() != nil:
		return status.Error(codes.Canceled, "the client cancelled the request before its body arrived")
	}
	return badRequest("body", "reading the request body: "+err.Error())
}
