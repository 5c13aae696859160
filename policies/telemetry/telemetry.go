// Package telemetry traces (OpenTelemetry), measures (Prometheus) and logs (one JSON line per request)
// every front's calls. STUB: the contract the policies package compiles against; the telemetry work
// fills it in.
package telemetry

import (
	"log/slog"
	"net/http"

	"google.golang.org/grpc"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// Config is the telemetry part of the policies.
type Config struct {
	Tracing   config.Tracing
	Metrics   config.Metrics
	AccessLog config.AccessLog
}

// Telemetry holds the long-lived telemetry state: tracer provider and exporter, metric registry,
// access-log writer.
type Telemetry struct{}

// New builds the telemetry for cfg.
func New(cfg Config, log *slog.Logger) (*Telemetry, error) { return &Telemetry{}, nil }

// Middleware wraps the HTTP fronts: trace context extraction and server spans, request metrics, the
// access log. nil when all are off.
func (t *Telemetry) Middleware() policy.Middleware { return nil }

// StreamInterceptor does the same for the native gRPC front; nil when all are off.
func (t *Telemetry) StreamInterceptor() grpc.StreamServerInterceptor { return nil }

// Step records the admitted call (method, consumer) for the request's access-log line and span; nil
// when all are off.
func (t *Telemetry) Step() policy.Step { return nil }

// MetricsHandler serves /metrics on the admin port; nil when metrics are off.
func (t *Telemetry) MetricsHandler() http.Handler { return nil }

// DialOptions instrument upstream connections: a client span per upstream call, trace context
// injected into its metadata.
func (t *Telemetry) DialOptions() []grpc.DialOption { return nil }

// Close flushes and stops exporters.
func (t *Telemetry) Close() error { return nil }
