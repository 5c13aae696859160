package telemetry

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
)

// instrumentationName names the gateway's tracer.
const instrumentationName = "github.com/protogate/gateway/policies/telemetry"

// tracing is the tracer provider (exporter), the sampling of new traces, and the W3C propagators.
//
// A request the gateway does not sample gets its span without the SDK: start draws the new trace's
// ids and its sampling decision itself, as the SDK's ParentBased(TraceIDRatioBased) sampler would,
// and gives an unsampled request an unsampledSpan, which is what the SDK's span for it would be (a
// span context, nothing recorded) without the SDK's sampler, options and span processor lookups on
// the way. Only sampled requests start their spans through the SDK, whose sampler then follows the
// decision: a sampled parent's, or start's for a new trace.
type tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	fields   []string // the metadata keys prop reads and writes
	// sampleAll samples every new trace; else one is sampled when its trace id's last 63 bits,
	// read as a number, are below sampleBelow (TraceIDRatioBased's rule).
	sampleAll   bool
	sampleBelow uint64
}

func newTracing(cfg config.Tracing, exp sdktrace.SpanExporter) (*tracing, error) {
	name := cfg.ServiceName
	if name == "" {
		name = config.DefaultTracingServiceName
	}
	ratio := cfg.Ratio()
	opts := []sdktrace.TracerProviderOption{
		// A trace the client started keeps its sampling decision; a new one reaches the SDK only
		// once start has sampled it at the ratio (see tracing).
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithIDGenerator(idGenerator{}),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))),
	}
	if exp == nil {
		var err error
		if exp, err = exporter(cfg); err != nil {
			return nil, err
		}
	}
	if exp != nil {
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	return &tracing{
		provider:    tp,
		tracer:      tp.Tracer(instrumentationName),
		prop:        prop,
		fields:      prop.Fields(),
		sampleAll:   ratio >= 1,
		sampleBelow: uint64(max(ratio, 0) * (1 << 63)),
	}, nil
}

// exporter builds the configured OTLP exporter; nil for "none". Exporters connect lazily: an
// unreachable collector costs dropped spans, never a failed start.
func exporter(cfg config.Tracing) (sdktrace.SpanExporter, error) {
	headers := make(map[string]string, len(cfg.Headers))
	for _, h := range cfg.Headers {
		headers[h.Name] = h.Value
	}
	ctx := context.Background()
	switch cfg.Exporter {
	case config.TracingExporterOTLPGRPC:
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(cfg.Endpoint), otlptracegrpc.WithHeaders(headers)}
		if cfg.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	case config.TracingExporterOTLPHTTP:
		opts := []otlptracehttp.Option{otlptracehttp.WithHeaders(headers)}
		if strings.Contains(cfg.Endpoint, "://") {
			opts = append(opts, otlptracehttp.WithEndpointURL(cfg.Endpoint))
		} else {
			opts = append(opts, otlptracehttp.WithEndpoint(cfg.Endpoint))
		}
		if cfg.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		return otlptracehttp.New(ctx, opts...)
	}
	return nil, nil
}

// startServer extracts a request's trace context from carrier and starts its server span, named
// name, returning ctx with both. An unsampled span is kept in *unsampled, storage of the request's
// own.
func (tr *tracing) startServer(ctx context.Context, carrier propagation.TextMapCarrier, name string, unsampled *unsampledSpan) (context.Context, trace.Span) {
	ctx, span, _ := tr.start(ctx, carrier, name, unsampled)
	return ctx, span
}

// start is startServer; it also returns the context extracted from carrier (remote). The extraction
// and the SDK's two lookups of the parent work on a context of their own, a level or two deep,
// rather than on the request's, which on a gRPC call is a dozen levels deep and would be walked
// whole on each lookup when the client sent no trace.
func (tr *tracing) start(ctx context.Context, carrier propagation.TextMapCarrier, name string, unsampled *unsampledSpan) (_ context.Context, _ trace.Span, remote context.Context) {
	remote = tr.prop.Extract(context.Background(), carrier)
	if b := baggage.FromContext(remote); b.Len() > 0 {
		ctx = baggage.ContextWithBaggage(ctx, b)
	}
	var span trace.Span
	if sc, sampled := tr.sample(trace.SpanContextFromContext(remote)); sampled {
		parent := remote
		if sc.TraceID().IsValid() { // a new trace: the SDK's span takes the id it was sampled on
			parent = context.WithValue(remote, sampledTraceKey{}, sc.TraceID())
		}
		_, span = tr.tracer.Start(parent, name, serverSpan...)
	} else {
		*unsampled = unsampledSpan{sc: sc, tp: tr.provider}
		span = unsampled
	}
	return trace.ContextWithSpan(ctx, span), span, remote
}

// sample decides whether a request whose client sent the span context parent (invalid when it
// sent none) is sampled, as ParentBased(TraceIDRatioBased) would: in the parent's trace as the
// parent was, else in a new trace at the ratio, decided on the new trace's id. The span context
// returned is the request's when it is not sampled (the parent's trace and trace state, or the new
// trace, with a span id of its own); when a new trace is sampled it holds only the trace id, for
// the SDK's span to take (idGenerator).
func (tr *tracing) sample(parent trace.SpanContext) (trace.SpanContext, bool) {
	if parent.IsValid() {
		if parent.IsSampled() {
			return trace.SpanContext{}, true
		}
		return parent.WithSpanID(newSpanID()).WithRemote(false), false
	}
	if tr.sampleAll {
		return trace.SpanContext{}, true // the SDK draws the trace's ids itself
	}
	tid := newTraceID()
	if binary.BigEndian.Uint64(tid[8:])>>1 < tr.sampleBelow {
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid}), true
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: newSpanID()}), false
}

// sampledTraceKey holds, in the context a new trace's span starts from, the trace id sample drew
// and sampled it on.
type sampledTraceKey struct{}

// idGenerator draws the SDK's ids as the SDK does, except that a new trace sample has sampled
// keeps the id it was sampled on: a sampler downstream that decides by trace id at the same ratio
// then agrees.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if tid, ok := ctx.Value(sampledTraceKey{}).(trace.TraceID); ok {
		return tid, newSpanID()
	}
	return newTraceID(), newSpanID()
}

func (idGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

// newTraceID returns a random trace id, drawn as the SDK draws one.
func newTraceID() trace.TraceID {
	var tid trace.TraceID
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(tid[8:], rand.Uint64())
	}
	return tid
}

// newSpanID returns a random span id, drawn as the SDK draws one.
func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}

// unsampledSpan is the span of a request that is not sampled: its span context, and nothing
// recorded, as the SDK's own span of an unsampled request.
type unsampledSpan struct {
	embedded.Span
	sc trace.SpanContext
	tp trace.TracerProvider
}

func (s *unsampledSpan) SpanContext() trace.SpanContext        { return s.sc }
func (s *unsampledSpan) TracerProvider() trace.TracerProvider  { return s.tp }
func (*unsampledSpan) IsRecording() bool                       { return false }
func (*unsampledSpan) End(...trace.SpanEndOption)              {}
func (*unsampledSpan) AddEvent(string, ...trace.EventOption)   {}
func (*unsampledSpan) AddLink(trace.Link)                      {}
func (*unsampledSpan) RecordError(error, ...trace.EventOption) {}
func (*unsampledSpan) SetStatus(otelcodes.Code, string)        {}
func (*unsampledSpan) SetName(string)                          {}
func (*unsampledSpan) SetAttributes(...attribute.KeyValue)     {}

// startGRPC is startServer for a native gRPC call whose metadata md is the copy the proxy sends
// upstream. It readies md for the trace context of the call's upstream calls, once, so that they
// need not copy it (or, unsampled, even look at it), and reports what md then holds:
//   - sampled: each upstream call adds the context of a client span of its own, so md keeps none
//     of the client's (TraceAbsent);
//   - unsampled, in a trace the client sent: the upstream calls get no span of their own and go on
//     in the client's trace, unsampled, as the client's context in md says already (TraceCarried);
//   - unsampled, in a new trace: the server span's context is written into md (TraceCarried), so
//     that the upstream does not sample either.
func (tr *tracing) startGRPC(ctx context.Context, md metadata.MD, name string, unsampled *unsampledSpan) (context.Context, trace.Span, callinfo.UpstreamTrace) {
	ctx, span, remote := tr.start(ctx, mdCarrier(md), name, unsampled)
	sc := span.SpanContext()
	switch {
	case sc.IsSampled():
		tr.clear(md)
		return ctx, span, callinfo.TraceAbsent
	case !trace.SpanContextFromContext(remote).IsValid():
		tr.clear(md) // whatever the client sent that did not parse
		if baggage.FromContext(remote).Len() > 0 {
			tr.prop.Inject(trace.ContextWithSpan(remote, span), mdCarrier(md))
		} else {
			md[traceparentKey] = []string{traceparent(sc)}
		}
	}
	return ctx, span, callinfo.TraceCarried
}

// traceparentKey is the metadata key of W3C trace context's traceparent.
const traceparentKey = "traceparent"

// traceparent renders sc as W3C trace context's traceparent, as propagation.TraceContext does:
// version 00, the trace id, the span id and the sampled flag.
func traceparent(sc trace.SpanContext) string {
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [55]byte
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	copy(b[52:], "-00")
	if sc.IsSampled() {
		b[54] = '1'
	}
	return string(b[:])
}

// clear deletes the trace context keys from md.
func (tr *tracing) clear(md metadata.MD) {
	for _, k := range tr.fields {
		delete(md, k)
	}
}

// Start begins a stage of a request (callinfo.Tracer): a GraphQL field's call of a method. It makes
// the stage's span when the request is sampled, and on GraphQL observes the call's metrics when it
// ends, as the other fronts observe their requests.
func (t *Telemetry) Start(ctx context.Context, stage, method string) (context.Context, func(error)) {
	var span trace.Span
	if t.tracing != nil && trace.SpanFromContext(ctx).SpanContext().IsSampled() {
		ctx, span = t.tracing.tracer.Start(ctx, stage+" "+strings.TrimPrefix(method, "/"),
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(attribute.String("rpc.method", method)))
	}
	m := t.metrics
	if span == nil && m == nil {
		return ctx, noEnd
	}
	start := time.Now()
	return ctx, func(err error) {
		if m != nil {
			m.observe(graphqlFront, method, codeName(status.Code(err)), time.Since(start))
		}
		if span != nil {
			endSpan(span, err, false)
		}
	}
}

var graphqlFront = string(policy.FrontGraphQL)

func noEnd(error) {}

// endSpan sets a span's status from a call's result, then ends it. A server span is marked as
// failed only for the codes that mean the server failed; a client span for any error.
func endSpan(span trace.Span, err error, server bool) {
	code := status.Code(err)
	span.SetAttributes(attribute.Int("rpc.grpc.status_code", int(code)))
	if code != codes.OK && (!server || serverFault(code)) {
		span.SetStatus(otelcodes.Error, code.String())
	}
	span.End()
}

// serverFault reports whether code says the server, rather than the client, failed (as
// OpenTelemetry's gRPC conventions define it).
func serverFault(code codes.Code) bool {
	switch code {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// mdCarrier is a gRPC call's copy of its incoming metadata as the propagators' carrier: grpc has
// lower-cased its keys, so each read is one map lookup; Set replaces a key's values (startGRPC
// writes the trace context its upstream calls carry).
type mdCarrier metadata.MD

func (c mdCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Values returns every value of key: the baggage propagator joins several baggage entries.
func (c mdCarrier) Values(key string) []string { return c[key] }

func (c mdCarrier) Set(key, value string) { c[strings.ToLower(key)] = []string{value} }

func (c mdCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
