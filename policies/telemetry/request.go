package telemetry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
)

// unknownMethod labels calls that named no method the gateway serves, and names their spans: the
// label's values and the span names stay bounded whatever clients send.
const unknownMethod = "unknown"

// otherMethod is what OpenTelemetry's conventions record in rpc.method for a method the server does
// not know, and in http.request.method (and span names) for an HTTP method outside the standard
// ones; rpc.method_original and http.request.method_original then hold the client's, clipped.
const otherMethod = "_OTHER"

// observation is what is reported about one finished request.
type observation struct {
	front        string
	method       string // for the log and span: the admitted method, or what the client asked for
	metricMethod string // for metrics and the span's name: a served method or unknownMethod
	spanName     string // the name the server span started with
	route        string
	httpMethod   string // HTTP fronts only
	path         string
	httpStatus   int
	code         codes.Code
	end          time.Time // when the request ended: the access log's time
	latency      time.Duration
	bytesIn      int64
	bytesOut     int64
	endpoint     string
	consumer     string
	calls        int // admitted
	upstreams    int // upstream calls made
	denial       callinfo.Denial
	trace        trace.SpanContext // the server span's, when the request is traced: the log's ids
	clientIP     string
	hdr          http.Header // request headers (HTTP fronts) or
	md           metadata.MD // the request's incoming metadata (gRPC), keys in lower case
}

// header returns the first value of the request header name (lower case); canon is name in
// canonical form, which HTTP requests' headers are keyed by (http.Header.Get would canonicalise
// name, an allocation per call).
func (o *observation) header(name, canon string) string {
	if o.hdr != nil {
		if v := o.hdr[canon]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if v := o.md[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// record copies what the request's Info recorded into o.
func (o *observation) record(s callinfo.Snapshot) {
	if s.Method != "" {
		o.method = s.Method
		// A method of no descriptor is named by the client: labelled by name only once its
		// upstream served it (answered other than UNIMPLEMENTED), so that names made up by
		// clients make no series.
		if !s.Unregistered || s.UpstreamCode >= 0 && codes.Code(s.UpstreamCode) != codes.Unimplemented {
			o.metricMethod = s.Method
		}
	}
	o.route, o.endpoint, o.consumer, o.calls, o.upstreams, o.denial = s.Route, s.Endpoint, s.Consumer, s.Calls, s.UpstreamCalls, s.Denial
}

// finish reports a finished request: its span, metrics and access-log line.
func (t *Telemetry) finish(ctx context.Context, o *observation, span trace.Span) {
	if o.metricMethod == "" {
		o.metricMethod = unknownMethod
	}
	if span != nil {
		if t.access != nil {
			o.trace = span.SpanContext()
		}
		if span.IsRecording() {
			// All the span's attributes at once, from a pooled scratch slice (SetAttributes copies
			// them): setting them as they become known grows the span's attributes several times.
			ap := attrPool.Get().(*[]attribute.KeyValue)
			attrs := append((*ap)[:0], attribute.String("gateway.front", o.front))
			if o.httpMethod != "" {
				m := httpMethodName(o.httpMethod)
				attrs = append(attrs, attribute.String("http.request.method", m), attribute.String("url.path", validUTF8(o.path)))
				if m != o.httpMethod {
					attrs = append(attrs, attribute.String("http.request.method_original", clipOriginal(o.httpMethod)))
				}
			} else {
				attrs = append(attrs, attribute.String("rpc.system", "grpc"))
			}
			if o.method != "" && o.front != graphqlFront {
				// A front's request calls one method, named when it was admitted, refused or resolved
				// from the REST binding the request matched (on GraphQL each field's span names its
				// own, and the request's keeps its HTTP method's name). A method the gateway does not
				// serve is the client's name: the span takes the metrics' bounded name for it.
				if o.metricMethod == unknownMethod {
					attrs = append(attrs, attribute.String("rpc.method", otherMethod),
						attribute.String("rpc.method_original", clipOriginal(o.method)))
				} else {
					attrs = append(attrs, attribute.String("rpc.method", o.method))
				}
				if name := t.spanNameOf(o.front, o.metricMethod); name != o.spanName {
					span.SetName(name)
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
			putAttrs(ap, attrs)
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

// attrPool holds the scratch slices span attributes are gathered in before SetAttributes copies
// them: a slice made per span escapes (SetAttributes is an interface method) and costs an
// allocation of about 800 bytes per request.
var attrPool = sync.Pool{New: func() any { s := make([]attribute.KeyValue, 0, 16); return &s }}

// putAttrs returns a scratch slice to attrPool, cleared so that it keeps no strings alive.
func putAttrs(p *[]attribute.KeyValue, attrs []attribute.KeyValue) {
	clear(attrs)
	*p = attrs[:0]
	attrPool.Put(p)
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

// spanNameOf is spanName, cached: for a method the gateway serves, or unknownMethod.
func (t *Telemetry) spanNameOf(front, method string) string {
	if c := t.spanNames[front]; c != nil {
		return c.get(method)
	}
	return spanName(front, method)
}

// startName is the name a server span of a call of method starts with, before the call shows
// whether the gateway serves the method: the method's span name when an earlier call cached it,
// else the name of unknownMethod's, which finish corrects once the method turns out served. A
// method a client made up is thus never cached.
func (t *Telemetry) startName(front, method string) string {
	c := t.spanNames[front]
	if name, ok := c.lookup(method); ok {
		return name
	}
	return c.get(unknownMethod)
}

// httpMethodName returns an HTTP method as OpenTelemetry's HTTP conventions record it: one of the
// methods they know (RFC 9110's, PATCH and QUERY) as it is, any other as otherMethod.
func httpMethodName(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodConnect, http.MethodOptions, http.MethodTrace, http.MethodPatch, "QUERY":
		return m
	}
	return otherMethod
}

// maxOriginal bounds the client's own names kept in span attributes (rpc.method_original,
// http.request.method_original): names of nothing the gateway serves, of any length.
const maxOriginal = 128

// clipOriginal returns a client's name for a span attribute: at most maxOriginal bytes, cut
// between characters, and valid UTF-8, which OTLP's strings must be.
func clipOriginal(s string) string {
	if len(s) > maxOriginal {
		n := maxOriginal
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return validUTF8(s)
}

// validUTF8 returns s with each invalid byte sequence replaced by U+FFFD: a request path decodes to
// whatever bytes its client escaped, and one span attribute that is not UTF-8 would fail the OTLP
// export (protobuf strings are UTF-8) of its whole batch, every other request's spans with it.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// The options of the spans the gateway starts, built once: an option made per span allocates.
var (
	serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
)

// spanName names a front's server span for a method: "rest shop.users.v1.UserService/GetUser".
func spanName(front, method string) string { return front + " " + strings.TrimPrefix(method, "/") }
