// Package telemetry traces (OpenTelemetry), measures (Prometheus) and logs (one JSON line per request)
// every front's calls, the same way whichever front they came through.
//
// Data flow: the HTTP middleware (gRPC-Web, REST, GraphQL) or the gRPC stream interceptor (native
// gRPC) starts each request: it extracts the W3C trace context (traceparent, tracestate, baggage),
// starts the request's server span and puts a callinfo.Info in the request's context. As the request
// crosses the gateway, the REST front records the route it matched, the telemetry Step (in every
// method's admission chain, after authentication) the method and consumer, policies that refuse it
// their reason, the GraphQL executor a span per field that calls a method, and the upstream client
// interceptors (DialOptions) a client span per upstream call — injecting the gateway's span as the
// upstream's parent — and the endpoint and status of the call. When the request ends, the middleware
// or interceptor ends the span, observes the metrics and writes the access-log line from what the
// Info recorded.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/routing"
)

// Config is the telemetry part of the policies, and the sources of the gateway-wide metrics.
type Config struct {
	Tracing   config.Tracing
	Metrics   config.Metrics
	AccessLog config.AccessLog
	// SecretHeaders are credential headers whose names do not say so (the API key header
	// policies.auth configures, which config.IsSecretHeader is told of), which the access log
	// never records either.
	SecretHeaders []string

	// Endpoints, when set, reports the upstream endpoints' resilience state (routing.Pool.Stats) for
	// the breaker, health and ejection metrics; it is called at each scrape.
	Endpoints func() []routing.EndpointStats
	// Snapshot, when set, reports the serving snapshot's version and its number of registrations;
	// it is called at each scrape.
	Snapshot func() (version uint64, registrations int)

	// SpanExporter, when set, receives the spans instead of the configured exporter (tests).
	SpanExporter sdktrace.SpanExporter
	// AccessLogWriter, when set, receives the access-log lines instead of AccessLog.Output (tests,
	// benchmarks); the access log is on even if Output is "off".
	AccessLogWriter io.Writer
}

// Telemetry holds the long-lived telemetry state: tracer provider and exporter, metric registry,
// access-log writer. Its methods are safe for concurrent use.
type Telemetry struct {
	tracing *tracing      // nil when tracing is off
	metrics *metrics      // nil when metrics are off
	access  *accessLogger // nil when the access log is off

	spanNames     map[string]*nameCache        // by front: "rest shop.users.v1.UserService/GetUser"
	upstreamNames *nameCache                   // "upstream shop.users.v1.UserService/GetUser"
	clientIPs     cowCache[netip.Addr, string] // native gRPC clients' addresses, rendered
}

// New builds the telemetry for cfg. log receives the exporters' and the access-log file's own
// problems: with tracing on, New makes it OpenTelemetry's error handler, which is process-wide
// (otel.SetErrorHandler), so the last telemetry built gets them.
func New(cfg Config, log *slog.Logger) (*Telemetry, error) {
	if log == nil {
		log = slog.Default()
	}
	t := &Telemetry{spanNames: make(map[string]*nameCache, 4)}
	for _, f := range []policy.Front{policy.FrontGRPC, policy.FrontGRPCWeb, policy.FrontREST, policy.FrontGraphQL} {
		front := string(f)
		t.spanNames[front] = newNameCache(func(method string) string { return spanName(front, method) })
	}
	t.clientIPs.max = maxCachedNames
	t.upstreamNames = newNameCache(func(method string) string { return "upstream " + strings.TrimPrefix(method, "/") })
	var err error
	if cfg.Tracing.Enabled || cfg.SpanExporter != nil {
		if t.tracing, err = newTracing(cfg.Tracing, cfg.SpanExporter); err != nil {
			return nil, fmt.Errorf("telemetry: tracing: %w", err)
		}
		otel.SetErrorHandler(newErrorLog(log))
	}
	if !cfg.Metrics.Disabled {
		t.metrics = newMetrics(cfg.Endpoints, cfg.Snapshot)
	}
	if cfg.AccessLogWriter != nil || cfg.AccessLog.Output != "" && cfg.AccessLog.Output != config.AccessLogOff {
		if t.access, err = newAccessLogger(cfg.AccessLog, cfg.SecretHeaders, cfg.AccessLogWriter); err != nil {
			_ = t.Close()
			return nil, fmt.Errorf("telemetry: access log: %w", err)
		}
	}
	return t, nil
}

// on reports whether anything is observed at all.
func (t *Telemetry) on() bool {
	return t != nil && (t.tracing != nil || t.metrics != nil || t.access != nil)
}

// Middleware wraps the HTTP fronts: trace context extraction and server spans, request metrics, the
// access log. nil when all are off. Native gRPC (policy.FrontGRPC) is left to StreamInterceptor.
func (t *Telemetry) Middleware() policy.Middleware {
	if !t.on() {
		return nil
	}
	return t.middleware
}

// StreamInterceptor does the same for the native gRPC front; nil when all are off. A call already
// observed by Middleware (gRPC over TLS reaches grpc.Server through net/http) passes straight through.
func (t *Telemetry) StreamInterceptor() grpc.StreamServerInterceptor {
	if !t.on() {
		return nil
	}
	return t.intercept
}

// Step records the admitted call (method, consumer) for the request's access-log line and span; nil
// when all are off.
func (t *Telemetry) Step() policy.Step {
	if !t.on() {
		return nil
	}
	return policy.StepFunc(t.admit)
}

// MetricsHandler serves /metrics on the admin port; nil when metrics are off.
func (t *Telemetry) MetricsHandler() http.Handler {
	if t == nil || t.metrics == nil {
		return nil
	}
	return t.metrics.handler
}

// ClosedPrematureResets is the reason ConnectionClosed counts a connection closed because its client
// reset most of its HTTP/2 streams right after opening them (HTTP/2 rapid reset).
const ClosedPrematureResets = "premature_resets"

// ConnectionClosed counts a client connection the gateway closed for reason
// (gateway_connections_closed_total); it does nothing when metrics are off.
func (t *Telemetry) ConnectionClosed(reason string) {
	if t == nil || t.metrics == nil {
		return
	}
	t.metrics.closed.WithLabelValues(reason).Inc()
}

// MetricsPath is where MetricsHandler is to be served.
func MetricsPath(m config.Metrics) string {
	if m.Path == "" {
		return config.DefaultMetricsPath
	}
	return m.Path
}

// DialOptions instrument upstream connections: a client span per upstream call, trace context
// injected into its metadata, upstream latency per endpoint. nil when tracing and metrics are off.
func (t *Telemetry) DialOptions() []grpc.DialOption {
	if t == nil || t.tracing == nil && t.metrics == nil && t.access == nil {
		return nil
	}
	h := &upstreamHandler{t: t}
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(h.unary), grpc.WithChainStreamInterceptor(h.stream)}
}

// Close flushes and stops exporters, and closes the access-log file.
func (t *Telemetry) Close() error {
	if t == nil {
		return nil
	}
	var errs []error
	if t.tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := t.tracing.provider.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("telemetry: tracing: %w", err))
		}
	}
	if t.access != nil {
		if err := t.access.close(); err != nil {
			errs = append(errs, fmt.Errorf("telemetry: access log: %w", err))
		}
	}
	return errors.Join(errs...)
}
