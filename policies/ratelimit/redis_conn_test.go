package ratelimit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/ratelimit"
	"github.com/protogate/gateway/policies/ratelimit/ratelimittest"
)

// TestRedisRetriesDeadConnection: a pooled connection that a proxy closes or resets as the next
// command arrives, which the pool's idle check cannot see coming, fails that attempt before the
// command reaches Redis; the decision is made again on another connection, charged once, and no
// outage is logged. Over TCP and over TLS.
func TestRedisRetriesDeadConnection(t *testing.T) {
	t.Parallel()
	pki := ratelimittest.NewPKI(t)
	servers := map[string]*ratelimittest.Server{"tcp": ratelimittest.Start(t), "tls": ratelimittest.StartTLS(t, pki, true)}
	for _, transport := range []string{"tcp", "tls"} {
		for _, brk := range []struct {
			name string
			b    ratelimittest.Break
		}{{"closed", ratelimittest.CloseOnCommand}, {"reset", ratelimittest.ResetOnCommand}} {
			t.Run(transport+" "+brk.name, func(t *testing.T) {
				srv := servers[transport]
				proxy := ratelimittest.StartProxy(t, srv.Addr)
				cfg := redisConfig(t, proxy.Addr)
				if transport == "tls" {
					cfg.Redis.TLS = config.RedisTLS{Enabled: true, CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}
				}
				log, logged := bufferLogger()
				s := step(t, newLimiter(t, cfg, ratelimit.WithLogger(log)), "r", config.RuleRateLimit{Rate: 5, Per: time.Hour})
				c := call(getProduct, "10.0.0.1")
				if err := s.Admit(c); err != nil {
					t.Fatal(err)
				}
				if n := proxy.BreakOpen(brk.b); n == 0 {
					t.Fatal("no connection open through the proxy")
				}
				if err := s.Admit(c); err != nil {
					t.Fatalf("after the pooled connection broke: %v, want admitted on another connection", err)
				}
				if got := admits(t, s, c, 5); got != 3 {
					t.Errorf("then admitted %d of 5, want 3: each decision charged once", got)
				}
				if out := logged(); strings.Contains(out, "rate limit store") {
					t.Errorf("logged an outage that did not happen:\n%s", out)
				}
			})
		}
	}
}

// TestRedisTLSIdleConnectionsKilled: Redis closing the gateway's idle connections (its timeout, a
// CLIENT KILL, a restart) is seen when a connection is taken from the pool, over TLS as over TCP,
// so the next decisions are made on live connections, however many of the pooled ones died.
func TestRedisTLSIdleConnectionsKilled(t *testing.T) {
	t.Parallel()
	pki := ratelimittest.NewPKI(t)
	srv := ratelimittest.StartTLS(t, pki, true)
	cfg := redisConfig(t, srv.Addr)
	cfg.Redis.TLS = config.RedisTLS{Enabled: true, CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}
	log, logged := bufferLogger()
	s := step(t, newLimiter(t, cfg, ratelimit.WithLogger(log)), "r", config.RuleRateLimit{Rate: 1000, Per: time.Hour})
	admin := srv.TLSClient(t, pki)

	// Calls in parallel until the pool holds several connections.
	gateway := func(ctx context.Context) (int, error) {
		list, err := admin.ClientList(ctx).Result()
		return strings.Count(list, "cmd=evalsha") + strings.Count(list, "cmd=eval "), err
	}
	ratelimittest.Poll(t, "the gateway holding 3 connections", func(ctx context.Context) (bool, error) {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				if err := s.Admit(call(getProduct, fmt.Sprintf("10.0.1.%d", i))); err != nil {
					t.Errorf("before the kill: %v", err)
				}
			})
		}
		wg.Wait()
		n, err := gateway(ctx)
		return n >= 3, err
	})
	pooled, _ := gateway(context.Background())
	if err := admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "normal").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range pooled + 1 {
		if err := s.Admit(call(getProduct, "10.0.0.1")); err != nil {
			t.Fatalf("decision %d after Redis closed the %d pooled connections: %v, want admitted", i+1, pooled, err)
		}
	}
	if out := logged(); strings.Contains(out, "rate limit store") {
		t.Errorf("logged an outage that did not happen:\n%s", out)
	}
}

// TestRedisTimeoutNotRetried: a decision that times out is not made again, since Redis may have
// run it (as go-redis's own retries would, MaxRetries): it fails as failure_mode says, though a new
// connection would have answered.
func TestRedisTimeoutNotRetried(t *testing.T) {
	t.Parallel()
	proxy := ratelimittest.StartProxy(t, ratelimittest.Addr(t))
	cfg := redisConfig(t, proxy.Addr)
	cfg.Redis.Timeout = 200 * time.Millisecond
	s := step(t, newLimiter(t, cfg, ratelimit.WithLogger(discardLogger())), "r", config.RuleRateLimit{Rate: 5, Per: time.Hour})
	c := call(getProduct, "10.0.0.1")
	if err := s.Admit(c); err != nil {
		t.Fatal(err)
	}
	proxy.BreakOpen(ratelimittest.SwallowCommand)
	if err := s.Admit(c); status.Code(err) != codes.Unavailable {
		t.Errorf("a decision that timed out: %v, want UNAVAILABLE, not a second try", err)
	}
}
