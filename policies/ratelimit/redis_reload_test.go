package ratelimit_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies"
	"github.com/protogate/gateway/policies/ratelimit/ratelimittest"
)

// reloadYAML is a configuration with a Redis Cluster store, whose addresses are a list (so the
// section is not comparable with ==), and a concurrency limit, whose counters live in the
// limiter, in process, whatever the backend: they show whether a reload kept the limiter. Nothing
// here dials Redis.
const reloadYAML = `
policies:
  rate_limit:
    backend: redis
    redis:
      cluster: {addresses: [127.0.0.1:7000, 127.0.0.1:7001]}
      tls: {enabled: true}
  rules:
    - name: one-at-a-time
      match: {service: shop.catalog.v1.CatalogService}
      concurrency: {max: 1, key: method}
`

// TestReloadKeepsRedisLimiter: a reload whose rate_limit section is unchanged (parsed anew, so its
// lists are new slices) keeps the limiter, and with it the counts of calls in flight; a reload
// that changes the cluster's addresses builds a new one.
func TestReloadKeepsRedisLimiter(t *testing.T) {
	parse := func(yaml string) config.Policies {
		t.Helper()
		cfg, err := config.Parse("gateway.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Policies
	}
	first := parse(reloadYAML)
	e, err := policies.NewEngine(first, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	compile := func(p config.Policies) *policies.Set {
		t.Helper()
		set, err := e.Compile(p, []string{getProduct}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	admit := func(set *policies.Set) (func(), error) {
		adm, err := set.Admit(context.Background(), getProduct, metadata.MD{}, false, 1)
		return adm.Release, err
	}

	release, err := admit(compile(first))
	if err != nil || release == nil {
		t.Fatalf("first call: %v (release %v), want admitted, holding the slot", err, release != nil)
	}
	defer release()

	if _, err := admit(compile(parse(reloadYAML))); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("after a reload with the same section: %v, want RESOURCE_EXHAUSTED: the limiter, and the call in flight it counts, should be kept", err)
	}
	moved := strings.Replace(reloadYAML, "127.0.0.1:7001", "127.0.0.1:7002", 1)
	rel, err := admit(compile(parse(moved)))
	if err != nil {
		t.Errorf("after a reload with other cluster addresses: %v, want admitted by a new limiter", err)
	}
	if rel != nil {
		rel()
	}
}

// TestReloadEndsOutage: a reload that fixes a failing Redis section (a wrong address) logs the end
// of the outage at the new store's first decision, once, so the log's last word is not the old
// failure.
func TestReloadEndsOutage(t *testing.T) {
	addr := ratelimittest.Addr(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wrong := l.Addr().String()
	_ = l.Close() // nothing listens there now: dialing it is refused at once
	yaml := func(addr string) config.Policies {
		t.Helper()
		cfg, err := config.Parse("gateway.yaml", []byte(fmt.Sprintf(`
policies:
  rate_limit:
    backend: redis
    redis: {address: %q, key_prefix: %q, failure_mode: closed, timeout: 2s}
  rules:
    - name: products
      match: {method: shop.catalog.v1.CatalogService/GetProduct}
      rate_limit: {rate: 100}
`, addr, "test:"+t.Name()+":"+time.Now().Format("150405.000000000")+":")))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Policies
	}
	log, logged := bufferLogger()
	e, err := policies.NewEngine(yaml(wrong), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	admit := func(p config.Policies) error {
		t.Helper()
		set, err := e.Compile(p, []string{getProduct}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = set.Admit(context.Background(), getProduct, metadata.MD{}, false, 1)
		return err
	}
	if err := admit(yaml(wrong)); status.Code(err) != codes.Unavailable {
		t.Fatalf("with a wrong address: %v, want UNAVAILABLE", err)
	}
	fixed := yaml(addr)
	for range 2 {
		if err := admit(fixed); err != nil {
			t.Fatalf("after the reload that fixed it: %v", err)
		}
	}
	out := logged()
	if n := strings.Count(out, "rate limit store unavailable"); n != 1 || !strings.Contains(out, "redis="+wrong) {
		t.Errorf("logged %d outages, want 1 at %s:\n%s", n, wrong, out)
	}
	if n := strings.Count(out, "rate limit store is answering again"); n != 1 || !strings.Contains(out, "redis="+addr) {
		t.Errorf("logged %d recoveries, want 1 at %s:\n%s", n, addr, out)
	}
}
