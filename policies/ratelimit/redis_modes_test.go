package ratelimit_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/ratelimit"
	"github.com/protogate/gateway/policies/ratelimit/ratelimittest"
)

// The tests of this file start redis-server processes of their own (TLS, cluster mode, Sentinel),
// whatever PROTOGATE_TEST_REDIS says, and run in parallel: a cluster node takes two seconds to
// accept writes and a failover about one, and they overlap.

// tlsConfig is a store over TLS at srv, verified by pki's CA, with pki's client certificate.
func tlsConfig(t *testing.T, srv *ratelimittest.Server, pki *ratelimittest.PKI) config.RateLimit {
	cfg := redisConfig(t, srv.Addr)
	cfg.Redis.TLS = config.RedisTLS{Enabled: true, CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}
	return cfg
}

// bufferLogger returns a logger writing to a buffer, and a function that reads the buffer.
func bufferLogger() (*slog.Logger, func() string) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	return log, func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

// TestRedisTLS: decisions over mutual TLS, verified by the configured CA, by the address's IP or by
// server_name; a server certificate of another CA, or no client certificate where Redis requires
// one, fails the decision, which the failure mode then settles, and the log says why.
func TestRedisTLS(t *testing.T) {
	t.Parallel()
	pki := ratelimittest.NewPKI(t)
	srv := ratelimittest.StartTLS(t, pki, true)
	rl := config.RuleRateLimit{Rate: 3, Per: time.Hour}
	c := call(getProduct, "10.0.0.1")

	t.Run("mutual TLS", func(t *testing.T) {
		cfg := tlsConfig(t, srv, pki)
		a, b := step(t, newLimiter(t, cfg), "r", rl), step(t, newLimiter(t, cfg), "r", rl)
		if got := admits(t, a, c, 2) + admits(t, b, c, 2); got != 3 {
			t.Errorf("two replicas over TLS admitted %d of 4, want the shared 3", got)
		}
	})
	t.Run("server_name", func(t *testing.T) {
		cfg := tlsConfig(t, srv, pki)
		cfg.Redis.TLS.ServerName = "localhost" // the certificate's DNS name; dialed by IP
		if got := admits(t, step(t, newLimiter(t, cfg), "r", rl), c, 4); got != 3 {
			t.Errorf("admitted %d of 4, want 3", got)
		}
	})

	for _, tc := range []struct {
		name    string
		edit    func(*config.RedisTLS)
		wantLog string
	}{
		{"wrong CA", func(tl *config.RedisTLS) { tl.CAFile = ratelimittest.NewPKI(t).CAFile }, "certificate signed by unknown authority"},
		{"wrong server_name", func(tl *config.RedisTLS) { tl.ServerName = "redis.example.com" }, "not redis.example.com"},
		// TLS 1.3 lets the client finish its handshake before the server checks the client's
		// certificate: the refusal arrives as an alert ("tls: certificate required") or, when the
		// client's write meets the closed connection first, as a reset. Either way it fails.
		{"no client certificate", func(tl *config.RedisTLS) { tl.CertFile, tl.KeyFile = "", "" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, logged := bufferLogger()
			closed := tlsConfig(t, srv, pki)
			tc.edit(&closed.Redis.TLS)
			if err := step(t, newLimiter(t, closed, ratelimit.WithLogger(log)), "r", rl).Admit(c); status.Code(err) != codes.Unavailable {
				t.Errorf("failure_mode closed: %v, want UNAVAILABLE", err)
			}
			open := closed
			open.Redis.FailureMode = "open"
			if err := step(t, newLimiter(t, open, ratelimit.WithLogger(log)), "r", rl).Admit(c); err != nil {
				t.Errorf("failure_mode open: %v, want admitted", err)
			}
			if out := logged(); strings.Count(out, "rate limit store unavailable") != 2 || !strings.Contains(out, tc.wantLog) || !strings.Contains(out, "redis="+srv.Addr) {
				t.Errorf("the log does not say the store at %s failed, twice, because %q:\n%s", srv.Addr, tc.wantLog, out)
			}
		})
	}
}

// TestRedisTLSFilesRenewed: certificate files replaced under the same paths are read again when
// a connection is made, without rebuilding the limiter: a client certificate Redis does not trust
// fails the next connection and the renewed one works again; so does a CA that does not verify
// the server, then the right one.
func TestRedisTLSFilesRenewed(t *testing.T) {
	t.Parallel()
	pki, other := ratelimittest.NewPKI(t), ratelimittest.NewPKI(t)
	srv := ratelimittest.StartTLS(t, pki, true)
	dir := t.TempDir()
	install := func(dst, src string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	// limiter installs ca (a PKI's CA file) and the trusted client pair under the paths, and
	// builds a rule's step on them.
	limiter := func(t *testing.T, ca string) policy.Step {
		install(caFile, ca)
		install(certFile, pki.ClientCertFile)
		install(keyFile, pki.ClientKeyFile)
		cfg := redisConfig(t, srv.Addr)
		cfg.Redis.TLS = config.RedisTLS{Enabled: true, CAFile: caFile, CertFile: certFile, KeyFile: keyFile}
		return step(t, newLimiter(t, cfg, ratelimit.WithLogger(discardLogger())), "r", config.RuleRateLimit{Rate: 100, Per: time.Hour})
	}
	decide := func(s policy.Step, ip string) error { return s.Admit(call(getProduct, ip)) }

	t.Run("client certificate", func(t *testing.T) {
		s := limiter(t, pki.CAFile)
		// Replaced before the first connection: the one read at build must not be the one sent.
		install(certFile, other.ClientCertFile)
		install(keyFile, other.ClientKeyFile)
		if err := decide(s, "10.0.0.1"); status.Code(err) != codes.Unavailable {
			t.Fatalf("with a client certificate Redis does not trust: %v, want UNAVAILABLE", err)
		}
		install(certFile, pki.ClientCertFile)
		install(keyFile, pki.ClientKeyFile)
		if err := decide(s, "10.0.0.2"); err != nil {
			t.Fatalf("with the renewed client certificate: %v", err)
		}
	})
	t.Run("ca", func(t *testing.T) {
		s := limiter(t, other.CAFile)
		if err := decide(s, "10.0.0.1"); status.Code(err) != codes.Unavailable {
			t.Fatalf("with a CA that does not verify the server: %v, want UNAVAILABLE", err)
		}
		install(caFile, pki.CAFile)
		if err := decide(s, "10.0.0.2"); err != nil {
			t.Fatalf("with the right CA: %v", err)
		}
	})
}

// TestRedisCluster: decisions through the cluster client on a one-node Redis Cluster. Two
// replicas share one limit; buckets of many keys spread over many slots, each decision touching
// one key, so the cluster never refuses the script (CROSSSLOT), whatever the key holds.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	srv := ratelimittest.StartCluster(t)
	cfg := redisConfig(t, "")
	cfg.Redis.Cluster.Addresses = []string{srv.Addr}
	rl := config.RuleRateLimit{Rate: 10, Per: time.Hour}
	a, b := step(t, newLimiter(t, cfg), "products", rl), step(t, newLimiter(t, cfg), "products", rl)

	c := call(getProduct, "10.0.0.1")
	if got := admits(t, a, c, 4) + admits(t, b, c, 4) + admits(t, a, c, 4); got != 10 {
		t.Fatalf("two replicas on the cluster admitted %d of 12, want the shared 10", got)
	}

	// Keys of every shape, a hash tag in a header's value too: each is one key in one slot.
	hdr := step(t, newLimiter(t, cfg), "partners", config.RuleRateLimit{Rate: 10, Per: time.Hour, Key: "header:x-partner"})
	for i := range 20 {
		if err := a.Admit(call(getProduct, fmt.Sprintf("10.0.1.%d", i))); err != nil {
			t.Fatalf("client 10.0.1.%d: %v", i, err)
		}
		pc := call(getProduct, "10.0.0.1")
		pc.MD.Set("x-partner", fmt.Sprintf("{p%d}x", i))
		if err := hdr.Admit(pc); err != nil {
			t.Fatalf("partner {p%d}x: %v", i, err)
		}
	}
	rdb := srv.Client(t)
	keys, err := rdb.Keys(context.Background(), cfg.Redis.KeyPrefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slots := map[int64]bool{}
	for _, k := range keys {
		slot, err := rdb.ClusterKeySlot(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[slot] = true
	}
	if len(keys) != 41 || len(slots) < 20 {
		t.Errorf("%d keys in %d slots, want 41 buckets spread over many slots", len(keys), len(slots))
	}
}

// TestRedisClusterNodeOutage: with the master that holds one bucket stalled and calls alternating
// between that bucket and one on a healthy master, the outage is logged once, naming the stalled
// node, and its end once, when the node answers again; a second outage of the node, that a
// failover to its replica ends, likewise, naming the node that serves its slots now.
func TestRedisClusterNodeOutage(t *testing.T) {
	t.Parallel()
	cl := ratelimittest.StartCluster3(t, true)
	stalled, healthy := cl.Masters[0], cl.Masters[1]
	cfg := redisConfig(t, "")
	cfg.Redis.Cluster.Addresses = []string{healthy.Addr} // a seed that stays up
	cfg.Redis.Timeout = 200 * time.Millisecond
	log, logged := bufferLogger()
	s := step(t, newLimiter(t, cfg, ratelimit.WithLogger(log)), "r", config.RuleRateLimit{Rate: 1000, Per: time.Hour})
	// One client whose bucket is on the stalled master, one whose bucket is on the healthy one.
	var onStalled, onHealthy string
	for i := 0; onStalled == "" || onHealthy == ""; i++ {
		ip := fmt.Sprintf("10.0.0.%d", i)
		switch cl.Owner(t, cfg.Redis.KeyPrefix+"r:client_ip:ip:"+ip) {
		case stalled:
			onStalled = cmp.Or(onStalled, ip)
		case healthy:
			onHealthy = cmp.Or(onHealthy, ip)
		}
	}
	decide := func(ip string, want codes.Code) {
		t.Helper()
		if err := s.Admit(call(getProduct, ip)); status.Code(err) != want {
			t.Fatalf("client %s: %v, want %s", ip, err, want)
		}
	}
	count := func(want, recovered int) string {
		t.Helper()
		out := logged()
		if n := strings.Count(out, "rate limit store unavailable"); n != want {
			t.Fatalf("logged %d outages, want %d:\n%s", n, want, out)
		}
		if n := strings.Count(out, "rate limit store is answering again"); n != recovered {
			t.Fatalf("logged %d recoveries, want %d:\n%s", n, recovered, out)
		}
		return out
	}
	decide(onStalled, codes.OK)
	decide(onHealthy, codes.OK)

	stalled.Pause(t)
	for range 3 {
		decide(onStalled, codes.Unavailable)
		decide(onHealthy, codes.OK)
	}
	if out := count(1, 0); !strings.Contains(out, "node="+stalled.Addr) || !strings.Contains(out, "i/o timeout") {
		t.Errorf("the outage does not name the node %s and why:\n%s", stalled.Addr, out)
	}
	stalled.Resume(t)
	decide(onStalled, codes.OK)
	decide(onHealthy, codes.OK)
	if out := count(1, 1); !strings.Contains(out, `msg="rate limit store is answering again" redis="cluster `+healthy.Addr+`" node=`+stalled.Addr) {
		t.Errorf("the recovery does not name the node %s:\n%s", stalled.Addr, out)
	}

	// Again, and the replica takes over: the node stays down, its slots are answered.
	stalled.Pause(t)
	decide(onStalled, codes.Unavailable)
	count(2, 1)
	if err := cl.Replica.Client(t).Do(context.Background(), "CLUSTER", "FAILOVER", "TAKEOVER").Err(); err != nil {
		t.Fatal(err)
	}
	ratelimittest.Poll(t, "a decision on the promoted replica", func(context.Context) (bool, error) {
		err := s.Admit(call(getProduct, onStalled))
		return err == nil, err
	})
	decide(onHealthy, codes.OK)
	if out := count(2, 2); !strings.Contains(out, "node="+stalled.Addr+" served_by="+cl.Replica.Addr) {
		t.Errorf("the end of the second outage does not say that %s serves %s's slots:\n%s", cl.Replica.Addr, stalled.Addr, out)
	}
}

// TestRedisSentinelFollowsFailover: decisions through the failover client go to the primary the
// Sentinel names, and, after the Sentinel fails it over to the replica, to the new primary.
func TestRedisSentinelFollowsFailover(t *testing.T) {
	t.Parallel()
	primary := ratelimittest.Start(t)
	replica := ratelimittest.StartReplica(t, primary)
	sentinel := ratelimittest.StartSentinel(t, "ratelimits", primary, 1)

	cfg := redisConfig(t, "")
	cfg.Redis.Sentinel = config.RedisSentinel{Master: "ratelimits", Addresses: []string{sentinel.Addr}}
	s := step(t, newLimiter(t, cfg), "r", config.RuleRateLimit{Rate: 3, Per: time.Hour})
	if got := admits(t, s, call(getProduct, "10.0.0.1"), 4); got != 3 {
		t.Fatalf("admitted %d of 4 through the Sentinel, want 3", got)
	}
	bucket := func(ip string) string { return cfg.Redis.KeyPrefix + "r:client_ip:ip:" + ip }
	if n, err := primary.Client(t).Exists(context.Background(), bucket("10.0.0.1")).Result(); n != 1 {
		t.Fatalf("the bucket is not on the primary: %d, %v", n, err)
	}

	if addr := ratelimittest.Failover(t, sentinel, "ratelimits"); addr != replica.Addr {
		t.Fatalf("the Sentinel failed over to %s, want the replica %s", addr, replica.Addr)
	}
	// The client learns of the switch from the Sentinel; meanwhile a decision may still reach
	// the old primary, or fail. Each attempt takes a bucket of its own, so the one found on the
	// new primary was written there.
	next := replica.Client(t)
	i := 0
	ratelimittest.Poll(t, "a decision on the new primary", func(ctx context.Context) (bool, error) {
		i++
		ip := fmt.Sprintf("10.0.2.%d", i%250)
		err := s.Admit(call(getProduct, ip))
		n, xerr := next.Exists(ctx, bucket(ip)).Result()
		if xerr != nil {
			return false, xerr
		}
		return n == 1, err
	})
}

// TestRedisSentinelACL: sentinels that only an ACL user may use are asked for the primary as that
// user; a wrong password is the store failing, as failure_mode says.
func TestRedisSentinelACL(t *testing.T) {
	t.Parallel()
	primary := ratelimittest.Start(t)
	sentinel := ratelimittest.StartSentinelACL(t, "ratelimits", primary, "gateway", "s3cret")
	// Environment variables of the test's own (t.Setenv refuses a parallel test).
	env := func(t *testing.T, value string) string {
		name := "PROTOGATE_TEST_SENTINEL_PASSWORD_" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if err := os.Setenv(name, value); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Unsetenv(name) })
		return name
	}
	rl := config.RuleRateLimit{Rate: 3, Per: time.Hour}
	c := call(getProduct, "10.0.0.1")

	t.Run("right password", func(t *testing.T) {
		cfg := redisConfig(t, "")
		cfg.Redis.Sentinel = config.RedisSentinel{Master: "ratelimits", Addresses: []string{sentinel.Addr}, Username: "gateway", PasswordEnv: env(t, "s3cret")}
		if got := admits(t, step(t, newLimiter(t, cfg), "r", rl), c, 4); got != 3 {
			t.Fatalf("admitted %d of 4 through the Sentinel as its ACL user, want 3", got)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		log, logged := bufferLogger()
		cfg := redisConfig(t, "")
		cfg.Redis.Timeout = 500 * time.Millisecond
		cfg.Redis.Sentinel = config.RedisSentinel{Master: "ratelimits", Addresses: []string{sentinel.Addr}, Username: "gateway", PasswordEnv: env(t, "not-it")}
		if err := step(t, newLimiter(t, cfg, ratelimit.WithLogger(log)), "r", rl).Admit(c); status.Code(err) != codes.Unavailable {
			t.Errorf("failure_mode closed: %v, want UNAVAILABLE", err)
		}
		if out := logged(); !strings.Contains(out, "rate limit store unavailable") {
			t.Errorf("the log does not say the store failed:\n%s", out)
		}
	})
}

// BenchmarkRedisDecisionModes is one decision over TLS, on a cluster, and through a Sentinel, on
// loopback: compare with BenchmarkRedisDecision (plain, standalone).
func BenchmarkRedisDecisionModes(b *testing.B) {
	modes := map[string]func(b *testing.B) config.RateLimit{
		"tls": func(b *testing.B) config.RateLimit {
			pki := ratelimittest.NewPKI(b)
			cfg := redisConfig(b, ratelimittest.StartTLS(b, pki, true).Addr)
			cfg.Redis.TLS = config.RedisTLS{Enabled: true, CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}
			return cfg
		},
		"cluster": func(b *testing.B) config.RateLimit {
			cfg := redisConfig(b, "")
			cfg.Redis.Cluster.Addresses = []string{ratelimittest.StartCluster(b).Addr}
			return cfg
		},
		"sentinel": func(b *testing.B) config.RateLimit {
			s := ratelimittest.StartSentinel(b, "rl", ratelimittest.Start(b), 0)
			cfg := redisConfig(b, "")
			cfg.Redis.Sentinel = config.RedisSentinel{Master: "rl", Addresses: []string{s.Addr}}
			return cfg
		},
	}
	for _, name := range []string{"tls", "cluster", "sentinel"} {
		b.Run(name, func(b *testing.B) {
			s := step(b, newLimiter(b, modes[name](b)), "r", config.RuleRateLimit{Rate: 1_000_000_000, Per: time.Second})
			c := call(getProduct, "10.0.0.1")
			if err := s.Admit(c); err != nil { // connect, and load the slot map, before timing
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Admit(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// discardLogger is a logger that drops everything.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
