package telemetry

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/routing"
)

// upstreamHandler instruments the gateway's upstream connections (client interceptors): a client
// span per call (each attempt of a retried one: the gateway retries by calling again, grpc's own
// retries are off) whose context is sent upstream in place of whatever trace context the client
// sent — the transparent proxy forwards the client's metadata, so without this the upstream would
// see the client's span as its parent — and the call's latency per endpoint.
//
// Interceptors rather than a grpc stats.Handler: with a stats handler grpc-go reports every event
// of every call (begin, each header, payload and trailer, end), and copies the call's outgoing
// metadata for its OutHeader event, about a dozen allocations per call that the gateway does not
// need. The endpoint is the address the call's connection dials.
type upstreamHandler struct{ t *Telemetry }

// upstreamCall is one upstream call in flight.
type upstreamCall struct {
	h        *upstreamHandler
	method   string
	start    time.Time
	span     trace.Span // nil when tracing is off
	named    bool       // span started under method's cached name, else under unknownMethod's until end
	info     *callinfo.Info
	endpoint string
	pairs    [6]string   // storage of pc: traceparent, tracestate, baggage
	pc       pairCarrier // inject's carrier, kept here so it costs no allocation of its own
}

// begin starts the call's span and puts its trace context in the call's outgoing metadata.
func (h *upstreamHandler) begin(ctx context.Context, method string) (context.Context, *upstreamCall) {
	u := &upstreamCall{h: h, method: method, start: time.Now(), info: callinfo.From(ctx)}
	if tr := h.t.tracing; tr != nil {
		if parent := trace.SpanContextFromContext(ctx); parent.IsSampled() {
			// Started under a context of one level that holds the parent: the SDK looks the parent
			// up twice more, and on an upstream call's context, dozens of levels deep (grpc's, the
			// request's, the route's), each lookup would walk it all. Its attributes are set when the
			// call ends, all at once; so is its name, when no earlier call of method cached it: a
			// method an explicit route proxies may be the client's invention.
			var name string
			if name, u.named = h.t.upstreamNames.lookup(method); !u.named {
				name = h.t.upstreamNames.get(unknownMethod)
			}
			_, u.span = tr.tracer.Start(trace.ContextWithSpanContext(context.Background(), parent),
				name, clientSpan...)
			ctx = trace.ContextWithSpan(ctx, u.span)
		}
		// An unsampled request's upstream calls get no span of their own, which nobody would see:
		// the upstream is told of the request's span, unsampled, so that it does not sample either.
		// A native gRPC call's metadata carries that already (tracing.startGRPC).
		if held := u.info.UpstreamTrace(); u.span != nil || held != callinfo.TraceCarried {
			u.pc = u.pairs[:0]
			ctx = inject(ctx, tr, &u.pc, held == callinfo.TraceAbsent)
		}
	}
	return ctx, u
}

// setEndpoint records the endpoint the call goes to: the address its connection dials. The
// gateway's upstream connections each dial one endpoint (passthrough:///host:port), so the target
// names it without waiting for the call's peer, and without rendering an address.
func (u *upstreamCall) setEndpoint(cc *grpc.ClientConn) {
	u.endpoint = targetAddr(cc.Target())
	u.info.SetUpstream(u.endpoint)
}

// targetAddr returns the address of a dial target: what follows "scheme:///", or the target itself.
func targetAddr(target string) string {
	if i := strings.Index(target, ":///"); i >= 0 {
		return target[i+len(":///"):]
	}
	return target
}

// unary observes a unary upstream call (grpc.UnaryClientInterceptor). The gateway's own health
// checks of its endpoints are not upstream calls, and pass unobserved.
func (h *upstreamHandler) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if routing.IsHealthCheck(opts) {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	ctx, u := h.begin(ctx, method)
	u.setEndpoint(cc)
	err := invoker(ctx, method, req, reply, cc, opts...)
	u.end(err)
	return err
}

// stream observes a streaming upstream call (grpc.StreamClientInterceptor): the call ends when a
// receive fails (io.EOF: with OK), a send or the header fails, the last message of a call without
// server streaming arrives, or its context ends.
func (h *upstreamHandler) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ctx, u := h.begin(ctx, method)
	u.setEndpoint(cc)
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		u.end(err)
		return nil, err
	}
	s := &upstreamStream{ClientStream: cs, u: u, serverStreams: desc.ServerStreams}
	// The context may have ended already, so the function may run before stop is set: it reads
	// nothing set after this line.
	s.stop = context.AfterFunc(ctx, func() {
		if !s.done.Swap(true) {
			s.report(status.FromContextError(ctx.Err()).Err())
		}
	})
	return s, nil
}

// upstreamStream ends its call's observation when the stream ends.
type upstreamStream struct {
	grpc.ClientStream
	u             *upstreamCall
	serverStreams bool
	stop          func() bool // stops the context's AfterFunc
	done          atomic.Bool // the call is reported
}

// finish reports the call, once, as ended by the stream's methods: err, io.EOF for OK.
func (s *upstreamStream) finish(err error) {
	if s.done.Swap(true) {
		return
	}
	s.stop()
	s.report(err)
}

// report ends the call's observation with err (io.EOF: OK).
func (s *upstreamStream) report(err error) {
	if errors.Is(err, io.EOF) {
		err = nil
	}
	s.u.end(err)
}

func (s *upstreamStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	if err != nil {
		s.finish(err)
	}
	return md, err
}

func (s *upstreamStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) { // io.EOF: the call ended; RecvMsg has its status
		s.finish(err)
	}
	return err
}

func (s *upstreamStream) CloseSend() error {
	err := s.ClientStream.CloseSend()
	if err != nil {
		s.finish(err)
	}
	return err
}

func (s *upstreamStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || !s.serverStreams {
		s.finish(err)
	}
	return err
}

// end reports the call: its status for the request's Info, the upstream latency metric, its span.
func (u *upstreamCall) end(err error) {
	h := u.h
	code := status.Code(err)
	u.info.SetUpstreamCode(uint32(code))
	if m := h.t.metrics; m != nil {
		m.upstreamOf(u.endpoint, code).Observe(time.Since(u.start).Seconds())
	}
	if u.span != nil {
		if u.span.IsRecording() {
			// The method is known, as the metrics decide (observation.record), unless the snapshot
			// has no descriptor of it and the upstream did not serve it either.
			known := u.named || code != codes.Unimplemented || !u.info.Snapshot().Unregistered
			ap := attrPool.Get().(*[]attribute.KeyValue)
			attrs := append((*ap)[:0], attribute.String("rpc.system", "grpc"), attribute.Int("rpc.grpc.status_code", int(code)))
			if known {
				attrs = append(attrs, attribute.String("rpc.method", u.method))
				if !u.named {
					u.span.SetName(h.t.upstreamNames.get(u.method))
				}
			} else {
				attrs = append(attrs, attribute.String("rpc.method", otherMethod), attribute.String("rpc.method_original", clipOriginal(u.method)))
			}
			if u.endpoint != "" {
				host, port, ok := splitHostPort(u.endpoint)
				attrs = append(attrs, attribute.String("server.address", host))
				if ok {
					attrs = append(attrs, attribute.Int("server.port", port))
				}
			}
			u.span.SetAttributes(attrs...)
			putAttrs(ap, attrs)
			if code != codes.OK { // a client span fails with any error
				u.span.SetStatus(otelcodes.Error, code.String())
			}
		}
		u.span.End()
	}
}

// inject puts ctx's trace context (traceparent, tracestate, baggage) in its outgoing metadata,
// replacing the client's. When the metadata has none of those keys (absent says it is known to
// have none; else a call that did not come through the transparent proxy with a client's trace
// context) it appends without copying it. pc is an empty carrier to inject with (the metadata
// functions copy what they keep of it).
func inject(ctx context.Context, tr *tracing, carrier *pairCarrier, absent bool) context.Context {
	tr.prop.Inject(ctx, carrier)
	pc := *carrier
	if len(pc) == 0 {
		return ctx
	}
	replace := false
	for i := 0; i < len(pc) && !absent; i += 2 {
		if metadata.ValueFromOutgoingContext(ctx, pc[i]) != nil {
			replace = true
			break
		}
	}
	if !replace {
		return metadata.AppendToOutgoingContext(ctx, pc...)
	}
	md, _ := metadata.FromOutgoingContext(ctx) // a copy
	for _, k := range tr.fields {
		delete(md, k) // a stale tracestate or baggage must not outlive the traceparent it belonged to
	}
	for i := 0; i < len(pc); i += 2 {
		md[pc[i]] = []string{pc[i+1]}
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// pairCarrier collects what a propagator injects as key, value pairs.
type pairCarrier []string

func (c *pairCarrier) Get(string) string { return "" }
func (c *pairCarrier) Set(key, value string) {
	*c = append(*c, strings.ToLower(key), value)
}
func (c *pairCarrier) Keys() []string { return nil }

// splitHostPort splits "host:port" ("[v6]:port"), and parses the port: an int, as OpenTelemetry's
// server.port is. ok is false when addr has no port. Parsing a port's few digits costs less than
// looking a cached one up by address, and allocates nothing.
func splitHostPort(addr string) (host string, port int, ok bool) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 || strings.HasSuffix(addr, "]") {
		return addr, 0, false
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return strings.Trim(addr[:i], "[]"), 0, false
	}
	return strings.Trim(addr[:i], "[]"), port, true
}
