package ratelimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/ratelimit"
	"github.com/protogate/gateway/policies/ratelimit/ratelimittest"
)

// redisConfig is a redis store at addr with a key prefix of the test's own.
func redisConfig(t testing.TB, addr string) config.RateLimit {
	return config.RateLimit{Backend: "redis", Redis: config.RedisStore{
		Address:     addr,
		KeyPrefix:   "test:" + strings.ReplaceAll(t.Name(), "/", ":") + ":" + time.Now().Format("150405.000000000") + ":",
		Timeout:     2 * time.Second, // generous: a loaded CI machine must not flip a decision into the failure mode
		FailureMode: "closed",
	}}
}

// TestRedisReplicasShareOneLimit: two limiters, standing for two gateway replicas, decide on one
// Redis; together they admit one bucket's worth, however the calls are spread between them.
func TestRedisReplicasShareOneLimit(t *testing.T) {
	cfg := redisConfig(t, ratelimittest.Addr(t))
	rl := config.RuleRateLimit{Rate: 10, Per: time.Hour, Burst: 10} // no refill within the test
	a := step(t, newLimiter(t, cfg), "products", rl)
	b := step(t, newLimiter(t, cfg), "products", rl)

	c := call(getProduct, "10.0.0.1")
	got := admits(t, a, c, 4) + admits(t, b, c, 4) + admits(t, a, c, 4) + admits(t, b, c, 4)
	if got != 10 {
		t.Fatalf("two replicas admitted %d of 16 calls, want the shared limit of 10", got)
	}
	h, ri, _ := denial(t, b.Admit(c))
	if !strings.HasPrefix(h.Get("RateLimit"), `"products";r=0;t=`) || h.Get("Retry-After") != "360" || ri == nil {
		t.Errorf("denial headers %v, RetryInfo %v; want RateLimit r=0, Retry-After 360 (one token per 6 minutes)", h, ri)
	}
	// Another client has a bucket of its own, on both replicas.
	if got := admits(t, a, call(getProduct, "10.0.0.2"), 6) + admits(t, b, call(getProduct, "10.0.0.2"), 6); got != 10 {
		t.Errorf("another client: %d admitted, want 10", got)
	}

	// In parallel too: the script is atomic.
	cfg2 := redisConfig(t, cfg.Redis.Address)
	x, y := step(t, newLimiter(t, cfg2), "products", rl), step(t, newLimiter(t, cfg2), "products", rl)
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			s := x
			if i%2 == 1 {
				s = y
			}
			n := admits(t, s, call(getProduct, "10.0.0.3"), 10)
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 10 {
		t.Errorf("40 parallel calls on two replicas: %d admitted, want 10", total)
	}
}

// TestRedisRefillOnPassedTime: with a clock injected, the script decides on the time passed to it,
// so refill is tested without waiting; the key expires when the bucket is full again.
func TestRedisRefillOnPassedTime(t *testing.T) {
	addr := ratelimittest.Addr(t)
	cfg := redisConfig(t, addr)
	clk := newClock()
	clk.now = time.Now() // the key's TTL runs on the server's clock
	s := step(t, newLimiter(t, cfg, ratelimit.WithClock(clk.Now)), "r", config.RuleRateLimit{Rate: 2, Per: time.Second, Burst: 3})
	c := call(getProduct, "10.0.0.1")
	if got := admits(t, s, c, 5); got != 3 {
		t.Fatalf("admitted %d, want the burst of 3", got)
	}
	clk.Advance(500 * time.Millisecond)
	if got := admits(t, s, c, 2); got != 1 {
		t.Fatalf("after 500ms: admitted %d, want 1", got)
	}

	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	defer rdb.Close()
	keys, err := rdb.Keys(context.Background(), cfg.Redis.KeyPrefix+"*").Result()
	if err != nil || len(keys) != 1 || keys[0] != cfg.Redis.KeyPrefix+"r:client_ip:ip:10.0.0.1" {
		t.Fatalf("keys %v (%v), want the one bucket %sr:client_ip:ip:10.0.0.1", keys, err, cfg.Redis.KeyPrefix)
	}
	ttl, err := rdb.PTTL(context.Background(), keys[0]).Result()
	if err != nil || ttl <= 0 || ttl > 1600*time.Millisecond {
		t.Errorf("bucket TTL %s (%v), want about 1.5s: until the bucket is full again", ttl, err)
	}
}

// TestRedisScriptReloaded: after SCRIPT FLUSH (or a Redis restart) EVALSHA fails with NOSCRIPT and
// the decision falls back to EVAL.
func TestRedisScriptReloaded(t *testing.T) {
	addr := ratelimittest.Addr(t)
	s := step(t, newLimiter(t, redisConfig(t, addr)), "r", config.RuleRateLimit{Rate: 5, Per: time.Hour})
	c := call(getProduct, "10.0.0.1")
	if admits(t, s, c, 2) != 2 {
		t.Fatal("refused before the flush")
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	defer rdb.Close()
	if err := rdb.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if got := admits(t, s, c, 5); got != 3 {
		t.Errorf("after SCRIPT FLUSH: admitted %d, want the 3 left", got)
	}
}

// TestRedisFailureModes: with Redis gone, failure_mode open admits and closed refuses with
// UNAVAILABLE; each logs the failure once, and the recovery once.
func TestRedisFailureModes(t *testing.T) {
	srv := ratelimittest.Start(t)
	rl := config.RuleRateLimit{Rate: 100, Per: time.Second}
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))

	openCfg, closedCfg := redisConfig(t, srv.Addr), redisConfig(t, srv.Addr)
	openCfg.Redis.FailureMode, openCfg.Redis.Timeout = "open", 200*time.Millisecond
	closedCfg.Redis.Timeout = 200 * time.Millisecond
	open := step(t, newLimiter(t, openCfg, ratelimit.WithLogger(log)), "r", rl)
	closed := step(t, newLimiter(t, closedCfg, ratelimit.WithLogger(log)), "r", rl)
	c := call(getProduct, "10.0.0.1")
	if open.Admit(c) != nil || closed.Admit(c) != nil {
		t.Fatal("refused while Redis is up")
	}

	srv.Stop()
	for range 3 {
		if err := open.Admit(c); err != nil {
			t.Errorf("failure_mode open with Redis down: %v, want admitted", err)
		}
		if err := closed.Admit(c); status.Code(err) != codes.Unavailable {
			t.Errorf("failure_mode closed with Redis down: %v, want UNAVAILABLE", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "rate limit store unavailable"); n != 2 {
		t.Errorf("logged the failure %d times for two limiters, want 2:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "failure_mode open") || !strings.Contains(logs.String(), "failure_mode closed") {
		t.Errorf("the log does not say what happens to calls:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// BenchmarkRedisDecision is one decision on a loopback redis-server: a round trip and the script.
func BenchmarkRedisDecision(b *testing.B) {
	cfg := redisConfig(b, ratelimittest.Addr(b))
	s := step(b, newLimiter(b, cfg), "r", config.RuleRateLimit{Rate: 1_000_000_000, Per: time.Second})
	c := call(getProduct, "10.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Admit(c); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = net.IPv4len
