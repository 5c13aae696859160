package server_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// otlpReceiver is an in-process OTLP/gRPC trace receiver on loopback: what a collector would get.
type otlpReceiver struct {
	collectorpb.UnimplementedTraceServiceServer
	addr  string
	mu    sync.Mutex
	spans []*tracepb.Span
}

func startReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{addr: ln.Addr().String()}
	srv := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(srv, r)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return r
}

func (r *otlpReceiver) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func (r *otlpReceiver) received() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.spans...)
}

// TestTelemetryEndToEnd serves the shop with tracing exported over OTLP to an in-process receiver,
// the access log in a file and metrics on the admin port, and sends a REST, a gRPC and a GraphQL
// call: the spans arrive with their parent/child links intact from the client's span through the
// gateway to the backend, whose traceparent names the gateway's upstream span; a gRPC call in a trace
// its client did not sample reaches the backend in that trace, unsampled, and records no span; each
// call has its access-log line, with no credential in it; /metrics counts the calls.
func TestTelemetryEndToEnd(t *testing.T) {
	const (
		clientTrace = "5bf92f3577b34da6a3ce929d0e0e4736"
		clientSpan  = "10f067aa0ba902b7"
		// unsampledTrace is a trace whose client sampled nothing.
		unsampledTrace = "6bf92f3577b34da6a3ce929d0e0e4736"
	)
	recv := startReceiver(t)
	logFile := filepath.Join(t.TempDir(), "access.log")
	var seenMu sync.Mutex
	seen := map[string][]string{} // shop method -> traceparent it got
	g := startGateway(t, harnessOptions{
		shop: shop.Options{OnCall: func(ctx context.Context, method string) {
			md, _ := metadata.FromIncomingContext(ctx)
			seenMu.Lock()
			seen[method] = md.Get("traceparent")
			seenMu.Unlock()
		}},
		config: func(c *config.Config) {
			c.Policies.Tracing = config.Tracing{Enabled: true, Exporter: config.TracingExporterOTLPGRPC, Endpoint: recv.addr, Insecure: true, SampleRatio: "1"}
			c.Policies.AccessLog = config.AccessLog{Output: logFile, Headers: []string{"x-request-id"}}
		},
	})

	// REST, continuing the client's trace, with credentials that must not be logged.
	req, _ := http.NewRequest(http.MethodGet, "http://"+g.addr+"/v1/users/1", nil)
	req.Header.Set("Traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	req.Header.Set("Authorization", "Bearer tok-S3CRET")
	req.Header.Set("Cookie", "sid=C00KIE")
	req.Header.Set("X-Api-Key", "KEY-5ecret")
	req.Header.Set("X-Request-Id", "rest-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Ada Lovelace") {
		t.Fatalf("REST GetUser: %d %s", resp.StatusCode, body)
	}
	seenMu.Lock()
	restParent := seen["/shop.users.v1.UserService/GetUser"]
	seenMu.Unlock()

	// gRPC through the transparent proxy, which forwards the client's traceparent as metadata.
	ctx := metadata.AppendToOutgoingContext(testContext(t), "traceparent", "00-"+clientTrace+"-"+clientSpan+"-01",
		"authorization", "Bearer tok-S3CRET", "x-request-id", "grpc-1")
	if _, err := usersv1.NewUserServiceClient(g.conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "99"}); err == nil {
		t.Fatal("GetUser 99 succeeded, want NotFound")
	}
	seenMu.Lock()
	grpcParent := seen["/shop.users.v1.UserService/GetUser"]
	seenMu.Unlock()

	// gRPC in a trace its client did not sample: the backend carries on in it, unsampled, and the
	// gateway records nothing.
	unsampled := "00-" + unsampledTrace + "-" + clientSpan + "-00"
	ctx = metadata.AppendToOutgoingContext(testContext(t), "traceparent", unsampled, "x-request-id", "grpc-2")
	if _, err := usersv1.NewUserServiceClient(g.conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	seenMu.Lock()
	unsampledParent := seen["/shop.users.v1.UserService/GetUser"]
	seenMu.Unlock()
	if len(unsampledParent) != 1 || !strings.HasPrefix(unsampledParent[0], "00-"+unsampledTrace+"-") || !strings.HasSuffix(unsampledParent[0], "-00") {
		t.Errorf("an unsampled call: the backend saw traceparent %q, want one in trace %s, unsampled", unsampledParent, unsampledTrace)
	}

	// GraphQL: one field calling one method.
	resp, err = http.Post("http://"+g.addr+"/graphql", "application/json", strings.NewReader(`{"query":"{ getUser(id: \"2\") { name } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// A subscription over SSE whose stream fails: observed as its method's call when it ends.
	sub, _ := http.NewRequest(http.MethodPost, "http://"+g.addr+"/graphql",
		strings.NewReader(`{"query":"subscription { watchInventory(id: \"nope\") { stock } }"}`))
	sub.Header.Set("Content-Type", "application/json")
	sub.Header.Set("Accept", "text/event-stream")
	if resp, err = http.DefaultClient.Do(sub); err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body) // the stream ends with the failure
	resp.Body.Close()
	if !strings.Contains(string(body), "NOT_FOUND") {
		t.Errorf("subscription to an unknown product: %s", body)
	}

	// A path that decodes to invalid UTF-8 (the REST front answers 404): its span's url.path must
	// not fail the export of the batch it is in, which OTLP's protobuf strings would refuse.
	if resp, err = http.Get("http://" + g.addr + "/v1/nowhere/%ff%fe"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// Metrics, scraped on the admin port.
	wantMetrics(t, g,
		`gateway_requests_total{code="OK",front="rest",method="/shop.users.v1.UserService/GetUser"} 1`,
		`gateway_requests_total{code="NOT_FOUND",front="grpc",method="/shop.users.v1.UserService/GetUser"} 1`,
		`gateway_requests_total{code="OK",front="grpc",method="/shop.users.v1.UserService/GetUser"} 1`,
		`gateway_requests_total{code="OK",front="graphql",method="/shop.users.v1.UserService/GetUser"} 1`,
		`gateway_requests_total{code="NOT_FOUND",front="graphql",method="/shop.catalog.v1.CatalogService/WatchInventory"} 1`,
		`gateway_upstream_duration_seconds_count{code="OK",endpoint="`+g.shop.Addr("users")+`"} 3`,
	)

	g.stop(t) // flushes the spans to the receiver and closes the access log
	spans := recv.received()
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.GetSpanId())] = s
	}
	find := func(name, trace string) *tracepb.Span {
		for _, s := range spans {
			if s.GetName() == name && (trace == "" || hex.EncodeToString(s.GetTraceId()) == trace) {
				return s
			}
		}
		var names []string
		for _, s := range spans {
			names = append(names, s.GetName())
		}
		t.Fatalf("no span %q in trace %q among %q", name, trace, names)
		return nil
	}
	check := func(front string, backendSaw []string) {
		t.Helper()
		server := find(front+" shop.users.v1.UserService/GetUser", clientTrace)
		if hex.EncodeToString(server.GetParentSpanId()) != clientSpan || server.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("%s server span: parent %x kind %v, want the client's span %s", front, server.GetParentSpanId(), server.GetKind(), clientSpan)
		}
		var up *tracepb.Span
		for _, s := range spans {
			if s.GetName() == "upstream shop.users.v1.UserService/GetUser" && string(s.GetParentSpanId()) == string(server.GetSpanId()) {
				up = s
			}
		}
		if up == nil || up.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
			t.Fatalf("%s: no client span under the server span", front)
		}
		want := "00-" + clientTrace + "-" + hex.EncodeToString(up.GetSpanId()) + "-01"
		if len(backendSaw) != 1 || backendSaw[0] != want {
			t.Errorf("%s: the backend saw traceparent %q, want %q (the gateway's upstream span)", front, backendSaw, want)
		}
	}
	check("rest", restParent)
	check("grpc", grpcParent)
	for _, s := range spans {
		if hex.EncodeToString(s.GetTraceId()) == unsampledTrace {
			t.Errorf("span %q recorded in a trace its client did not sample", s.GetName())
		}
	}
	field := find("graphql.resolve shop.users.v1.UserService/GetUser", "")
	if parent := byID[hex.EncodeToString(field.GetParentSpanId())]; parent == nil || !strings.HasPrefix(parent.GetName(), "graphql ") {
		t.Errorf("the GraphQL field span's parent is %v, want the request's span", parent)
	}

	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"S3CRET", "C00KIE", "5ecret"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the access log holds a secret (%s):\n%s", secret, raw)
		}
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 6 {
		t.Fatalf("%d access-log lines, want 6:\n%s", len(lines), raw)
	}
	want := []map[string]any{
		{"front": "rest", "method": "/shop.users.v1.UserService/GetUser", "route": "/v1/users/{id}", "http_status": float64(200),
			"grpc_code": "OK", "upstream": g.shop.Addr("users"), "trace_id": clientTrace, "header.x-request-id": "rest-1", "client_ip": "127.0.0.1"},
		{"front": "grpc", "method": "/shop.users.v1.UserService/GetUser", "grpc_code": "NOT_FOUND", "upstream": g.shop.Addr("users"),
			"trace_id": clientTrace, "header.x-request-id": "grpc-1"},
		{"front": "grpc", "grpc_code": "OK", "trace_id": unsampledTrace, "header.x-request-id": "grpc-2"},
		{"front": "graphql", "method": "/shop.users.v1.UserService/GetUser", "grpc_code": "OK", "upstream": g.shop.Addr("users")},
		// The HTTP response's code: the stream's failure is in the metrics.
		{"front": "graphql", "method": "/shop.catalog.v1.CatalogService/WatchInventory", "http_status": float64(200), "grpc_code": "OK"},
		// The path as valid UTF-8, as the span has it.
		{"front": "rest", "path": "/v1/nowhere/\ufffd\ufffd", "grpc_code": "INVALID_ARGUMENT", "deny_reason": "INVALID_PATH"},
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %#v, want %#v", i, k, lines[i][k], v)
			}
		}
	}
}
