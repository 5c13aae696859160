package telemetry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/routing"
)

const (
	checkMethod   = "/grpc.health.v1.Health/Check"
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
)

// backend is a loopback gRPC server (grpc.health.v1) that records the metadata of the calls it
// gets.
type backend struct {
	addr string
	mu   sync.Mutex
	md   []metadata.MD
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{addr: ln.Addr().String()}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		b.mu.Lock()
		b.md = append(b.md, md)
		b.mu.Unlock()
		return h(ctx, req)
	}))
	hs := health.NewServer()
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return b
}

func (b *backend) lastMD(t *testing.T) metadata.MD {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.md) == 0 {
		t.Fatal("the backend got no call")
	}
	return b.md[len(b.md)-1]
}

// rig is a telemetry with an in-memory span exporter and access log, and an upstream connection
// instrumented with its dial options.
type rig struct {
	tel   *telemetry.Telemetry
	spans *tracetest.InMemoryExporter
	log   *testlog.Buffer
	conn  *grpc.ClientConn
	be    *backend
}

func newRig(t *testing.T, cfg telemetry.Config) *rig {
	t.Helper()
	r := &rig{spans: tracetest.NewInMemoryExporter(), log: &testlog.Buffer{}, be: startBackend(t)}
	cfg.Tracing.Enabled = true
	cfg.SpanExporter = keepOnShutdown{r.spans}
	cfg.AccessLogWriter = r.log
	tel, err := telemetry.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.tel = tel
	conn, err := routing.DialWith(tel.DialOptions()...)(r.be.addr, routing.Transport{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	r.conn = conn
	return r
}

// flushed closes the telemetry, so every span is exported, and returns the spans.
func (r *rig) flushed(t *testing.T) tracetest.SpanStubs {
	t.Helper()
	if err := r.tel.Close(); err != nil {
		t.Fatal(err)
	}
	return r.spans.GetSpans()
}

// front is a stand-in for a gateway front: it admits the call through the telemetry Step (as the
// admitter does, after authentication) and calls the backend with the request's context.
// getREST serves one GET /v1/health/ through the REST front's middleware to h, and returns the
// metrics scraped once the request is recorded (its spans flushed).
func (r *rig) getREST(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(r.tel.Middleware()(policy.FrontREST, h))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/health/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	scrape := httptest.NewRecorder()
	r.tel.MetricsHandler().ServeHTTP(scrape, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	r.flushed(t)
	return scrape.Body.String()
}

func (r *rig) front(consumer string) http.Handler {
	step := r.tel.Step()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx := req.Context()
		callinfo.SetRoute(ctx, "/v1/health/{service}")
		c := &policy.Call{Ctx: ctx, Method: checkMethod, Front: policy.FrontREST, Identity: &policy.Identity{Consumer: consumer}}
		if err := step.Admit(c); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		service := strings.TrimPrefix(req.URL.Path, "/v1/health/")
		md, _ := metadata.FromIncomingContext(ctx)
		_, err := healthpb.NewHealthClient(r.conn).Check(metadata.NewOutgoingContext(ctx, md), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"code":5}`)
			return
		}
		_, _ = io.WriteString(w, `{"status":"SERVING"}`)
	})
}

// jsonLines returns the access-log lines log holds, each decoded.
func jsonLines(t *testing.T, log *testlog.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("access-log line is not JSON: %v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	t.Fatalf("no span %q among %q", name, names)
	return tracetest.SpanStub{}
}

// TestRESTTraceContext sends a REST request with a client's traceparent through the middleware to a
// backend: the server span continues the client's trace, the upstream span is its child, and the
// backend sees the upstream span, not the client's, as its parent.
func TestRESTTraceContext(t *testing.T) {
	r := newRig(t, telemetry.Config{})
	h := r.tel.Middleware()(policy.FrontREST, r.front("ada"))
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/health/", nil)
	req.Header.Set("Traceparent", "00-"+clientTraceID+"-"+clientSpanID+"-01")
	req.Header.Set("Baggage", "tenant=acme")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The REST stand-in forwards no headers as metadata, so the backend's traceparent can only come
	// from the upstream span.
	upMD := r.be.lastMD(t)
	spans := r.flushed(t)

	server := spanNamed(t, spans, "rest grpc.health.v1.Health/Check")
	if server.SpanKind != trace.SpanKindServer {
		t.Errorf("server span kind %v", server.SpanKind)
	}
	if got := server.SpanContext.TraceID().String(); got != clientTraceID {
		t.Errorf("server span trace id %s, want the client's %s", got, clientTraceID)
	}
	if got := server.Parent.SpanID().String(); got != clientSpanID || !server.Parent.IsRemote() {
		t.Errorf("server span parent %s (remote %v), want the client's span %s", got, server.Parent.IsRemote(), clientSpanID)
	}
	up := spanNamed(t, spans, "upstream grpc.health.v1.Health/Check")
	if up.SpanKind != trace.SpanKindClient || up.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Errorf("upstream span kind %v parent %s, want a client span under the server span %s", up.SpanKind, up.Parent.SpanID(), server.SpanContext.SpanID())
	}
	want := "00-" + clientTraceID + "-" + up.SpanContext.SpanID().String() + "-01"
	if got := upMD.Get("traceparent"); len(got) != 1 || got[0] != want {
		t.Errorf("backend traceparent %q, want %q (the gateway's upstream span)", got, want)
	}
	if got := upMD.Get("baggage"); len(got) != 1 || got[0] != "tenant=acme" {
		t.Errorf("backend baggage %q, want the client's", got)
	}
	// The endpoint's address, the port an int as OpenTelemetry's conventions define it.
	host, port, _ := net.SplitHostPort(r.be.addr)
	wantPort, _ := strconv.Atoi(port)
	attrs := map[string]attribute.Value{}
	for _, a := range up.Attributes {
		attrs[string(a.Key)] = a.Value
	}
	if a := attrs["server.address"]; a.AsString() != host {
		t.Errorf("upstream span server.address %v, want %s", a.String(), host)
	}
	if a := attrs["server.port"]; a.Type() != attribute.INT64 || a.AsInt64() != int64(wantPort) {
		t.Errorf("upstream span server.port %s %v, want the int %d", a.Type(), a.String(), wantPort)
	}
}

// proxy starts a minimal transparent gRPC proxy in front of the rig's backend, observed by the
// telemetry's interceptor, and returns a connection to it. It admits each call through the
// telemetry Step and forwards the incoming metadata as the outgoing: the telemetry's copy
// (routing.MetadataStream), as the gateway's proxy does, when own is set, else a copy of its own.
func (r *rig) proxy(t *testing.T, own bool) *grpc.ClientConn {
	t.Helper()
	srv := grpc.NewServer(grpc.StreamInterceptor(r.tel.StreamInterceptor()),
		grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
			ctx := ss.Context()
			md, _ := metadata.FromIncomingContext(ctx)
			if ms, ok := ss.(routing.MetadataStream); ok && own {
				md = ms.IncomingMetadata()
			}
			if err := r.tel.Step().Admit(&policy.Call{Ctx: ctx, Method: checkMethod, Front: policy.FrontGRPC}); err != nil {
				return err
			}
			var req healthpb.HealthCheckRequest
			if err := ss.RecvMsg(&req); err != nil {
				return err
			}
			resp, err := healthpb.NewHealthClient(r.conn).Check(metadata.NewOutgoingContext(ctx, md), &req)
			if err != nil {
				return err
			}
			return ss.SendMsg(resp)
		}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// TestProxyReplacesClientTraceparent: the transparent proxy forwards the client's metadata; the
// upstream must still see the gateway's span as its parent, and one traceparent only.
func TestProxyReplacesClientTraceparent(t *testing.T) {
	r := newRig(t, telemetry.Config{})
	cc := r.proxy(t, false)

	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"traceparent", "00-"+clientTraceID+"-"+clientSpanID+"-01", "tracestate", "vendor=1", "x-request-id", "req-7")
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: "down"}); err != nil {
		t.Fatal(err)
	}
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service: %v, want NotFound", err)
	}
	upMD := r.be.lastMD(t)
	spans := r.flushed(t)

	var server, up tracetest.SpanStub
	for _, s := range spans {
		switch s.Name {
		case "grpc grpc.health.v1.Health/Check":
			server = s
		case "upstream grpc.health.v1.Health/Check":
			up = s
		}
	}
	if server.Parent.SpanID().String() != clientSpanID || up.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Fatalf("links broken: server parent %s, upstream parent %s, server %s", server.Parent.SpanID(), up.Parent.SpanID(), server.SpanContext.SpanID())
	}
	want := "00-" + clientTraceID + "-" + up.SpanContext.SpanID().String() + "-01"
	if got := upMD.Get("traceparent"); len(got) != 1 || got[0] != want {
		t.Errorf("backend traceparent %q, want only %q", got, want)
	}
	if got := upMD.Get("tracestate"); len(got) != 1 || got[0] != "vendor=1" {
		t.Errorf("backend tracestate %q, want the trace's", got)
	}
	if up.Status.Code.String() != "Error" {
		t.Errorf("the NotFound upstream span's status is %v, want Error", up.Status.Code)
	}

	lines := jsonLines(t, r.log)
	if len(lines) != 2 {
		t.Fatalf("%d access-log lines, want 2:\n%s", len(lines), r.log)
	}
	l := lines[1]
	for k, want := range map[string]any{"front": "grpc", "method": checkMethod, "grpc_code": "NOT_FOUND", "upstream": r.be.addr, "trace_id": clientTraceID} {
		if l[k] != want {
			t.Errorf("access log %s = %v, want %v", k, l[k], want)
		}
	}
}

// TestAccessLogNeverLogsSecrets sends credentials in every usual place and checks that the line
// has what it should and none of them, though the config (which validation would refuse) lists
// some, as they are or as the Grpc-Metadata- headers the REST front passes on as them: headers
// whose names say they carry credentials, and the API key header, whatever it is named.
func TestAccessLogNeverLogsSecrets(t *testing.T) {
	r := newRig(t, telemetry.Config{
		AccessLog: config.AccessLog{Headers: []string{"x-request-id", "authorization", "cookie", "apikey", "x-refresh-token",
			"grpc-metadata-authorization", "grpc-metadata-x-shop-client", "grpc-metadata-cookie", "grpc-metadata-x-trace-tag"}},
		SecretHeaders: []string{"x-shop-client"},
	})
	srv := httptest.NewServer(r.tel.Middleware()(policy.FrontREST, r.front("ada")))
	defer srv.Close()

	secrets := []string{"Bearer-s3cr3t-token", "session=c00kie", "k3y-abcdef", "qu3ry-token", "Bearer-md-t0ken", "my-k3y-abcdef", "md-c00kie",
		"kong-k3y", "r3fresh-t0ken"}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/health/?access_token="+secrets[3], nil)
	req.Header.Set("Authorization", "Bearer "+secrets[0])
	req.Header.Set("Cookie", secrets[1])
	req.Header.Set("X-Api-Key", secrets[2])
	req.Header.Set("Grpc-Metadata-Authorization", "Bearer "+secrets[4])
	req.Header.Set("Grpc-Metadata-X-Shop-Client", secrets[5])
	req.Header.Set("Grpc-Metadata-Cookie", secrets[6])
	req.Header.Set("Apikey", secrets[7])
	req.Header.Set("X-Refresh-Token", secrets[8])
	req.Header.Set("Grpc-Metadata-X-Trace-Tag", "tag-7")
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r.flushed(t)

	raw := r.log.String()
	for _, s := range secrets {
		if strings.Contains(raw, s) {
			t.Errorf("the access log holds the secret %q:\n%s", s, raw)
		}
	}
	lines := jsonLines(t, r.log)
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1:\n%s", len(lines), raw)
	}
	l := lines[0]
	for k, want := range map[string]any{
		"msg": "access", "front": "rest", "method": checkMethod, "route": "/v1/health/{service}",
		"http_method": "GET", "path": "/v1/health/", "http_status": float64(200), "grpc_code": "OK",
		"upstream": r.be.addr, "consumer": "ada", "client_ip": "127.0.0.1", "header.x-request-id": "req-42",
		"header.grpc-metadata-x-trace-tag": "tag-7",
	} {
		if l[k] != want {
			t.Errorf("%s = %#v, want %#v", k, l[k], want)
		}
	}
	for _, k := range []string{"time", "latency_ms", "bytes_out", "trace_id", "span_id"} {
		if _, ok := l[k]; !ok {
			t.Errorf("no %s in %v", k, l)
		}
	}
	if _, ok := l["level"]; ok {
		t.Errorf("access-log lines carry no level: %v", l)
	}
}

// TestMetricsScrape makes calls and scrapes the metrics handler over loopback.
func TestMetricsScrape(t *testing.T) {
	// One address over two transports, and with two settings: three endpoints, told apart by the
	// transport and settings labels.
	const checked = "health_check.interval 5s"
	stats := []routing.EndpointStats{
		{Address: "10.0.0.1:50051", Transport: "plaintext", Settings: "defaults", Breaker: "open", Ejected: true, Ejections: 3, Healthy: true, InFlight: 2, Connection: "TRANSIENT_FAILURE"},
		{Address: "10.0.0.1:50051", Transport: "plaintext", Settings: checked, Breaker: "closed", Healthy: false, InFlight: 4, Connection: "READY"},
		{Address: "10.0.0.1:50051", Transport: "tls", Settings: "defaults", Breaker: "closed", Healthy: true, InFlight: 1, Connection: "IDLE"},
	}
	r := newRig(t, telemetry.Config{
		Endpoints: func() []routing.EndpointStats { return stats },
		Snapshot:  func() (uint64, int) { return 7, 3 },
	})
	defer r.tel.Close()
	mw := r.tel.Middleware()
	api := httptest.NewServer(mw(policy.FrontREST, r.front("")))
	defer api.Close()
	denying := httptest.NewServer(mw(policy.FrontREST, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		callinfo.Deny(req.Context(), callinfo.Denial{Policy: "waf", Reason: "942100", Code: uint32(codes.PermissionDenied)})
		w.WriteHeader(http.StatusForbidden)
	})))
	defer denying.Close()
	for _, u := range []string{api.URL + "/v1/health/", api.URL + "/v1/health/", api.URL + "/v1/health/nope", denying.URL + "/x"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	metrics := httptest.NewServer(r.tel.MetricsHandler())
	defer metrics.Close()
	resp, err := http.Get(metrics.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`gateway_requests_total{code="OK",front="rest",method="/grpc.health.v1.Health/Check"} 2`,
		`gateway_requests_total{code="NOT_FOUND",front="rest",method="/grpc.health.v1.Health/Check"} 1`,
		`gateway_request_errors_total{code="NOT_FOUND",front="rest",method="/grpc.health.v1.Health/Check"} 1`,
		`gateway_requests_total{code="PERMISSION_DENIED",front="rest",method="unknown"} 1`,
		`gateway_request_duration_seconds_count{code="OK",front="rest",method="/grpc.health.v1.Health/Check"} 2`,
		`gateway_upstream_duration_seconds_count{code="OK",endpoint="` + r.be.addr + `"} 2`,
		`gateway_upstream_duration_seconds_count{code="NOT_FOUND",endpoint="` + r.be.addr + `"} 1`,
		`gateway_policy_denials_total{front="rest",policy="waf",reason="942100"} 1`,
		`gateway_endpoint_circuit_state{endpoint="10.0.0.1:50051",settings="defaults",state="open",transport="plaintext"} 1`,
		`gateway_endpoint_circuit_state{endpoint="10.0.0.1:50051",settings="defaults",state="closed",transport="plaintext"} 0`,
		`gateway_endpoint_connection_state{endpoint="10.0.0.1:50051",settings="defaults",state="TRANSIENT_FAILURE",transport="plaintext"} 1`,
		`gateway_endpoint_connection_state{endpoint="10.0.0.1:50051",settings="defaults",state="READY",transport="plaintext"} 0`,
		`gateway_endpoint_connection_state{endpoint="10.0.0.1:50051",settings="` + checked + `",state="READY",transport="plaintext"} 1`,
		`gateway_endpoint_ejected{endpoint="10.0.0.1:50051",settings="defaults",transport="plaintext"} 1`,
		`gateway_endpoint_ejections_total{endpoint="10.0.0.1:50051",settings="defaults",transport="plaintext"} 3`,
		`gateway_endpoint_in_flight{endpoint="10.0.0.1:50051",settings="defaults",transport="plaintext"} 2`,
		`gateway_endpoint_circuit_state{endpoint="10.0.0.1:50051",settings="` + checked + `",state="closed",transport="plaintext"} 1`,
		`gateway_endpoint_healthy{endpoint="10.0.0.1:50051",settings="` + checked + `",transport="plaintext"} 0`,
		`gateway_endpoint_in_flight{endpoint="10.0.0.1:50051",settings="` + checked + `",transport="plaintext"} 4`,
		`gateway_endpoint_circuit_state{endpoint="10.0.0.1:50051",settings="defaults",state="closed",transport="tls"} 1`,
		`gateway_endpoint_in_flight{endpoint="10.0.0.1:50051",settings="defaults",transport="tls"} 1`,
		`gateway_snapshot_version 7`,
		`gateway_registrations 3`,
		`go_goroutines `,
	} {
		if !strings.Contains(text, want+"\n") && !(strings.HasSuffix(want, " ") && strings.Contains(text, want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepLines(text, "gateway_"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestGraphQLFieldSpans: each field that calls a method gets a span under the request's, the
// upstream span under the field's, and the call counts in the metrics as a graphql call.
func TestGraphQLFieldSpans(t *testing.T) {
	r := newRig(t, telemetry.Config{})
	step := r.tel.Step()
	h := r.tel.Middleware()(policy.FrontGraphQL, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var wg sync.WaitGroup
		for _, service := range []string{"", "nope"} { // two fields resolved in parallel
			wg.Go(func() {
				ctx, end := callinfo.Start(req.Context(), "graphql.resolve", checkMethod)
				err := step.Admit(&policy.Call{Ctx: ctx, Method: checkMethod, Front: policy.FrontGraphQL})
				if err == nil {
					_, err = healthpb.NewHealthClient(r.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
				}
				end(err)
			})
		}
		wg.Wait()
		_, _ = io.WriteString(w, `{"data":{}}`)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(`{"query":"{a b}"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	scrape := httptest.NewRecorder()
	r.tel.MetricsHandler().ServeHTTP(scrape, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	spans := r.flushed(t)
	server := spanNamed(t, spans, "graphql POST")
	fields, ups := 0, 0
	for _, s := range spans {
		switch s.Name {
		case "graphql.resolve grpc.health.v1.Health/Check":
			fields++
			if s.Parent.SpanID() != server.SpanContext.SpanID() {
				t.Errorf("field span's parent %s, want the request's %s", s.Parent.SpanID(), server.SpanContext.SpanID())
			}
			for _, u := range spans {
				if u.Name == "upstream grpc.health.v1.Health/Check" && u.Parent.SpanID() == s.SpanContext.SpanID() {
					ups++
				}
			}
		}
	}
	if fields != 2 || ups != 2 {
		t.Errorf("%d field spans with %d upstream children, want 2 and 2", fields, ups)
	}
	text := scrape.Body.String()
	for _, want := range []string{
		`gateway_requests_total{code="OK",front="graphql",method="/grpc.health.v1.Health/Check"} 1`,
		`gateway_requests_total{code="NOT_FOUND",front="graphql",method="/grpc.health.v1.Health/Check"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if l := jsonLines(t, r.log); len(l) != 1 || l[0]["calls"] != float64(2) || l[0]["front"] != "graphql" {
		t.Errorf("access log %v, want one graphql line with calls 2", l)
	}
}

// TestSampling: a ratio of 0 samples no new trace, but a sampled parent is followed; either way the
// upstream gets a traceparent.
func TestSampling(t *testing.T) {
	r := newRig(t, telemetry.Config{Tracing: config.Tracing{SampleRatio: "0"}})
	srv := httptest.NewServer(r.tel.Middleware()(policy.FrontREST, r.front("")))
	defer srv.Close()
	get := func(traceparent string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/health/", nil)
		if traceparent != "" {
			req.Header.Set("Traceparent", traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("")
	if tp := r.be.lastMD(t).Get("traceparent"); len(tp) != 1 || !strings.HasSuffix(tp[0], "-00") {
		t.Errorf("an unsampled request sends traceparent %q, want one with flags 00", tp)
	}
	get("00-" + clientTraceID + "-" + clientSpanID + "-01")
	spans := r.flushed(t)
	if len(spans) != 2 {
		t.Fatalf("%d spans, want the sampled request's server and upstream spans", len(spans))
	}
	for _, s := range spans {
		if s.SpanContext.TraceID().String() != clientTraceID {
			t.Errorf("span %s in trace %s", s.Name, s.SpanContext.TraceID())
		}
	}
}

// TestSamplingRatio: new traces are sampled at the ratio, each in a trace of its own, and an
// unsampled one still tells the upstream its trace, unsampled.
func TestSamplingRatio(t *testing.T) {
	r := newRig(t, telemetry.Config{Tracing: config.Tracing{SampleRatio: "0.5"}})
	srv := httptest.NewServer(r.tel.Middleware()(policy.FrontREST, r.front("")))
	defer srv.Close()
	const requests = 400
	traces := make(map[string]bool, requests)
	unsampled := 0
	for range requests {
		resp, err := http.Get(srv.URL + "/v1/health/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		tp := r.be.lastMD(t).Get("traceparent")
		if len(tp) != 1 || len(tp[0]) != 55 {
			t.Fatalf("upstream traceparent %q", tp)
		}
		traces[tp[0][3:35]] = true
		// TraceIDRatioBased's rule: a trace is sampled when its id's last 63 bits, read as a
		// number, are below ratio * 2^63; the sampled trace is the one decided on.
		low, err := strconv.ParseUint(tp[0][19:35], 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		sampledByID := low>>1 < 1<<62
		if sampled := strings.HasSuffix(tp[0], "-01"); sampled != sampledByID {
			t.Errorf("traceparent %s: sampled %v, but its trace id says %v", tp[0], sampled, sampledByID)
		}
		if strings.HasSuffix(tp[0], "-00") {
			unsampled++
		}
	}
	spans := r.flushed(t)
	servers := 0
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindServer {
			servers++
		}
	}
	// Binomial(400, 0.5): 200 on average, with a standard deviation of 10.
	if servers < 120 || servers > 280 || servers+unsampled != requests {
		t.Errorf("%d requests sampled and %d not, want about half of %d sampled", servers, unsampled, requests)
	}
	if len(traces) != requests {
		t.Errorf("%d requests in %d traces, want one each", requests, len(traces))
	}
}

// TestOff: with everything off the telemetry adds nothing anywhere.
func TestOff(t *testing.T) {
	tel, err := telemetry.New(telemetry.Config{Metrics: config.Metrics{Disabled: true}, AccessLog: config.AccessLog{Output: "off"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tel.Middleware() != nil || tel.StreamInterceptor() != nil || tel.Step() != nil || tel.MetricsHandler() != nil || tel.DialOptions() != nil {
		t.Error("telemetry that is off still hooks in")
	}
	if err := tel.Close(); err != nil {
		t.Error(err)
	}
}

// keepOnShutdown keeps the in-memory exporter's spans when the provider shuts down (which flushes
// every span to it).
type keepOnShutdown struct{ *tracetest.InMemoryExporter }

func (keepOnShutdown) Shutdown(context.Context) error { return nil }

var _ sdktrace.SpanExporter = keepOnShutdown{}

// TestDenied: a call refused before the telemetry Step (by authentication) is still reported under
// its method, with the policy and the ErrorInfo reason.
func TestDenied(t *testing.T) {
	r := newRig(t, telemetry.Config{})
	metrics := r.getREST(t, func(w http.ResponseWriter, req *http.Request) {
		err := status.Error(codes.Unauthenticated, "no token")
		telemetry.Denied(req.Context(), checkMethod, false, err)
		w.WriteHeader(http.StatusUnauthorized)
	})
	for _, want := range []string{
		`gateway_requests_total{code="UNAUTHENTICATED",front="rest",method="/grpc.health.v1.Health/Check"} 1`,
		`gateway_policy_denials_total{front="rest",policy="auth",reason="UNAUTHENTICATED"} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if l := jsonLines(t, r.log); len(l) != 1 || l[0]["denied_by"] != "auth" || l[0]["method"] != checkMethod || l[0]["grpc_code"] != "UNAUTHENTICATED" {
		t.Errorf("access log %v", l)
	}
}

// TestDeniedSpanNames: the server span of a request a policy refused is named for the method it
// called, as the log and metrics name it, whether the admission recorded the method (refused by
// authentication) or the REST binding the request matched names it (refused by the firewall
// before any admission); a GraphQL request's span keeps its HTTP method's name, its fields' spans
// naming their methods.
func TestDeniedSpanNames(t *testing.T) {
	r := newRig(t, telemetry.Config{})
	resolve := func(*http.Request) (string, string, bool) { return checkMethod, "/v1/health/{service}", true }
	wrap := r.tel.MiddlewareWith(nil, resolve)
	refuse := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/auth", "/graphql":
			telemetry.Denied(req.Context(), checkMethod, false, status.Error(codes.Unauthenticated, "no token"))
		case "/waf":
			callinfo.Deny(req.Context(), callinfo.Denial{Policy: "waf", Reason: "942100", Code: uint32(codes.PermissionDenied)})
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	rest := httptest.NewServer(wrap(policy.FrontREST, refuse))
	defer rest.Close()
	graphql := httptest.NewServer(wrap(policy.FrontGraphQL, refuse))
	defer graphql.Close()
	for _, url := range []string{rest.URL + "/auth", rest.URL + "/waf", graphql.URL + "/graphql"} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	spans := r.flushed(t)
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	for i, want := range []struct{ name, method string }{
		{"rest grpc.health.v1.Health/Check", checkMethod},
		{"rest grpc.health.v1.Health/Check", checkMethod},
		{"graphql GET", ""},
	} {
		s := spans[i]
		method := ""
		for _, a := range s.Attributes {
			if a.Key == "rpc.method" {
				method = a.Value.AsString()
			}
		}
		if s.Name != want.name || method != want.method {
			t.Errorf("span %d: %q with rpc.method %q, want %q with %q", i, s.Name, method, want.name, want.method)
		}
	}
}

// TestProxyTraceContext: whichever trace context a native gRPC client sends, and whether the proxy
// sends the telemetry's copy of the call's metadata upstream (routing.MetadataStream, as the
// gateway's proxy does) or a copy of its own, the upstream gets exactly one trace context: that of
// the gateway's upstream span when the request is sampled; when it is not, the client's trace, or
// the gateway's new one, carried on unsampled (the parent span is then the client's or the gateway's
// unrecorded one: no span is recorded either way).
func TestProxyTraceContext(t *testing.T) {
	const (
		sampledParent   = "00-" + clientTraceID + "-" + clientSpanID + "-01"
		unsampledParent = "00-" + clientTraceID + "-" + clientSpanID + "-00"
	)
	for _, tc := range []struct {
		name        string
		ratio       string
		traceparent string // the client's, "" for none
		sampled     bool
		sameTrace   string // the trace the upstream must be in; "" for the gateway's new one
	}{
		{name: "sampled client trace", ratio: "0", traceparent: sampledParent, sampled: true, sameTrace: clientTraceID},
		{name: "unsampled client trace", ratio: "1", traceparent: unsampledParent, sameTrace: clientTraceID},
		{name: "new trace sampled", ratio: "1", sampled: true},
		{name: "new trace unsampled", ratio: "0"},
		{name: "malformed client trace", ratio: "0", traceparent: "00-not-a-trace-01"},
	} {
		for _, own := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/telemetry's metadata %v", tc.name, own), func(t *testing.T) {
				r := newRig(t, telemetry.Config{Tracing: config.Tracing{SampleRatio: tc.ratio}})
				cc := r.proxy(t, own)
				ctx := metadata.AppendToOutgoingContext(context.Background(), "baggage", "tenant=acme")
				if tc.traceparent != "" {
					ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", tc.traceparent, "tracestate", "vendor=1")
				}
				if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: "down"}); err != nil {
					t.Fatal(err)
				}
				upMD := r.be.lastMD(t)
				spans := r.flushed(t)
				logged := jsonLines(t, r.log)

				tp := upMD.Get("traceparent")
				if len(tp) != 1 {
					t.Fatalf("upstream traceparent %q, want one", tp)
				}
				parts := strings.Split(tp[0], "-")
				if len(parts) != 4 || len(parts[1]) != 32 || len(parts[2]) != 16 {
					t.Fatalf("upstream traceparent %q is malformed", tp[0])
				}
				if flags := map[bool]string{true: "01", false: "00"}[tc.sampled]; parts[3] != flags {
					t.Errorf("upstream traceparent %q, want flags %s", tp[0], flags)
				}
				wantTrace := tc.sameTrace
				if wantTrace == "" {
					if len(logged) != 1 {
						t.Fatalf("%d access-log lines, want 1", len(logged))
					}
					wantTrace, _ = logged[0]["trace_id"].(string)
				}
				if parts[1] != wantTrace {
					t.Errorf("upstream in trace %s, want %s", parts[1], wantTrace)
				}
				if tc.sampled {
					var up tracetest.SpanStub
					for _, s := range spans {
						if s.SpanKind == trace.SpanKindClient {
							up = s
						}
					}
					if len(spans) != 2 || parts[2] != up.SpanContext.SpanID().String() {
						t.Errorf("upstream parent %s, want the upstream span of %d spans", parts[2], len(spans))
					}
				} else if len(spans) != 0 {
					t.Errorf("%d spans of an unsampled request", len(spans))
				}
				if got := upMD.Get("baggage"); len(got) != 1 || got[0] != "tenant=acme" {
					t.Errorf("upstream baggage %q, want the client's once", got)
				}
				wantState := map[bool]int{true: 1, false: 0}[tc.sameTrace != ""]
				if got := upMD.Get("tracestate"); len(got) != wantState {
					t.Errorf("upstream tracestate %q, want %d", got, wantState)
				}
			})
		}
	}
}

// TestSpanNamesBounded: the methods and HTTP methods clients make up do not name spans. A gRPC
// call of a method the gateway does not serve (refused as unknown, or proxied by an explicit route
// to an upstream that does not serve it either) is named as the metrics label it, "grpc unknown",
// its upstream call "upstream unknown", with rpc.method _OTHER and the client's name in
// rpc.method_original; an HTTP method outside the standard ones is _OTHER, as OpenTelemetry's
// conventions say. Served methods keep their names, the first call of each included.
func TestSpanNamesBounded(t *testing.T) {
	r := newRig(t, telemetry.Config{})
	const unregistered = "/grpc.health.v1.Health/Fake9" // proxied, but the upstream has no such method
	srv := grpc.NewServer(grpc.StreamInterceptor(r.tel.StreamInterceptor()),
		grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
			ctx := ss.Context()
			method, _ := grpc.MethodFromServerStream(ss)
			if method != checkMethod && method != unregistered {
				return status.Errorf(codes.Unimplemented, "unknown method %s", method) // as the router answers
			}
			c := &policy.Call{Ctx: ctx, Method: method, Front: policy.FrontGRPC, Unregistered: method == unregistered}
			if err := r.tel.Step().Admit(c); err != nil {
				return err
			}
			var req healthpb.HealthCheckRequest
			if err := ss.RecvMsg(&req); err != nil {
				return err
			}
			var resp healthpb.HealthCheckResponse
			if err := r.conn.Invoke(ctx, method, &req, &resp); err != nil {
				return err
			}
			return ss.SendMsg(&resp)
		}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	grpcCalls := []string{checkMethod, "/rnd9.Svc/M2793", "/grpc.health.v1.Health/Fake7", unregistered, checkMethod}
	for _, method := range grpcCalls {
		var resp healthpb.HealthCheckResponse
		err := cc.Invoke(context.Background(), method, &healthpb.HealthCheckRequest{}, &resp)
		if want := map[bool]codes.Code{true: codes.OK, false: codes.Unimplemented}[method == checkMethod]; status.Code(err) != want {
			t.Fatalf("%s: %v, want %v", method, err, want)
		}
	}

	rest := httptest.NewServer(r.tel.Middleware()(policy.FrontREST, http.NotFoundHandler()))
	defer rest.Close()
	for _, verb := range []string{"FOO9", "PATCH", strings.Repeat("X", 200)} {
		req, _ := http.NewRequest(verb, rest.URL+"/nowhere", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	type named struct{ name, method, original string }
	var servers, clients []named
	for _, s := range r.flushed(t) {
		n := named{name: s.Name}
		for _, a := range s.Attributes {
			switch a.Key {
			case "rpc.method", "http.request.method":
				n.method = a.Value.AsString()
			case "rpc.method_original", "http.request.method_original":
				n.original = a.Value.AsString()
			}
		}
		if s.SpanKind == trace.SpanKindClient {
			clients = append(clients, n)
		} else {
			servers = append(servers, n)
		}
	}
	wantServers := []named{
		{"grpc grpc.health.v1.Health/Check", checkMethod, ""},
		{"grpc unknown", "_OTHER", "/rnd9.Svc/M2793"},
		{"grpc unknown", "_OTHER", "/grpc.health.v1.Health/Fake7"},
		{"grpc unknown", "_OTHER", unregistered},
		{"grpc grpc.health.v1.Health/Check", checkMethod, ""},
		{"rest _OTHER", "_OTHER", "FOO9"},
		{"rest PATCH", "PATCH", ""},
		{"rest _OTHER", "_OTHER", strings.Repeat("X", 128)},
	}
	wantClients := []named{
		{"upstream grpc.health.v1.Health/Check", checkMethod, ""},
		{"upstream unknown", "_OTHER", unregistered},
		{"upstream grpc.health.v1.Health/Check", checkMethod, ""},
	}
	if fmt.Sprint(servers) != fmt.Sprint(wantServers) {
		t.Errorf("server spans\n%v\nwant\n%v", servers, wantServers)
	}
	if fmt.Sprint(clients) != fmt.Sprint(wantClients) {
		t.Errorf("client spans\n%v\nwant\n%v", clients, wantClients)
	}
}

// The gateway's own gRPC health checks of its endpoints go over the instrumented connections but
// are not upstream calls: gateway_upstream_duration_seconds counts neither those that pass nor
// those that time out waiting for a backend that is down (DEADLINE_EXCEEDED, though no client
// call had a deadline).
func TestHealthChecksAreNotUpstreamCalls(t *testing.T) {
	tel, err := telemetry.New(telemetry.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()
	up := startBackend(t)
	down := testnet.Refused(t)
	pool := routing.NewPool(routing.DialWith(tel.DialOptions()...), routing.WithPoolLogger(slog.New(slog.DiscardHandler)))
	defer pool.Close()
	cfg := routing.EndpointConfig{Health: routing.HealthCheckConfig{Interval: 5 * time.Millisecond, Timeout: 20 * time.Millisecond}}
	for _, addr := range []string{up.addr, down} {
		if _, err := pool.AcquireWith(addr, routing.Transport{}, cfg); err != nil {
			t.Fatal(err)
		}
	}
	// Polling observable state: the backend up answered checks, the one down failed enough of them.
	deadline := time.Now().Add(10 * time.Second)
	for {
		up.mu.Lock()
		checked := len(up.md)
		up.mu.Unlock()
		var unhealthy bool
		for _, s := range pool.Stats() {
			unhealthy = unhealthy || s.Address == down && !s.Healthy
		}
		if checked >= 3 && unhealthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 10s: %d checks answered, the endpoint down unhealthy: %v", checked, unhealthy)
		}
		time.Sleep(time.Millisecond) // polling an observable condition, not synchronising
	}
	metrics := httptest.NewServer(tel.MetricsHandler())
	defer metrics.Close()
	resp, err := http.Get(metrics.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := grepLines(string(body), "gateway_upstream_duration_seconds_count"); got != "" {
		t.Errorf("health checks counted as upstream calls:\n%s", got)
	}
}

// TestRequestTimeoutCode: a REST request answered 408 (its body came too late) with nothing else
// recorded counts as DEADLINE_EXCEEDED, the code the gateway renders as 408, not as a client error.
func TestRequestTimeoutCode(t *testing.T) {
	r := newRig(t, telemetry.Config{})
	metrics := r.getREST(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusRequestTimeout)
	})
	if want := `gateway_requests_total{code="DEADLINE_EXCEEDED",front="rest",method="unknown"} 1`; !strings.Contains(metrics, want+"\n") {
		t.Errorf("/metrics lacks %s", want)
	}
}
