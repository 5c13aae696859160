package demo

import (
	"os"
	"strings"

	"github.com/protogate/gateway/config"
)

// demoTelemetry sets the demo's telemetry: an access-log line per request on stdout, Prometheus
// metrics on the admin port (/metrics), and tracing on with every trace sampled, so log lines carry
// trace ids and upstreams get the gateway's spans as parents. Spans are exported only when
// OTEL_EXPORTER_OTLP_ENDPOINT names an OTLP/gRPC collector ("http://localhost:4317" or
// "localhost:4317"; plaintext unless it says https).
func demoTelemetry(p *config.Policies) {
	p.AccessLog = config.AccessLog{Output: config.AccessLogStdout, Headers: []string{"x-request-id"}}
	p.Metrics = config.Metrics{Path: config.DefaultMetricsPath}
	p.Tracing = config.Tracing{Enabled: true, SampleRatio: "1", ServiceName: "protogate-demo"}
	if ep := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); ep != "" {
		p.Tracing.Exporter = config.TracingExporterOTLPGRPC
		p.Tracing.Insecure = !strings.HasPrefix(ep, "https://")
		p.Tracing.Endpoint = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(ep, "https://"), "http://"), "/")
	}
}
