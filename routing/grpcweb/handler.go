package grpcweb

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/routing"
)

// Handler serves gRPC-Web requests by calling one grpc.StreamHandler, the
// same one the gateway registers as grpc.UnknownServiceHandler on its native
// gRPC server, or the handler of a service registered on it
// (RegisterService), as grpc.Server does. It is safe for concurrent use.
type Handler struct {
	handler grpc.StreamHandler
	codec   encoding.CodecV2
	maxMsg  int
	pool    mem.BufferPool

	// The registered services and their methods, by full method name
	// ("/pkg.Service/Method"); written only before the Handler serves.
	services map[string]struct{}
	methods  map[string]method
	serving  atomic.Bool // set by the first request: RegisterService may no longer be called
}

// NewHandler returns a Handler that translates each gRPC-Web request into a
// call of h. It panics if h is nil, as http.Handle does for a nil handler:
// that is a wiring mistake, not a request error.
func NewHandler(h grpc.StreamHandler, opts ...Option) *Handler {
	if h == nil {
		panic("grpcweb: NewHandler called with a nil grpc.StreamHandler")
	}
	o := options{maxMessageSize: defaultMaxMessageSize}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.codec == nil {
		o.codec = encoding.GetCodecV2(proto.Name)
	}
	return &Handler{
		handler: h,
		codec:   o.codec,
		maxMsg:  o.maxMessageSize,
		pool:    mem.DefaultBufferPool(),
	}
}

// IsGRPCWebRequest reports whether r is a gRPC-Web request this package
// serves: its Content-Type is application/grpc-web, application/grpc-web+proto,
// application/grpc-web-text or application/grpc-web-text+proto, with any
// parameters. It looks at nothing else; ServeHTTP answers a wrong HTTP method.
func IsGRPCWebRequest(r *http.Request) bool {
	_, ok := parseContentType(r.Header.Get("Content-Type"))
	return ok
}

// parseContentType reports whether ct is a gRPC-Web content type and whether
// it is the text (base64) mode.
func parseContentType(ct string) (text, ok bool) {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	const prefix = "application/grpc-web"
	if len(mt) < len(prefix) || !strings.EqualFold(mt[:len(prefix)], prefix) {
		return false, false
	}
	switch rest := mt[len(prefix):]; {
	case rest == "", strings.EqualFold(rest, "+proto"):
		return false, true
	case strings.EqualFold(rest, "-text"), strings.EqualFold(rest, "-text+proto"):
		return true, true
	}
	return false, false
}

// ServeHTTP translates one gRPC-Web request into a call of the StreamHandler
// and renders the call as a gRPC-Web response. See the package
// documentation for the mapping.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.serving.Load() {
		h.serving.Store(true)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "grpc-web: method "+r.Method+" not allowed; gRPC-Web calls use POST", http.StatusMethodNotAllowed)
		return
	}
	text, ok := parseContentType(r.Header.Get("Content-Type"))
	if !ok {
		http.Error(w, "grpc-web: unsupported Content-Type; want application/grpc-web[-text][+proto]", http.StatusUnsupportedMediaType)
		return
	}
	s := &serverStream{
		method: r.URL.Path,
		codec:  h.codec,
		body:   r.Body,
		resp: responseWriter{
			w:     w,
			rc:    http.NewResponseController(w),
			pool:  h.pool,
			text:  text,
			http1: r.ProtoMajor == 1,
		},
	}
	ctx, err := h.callContext(r, s)
	if err != nil {
		s.ctx, s.cancel = r.Context(), func() {}
		s.finish(err)
		return
	}
	defer s.cancel()
	s.ctx = ctx
	// Let a pending RecvMsg see the deadline (HTTP/1.x, HTTP/2) or
	// cancellation (HTTP/2): see abortRead. On HTTP/1.x the client's
	// disconnect already ends the read, and without a deadline the server's
	// own timeouts apply.
	if r.ProtoMajor >= 2 {
		stop := context.AfterFunc(ctx, s.abortRead)
		defer stop()
	} else if deadline, ok := ctx.Deadline(); ok {
		// (A timer costs less than context.AfterFunc; it waits for ctx, whose
		// own timer may fire a moment later, so that RecvMsg sees the
		// deadline exceeded.)
		t := time.AfterFunc(time.Until(deadline), func() {
			<-ctx.Done()
			s.abortRead()
		})
		defer t.Stop()
	}
	s.in.r = r.Body
	var body io.Reader = &s.in
	if text {
		s.text = newBase64Reader(body, h.pool)
		body = s.text
	}
	s.frames = frameReader{src: body, max: h.maxMsg, pool: h.pool, encoding: r.Header.Get("Grpc-Encoding"), sizes: s}
	if m, ok := h.methods[s.method]; ok {
		s.finish(m.serve(s))
		return
	}
	s.finish(h.handler(nil, s))
}

// callContext builds the handler's context: derived from the request's (so
// a client disconnect cancels the call), with the grpc-timeout deadline, the
// request headers as incoming metadata, and s as the transport stream. It
// sets s.cancel.
func (h *Handler) callContext(r *http.Request, s *serverStream) (context.Context, error) {
	if !validMethod(s.method) {
		return nil, status.Errorf(codes.Unimplemented, "grpc-web: malformed method name %q; want /package.Service/Method", s.method)
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil, status.Errorf(codes.Unimplemented, "grpc-web: request Content-Encoding %q is not supported", ce)
	}
	md, err := incomingMetadata(r)
	if err != nil {
		return nil, err
	}
	routing.AppendForwardedFor(md, r.RemoteAddr)
	ctx := r.Context()
	if v := r.Header.Get("Grpc-Timeout"); v != "" {
		d, ok, err := routing.ParseTimeout(v)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "grpc-web: %v", err)
		}
		if ok {
			ctx, s.cancel = context.WithTimeout(ctx, d)
		}
	}
	if s.cancel == nil {
		ctx, s.cancel = context.WithCancel(ctx)
	}
	ctx = metadata.NewIncomingContext(ctx, md)
	return grpc.NewContextWithServerTransportStream(ctx, (*transportStream)(s)), nil
}

// validMethod reports whether path names a gRPC method, /Service/Method,
// where the service may contain slashes (as grpc-go accepts) but neither
// part is empty.
func validMethod(path string) bool {
	if len(path) < 4 || path[0] != '/' {
		return false
	}
	i := strings.LastIndexByte(path, '/')
	return i > 1 && i < len(path)-1
}
