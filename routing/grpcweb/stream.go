package grpcweb

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/routing"
)

// serverStream is the grpc.ServerStream a StreamHandler sees for one
// gRPC-Web call. As with grpc-go, RecvMsg may run concurrently with the send
// side (SendMsg, SendHeader, SetHeader, SetTrailer), and the stream must not
// be used after the handler returns; calls made then fail instead of
// touching the finished HTTP exchange.
type serverStream struct {
	ctx    context.Context
	method string
	codec  encoding.CodecV2

	// Receive side.
	body       io.Closer // the request body
	in         bodyReader
	recvMu     sync.Mutex
	recvClosed bool
	frames     frameReader
	text       *base64Reader // text mode only

	// Send side.
	mu   sync.Mutex
	resp responseWriter
	done bool

	cancel context.CancelFunc

	// abortMu orders abortRead against finish, and against the read
	// deadlines of bound: the ResponseWriter must not be touched once
	// ServeHTTP may have returned, nor a deadline moved once abortRead set it.
	abortMu  sync.Mutex
	finished bool

	bound recvBound // used by the receiving goroutine only
}

// recvBound is the time the proxy allows the request to arrive in
// (BoundRecv), while on: the body's read deadline is start plus the time
// for the lengths the frames' headers announced so far.
type recvBound struct {
	on        bool
	t         routing.ReadTime
	start     time.Time
	announced int64
	expired   bool // a read failed on the deadline
}

// wait is the time allowed for what was announced so far.
func (b *recvBound) wait() time.Duration { return b.t.Allow(b.announced) }

// deadline is when that time is up.
func (b *recvBound) deadline() time.Time { return b.start.Add(b.wait()) }

// bodyReader reads the request body and notes when it has returned io.EOF.
// On HTTP/1.x net/http then starts its own read of the connection, which
// abortRead must leave alone.
type bodyReader struct {
	r   io.Reader
	eof atomic.Bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

var (
	_ grpc.ServerStream          = (*serverStream)(nil)
	_ grpc.ServerTransportStream = (*transportStream)(nil)
)

func (s *serverStream) Context() context.Context { return s.ctx }

func (s *serverStream) SetHeader(md metadata.MD) error {
	if md.Len() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done || s.resp.headerSent {
		return status.Error(codes.Internal, "grpc-web: SetHeader called after headers were sent or the call ended")
	}
	s.resp.header = mergeMetadata(s.resp.header, md)
	return nil
}

func (s *serverStream) SendHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done || s.resp.headerSent {
		return status.Error(codes.Internal, "grpc-web: SendHeader called after headers were sent or the call ended")
	}
	s.resp.header = mergeMetadata(s.resp.header, md)
	s.resp.sendHeaders()
	if err := s.resp.flush(); err != nil {
		return s.writeFailed(err)
	}
	return nil
}

func (s *serverStream) SetTrailer(md metadata.MD) {
	_ = (*transportStream)(s).SetTrailer(md)
}

func (s *serverStream) SendMsg(m any) error {
	if err := s.ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	data, err := s.codec.Marshal(m)
	if err != nil {
		return status.Errorf(codes.Internal, "grpc-web: error while marshaling: %v", err)
	}
	defer data.Free()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return status.Error(codes.Internal, "grpc-web: SendMsg called after the call ended")
	}
	if err := s.resp.writeMessage(data); err != nil {
		return s.writeFailed(err)
	}
	return nil
}

// writeFailed turns a failed write to the client into the call's error and
// cancels the call: the client cannot receive anything more.
func (s *serverStream) writeFailed(err error) error {
	s.cancel()
	if ctxErr := s.ctx.Err(); ctxErr != nil && !errors.Is(ctxErr, context.Canceled) {
		return status.FromContextError(ctxErr).Err()
	}
	return status.Errorf(codes.Canceled, "grpc-web: writing the response: %v", err)
}

func (s *serverStream) RecvMsg(m any) error {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	if s.recvClosed {
		return status.Error(codes.Internal, "grpc-web: RecvMsg called after the call ended")
	}
	buf, err := s.frames.next()
	if err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return s.recvError(err)
	}
	// A fresh slice each time: a codec may keep the BufferSlice itself (the
	// proxy's Frame does), taking its own reference to the buffer.
	err = s.codec.Unmarshal(mem.BufferSlice{buf}, m)
	buf.Free()
	if err != nil {
		return status.Errorf(codes.Internal, "grpc-web: failed to unmarshal the received message: %v", err)
	}
	return nil
}

// recvError maps an error from reading the request body to a status.
func (s *serverStream) recvError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if b := &s.bound; b.on && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(b.deadline()) {
		// (Before the context: on HTTP/1.x, net/http cancels the request's context when a
		// read of its connection fails, as this one did on the bound's deadline.)
		b.expired = true
		return routing.RequestLate(b.wait())
	}
	if ctxErr := s.ctx.Err(); ctxErr != nil {
		return status.FromContextError(ctxErr).Err()
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return status.Errorf(codes.ResourceExhausted, "grpc-web: request body larger than %d bytes", tooBig.Limit)
	}
	return status.Errorf(codes.Internal, "grpc-web: reading the request body: %v", err)
}

// BoundRecv implements routing.RecvBounder: the body's read deadline is
// the call's start (now) plus t's time for the lengths the request's frames
// announce, as each header arrives, until end lifts it. A read that meets
// the deadline fails the call with DeadlineExceeded.
func (s *serverStream) BoundRecv(t routing.ReadTime) (end func() error) {
	s.bound = recvBound{on: true, t: t, start: time.Now()}
	s.setReadDeadline(s.bound.deadline())
	return s.endBound
}

// announced extends the bound, if on, by a frame of length bytes.
func (s *serverStream) announced(length uint32) {
	if b := &s.bound; b.on {
		b.announced += int64(length)
		s.setReadDeadline(b.deadline())
	}
}

// endBound lifts the bound set by BoundRecv and reports whether the request
// was late.
func (s *serverStream) endBound() error {
	b := &s.bound
	if !b.on {
		return nil
	}
	b.on = false
	s.setReadDeadline(time.Time{})
	if b.expired {
		return routing.RequestLate(b.wait())
	}
	return nil
}

// setReadDeadline sets the body's read deadline for the bound, t (zero:
// none), unless abortRead has set it or may: once the call has ended, or its
// context. A future deadline is not set on an HTTP/1.x body read to its end,
// whose connection net/http reads itself (see abortRead); none is.
func (s *serverStream) setReadDeadline(t time.Time) {
	s.abortMu.Lock()
	defer s.abortMu.Unlock()
	if s.finished || s.ctx.Err() != nil || !t.IsZero() && s.resp.http1 && s.in.eof.Load() {
		return
	}
	_ = s.resp.rc.SetReadDeadline(t)
}

// abortRead makes a pending body read return, once the call's context is
// done, by setting the read deadline. On HTTP/2 that deadline is the
// stream's. On HTTP/1.x it is the connection's: abortRead leaves it alone
// once the body has been read to the end, when net/http reads the
// connection itself and a deadline error there would cancel the contexts of
// later requests on it. Before then, net/http's drain of the unread body
// fails on the deadline, so (unless full duplex is on) it closes the
// connection after the response; a connection it keeps gets its own
// deadlines back before the next request.
func (s *serverStream) abortRead() {
	s.abortMu.Lock()
	defer s.abortMu.Unlock()
	if s.finished {
		return
	}
	if s.resp.http1 && s.in.eof.Load() {
		return
	}
	_ = s.resp.rc.SetReadDeadline(time.Now())
}

// finish writes the call's final status and closes the stream.
func (s *serverStream) finish(err error) {
	s.abortMu.Lock()
	s.finished = true
	s.abortMu.Unlock()

	st := callStatus(err)
	s.mu.Lock()
	s.done = true
	var extra http.Header
	if st != nil {
		extra = errorHeader(err)
		if s.resp.http1 && !s.in.eof.Load() {
			// A call failed with the client's request body unread (a malformed frame, a
			// message over the limit, an upstream that ended a client stream early): without
			// "Connection: close", net/http would read the rest of the body, which a streaming
			// client may send for a long time yet, before it wrote the status. The connection
			// could not be reused anyway.
			if extra == nil {
				extra = make(http.Header, 1)
			}
			extra.Set("Connection", "close")
		}
	}
	_ = s.resp.writeStatus(st, extra)
	s.mu.Unlock()

	// Unless a stray RecvMsg is still reading (then the GC gets the text
	// buffer, and net/http waits for that read as for any handler):
	if s.recvMu.TryLock() {
		s.recvClosed = true
		if s.text != nil {
			s.text.release()
		}
		if s.resp.fullDuplex {
			// With full duplex on, net/http's own close of an unread body
			// after ServeHTTP returns can start a background read that races
			// the next request's read and panics (golang/go#68560). Closing
			// it here, while the handler still runs, avoids that; it is a
			// no-op once the body was read to the end.
			_ = s.body.Close()
		}
		s.recvMu.Unlock()
	}
}

// errorHeader returns the HTTP headers an error asks the HTTP fronts to send
// with it, when it has a method HTTPHeader() http.Header (an access policy's
// refusal: WWW-Authenticate, Retry-After, RateLimit-*); else nil.
func errorHeader(err error) http.Header {
	var withHeader interface{ HTTPHeader() http.Header }
	if errors.As(err, &withHeader) {
		return withHeader.HTTPHeader()
	}
	return nil
}

// callStatus converts the handler's return value as grpc-go does; nil
// means OK.
func callStatus(err error) *status.Status {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		st = status.FromContextError(err)
	}
	if st.Code() == codes.OK {
		return nil
	}
	return st
}

func mergeMetadata(dst, src metadata.MD) metadata.MD {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(metadata.MD, len(src))
	}
	for k, vv := range src {
		k = strings.ToLower(k)
		dst[k] = append(dst[k], vv...)
	}
	return dst
}

// transportStream is the grpc.ServerTransportStream view of a serverStream,
// installed in the call's context so that grpc.Method, grpc.SetHeader,
// grpc.SendHeader and grpc.SetTrailer work in the handler.
type transportStream serverStream

func (t *transportStream) Method() string { return t.method }

func (t *transportStream) SetHeader(md metadata.MD) error {
	return (*serverStream)(t).SetHeader(md)
}

func (t *transportStream) SendHeader(md metadata.MD) error {
	return (*serverStream)(t).SendHeader(md)
}

func (t *transportStream) SetTrailer(md metadata.MD) error {
	if md.Len() == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return status.Error(codes.Internal, "grpc-web: SetTrailer called after the call ended")
	}
	t.resp.trailer = mergeMetadata(t.resp.trailer, md)
	return nil
}
