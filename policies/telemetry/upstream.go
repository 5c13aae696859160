package telemetry

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/telemetry/callinfo"
)

// upstreamHandler instruments the gateway's upstream connections (a grpc stats.Handler): a client
// span per call (each attempt of a retried one) whose context is sent upstream in place of whatever
// trace context the client sent — the transparent proxy forwards the client's metadata, so without
// this the upstream would see the client's span as its parent — and the call's latency per
// endpoint.
type upstreamHandler struct{ t *Telemetry }

type upstreamKey struct{}

// upstreamCall is one upstream call in flight.
type upstreamCall struct {
	method   string
	start    time.Time
	span     trace.Span // nil when tracing is off
	info     *callinfo.Info
	endpoint string
}

// TagRPC starts the call's span and puts its trace context in the call's outgoing metadata.
func (h *upstreamHandler) TagRPC(ctx context.Context, ti *stats.RPCTagInfo) context.Context {
	u := &upstreamCall{method: ti.FullMethodName, start: time.Now(), info: callinfo.From(ctx)}
	if tr := h.t.tracing; tr != nil {
		// Its attributes are set when the call ends, all at once.
		ctx, u.span = tr.tracer.Start(ctx, h.t.upstreamNames.get(ti.FullMethodName), clientSpan...)
		ctx = inject(ctx, tr.prop)
	}
	return context.WithValue(ctx, upstreamKey{}, u)
}

// HandleRPC learns the endpoint when the call's headers leave, and reports the call when it ends.
func (h *upstreamHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	u, _ := ctx.Value(upstreamKey{}).(*upstreamCall)
	if u == nil {
		return
	}
	switch s := s.(type) {
	case *stats.OutHeader:
		if s.RemoteAddr != nil {
			u.endpoint = s.RemoteAddr.String()
			u.info.SetUpstream(u.endpoint)
		}
	case *stats.End:
		code := status.Code(s.Error)
		u.info.SetUpstreamCode(uint32(code))
		if m := h.t.metrics; m != nil {
			endpoint := u.endpoint
			if endpoint == "" {
				endpoint = unknownMethod // the call never reached a connection
			}
			m.upstream.WithLabelValues(endpoint, codeName(code)).Observe(s.EndTime.Sub(u.start).Seconds())
		}
		if u.span != nil {
			if u.span.IsRecording() {
				attrs := make([]attribute.KeyValue, 3, 5)
				attrs[0], attrs[1] = attribute.String("rpc.system", "grpc"), attribute.String("rpc.method", u.method)
				attrs[2] = attribute.Int("rpc.grpc.status_code", int(code))
				if u.endpoint != "" {
					host, port := splitHostPort(u.endpoint)
					attrs = append(attrs, attribute.String("server.address", host), attribute.String("server.port", port))
				}
				u.span.SetAttributes(attrs...)
				if code != codes.OK { // a client span fails with any error
					u.span.SetStatus(otelcodes.Error, code.String())
				}
			}
			u.span.End()
		}
	}
}

// TagConn and HandleConn observe nothing about connections.
func (h *upstreamHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (h *upstreamHandler) HandleConn(context.Context, stats.ConnStats) {}

// inject puts ctx's trace context (traceparent, tracestate, baggage) in its outgoing metadata,
// replacing the client's. When the metadata has none of those keys (a call that did not come
// through the transparent proxy with a client's trace context) it appends without copying it.
func inject(ctx context.Context, prop propagation.TextMapPropagator) context.Context {
	var pc pairCarrier
	prop.Inject(ctx, &pc)
	if len(pc) == 0 {
		return ctx
	}
	replace := false
	for i := 0; i < len(pc); i += 2 {
		if metadata.ValueFromOutgoingContext(ctx, pc[i]) != nil {
			replace = true
			break
		}
	}
	if !replace {
		return metadata.AppendToOutgoingContext(ctx, pc...)
	}
	md, _ := metadata.FromOutgoingContext(ctx) // a copy
	for _, k := range prop.Fields() {
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

// splitHostPort splits "host:port", leaving port empty when there is none.
func splitHostPort(addr string) (host, port string) {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && !strings.HasSuffix(addr, "]") {
		return strings.Trim(addr[:i], "[]"), addr[i+1:]
	}
	return addr, ""
}
