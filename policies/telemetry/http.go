package telemetry

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
)

// middleware wraps an HTTP front (policy.Middleware). Native gRPC is observed by the interceptor.
func (t *Telemetry) middleware(front policy.Front, next http.Handler) http.Handler {
	return t.middlewareWith(front, nil, nil, next)
}

// BaseContext adds to the context of a request of front what the handler that wraps the fronts
// records there (the front, the client's peer).
type BaseContext func(ctx context.Context, front policy.Front, w http.ResponseWriter, r *http.Request) context.Context

// MiddlewareWith is Middleware, for a handler that would otherwise derive the request's context
// with base itself just before: the middleware applies base to the request's context along with
// its own values, so that the request is copied (r.WithContext) once rather than twice. resolve,
// when set, names the method a REST request calls and the route it matched: a request refused
// before anything recorded them (by the input limits or the firewall) is observed under them,
// rather than "unknown" and no route, and so is one the front ended itself before any policy
// admitted it (callinfo.EndCall: a body that came too late, or that its client gave up on); it is
// asked only then. nil when telemetry is off.
func (t *Telemetry) MiddlewareWith(base BaseContext, resolve Resolve) func(policy.Front, http.Handler) http.Handler {
	if !t.on() {
		return nil
	}
	return func(front policy.Front, next http.Handler) http.Handler {
		if front != policy.FrontREST {
			return t.middlewareWith(front, base, nil, next)
		}
		return t.middlewareWith(front, base, resolve, next)
	}
}

// Resolve names the method a REST request calls and the route template it matched.
type Resolve func(r *http.Request) (method, route string, ok bool)

func (t *Telemetry) middlewareWith(front policy.Front, base BaseContext, resolve Resolve, next http.Handler) http.Handler {
	if front == policy.FrontGRPC {
		if base == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(base(r.Context(), front, w, r)))
		})
	}
	fr := string(front)
	graphql := front == policy.FrontGraphQL
	// Until the call's method is known, spans are named for the HTTP method, one the conventions
	// know or otherMethod: keys and names stay bounded whatever verbs clients send.
	startNames := newNameCache(func(method string) string { return fr + " " + method })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &httpState{rw: responseWriter{ResponseWriter: w}} // one allocation for both
		rw, info := &st.rw, &st.info
		info.Init()
		ctx := r.Context()
		if base != nil {
			ctx = base(ctx, front, w, r)
		}
		var span trace.Span
		var name string
		if t.tracing != nil {
			// Its attributes are set when the request ends, all at once (see finish).
			name = startNames.get(httpMethodName(r.Method))
			ctx, span = t.tracing.startServer(ctx, headerCarrier(r.Header), name, &st.span)
		}
		if t.tracing != nil || graphql && t.metrics != nil {
			info.Tracer = t // GraphQL field calls: spans, and metrics per method
		}
		ctx = callinfo.With(ctx, info)
		// Observed when the handler returns or panics: a response the handler aborts (a panic with
		// http.ErrAbortHandler, as a REST download stream that fails midway ends) still has its
		// access-log line, metrics and span, with the code its call ended with.
		defer func() {
			end := time.Now()
			o := observation{
				front:      fr,
				spanName:   name,
				httpMethod: r.Method,
				path:       r.URL.Path,
				httpStatus: rw.statusCode(),
				end:        end,
				latency:    end.Sub(start),
				bytesIn:    max(r.ContentLength, 0),
				bytesOut:   rw.bytes,
				clientIP:   hostOf(r.RemoteAddr),
				hdr:        r.Header,
			}
			snap := info.Snapshot()
			if snap.Method == "" && (snap.Denial.Policy != "" || snap.EndedCode >= 0) && resolve != nil {
				if method, route, ok := resolve(r); ok {
					snap.Method = method
					if snap.Route == "" {
						snap.Route = route
					}
				}
			}
			if c := rw.hijacked; c != nil { // a WebSocket: what crossed the connection after the handshake
				o.bytesIn += c.in.Load()
				o.bytesOut += c.out.Load()
			}
			o.record(snap)
			if front == policy.FrontGRPCWeb && snap.Method == "" && ownService(r.URL.Path) {
				// A call of a service the gateway answers itself, which no admission names: named
				// by its path, as the gRPC front names it.
				o.method, o.metricMethod = r.URL.Path, r.URL.Path
			}
			o.code = httpCallCode(front, o.httpStatus, rw.Header(), snap)
			t.finish(ctx, &o, span)
		}()
		next.ServeHTTP(rw, r.WithContext(ctx))
	})
}

// httpCallCode returns the gRPC status code an HTTP front's request ended with: gRPC-Web's own
// status when the response carries it in its headers, the refusing policy's, the one the REST front
// ended the call with itself or the upstream's code when there was one (on REST whatever the HTTP
// status: a stream that fails after its 200, or on a WebSocket, failed all the same), otherwise the
// code that the HTTP status stands for.
func httpCallCode(front policy.Front, httpStatus int, h http.Header, s callinfo.Snapshot) codes.Code {
	if v := h.Get("Grpc-Status"); v != "" {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			return codes.Code(n)
		}
	}
	switch {
	case s.Denial.Policy != "":
		return codes.Code(s.Denial.Code)
	case front == policy.FrontGRPCWeb && s.UpstreamCode >= 0:
		return codes.Code(s.UpstreamCode)
	case front == policy.FrontREST && s.EndedCode >= 0:
		return codes.Code(s.EndedCode)
	case front == policy.FrontREST && s.UpstreamCode > 0:
		return codes.Code(s.UpstreamCode)
	}
	return codeForHTTP(httpStatus)
}

// codeForHTTP maps an HTTP status to the gRPC code the gateway renders as that status.
func codeForHTTP(s int) codes.Code {
	switch {
	case s < 400:
		return codes.OK
	case s == http.StatusBadRequest, s == http.StatusUnsupportedMediaType, s == http.StatusUnprocessableEntity:
		return codes.InvalidArgument
	case s == http.StatusUnauthorized:
		return codes.Unauthenticated
	case s == http.StatusForbidden:
		return codes.PermissionDenied
	case s == http.StatusNotFound:
		return codes.NotFound
	case s == http.StatusMethodNotAllowed, s == http.StatusNotImplemented, s == http.StatusHTTPVersionNotSupported:
		return codes.Unimplemented
	case s == http.StatusConflict:
		return codes.Aborted
	case s == http.StatusPreconditionFailed:
		return codes.FailedPrecondition
	case s == http.StatusRequestEntityTooLarge, s == http.StatusTooManyRequests, s == http.StatusRequestHeaderFieldsTooLarge:
		return codes.ResourceExhausted
	case s == 499:
		return codes.Canceled
	case s == http.StatusServiceUnavailable, s == http.StatusBadGateway:
		return codes.Unavailable
	case s == http.StatusGatewayTimeout, s == http.StatusRequestTimeout:
		return codes.DeadlineExceeded
	case s < 500:
		return codes.InvalidArgument
	default:
		return codes.Internal
	}
}

// hostOf returns the host of a "host:port" remote address.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// httpState is a request's response writer and Info, allocated together.
type httpState struct {
	rw   responseWriter
	info callinfo.Info
	span unsampledSpan // the request's span, when it is not sampled
}

// responseWriter records the status and size of a response. It passes flushes and hijacks through,
// and unwraps for http.ResponseController; a hijacked connection is counted (countingConn). It runs
// an inner middleware's policy.HeaderHook (CORS) before the headers are written, sparing that
// middleware a writer of its own.
type responseWriter struct {
	http.ResponseWriter
	status   int
	bytes    int64
	hook     policy.HeaderHook // nil when none, or once run
	hijacked *countingConn     // the connection once hijacked (a WebSocket), else nil
}

var _ policy.HookWriter = (*responseWriter)(nil)

// SetHeaderHook sets the hook to run before the headers are written (policy.HookWriter).
func (w *responseWriter) SetHeaderHook(h policy.HeaderHook) bool {
	if w.hook != nil || w.status != 0 {
		return false
	}
	w.hook = h
	return true
}

// runHook runs the header hook, once.
func (w *responseWriter) runHook() {
	if h := w.hook; h != nil {
		w.hook = nil
		h.BeforeHeader(w.ResponseWriter.Header())
	}
}

func (w *responseWriter) WriteHeader(code int) {
	w.runHook()
	if w.status == 0 || w.status < 200 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.runHook()
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// statusCode is the response's status: 200 when the handler wrote nothing.
func (w *responseWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

func (w *responseWriter) Flush() {
	w.runHook()
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (to a WebSocket), wrapped so that the request's line counts the
// bytes that then cross it: see countingConn.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return conn, rw, err
	}
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	c := &countingConn{Conn: conn}
	w.hijacked = c
	return c, c.wrap(rw), nil
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// headerCarrier reads a request's trace context headers for the propagators, by their canonical
// names: propagation.HeaderCarrier canonicalises each name it is asked for, an allocation per
// lookup and two or three per request, though net/http (HTTP/1 and HTTP/2) has canonicalised the
// request's header names already. Extraction only reads: Set and Keys serve the interface.
type headerCarrier http.Header

// canonical returns the canonical form of a propagator's (lower-case) header name.
func canonical(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return http.CanonicalHeaderKey(key)
}

func (c headerCarrier) Get(key string) string {
	if v := c[canonical(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Values returns every value of key: the baggage propagator joins several baggage headers.
func (c headerCarrier) Values(key string) []string { return c[canonical(key)] }

func (c headerCarrier) Set(key, value string) { http.Header(c).Set(key, value) }

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
