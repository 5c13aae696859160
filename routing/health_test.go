package routing_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/protogate/gateway/routing"
)

// waitUntil polls an observable condition until it holds, or fails after 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(time.Millisecond) // polling an observable condition, not synchronising
	}
}

func TestHTTPHealthCheck(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusNoContent)
	var checks, wrongPath atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checks.Add(1)
		if r.URL.Path != "/healthz" || r.Method != http.MethodGet {
			wrongPath.Add(1)
		}
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	pool := routing.NewPool(nil, routing.WithPoolLogger(quietLog()))
	defer pool.Close()
	e, err := pool.AcquireWith(addr, routing.Transport{}, routing.EndpointConfig{Health: routing.HealthCheckConfig{
		Interval: 2 * time.Millisecond, Timeout: time.Second, UnhealthyThreshold: 2, HTTPPath: "/healthz",
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "first checks", func() bool { return checks.Load() >= 3 })
	if !e.Stats().Healthy {
		t.Fatal("unhealthy while answering 204")
	}
	code.Store(http.StatusServiceUnavailable)
	waitUntil(t, "503 seen as unhealthy", func() bool { return !e.Stats().Healthy })
	code.Store(http.StatusMovedPermanently) // a redirect is not a pass
	n := checks.Load()
	waitUntil(t, "checks on a redirect", func() bool { return checks.Load() >= n+3 })
	if e.Stats().Healthy {
		t.Error("healthy while answering 301")
	}
	code.Store(http.StatusOK)
	waitUntil(t, "200 seen as healthy", func() bool { return e.Stats().Healthy })
	if got := wrongPath.Load(); got != 0 {
		t.Errorf("%d checks asked for another path or method", got)
	}
	pool.Release(e)
	srv.CloseClientConnections()
}

// An offline pool (gateway validate's) never probes the endpoints it builds: while a pool serving
// the same settings has checked its backend three times, the offline pool's backend saw nothing.
func TestOfflinePoolDoesNotProbe(t *testing.T) {
	var served, offline atomic.Int32
	count := func(n *atomic.Int32) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			n.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	cfg := routing.EndpointConfig{Health: routing.HealthCheckConfig{Interval: 2 * time.Millisecond, Timeout: time.Second, HTTPPath: "/healthz"}}

	quiet := routing.NewPool(nil, routing.WithPoolLogger(quietLog()), routing.WithPoolOffline())
	defer quiet.Close()
	if _, err := quiet.AcquireWith(count(&offline).Listener.Addr().String(), routing.Transport{}, cfg); err != nil {
		t.Fatal(err)
	}
	pool := routing.NewPool(nil, routing.WithPoolLogger(quietLog()))
	defer pool.Close()
	if _, err := pool.AcquireWith(count(&served).Listener.Addr().String(), routing.Transport{}, cfg); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the serving pool's checks", func() bool { return served.Load() >= 3 })
	if n := offline.Load(); n != 0 {
		t.Errorf("the offline pool probed its backend %d times", n)
	}
}
