package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/policies/ratelimit/ratelimittest"
)

var snapshotLine = regexp.MustCompile(`snapshot active.* services=1`)

// TestTwoGatewaysShareOneRedisLimit: two `gateway serve` processes, as two replicas behind a load
// balancer, with one rate limit on one Redis, admit one limit's worth of calls between them.
func TestTwoGatewaysShareOneRedisLimit(t *testing.T) {
	redisAddr := ratelimittest.Addr(t)
	backends, err := shop.Start(shop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(backends.Close)
	cfg := fmt.Sprintf(`
services:
  - name: catalog
    endpoints: [%s]
    reflect: true
policies:
  rate_limit:
    backend: redis
    redis: {address: %q, key_prefix: "two-gateways:%d:", timeout: 2s, failure_mode: closed}
  rules:
    - name: products
      match: {method: shop.catalog.v1.CatalogService/GetProduct}
      rate_limit: {rate: 10, per: 1h}
`, backends.Addr("catalog"), redisAddr, time.Now().UnixNano())
	file := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for range 2 {
		p := startProcess(t, "", "serve", "--config", file, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
		p.awaitLines(t, snapshotLine) // registered at start, before it listens
		m := p.awaitLines(t, listeningLine)
		addrs = append(addrs, m[1])
	}

	codes := map[int]int{}
	for i := range 16 {
		resp, err := http.Get("http://" + addrs[i%2] + "/v1/products/p1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[http.StatusOK] != 10 || codes[http.StatusTooManyRequests] != 6 {
		t.Errorf("16 calls alternating between two gateways: %v, want 10 OK and 6 Too Many Requests", codes)
	}
}
