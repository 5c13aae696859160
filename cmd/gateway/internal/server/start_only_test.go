package server_test

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/internal/testpki"
)

// TestStartOnlyChanges compares configurations with the one a server started with: every setting
// that New or Serve reads once is named when it changes, and none of those a reload applies is.
func TestStartOnlyChanges(t *testing.T) {
	srv, err := server.New(config.Default(), server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	off := false
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
		want   []string
	}{
		{"nothing", func(*config.Config) {}, nil},
		{"settings a reload applies", func(c *config.Config) {
			c.ShutdownGrace = time.Second
			c.Clusters = []config.Cluster{{Name: "users", Endpoints: []config.Endpoint{{Address: "127.0.0.1:1", Weight: 1}}}}
			c.REST.DefaultRoutes = &off
			c.GraphQL.MaxDepth = 3
			c.Policies.CORS.AllowedOrigins = []string{"https://example.com"}
			c.Policies.Limits.MaxJSONDepth = 3
			c.Policies.WAF.Mode = "blocking"
			c.Policies.Limits.MaxBodyBytes *= 2 // PrepareREST
			c.REST.ForwardHeaders = []string{"x-tenant"}
			c.REST.DiscardUnknownFields = true
			c.REST.EmitUnpopulated = true
		}, nil},
		{"empty lists of headers", func(c *config.Config) {
			c.Policies.Tracing.Headers = []config.TracingHeader{}
			c.Policies.AccessLog.Headers = []string{}
		}, nil},
		{"listeners and store", func(c *config.Config) {
			c.Listen, c.AdminListen, c.DataDir = "127.0.0.1:1", "127.0.0.1:2", "/var/lib/protogate"
			c.KeepVersions = 3
		}, []string{"listen", "admin_listen", "data_dir", "keep_versions"}},
		{"tls turned on", func(c *config.Config) { c.TLS.CertFile, c.TLS.KeyFile = "server.crt", "server.key" }, []string{"tls"}},
		{"tls files, tls off", func(c *config.Config) { c.TLS.ClientCAFile = "ca.pem" }, nil},
		{"grpc", func(c *config.Config) { c.GRPC.MaxMessageBytes *= 2 }, []string{"grpc.max_message_bytes"}},
		{"limits New builds from", func(c *config.Config) {
			c.Policies.Limits.MaxHeaderBytes *= 2
		}, []string{"policies.limits.max_header_bytes"}},
		// h2c's HTTP/2 header list setting counts 30 bytes more for each field max_header_count allows.
		{"header count", func(c *config.Config) {
			c.Policies.Limits.MaxHeaderCount *= 2
		}, []string{"policies.limits.max_header_count"}},
		{"telemetry", func(c *config.Config) {
			c.Policies.Tracing.Enabled = true
			c.Policies.Metrics.Path = "/stats"
			c.Policies.AccessLog.Output = "stderr"
		}, []string{"policies.tracing", "policies.metrics", "policies.access_log"}},
		{"telemetry headers", func(c *config.Config) {
			c.Policies.Tracing.Headers = []config.TracingHeader{{Name: "x-api-key", Value: "k"}}
			c.Policies.AccessLog.Headers = []string{"x-request-id"}
		}, []string{"policies.tracing", "policies.access_log"}},
	} {
		cfg := config.Default()
		tc.change(cfg)
		if got := srv.StartOnlyChanges(cfg); !slices.Equal(got, tc.want) {
			t.Errorf("%s: StartOnlyChanges = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestStartOnlyChangesTLS: of a TLS port's settings, only turning TLS off waits for a restart; its
// files, other paths or the same ones rewritten, reload (PrepareTLS).
func TestStartOnlyChangesTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testpki.WriteKeyPair(t, dir, "server", testpki.SelfSigned(t))
	start := config.Default()
	start.TLS = config.ServerTLS{CertFile: certFile, KeyFile: keyFile}
	srv, err := server.New(start, server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tls  config.ServerTLS
		want []string
	}{
		{"the same files", start.TLS, nil},
		{"other files", config.ServerTLS{CertFile: dir + "/renewed.crt", KeyFile: dir + "/renewed.key"}, nil},
		{"client CA roots added", config.ServerTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: dir + "/ca.pem"}, nil},
		{"tls turned off", config.ServerTLS{}, []string{"tls"}},
	} {
		cfg := config.Default()
		cfg.TLS = tc.tls
		if got := srv.StartOnlyChanges(cfg); !slices.Equal(got, tc.want) {
			t.Errorf("%s: StartOnlyChanges = %q, want %q", tc.name, got, tc.want)
		}
	}
}
