package telemetry_test

import (
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry"
)

// TestExportErrorsLogged: a span export to a collector that refuses connections is reported
// through the gateway's logger, at Warn, and not through Go's standard logger.
func TestExportErrorsLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusing := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused

	std := &testlog.Buffer{}
	prev := log.Writer()
	log.SetOutput(std)
	t.Cleanup(func() { log.SetOutput(prev) })

	logged := &testlog.Buffer{}
	tel, err := telemetry.New(telemetry.Config{
		Tracing: config.Tracing{Enabled: true, Exporter: config.TracingExporterOTLPHTTP, Endpoint: refusing, Insecure: true},
		Metrics: config.Metrics{Disabled: true},
	}, slog.New(slog.NewTextHandler(logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h := tel.Middleware()(policy.FrontREST, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/users/1", nil))
	_ = tel.Close() // exports the span, which fails

	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "connection refused") {
		t.Errorf("gateway log %q, want one warning of the refused export", logged.String())
	}
	if s := std.String(); s != "" {
		t.Errorf("the standard logger got %q", s)
	}
}
