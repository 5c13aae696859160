package transcoder

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/routing"
)

// Upstreams routes calls to the upstreams that serve them: *routing.Proxy, so REST calls are routed,
// balanced and bounded exactly like gRPC ones.
type Upstreams interface {
	// Route picks the upstream of a call of method ("/pkg.Service/Method") with outgoing metadata md.
	Route(ctx context.Context, method string, md metadata.MD) (routing.Upstream, error)
	// CallOptions are the options of every upstream call: the codec that passes *routing.Frame
	// through, message size limits.
	CallOptions() []grpc.CallOption
	// CallUnary makes a unary call: routed, recorded for the endpoint's breaker and outlier detection,
	// and retried on another endpoint as the route's policy and the cluster's budget allow. opts
	// are added to CallOptions.
	CallUnary(ctx context.Context, method string, md metadata.MD, req, resp any, opts ...grpc.CallOption) error
}

// StreamServer serves the calls of streaming methods: the streaming front plugs in here. The Call
// carries the matched binding and path, and the helpers a stream needs (request building, metadata,
// deadline, routing, JSON rendering, errors).
type StreamServer interface {
	ServeStream(c *Call)
}

// Handler is the REST front: an http.Handler that serves every binding of the Router current at each
// request. Build it with NewHandler.
type Handler struct {
	router          func() *Router
	up              Upstreams
	maxBody         int64
	headers         headerPolicy
	discardUnknown  bool
	emitUnpopulated bool
	stream          StreamServer
	readTime        routing.ReadTime
}

// HandlerOption configures NewHandler.
type HandlerOption func(*handlerOptions)

type handlerOptions struct {
	maxBody         int64
	headers         []string
	discardUnknown  bool
	emitUnpopulated bool
	stream          StreamServer
	readTime        routing.ReadTime
}

// DefaultMaxBodyBytes bounds request bodies unless WithMaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 4 << 20

// WithMaxBodyBytes bounds request bodies: a larger one is refused with 413. Zero means the default.
func WithMaxBodyBytes(n int64) HandlerOption {
	return func(o *handlerOptions) { o.maxBody = n }
}

// WithHeaders adds request headers that pass to the upstream as metadata, under their lower-cased
// names (Authorization, Grpc-Metadata-* and X-Forwarded-* always do).
func WithHeaders(names ...string) HandlerOption {
	return func(o *handlerOptions) { o.headers = append(o.headers, names...) }
}

// WithDiscardUnknown makes JSON bodies with unknown fields acceptable (the fields are dropped); by
// default they are refused with 400 naming the field.
func WithDiscardUnknown() HandlerOption {
	return func(o *handlerOptions) { o.discardUnknown = true }
}

// WithEmitUnpopulated renders fields at their zero values in JSON responses, as grpc-gateway's
// default marshaler does (unset fields with explicit presence as null); by default they are omitted.
// An OpenAPI document of such a front is built with OpenAPIOptions.EmitUnpopulated.
func WithEmitUnpopulated() HandlerOption {
	return func(o *handlerOptions) { o.emitUnpopulated = true }
}

// WithRequestReadTime sets the time the bodies the front bounds itself may take to arrive (see
// body_time.go): an NDJSON body read whole, a stream's first message. Zero fields keep
// routing.DefaultReadTime's.
func WithRequestReadTime(t routing.ReadTime) HandlerOption {
	return func(o *handlerOptions) { o.readTime = t }
}

// WithStreaming sets the server of streaming calls. Without one they are answered 501.
func WithStreaming(s StreamServer) HandlerOption {
	return func(o *handlerOptions) { o.stream = s }
}

// NewHandler returns the REST front serving the router that router returns at each request (the
// current snapshot's), calling upstreams through up.
func NewHandler(router func() *Router, up Upstreams, opts ...HandlerOption) (*Handler, error) {
	if router == nil || up == nil {
		return nil, errors.New("transcoder: NewHandler needs a router and upstreams")
	}
	var o handlerOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.readTime.Base <= 0 {
		o.readTime.Base = routing.DefaultReadTime.Base
	}
	if o.readTime.PerSecond <= 0 {
		o.readTime.PerSecond = routing.DefaultReadTime.PerSecond
	}
	if o.maxBody < 0 {
		return nil, fmt.Errorf("transcoder: negative body limit %d", o.maxBody)
	}
	if o.maxBody == 0 {
		o.maxBody = DefaultMaxBodyBytes
	}
	headers, err := newHeaderPolicy(o.headers)
	if err != nil {
		return nil, fmt.Errorf("transcoder: %w", err)
	}
	return &Handler{
		router:          router,
		up:              up,
		maxBody:         o.maxBody,
		headers:         headers,
		discardUnknown:  o.discardUnknown,
		emitUnpopulated: o.emitUnpopulated,
		stream:          o.stream,
		readTime:        o.readTime,
	}, nil
}

// ServeHTTP serves one REST call.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := h.router()
	c := Call{h: h, router: rt, w: w, r: r}
	b, err := rt.Match(r, &c.params)
	if err != nil && h.stream != nil && isWebSocket(r) {
		b, err = rt.matchUpgrade(r, &c.params, err) // a WebSocket on a streaming method's POST path
	}
	if err != nil {
		c.WriteError(err)
		return
	}
	if b.template != nil {
		callinfo.SetRoute(r.Context(), b.template.String()) // for the access log and the request's span
	}
	c.binding = b
	if b.kind != routing.KindUnary {
		if h.stream != nil {
			sc := new(Call) // on the heap only for streams: the unary path keeps c on the stack
			*sc = c
			h.stream.ServeStream(sc)
			return
		}
		c.WriteError(NewError(codes.Unimplemented, fmt.Sprintf("%s is a %s method: streaming over REST is not supported yet", b.method.FullName(), b.kind)))
		return
	}
	c.unary()
}

// Call is one matched REST call.
type Call struct {
	h       *Handler
	router  *Router
	binding *Binding
	params  Params
	w       http.ResponseWriter
	r       *http.Request
	// cutOff: the response has begun and failed with no way to say so (a google.api.HttpBody
	// stream): it must be aborted, not ended (see stream_httpbody.go).
	cutOff bool
}

// Binding is the binding the call matched.
func (c *Call) Binding() *Binding { return c.binding }

// Request is the HTTP request.
func (c *Call) Request() *http.Request { return c.r }

// ResponseWriter is where the response goes.
func (c *Call) ResponseWriter() http.ResponseWriter { return c.w }

// RequestBytes builds the request message from the body, path and query, as for a unary call, and
// returns its wire encoding.
func (c *Call) RequestBytes() ([]byte, error) { return c.requestBytes() }

// DecodeJSON decodes one JSON request message (a line of a streamed body) into the method's
// request type, with the handler's JSON rules, and returns its wire encoding.
func (c *Call) DecodeJSON(data []byte) ([]byte, error) {
	if p := c.binding.requestJSON; p != nil && len(p.wrap) == 0 {
		if out, ok := p.body.transcode(nil, data); ok {
			return out, nil // straight to the wire: see jsonwire.go
		}
	}
	msg := dynamicpb.NewMessage(c.binding.method.Input())
	opts := protojson.UnmarshalOptions{AllowPartial: true, DiscardUnknown: c.h.discardUnknown, Resolver: c.binding.types}
	if err := opts.Unmarshal(data, msg); err != nil {
		return nil, jsonBodyError(c.binding, string(msg.Descriptor().FullName()), err, &jsonBody{data: data, md: msg.Descriptor()})
	}
	return proto.MarshalOptions{AllowPartial: true}.Marshal(msg)
}

// EncodeJSON renders one response message (wire bytes) as JSON, honouring response_body.
func (c *Call) EncodeJSON(data []byte) ([]byte, error) {
	if c.binding.responseJSON != nil && !c.h.emitUnpopulated {
		if out, err := c.binding.responseJSON.appendJSON(nil, data, 0); err == nil {
			return out, nil
		}
	}
	msg, err := c.decodeResponse(data)
	if err != nil {
		return nil, err
	}
	target, last := c.responseTarget(msg)
	return c.marshalJSON(nil, target, last)
}

// Metadata is the outgoing metadata built from the request's headers.
func (c *Call) Metadata() (metadata.MD, error) { return c.h.headers.metadata(c.r, c.router.headers) }

// Context is the request's context, with the Grpc-Timeout header's deadline if it has one. (The
// policies put an admitted call's response headers, a rate limit's RateLimit-*, on the response's
// header map through the policy.Request in it; WriteError keeps them.) The cancel function must be
// called.
func (c *Call) Context() (context.Context, context.CancelFunc, error) {
	ctx := c.r.Context()
	v := c.r.Header.Get("Grpc-Timeout")
	if v == "" {
		return ctx, func() {}, nil
	}
	d, ok, err := routing.ParseTimeout(v)
	if err != nil {
		return nil, nil, badRequest("Grpc-Timeout", "Grpc-Timeout: "+err.Error())
	}
	if !ok {
		return ctx, func() {}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, nil
}

// Route routes the call: see Upstreams.
func (c *Call) Route(ctx context.Context, md metadata.MD) (routing.Upstream, error) {
	return c.h.up.Route(ctx, c.binding.fullMethod, md)
}

// CallOptions are the options of the upstream call: see Upstreams.
func (c *Call) CallOptions() []grpc.CallOption { return c.h.up.CallOptions() }

// WriteError renders err in the error model, with the snapshot's types for its details.
func (c *Call) WriteError(err error) { writeError(c.w, err, c.router.types, appendStatusJSON) }

// WriteMetadata adds upstream headers and trailers to the response headers: Grpc-Metadata-<key>
// and Grpc-Trailer-<key>.
func (c *Call) WriteMetadata(header, trailer metadata.MD) {
	h := c.w.Header()
	writeMetadata(h, metadataHeaderPrefix, header)
	writeMetadata(h, trailerHeaderPrefix, trailer)
}

// unary makes a unary call.
func (c *Call) unary() {
	reqBytes, err := c.requestBytes()
	if err != nil {
		c.WriteError(err)
		return
	}
	md, err := c.Metadata()
	if err != nil {
		c.WriteError(err)
		return
	}
	ctx, cancel, err := c.Context()
	if err != nil {
		c.WriteError(err)
		return
	}
	defer cancel()
	var req, resp routing.Frame
	req.SetBytes(reqBytes)
	var header, trailer metadata.MD
	// Routed, balanced, recorded and retried exactly as the gRPC front's unary calls are.
	err = c.h.up.CallUnary(ctx, c.binding.fullMethod, md, &req, &resp, grpc.Header(&header), grpc.Trailer(&trailer))
	req.Free()
	c.WriteMetadata(header, trailer)
	if err != nil {
		resp.Free()
		c.WriteError(upstreamError(err))
		return
	}
	data := resp.Bytes()
	resp.Free()
	c.render(data)
}

// upstreamError keeps an upstream's status; a failure without one is Unavailable, or the context's.
func upstreamError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &Error{code: codes.Unavailable, msg: fmt.Sprintf("upstream: %v", err), cause: err}
}
