package routing_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/routing"
)

// countingPool returns a pool using DefaultDial that counts dials.
func countingPool(t *testing.T) (*routing.Pool, *atomic.Int32) {
	t.Helper()
	var dials atomic.Int32
	pool := routing.NewPool(func(addr string, tr routing.Transport) (*grpc.ClientConn, error) {
		dials.Add(1)
		return routing.DefaultDial(addr, tr)
	})
	t.Cleanup(func() { pool.Close() })
	return pool, &dials
}

func healthCheck(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check = %v, want SERVING", resp.GetStatus())
	}
}

// waitShutdown waits until conn is closed, or fails the test after a while.
func waitShutdown(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for s := conn.GetState(); s != connectivity.Shutdown; s = conn.GetState() {
		if !conn.WaitForStateChange(ctx, s) {
			t.Fatalf("connection still %v; want it closed", s)
		}
	}
}

func TestPoolSharesEndpointsByAddress(t *testing.T) {
	addr1, _ := testnet.Health(t)
	addr2, _ := testnet.Health(t)
	pool, dials := countingPool(t)

	a, err := pool.Acquire(addr1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pool.Acquire(addr1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pool.Acquire(addr2)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a.Conn() != b.Conn() {
		t.Error("two acquires of one address gave different endpoints")
	}
	if a == c {
		t.Error("two addresses share an endpoint")
	}
	if a.Addr() != addr1 || c.Addr() != addr2 {
		t.Errorf("Addr = %q, %q; want %q, %q", a.Addr(), c.Addr(), addr1, addr2)
	}
	if got := dials.Load(); got != 2 {
		t.Errorf("dialed %d times, want 2", got)
	}
	if got := pool.Len(); got != 2 {
		t.Errorf("Len = %d, want 2", got)
	}
	healthCheck(t, a.Conn())
	healthCheck(t, c.Conn())
}

// Endpoints are shared by address, transport and settings: acquires with settings that are alike
// once their defaults are filled share one endpoint, while other breaker, health check or outlier
// settings get an endpoint, connection and state of their own, which behave as they configure,
// whatever the order of the acquires.
func TestPoolSharesEndpointsBySettings(t *testing.T) {
	addr, hs := testnet.Health(t)
	pool, dials := countingPool(t)
	acquire := func(cfg routing.EndpointConfig) *routing.Endpoint {
		t.Helper()
		e, err := pool.AcquireWith(addr, routing.Transport{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	noOutlier := routing.OutlierConfig{Disabled: true}
	strict := routing.EndpointConfig{
		Breaker: routing.BreakerConfig{ConsecutiveFailures: 3, OpenTimeout: time.Minute},
		Health:  routing.HealthCheckConfig{Interval: 5 * time.Millisecond, UnhealthyThreshold: 1},
		Outlier: noOutlier,
	}
	// The checked endpoint is acquired between two default ones: the last acquire's settings
	// must not win.
	plain := acquire(routing.EndpointConfig{Outlier: noOutlier})
	checked := acquire(strict)
	spelled := acquire(routing.EndpointConfig{
		Breaker: routing.BreakerConfig{ConsecutiveFailures: routing.DefaultBreakerFailures, OpenTimeout: routing.DefaultBreakerOpenTimeout, HalfOpenRequests: 1},
		Outlier: routing.OutlierConfig{Disabled: true, ConsecutiveFailures: 9},
	})
	again := acquire(strict)
	if plain != spelled || checked != again {
		t.Error("settings alike once their defaults are filled got endpoints of their own")
	}
	if plain == checked || plain.Conn() == checked.Conn() {
		t.Fatal("one address with other breaker and health check settings shares an endpoint")
	}
	if got := dials.Load(); got != 2 {
		t.Errorf("dialed %d times, want 2", got)
	}
	var settings []string
	for _, st := range pool.Stats() {
		settings = append(settings, st.Settings)
	}
	want := []string{
		"health_check.interval 5ms, health_check.unhealthy_threshold 1, " +
			"circuit_breaker.consecutive_failures 3, circuit_breaker.open_timeout 1m0s, outlier_detection.disabled",
		"outlier_detection.disabled",
	}
	if !slices.Equal(settings, want) {
		t.Errorf("Stats settings %q, want %q", settings, want)
	}

	// Only the checked endpoint runs health checks.
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	waitUntil(t, "the checked endpoint unhealthy", func() bool { return !checked.Stats().Healthy })
	if !plain.Stats().Healthy {
		t.Error("the endpoint without health checks went unhealthy")
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	waitUntil(t, "the checked endpoint healthy again", func() bool { return checked.Stats().Healthy })

	// Each breaker trips at its own threshold: 3 sick outcomes open the strict one only.
	for _, e := range []*routing.Endpoint{plain, checked} {
		c := routing.NewCluster("c", []*routing.Endpoint{e})
		table, err := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"},
			Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
		if err != nil {
			t.Fatal(err)
		}
		p := routing.NewProxy(func() routing.State { return staticState{table} })
		for range 3 {
			finishOn(t, p, e, status.Error(codes.Unavailable, "down"))
		}
	}
	if got := plain.Stats().Breaker; got != "closed" {
		t.Errorf("default breaker after 3 failures: %s, want closed", got)
	}
	if got := checked.Stats().Breaker; got != "open" {
		t.Errorf("breaker of consecutive_failures 3 after 3 failures: %s, want open", got)
	}
}

func TestPoolReleaseClosesAtZero(t *testing.T) {
	addr, _ := testnet.Health(t)
	pool, dials := countingPool(t)

	e, _ := pool.Acquire(addr)
	pool.Acquire(addr)
	healthCheck(t, e.Conn())

	pool.Release(e)
	if s := e.Conn().GetState(); s == connectivity.Shutdown {
		t.Fatal("connection closed while a reference remains")
	}
	healthCheck(t, e.Conn())
	if got := pool.Len(); got != 1 {
		t.Fatalf("Len = %d, want 1", got)
	}

	pool.Release(e)
	if s := e.Conn().GetState(); s != connectivity.Shutdown {
		t.Fatalf("connection %v after the last release with nothing in flight; want it closed at once", s)
	}
	if got := pool.Len(); got != 0 {
		t.Fatalf("Len = %d, want 0", got)
	}
	pool.Release(e) // releasing an endpoint the pool no longer holds does nothing

	again, err := pool.Acquire(addr)
	if err != nil {
		t.Fatal(err)
	}
	if again == e || again.Conn() == e.Conn() {
		t.Fatal("Acquire after the last release reused the closed endpoint")
	}
	if got := dials.Load(); got != 2 {
		t.Errorf("dialed %d times, want 2", got)
	}
	healthCheck(t, again.Conn())
}

func TestPoolReleaseDrainsCallsInFlight(t *testing.T) {
	addr, hs := testnet.Health(t)
	pool, _ := countingPool(t)
	e, err := pool.Acquire(addr)
	if err != nil {
		t.Fatal(err)
	}

	// A long-lived call: a health watch stream.
	done := e.Begin()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := healthpb.NewHealthClient(e.Conn()).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Recv = %v, %v; want SERVING", resp, err)
	}

	pool.Release(e)
	if got := pool.Len(); got != 0 {
		t.Errorf("Len = %d after the last release, want 0", got)
	}
	if s := e.Conn().GetState(); s == connectivity.Shutdown {
		t.Fatal("connection closed with a call in flight")
	}
	// The stream is still alive: it sees a status change made after Release.
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if resp, err := stream.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Recv after Release = %v, %v; want NOT_SERVING", resp, err)
	}
	if got := e.InFlight(); got != 1 {
		t.Errorf("InFlight = %d, want 1", got)
	}

	done()
	waitShutdown(t, e.Conn())
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("Recv after close = %v, want Canceled", err)
	}
	if got := e.InFlight(); got != 0 {
		t.Errorf("InFlight = %d, want 0", got)
	}
	if e2, err := pool.Acquire(addr); err != nil || e2 == e {
		t.Errorf("Acquire after drain = %v, %v; want a new endpoint", e2, err)
	}
}

func TestPoolDialError(t *testing.T) {
	boom := errors.New("boom")
	pool := routing.NewPool(func(string, routing.Transport) (*grpc.ClientConn, error) { return nil, boom })
	defer pool.Close()
	if _, err := pool.Acquire("127.0.0.1:1"); !errors.Is(err, boom) {
		t.Errorf("Acquire error = %v, want it to wrap %v", err, boom)
	}
	if _, err := pool.Acquire(""); err == nil {
		t.Error("Acquire of an empty address succeeded")
	}
	if got := pool.Len(); got != 0 {
		t.Errorf("Len = %d after failed dials, want 0", got)
	}
}

func TestPoolClose(t *testing.T) {
	addr1, _ := testnet.Health(t)
	addr2, _ := testnet.Health(t)
	pool := routing.NewPool(nil)
	kept, _ := pool.Acquire(addr1)
	draining, _ := pool.Acquire(addr2)
	done := draining.Begin()
	defer done()
	pool.Release(draining)
	if s := draining.Conn().GetState(); s == connectivity.Shutdown {
		t.Fatal("draining connection closed early")
	}

	if err := pool.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, e := range []*routing.Endpoint{kept, draining} {
		if s := e.Conn().GetState(); s != connectivity.Shutdown {
			t.Errorf("%s: connection %v after Close, want closed", e.Addr(), s)
		}
	}
	if got := pool.Len(); got != 0 {
		t.Errorf("Len = %d after Close", got)
	}
	if _, err := pool.Acquire(addr1); !errors.Is(err, routing.ErrPoolClosed) {
		t.Errorf("Acquire after Close = %v, want ErrPoolClosed", err)
	}
	if err := pool.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	pool.Release(kept) // after Close: does nothing
}

// TestPoolConcurrent races acquires, releases and calls on shared addresses;
// run it with -race. Every endpoint ends up closed exactly when it should.
func TestPoolConcurrent(t *testing.T) {
	addrs := []string{"192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1"}
	var mu sync.Mutex
	var conns []*grpc.ClientConn
	pool := routing.NewPool(func(addr string, tr routing.Transport) (*grpc.ClientConn, error) {
		conn, err := routing.DefaultDial(addr, tr)
		mu.Lock()
		conns = append(conns, conn)
		mu.Unlock()
		return conn, err
	})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				e, err := pool.Acquire(addrs[(w+i)%len(addrs)])
				if err != nil {
					t.Error(err)
					return
				}
				done := e.Begin()
				if i%2 == 0 {
					pool.Release(e)
					done()
				} else {
					done()
					pool.Release(e)
				}
			}
		})
	}
	wg.Wait()
	if got := pool.Len(); got != 0 {
		t.Errorf("Len = %d after balanced acquires and releases", got)
	}
	for _, conn := range conns {
		waitShutdown(t, conn)
	}
	if err := pool.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestDefaultDialIsLazy(t *testing.T) {
	conn, err := routing.DefaultDial("192.0.2.1:1", routing.Transport{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if s := conn.GetState(); s != connectivity.Idle {
		t.Errorf("state = %v, want Idle: DefaultDial must not connect", s)
	}
	if conn.Target() != "passthrough:///192.0.2.1:1" {
		t.Errorf("Target = %q", conn.Target())
	}
}

// An endpoint released to linger is neither health-checked nor listed from then on, yet stays
// connected and takes calls until its linger ends; acquired again meanwhile, it is the same
// endpoint, checked again.
func TestPoolReleaseLingering(t *testing.T) {
	probed := func() (string, *atomic.Int32) {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			n.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String(), &n
	}
	keptAddr, kept := probed()
	droppedAddr, dropped := probed()
	cfg := routing.EndpointConfig{Health: routing.HealthCheckConfig{Interval: 2 * time.Millisecond, Timeout: time.Second, HTTPPath: "/healthz"}}
	pool := routing.NewPool(nil, routing.WithPoolLogger(quietLog()))
	defer pool.Close()
	if _, err := pool.AcquireWith(keptAddr, routing.Transport{}, cfg); err != nil {
		t.Fatal(err)
	}
	e, err := pool.AcquireWith(droppedAddr, routing.Transport{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the first checks", func() bool { return dropped.Load() >= 3 })

	pool.ReleaseLingering(e, time.Hour)
	// One check may have been on its way.
	n := dropped.Load() + 1
	k := kept.Load()
	waitUntil(t, "the kept endpoint's checks", func() bool { return kept.Load() >= k+20 })
	if got := dropped.Load(); got > n {
		t.Errorf("a lingering endpoint was checked %d more times while the kept one was 20 times", got-n)
	}
	if got := pool.Len(); got != 1 {
		t.Errorf("Len = %d with one endpoint lingering, want 1", got)
	}
	for _, s := range pool.Stats() {
		if s.Address == droppedAddr {
			t.Errorf("Stats lists the lingering endpoint: %+v", s)
		}
	}
	if s := e.Conn().GetState(); s == connectivity.Shutdown {
		t.Fatal("a lingering endpoint's connection was closed")
	}
	c := routing.NewCluster("c", []*routing.Endpoint{e})
	table, err := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"}, Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	up, err := routing.NewProxy(func() routing.State { return staticState{table} }).Route(t.Context(), method, nil)
	if err != nil {
		t.Fatalf("a call to a lingering endpoint: %v, want it taken", err)
	}
	up.DoneWith(nil)

	again, err := pool.AcquireWith(droppedAddr, routing.Transport{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again != e {
		t.Fatal("Acquire of a lingering endpoint dialed anew; want it taken back")
	}
	m := dropped.Load()
	waitUntil(t, "checks of the endpoint taken back", func() bool { return dropped.Load() >= m+3 })

	// Its linger over, a lingering endpoint drains: with nothing in flight, it closes.
	pool.ReleaseLingering(e, time.Millisecond)
	waitShutdown(t, e.Conn())
}
