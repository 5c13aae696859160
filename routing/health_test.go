package routing_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/internal/testlog"
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

// An endpoint that passes its health checks again after failing them takes calls at once: its
// ejection ends and its circuit closes, without waiting out the ejection or the open timeout. Both
// are logged, with the reason, and its stats say so.
func TestHealthCheckPassingEndsEjectionAndClosesCircuit(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusServiceUnavailable)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()

	var logs testlog.Buffer
	pool := routing.NewPool(nil, routing.WithPoolLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	defer pool.Close()
	e, err := pool.AcquireWith(srv.Listener.Addr().String(), routing.Transport{}, routing.EndpointConfig{Health: routing.HealthCheckConfig{
		Interval: 2 * time.Millisecond, Timeout: time.Second, UnhealthyThreshold: 1, HealthyThreshold: 1, HTTPPath: "/healthz",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Release(e)
	c := routing.NewCluster("c", []*routing.Endpoint{e})
	table, err := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"}, Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	p := routing.NewProxy(func() routing.State { return staticState{table} })

	waitUntil(t, "503 seen as unhealthy", func() bool { return !e.Stats().Healthy })
	// The only endpoint: in panic mode calls still reach it, and fail.
	for range max(routing.DefaultBreakerFailures, routing.DefaultOutlierFailures) {
		finishOn(t, p, e, status.Error(codes.Unavailable, "down"))
	}
	if s := e.Stats(); s.Breaker != "open" || !s.Ejected {
		t.Fatalf("after failing calls: %+v, want the circuit open and the endpoint ejected", s)
	}

	code.Store(http.StatusOK)
	waitUntil(t, "200 seen as healthy", func() bool { return e.Stats().Healthy })
	if s := e.Stats(); s.Breaker != "closed" || s.Ejected || s.Ejections != 1 {
		t.Errorf("healthy again: %+v, want the circuit closed, no ejection in force, one ejection counted", s)
	}
	logged := logs.String()
	for _, want := range [][]string{
		{`msg="circuit breaker state changed"`, "endpoint=" + e.Addr(), "from=open", "to=closed", `reason="a health check passed"`},
		{`msg="endpoint ejection ended early"`, "endpoint=" + e.Addr(), `reason="a health check passed"`},
	} {
		if !loggedLine(logged, want...) {
			t.Errorf("no line logged with %q:\n%s", want, logged)
		}
	}
}

// loggedLine reports whether a line of logged holds all of parts.
func loggedLine(logged string, parts ...string) bool {
	for line := range strings.Lines(logged) {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			return true
		}
	}
	return false
}
