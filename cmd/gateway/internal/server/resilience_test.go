package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

// shopBackend is one shop service instance (users, unless startShopService said otherwise) on
// loopback that can be killed and restarted on the same address.
type shopBackend struct {
	t       testing.TB
	service string
	addr    string
	opts    shop.Options
	calls   atomic.Int64
	mu      sync.Mutex
	srv     *grpc.Server
	done    chan struct{}
}

// startUsers starts the shop's users service alone on loopback.
func startUsers(t testing.TB, opts shop.Options) *shopBackend {
	t.Helper()
	return startShopService(t, "users", opts)
}

// startShopService starts the shop's service ("users", "orders", "catalog") alone on loopback.
func startShopService(t testing.TB, service string, opts shop.Options) *shopBackend {
	t.Helper()
	b := &shopBackend{t: t, service: service, addr: "127.0.0.1:0", opts: opts}
	next := opts.OnCall
	b.opts.OnCall = func(ctx context.Context, m string) {
		b.calls.Add(1)
		if next != nil {
			next(ctx, m)
		}
	}
	b.start()
	t.Cleanup(b.kill)
	return b
}

func (b *shopBackend) start() {
	b.t.Helper()
	srv, err := shop.NewServer(b.service, b.opts)
	if err != nil {
		b.t.Fatal(err)
	}
	lis, err := net.Listen("tcp", b.addr)
	if err != nil {
		b.t.Fatalf("listen %s: %v", b.addr, err)
	}
	b.addr = lis.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	b.mu.Lock()
	b.srv, b.done = srv, done
	b.mu.Unlock()
}

// kill stops the backend at once, cutting its connections, as a crash would.
func (b *shopBackend) kill() {
	b.mu.Lock()
	srv, done := b.srv, b.done
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		srv.Stop()
		<-done
	}
}

// failingBackend answers every call with Unavailable and counts the attempts.
func failingBackend(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var attempts atomic.Int64
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		attempts.Add(1)
		return status.Error(codes.Unavailable, "injected failure")
	}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return lis.Addr().String(), &attempts
}

// resilientGateway serves the users service from a cluster of addrs with cfg, and the retry policy
// on its route. It returns a client of the gateway and the gateway's endpoint pool.
func resilientGateway(t testing.TB, addrs []string, cfg routing.ClusterConfig, retry routing.RetryPolicy) (usersv1.UserServiceClient, *routing.Pool) {
	t.Helper()
	client, _, pool := resilientGatewayAt(t, addrs, cfg, retry)
	return client, pool
}

// resilientGatewayAt is resilientGateway that also returns the gateway's data address.
func resilientGatewayAt(t testing.TB, addrs []string, cfg routing.ClusterConfig, retry routing.RetryPolicy) (usersv1.UserServiceClient, string, *routing.Pool) {
	t.Helper()
	files, err := registry.FilesOf(usersv1.File_shop_users_v1_users_proto)
	if err != nil {
		t.Fatal(err)
	}
	spec := registry.Spec{
		Clusters:      []registry.ClusterSpec{{Name: "users-pool", Endpoints: addrs, Config: cfg}},
		Registrations: []*registry.Registration{{Name: "users", Cluster: "users-pool", Files: files}},
		Routes: []registry.RouteSpec{{
			Name: "users", Match: routing.Match{Prefix: "/shop.users.v1.UserService/"},
			Clusters: []registry.WeightedCluster{{Name: "users-pool", Weight: 1}}, Retry: retry,
		}},
	}
	return serveSpec(t, spec)
}

// serveSpec serves spec, which registers the users service, and returns a client of the gateway,
// its data address and its endpoint pool.
func serveSpec(t testing.TB, spec registry.Spec) (usersv1.UserServiceClient, string, *routing.Pool) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pool := routing.NewPool(nil, routing.WithPoolLogger(log))
	gcfg := config.Default()
	gcfg.ShutdownGrace = 5 * time.Second
	srv, err := server.New(gcfg, server.WithLogger(log), server.WithPool(pool))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Apply(spec); err != nil {
		t.Fatalf("apply: %v", err)
	}
	dataLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	ready := make(chan struct{})
	go func() { served <- srv.ServeListeners(ctx, dataLn, adminLn, ready) }()
	<-ready
	conn, err := grpc.NewClient(dataLn.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return usersv1.NewUserServiceClient(conn), dataLn.Addr().String(), pool
}

// raceEnabled reports whether the test binary was built with the race detector.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

// verifyNoLeaks checks, when the test's cleanups have run, that it left no goroutines behind.
func verifyNoLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// statsOf returns the pool's view of addr.
func statsOf(pool *routing.Pool, addr string) routing.EndpointStats {
	for _, s := range pool.Stats() {
		if s.Address == addr {
			return s
		}
	}
	return routing.EndpointStats{}
}

// waitFor polls cond every few milliseconds until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(2 * time.Millisecond) // polling an observable condition, not synchronising
	}
	return time.Since(start)
}

func TestResilienceEndpointKilledAndReturns(t *testing.T) {
	verifyNoLeaks(t)
	const interval = 200 * time.Millisecond
	var backends []*shopBackend
	var addrs []string
	for range 3 {
		b := startUsers(t, shop.Options{})
		backends = append(backends, b)
		addrs = append(addrs, b.addr)
	}
	client, pool := resilientGateway(t, addrs, routing.ClusterConfig{
		Endpoint: routing.EndpointConfig{Health: routing.HealthCheckConfig{Interval: interval, Timeout: 100 * time.Millisecond}},
	}, routing.RetryPolicy{})

	var calls, failures, failuresAfterEjection atomic.Int64
	var ejected atomic.Bool
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := client.GetUser(cctx, &usersv1.GetUserRequest{Id: "1"})
				cancel()
				if ctx.Err() != nil {
					return
				}
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					if ejected.Load() {
						failuresAfterEjection.Add(1)
						t.Logf("failure after ejection: %v", err)
					}
				}
			}
		})
	}
	defer func() { stop(); wg.Wait() }()

	victim := backends[0]
	waitFor(t, 10*time.Second, "steady load", func() bool { return victim.calls.Load() > 100 })
	victim.kill()
	took := waitFor(t, 10*time.Second, "killed endpoint taken out", func() bool {
		s := statsOf(pool, victim.addr)
		return !s.Healthy || s.Ejected || s.Breaker == "open"
	})
	ejected.Store(true)
	before := calls.Load()
	waitFor(t, 10*time.Second, "load after ejection", func() bool { return calls.Load() > before+1000 })

	// The health checks see it down too; when they see it back, it is back in rotation.
	waitFor(t, 10*interval, "health checks fail", func() bool { return !statsOf(pool, victim.addr).Healthy })
	victim.start()
	served := victim.calls.Load()
	back := waitFor(t, 10*time.Second, "restarted endpoint gets traffic", func() bool { return victim.calls.Load() > served })
	stop()
	wg.Wait()

	n, f := calls.Load(), failures.Load()
	t.Logf("%d calls, %d failed (%.3f%%); killed endpoint out after %v; back in traffic %v after restart (health interval %v)",
		n, f, 100*float64(f)/float64(n), took.Round(time.Millisecond), back.Round(time.Millisecond), interval)
	if f*1000 > n {
		t.Errorf("%d of %d calls failed, more than 0.1%%", f, n)
	}
	if fa := failuresAfterEjection.Load(); fa != 0 {
		t.Errorf("%d calls failed after the endpoint was taken out", fa)
	}
	if back > 2*interval+time.Second {
		t.Errorf("restarted endpoint got traffic after %v, want within about the health interval %v", back, interval)
	}
}

func TestResilienceAllDownFailsFast(t *testing.T) {
	verifyNoLeaks(t)
	var backends []*shopBackend
	var addrs []string
	for range 3 {
		b := startUsers(t, shop.Options{})
		backends = append(backends, b)
		addrs = append(addrs, b.addr)
	}
	const openTimeout = 500 * time.Millisecond
	client, pool := resilientGateway(t, addrs, routing.ClusterConfig{
		Endpoint: routing.EndpointConfig{Breaker: routing.BreakerConfig{OpenTimeout: openTimeout}},
	}, routing.RetryPolicy{})
	// The baseline, measured in the same run: healthy calls, which do everything a refused call does
	// and a backend round trip besides. On a loaded machine both slow down together.
	var healthy []time.Duration
	for range 100 {
		start := time.Now()
		if _, err := client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"}); err != nil {
			t.Fatalf("healthy call: %v", err)
		}
		healthy = append(healthy, time.Since(start))
	}
	slices.Sort(healthy)
	healthyP99 := healthy[len(healthy)*99/100]
	for _, b := range backends {
		b.kill()
	}
	waitFor(t, 10*time.Second, "all circuits open", func() bool {
		_, _ = client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"})
		for _, s := range pool.Stats() {
			if s.Breaker != "open" {
				return false
			}
		}
		return true
	})
	// measure makes up to 200 refused calls and returns their latencies, sorted.
	measure := func() []time.Duration {
		var lat []time.Duration
		for range 200 {
			start := time.Now()
			_, err := client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"})
			lat = append(lat, time.Since(start))
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("with every endpoint down: %v, want Unavailable", err)
			}
			if len(lat) == 100 && pool.Stats()[0].Breaker != "open" {
				break // the open timeout passed: the rest would measure probes
			}
		}
		slices.Sort(lat)
		return lat
	}
	limit := 5 * time.Millisecond
	if raceEnabled() {
		limit *= 5 // the race detector slows the whole path several times over
	}
	// Failing fast means no slower than a healthy call: a machine too busy for the absolute goal
	// slows the baseline as much.
	limit = max(limit, healthyP99)
	// The best of three rounds: on a shared machine one round's two slowest calls can meet a
	// scheduling stall that has nothing to do with the gateway, while a real regression (a call
	// that waits for a dial or a timeout) shows in every round.
	var p99 time.Duration
	for round := 1; round <= 3; round++ {
		lat := measure()
		p99 = lat[len(lat)*99/100]
		t.Logf("all down, round %d: %d calls, p50 %v, p99 %v (healthy calls: p99 %v)", round, len(lat), lat[len(lat)/2], p99, healthyP99)
		if p99 <= limit || pool.Stats()[0].Breaker != "open" {
			break
		}
	}
	if p99 > limit {
		t.Errorf("p99 with all circuits open = %v, want under %v", p99, limit)
	}
	backends[1].start()
	back := waitFor(t, 10*time.Second, "recovery after one endpoint returns", func() bool {
		_, err := client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"})
		return err == nil
	})
	t.Logf("recovered %v after one endpoint returned (breaker timeout %v)", back, openTimeout)
	if back > openTimeout+time.Second {
		t.Errorf("recovery took %v, want within the breaker timeout %v", back, openTimeout)
	}
}

func TestResilienceLeastRequestSlowEndpoint(t *testing.T) {
	verifyNoLeaks(t)
	slow := startUsers(t, shop.Options{Latency: 50 * time.Millisecond})
	fast1, fast2 := startUsers(t, shop.Options{}), startUsers(t, shop.Options{})
	client, _ := resilientGateway(t, []string{slow.addr, fast1.addr, fast2.addr},
		routing.ClusterConfig{Balancer: routing.LeastRequest}, routing.RetryPolicy{})
	var wg sync.WaitGroup
	var next atomic.Int64
	const total = 1500
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= total {
				if _, err := client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	share := float64(slow.calls.Load()) / float64(slow.calls.Load()+fast1.calls.Load()+fast2.calls.Load())
	t.Logf("least request: the endpoint slowed by 50ms served %.1f%% of %d calls (round robin: 33.3%%)", 100*share, total)
	// Typically 1-3%; a loaded machine (the race detector, parallel packages) slows the fast
	// endpoints too. Round robin would give it a third.
	if share > 0.20 {
		t.Errorf("slow endpoint share %.1f%%, want under 20%%", 100*share)
	}
}

func TestResilienceRetryBudgetBoundsStorm(t *testing.T) {
	verifyNoLeaks(t)
	a1, n1 := failingBackend(t)
	a2, n2 := failingBackend(t)
	cfg := routing.ClusterConfig{Endpoint: routing.EndpointConfig{
		Breaker: routing.BreakerConfig{Disabled: true},
		Outlier: routing.OutlierConfig{Disabled: true},
	}}
	client, _ := resilientGateway(t, []string{a1, a2}, cfg, routing.RetryPolicy{Attempts: 5, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	const calls = 300
	for range calls {
		_, err := client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("GetUser: %v, want Unavailable", err)
		}
	}
	attempts := n1.Load() + n2.Load()
	limit := int64(calls + calls*routing.DefaultRetryBudgetPercent/100 + routing.DefaultRetryBudgetMin)
	t.Logf("%d failing calls made %d upstream attempts (budget allows %d; without it up to %d)", calls, attempts, limit, 5*calls)
	if attempts > limit || attempts <= calls {
		t.Errorf("%d attempts for %d calls, want retries, at most %d attempts", attempts, calls, limit)
	}
}

func TestResilienceCallerDeadline(t *testing.T) {
	verifyNoLeaks(t)
	cancelled := make(chan time.Duration, 1)
	b := startUsers(t, shop.Options{Latency: time.Second, OnCall: func(ctx context.Context, _ string) {
		start := time.Now()
		context.AfterFunc(ctx, func() {
			select {
			case cancelled <- time.Since(start):
			default:
			}
		})
	}})
	client, _ := resilientGateway(t, []string{b.addr}, routing.ClusterConfig{}, routing.RetryPolicy{})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
	took := time.Since(start)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("GetUser: %v, want DeadlineExceeded", err)
	}
	if took < 90*time.Millisecond || took > 500*time.Millisecond {
		t.Errorf("DeadlineExceeded after %v, want about 100ms", took)
	}
	select {
	case d := <-cancelled:
		t.Logf("deadline: failed after %v; the backend saw its call cancelled after %v", took.Round(time.Millisecond), d.Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Error("the backend never saw its call cancelled")
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		t.Error("unexpected cancellation")
	}
}

// The REST and GraphQL fronts retry unary calls as the gRPC front does: with one endpoint of two
// refusing connections, every call succeeds on every front, by the route's default policy and the
// cluster's default retry budget.
func TestResilienceRetriesOnEveryFront(t *testing.T) {
	verifyNoLeaks(t)
	dead := testnet.Refused(t)
	live := startUsers(t, shop.Options{})
	client, addr, pool := resilientGatewayAt(t, []string{dead, live.addr}, routing.ClusterConfig{
		Endpoint: routing.EndpointConfig{
			Breaker: routing.BreakerConfig{Disabled: true}, Outlier: routing.OutlierConfig{Disabled: true},
		},
	}, routing.RetryPolicy{})
	httpc := &http.Client{Transport: &http.Transport{}}
	defer httpc.CloseIdleConnections()
	get := func(req *http.Request) string {
		t.Helper()
		resp, body := doRequest(t, httpc, req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", req.Method, req.URL, resp.StatusCode, body)
		}
		return body
	}
	for i := range 10 {
		if _, err := client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"}); err != nil {
			t.Fatalf("gRPC call %d: %v", i, err)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/v1/users/1", nil)
		if body := get(req); !strings.Contains(body, "Ada Lovelace") {
			t.Fatalf("REST call %d: %s", i, body)
		}
		req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/graphql",
			strings.NewReader(`{"query": "{ getUser(id: \"1\") { name } }"}`))
		req.Header.Set("Content-Type", "application/json")
		if body := get(req); !strings.Contains(body, "Ada Lovelace") || strings.Contains(body, `"errors"`) {
			t.Fatalf("GraphQL call %d: %s", i, body)
		}
	}
	if statsOf(pool, dead).Latency == 0 {
		t.Error("the dead endpoint was never tried: the test proves nothing")
	}
	if got := live.calls.Load(); got != 30 {
		t.Errorf("the live endpoint served %d calls, want 30", got)
	}
}

// With one endpoint of two refusing connections and every setting at its default, no call fails:
// the QA report of the fourth call in a row failing UNAVAILABLE "upstream connection failed:
// connection refused". That call's retry was refused by the retry budget (three retries, as 20% of
// four calls is none), while the breaker and outlier detection still waited for a fifth failure.
// Now a call that meets the dead endpoint is retried outside the budget, its request having reached
// no backend, and once the endpoint's connection is known to fail the balancer passes over it.
func TestResilienceDeadEndpointDefaults(t *testing.T) {
	verifyNoLeaks(t)
	dead := testnet.Refused(t)
	live := startUsers(t, shop.Options{})
	client, _ := resilientGateway(t, []string{dead, live.addr}, routing.ClusterConfig{}, routing.RetryPolicy{})
	const calls = 50
	for i := range calls {
		if _, err := client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"}); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if got := live.calls.Load(); got != calls {
		t.Errorf("the live endpoint served %d calls, want %d", got, calls)
	}
}

// BenchmarkUnaryResilience measures the demo's unary call through the gateway to a cluster of three
// users backends, with the full resilience path (least request on in-flight counts and latency,
// breakers, outlier detection, active health checks, the retry policy and its budget) and with it
// off (round robin; no breakers, outlier detection, health checks or retries), in the same run.
// "interleaved" alternates the two call by call in every worker, so both see the same machine load,
// and reports the mean latency of each and their ratio (on/off; 1.05 would be a 5% loss).
func BenchmarkUnaryResilience(b *testing.B) {
	var addrs []string
	for range 3 {
		addrs = append(addrs, startUsers(b, shop.Options{}).addr)
	}
	on, _ := resilientGateway(b, addrs, routing.ClusterConfig{
		Balancer: routing.LeastRequest,
		Endpoint: routing.EndpointConfig{Health: routing.HealthCheckConfig{Interval: time.Second}},
	}, routing.RetryPolicy{Attempts: 3})
	off, _ := resilientGateway(b, addrs, routing.ClusterConfig{
		Endpoint: routing.EndpointConfig{
			Breaker: routing.BreakerConfig{Disabled: true}, Outlier: routing.OutlierConfig{Disabled: true},
		},
	}, routing.RetryPolicy{Attempts: 1})
	for _, tc := range []struct {
		name   string
		client usersv1.UserServiceClient
	}{{"on", on}, {"off", off}} {
		b.Run(tc.name, func(b *testing.B) {
			req := &usersv1.GetUserRequest{Id: "1"}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := tc.client.GetUser(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		req := &usersv1.GetUserRequest{Id: "1"}
		ctx := context.Background()
		var spent [2]atomic.Int64 // nanoseconds: on, off
		var calls [2]atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(16) // calls in flight per core: load the gateway as the bench command does
		b.RunParallel(func(pb *testing.PB) {
			clients := [2]usersv1.UserServiceClient{on, off}
			for i := 0; pb.Next(); i++ {
				k := i & 1
				start := time.Now()
				if _, err := clients[k].GetUser(ctx, req); err != nil {
					b.Error(err)
					return
				}
				spent[k].Add(int64(time.Since(start)))
				calls[k].Add(1)
			}
		})
		if calls[0].Load() > 0 && calls[1].Load() > 0 {
			mean := func(k int) float64 { return float64(spent[k].Load()) / float64(calls[k].Load()) }
			b.ReportMetric(mean(0)/1e3, "us/call-on")
			b.ReportMetric(mean(1)/1e3, "us/call-off")
			b.ReportMetric(mean(0)/mean(1), "on/off")
		}
	})
}

// TestEndpointEventsGoToTheGatewayLog: what the endpoint pool reports (an ejection, the circuit
// opening) reaches the gateway's logger, in its format, not the process's default one.
func TestEndpointEventsGoToTheGatewayLog(t *testing.T) {
	sick, _ := failingBackend(t)
	logs := &testlog.Buffer{}
	g := startGateway(t, harnessOptions{
		spec: func(spec *registry.Spec, _ *shop.Shop) {
			for _, r := range spec.Registrations {
				if r.Name == "users" {
					r.Endpoints = []string{sick}
				}
			}
		},
		server: []server.Option{server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))},
	})
	client := usersv1.NewUserServiceClient(g.conn)
	waitFor(t, 10*time.Second, "the endpoint ejected, in the gateway's log", func() bool {
		_, _ = client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"})
		for line := range strings.Lines(logs.String()) {
			var e struct{ Msg, Endpoint string }
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "endpoint ejected" && e.Endpoint == sick {
				return true
			}
		}
		return false
	})
}

// TestUpstreamFailuresNameNoAddress: when the gateway cannot reach an upstream, every front tells
// the client the code and the cause — the connection was refused, then the circuit is open — and
// never the endpoint's address, which is the operators' to see (`gateway upstreams`, the access
// log, the gateway's log).
func TestUpstreamFailuresNameNoAddress(t *testing.T) {
	verifyNoLeaks(t)
	dead := testnet.Refused(t)
	const failures = 20 // more than the calls of one check, retries included
	client, addr, pool := resilientGatewayAt(t, []string{dead}, routing.ClusterConfig{
		Endpoint: routing.EndpointConfig{
			Breaker: routing.BreakerConfig{ConsecutiveFailures: failures, OpenTimeout: time.Minute},
			Outlier: routing.OutlierConfig{Disabled: true},
		},
	}, routing.RetryPolicy{})
	httpc := &http.Client{Transport: &http.Transport{}}
	defer httpc.CloseIdleConnections()
	do := func(req *http.Request) (*http.Response, string) { t.Helper(); return doRequest(t, httpc, req) }
	leaks := func(front, got string) {
		t.Helper()
		host, port, _ := net.SplitHostPort(dead)
		if strings.Contains(got, dead) || strings.Contains(got, host) || strings.Contains(got, ":"+port) {
			t.Errorf("%s: %s names the upstream's address", front, got)
		}
	}
	// Each front in turn; want is the cause the client must read.
	check := func(want string) {
		t.Helper()
		_, err := client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"})
		if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), want) {
			t.Errorf("gRPC: %v, want Unavailable: %s", err, want)
		} else {
			leaks("gRPC", st.Message())
		}

		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/v1/users/1", nil)
		resp, body := do(req)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, want) || !strings.Contains(body, `"code":14`) {
			t.Errorf("REST: %d %s, want 503 with code 14: %s", resp.StatusCode, body, want)
		}
		leaks("REST", body)

		req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/graphql",
			strings.NewReader(`{"query": "{ getUser(id: \"1\") { name } }"}`))
		req.Header.Set("Content-Type", "application/json")
		_, body = do(req)
		if !strings.Contains(body, want) || !strings.Contains(body, `"UNAVAILABLE"`) {
			t.Errorf("GraphQL: %s, want an UNAVAILABLE error: %s", body, want)
		}
		leaks("GraphQL", body)
	}
	check("upstream connection failed: connection refused")
	for i := 0; statsOf(pool, dead).Breaker != "open"; i++ {
		if i == failures {
			t.Fatalf("after %d more refused calls the breaker is %s, want open", i, statsOf(pool, dead).Breaker)
		}
		_, _ = client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"})
	}
	check("upstream unavailable: circuit breaker open")
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/v1/users/1", nil)
	if resp, _ := do(req); resp.Header.Get("Retry-After") == "" {
		t.Error("REST with the circuit open: no Retry-After")
	}
}
