package server_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/protogate/gateway/examples/shop"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

// A long-lived stream that becomes a half-open circuit's probe closes the circuit once it is
// established, whichever front it came through: with a REST NDJSON watch, a GraphQL subscription
// or a gRPC watch open on the only endpoint, a unary call to it succeeds, rather than being
// refused "circuit breaker open" until the stream ends (the QA report: after a short outage, open
// watches kept every unary call failing although the backend was back).
func TestStreamProbeOnEveryFront(t *testing.T) {
	verifyNoLeaks(t)
	b := startShopService(t, "catalog", shop.Options{})
	files, err := registry.FilesOf(catalogv1.File_shop_catalog_v1_catalog_proto)
	if err != nil {
		t.Fatal(err)
	}
	cfg := routing.ClusterConfig{Endpoint: routing.EndpointConfig{
		Breaker: routing.BreakerConfig{ConsecutiveFailures: 1, OpenTimeout: 200 * time.Millisecond},
		Outlier: routing.OutlierConfig{Disabled: true},
	}}
	_, addr, pool := serveSpec(t, registry.Spec{
		Clusters:      []registry.ClusterSpec{{Name: "catalog", Endpoints: []string{b.addr}, Config: cfg}},
		Registrations: []*registry.Registration{{Name: "catalog", Cluster: "catalog", Files: files}},
		Routes: []registry.RouteSpec{{
			Name: "catalog", Match: routing.Match{Prefix: "/shop.catalog.v1.CatalogService/"},
			Clusters: []registry.WeightedCluster{{Name: "catalog", Weight: 1}}, Retry: routing.RetryPolicy{Attempts: 1},
		}},
	})
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	httpc := &http.Client{Transport: &http.Transport{}}
	defer httpc.CloseIdleConnections()
	getProduct := func() (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/v1/products/p1", nil)
		resp, body := doRequest(t, httpc, req)
		return resp.StatusCode, body
	}
	// stream sends req and returns its response's body, for reading as it streams.
	stream := func(req *http.Request) *bufio.Reader {
		t.Helper()
		resp, err := httpc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d", req.Method, req.URL, resp.StatusCode)
		}
		return bufio.NewReader(resp.Body)
	}
	// readUntil reads lines until one starts with prefix.
	readUntil := func(r *bufio.Reader, prefix string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the stream: %v", err)
			}
			if strings.HasPrefix(line, prefix) {
				return
			}
		}
	}

	for _, tc := range []struct {
		front string
		open  func(ctx context.Context) // opens a watch and returns once its first message is in
	}{
		{"REST", func(ctx context.Context) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/products/p1/inventory:watch", nil)
			readUntil(stream(req), `{"result":`)
		}},
		{"GraphQL", func(ctx context.Context) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/graphql",
				strings.NewReader(`{"query":"subscription { watchInventory(id: \"p1\") { stock } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "text/event-stream")
			readUntil(stream(req), "data: ")
		}},
		{"gRPC", func(ctx context.Context) {
			watch, err := catalogv1.NewCatalogServiceClient(conn).WatchInventory(ctx, &catalogv1.WatchInventoryRequest{Id: "p1"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := watch.Recv(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.front, func(t *testing.T) {
			// A short outage trips the breaker; the backend returns on the same address.
			b.kill()
			if code, body := getProduct(); code != http.StatusServiceUnavailable {
				t.Fatalf("GetProduct with the backend down: %d %s, want 503", code, body)
			}
			waitFor(t, 10*time.Second, "the circuit open", func() bool { return statsOf(pool, b.addr).Breaker != "closed" })
			b.start()
			// Half-open, and the connection not failing: the backend is back, so a connection idle
			// since the backend closed it, or connecting, will be ready for the stream.
			waitFor(t, 10*time.Second, "the circuit half-open, its connection not failing", func() bool {
				s := statsOf(pool, b.addr)
				return s.Breaker == "half-open" && s.Connection != "TRANSIENT_FAILURE"
			})

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			tc.open(ctx)
			if code, body := getProduct(); code != http.StatusOK {
				t.Errorf("GetProduct with a %s watch open since the circuit half-opened: %d %s, want 200", tc.front, code, body)
			}
			if s := statsOf(pool, b.addr).Breaker; s != "closed" {
				t.Errorf("breaker %s with the watch established, want closed", s)
			}
			cancel()
			waitFor(t, 10*time.Second, "the watch ended", func() bool { return statsOf(pool, b.addr).InFlight == 0 })
		})
	}
}
