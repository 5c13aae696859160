package telemetry

import (
	"context"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
)

// unknownMethod labels calls that named no method the gateway serves: the label's values stay
// bounded whatever clients send.
const unknownMethod = "unknown"

// observation is what is reported about one finished request.
type observation struct {
	front        string
	method       string // for the log and span: the admitted method, or what the client asked for
	metricMethod string // for metrics: a served method or unknownMethod
	route        string
	httpMethod   string // HTTP fronts only
	path         string
	httpStatus   int
	code         codes.Code
	latency      time.Duration
	bytesIn      int64
	bytesOut     int64
	endpoint     string
	consumer     string
	calls        int
	denial       callinfo.Denial
	traceID      string
	spanID       string
	clientIP     string
	hdr          http.Header // request headers (HTTP fronts) or
	md           metadata.MD // request metadata (gRPC)
}

// header returns the first value of the request header name (lower case).
func (o *observation) header(name string) string {
	if o.hdr != nil {
		return o.hdr.Get(name)
	}
	if v := o.md[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// record copies what the request's Info recorded into o.
func (o *observation) record(s callinfo.Snapshot) {
	if s.Method != "" {
		o.method, o.metricMethod = s.Method, s.Method
	}
	o.route, o.endpoint, o.consumer, o.calls, o.denial = s.Route, s.Endpoint, s.Consumer, s.Calls, s.Denial
}

// finish reports a finished request: its span, metrics and access-log line.
func (t *Telemetry) finish(ctx context.Context, o *observation, span trace.Span) {
	if o.metricMethod == "" {
		o.metricMethod = unknownMethod
	}
	if span != nil {
		if sc := span.SpanContext(); sc.IsValid() && t.access != nil {
			o.traceID, o.spanID = sc.TraceID().String(), sc.SpanID().String()
		}
		if span.IsRecording() {
			// All the span's attributes at once: one allocation, where setting them as they become
			// known (start, admission, end) grows the span's attributes several times.
			attrs := make([]attribute.KeyValue, 0, 12)
			attrs = append(attrs, attribute.String("gateway.front", o.front))
			if o.httpMethod != "" {
				attrs = append(attrs, attribute.String("http.request.method", o.httpMethod), attribute.String("url.path", o.path))
			} else {
				attrs = append(attrs, attribute.String("rpc.system", "grpc"))
			}
			if (o.calls > 0 && o.front != graphqlFront) || o.httpMethod == "" {
				// A front's request calls one method, named when admitted (on GraphQL each field's
				// span names its own).
				attrs = append(attrs, attribute.String("rpc.method", o.method))
				if o.httpMethod != "" {
					span.SetName(t.spanNameOf(o.front, o.method))
				}
			}
			if o.consumer != "" {
				attrs = append(attrs, attribute.String("gateway.consumer", o.consumer))
			}
			attrs = append(attrs, attribute.Int("rpc.grpc.status_code", int(o.code)))
			if o.httpStatus != 0 {
				attrs = append(attrs, attribute.Int("http.response.status_code", o.httpStatus))
			}
			if o.route != "" {
				attrs = append(attrs, attribute.String("http.route", o.route))
			}
			if o.denial.Policy != "" {
				attrs = append(attrs, attribute.String("gateway.denied_by", o.denial.Policy),
					attribute.String("gateway.deny_reason", o.denial.Reason))
			}
			span.SetAttributes(attrs...)
			if serverFault(o.code) {
				span.SetStatus(otelcodes.Error, o.code.String())
			}
		}
		span.End()
	}
	if m := t.metrics; m != nil {
		// GraphQL counts the methods its fields resolve through (observed as each call ends), not
		// the HTTP requests that carry the queries.
		if o.front != string(policy.FrontGraphQL) {
			m.observe(o.front, o.metricMethod, codeName(o.code), o.latency)
		}
		if o.denial.Policy != "" {
			m.denials.WithLabelValues(o.front, o.denial.Policy, o.denial.Reason).Inc()
		}
	}
	if t.access != nil {
		t.access.write(ctx, o)
	}
}

// codeNames are the canonical names of the gRPC status codes, as metrics label them.
var codeNames = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// codeName returns the canonical name of code ("NOT_FOUND").
func codeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "UNKNOWN"
}

// spanNameOf is spanName, cached.
func (t *Telemetry) spanNameOf(front, method string) string {
	if c := t.spanNames[front]; c != nil {
		return c.get(method)
	}
	return spanName(front, method)
}

// The options of the spans the gateway starts, built once: an option made per span allocates.
var (
	serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
)

// spanName names a front's server span for a method: "rest shop.users.v1.UserService/GetUser".
func spanName(front, method string) string { return front + " " + strings.TrimPrefix(method, "/") }
