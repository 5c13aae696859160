package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

const usersService = "shop.users.v1.UserService"

// checkHealth returns the gateway's answer to Check(service): its status, or the error's code.
func checkHealth(t *testing.T, g *gateway, service string) (healthpb.HealthCheckResponse_ServingStatus, codes.Code) {
	t.Helper()
	resp, err := healthpb.NewHealthClient(g.conn).Check(testContext(t), &healthpb.HealthCheckRequest{Service: service})
	return resp.GetStatus(), status.Code(err)
}

// usersSpec fronts the users service from a cluster "users-pool" of addr with cfg.
func usersSpec(t *testing.T, addr string, cfg routing.ClusterConfig) registry.Spec {
	t.Helper()
	files, err := registry.FilesOf(usersv1.File_shop_users_v1_users_proto)
	if err != nil {
		t.Fatal(err)
	}
	return registry.Spec{
		Clusters:      []registry.ClusterSpec{{Name: "users-pool", Endpoints: []string{addr}, Config: cfg}},
		Registrations: []*registry.Registration{{Name: "users", Cluster: "users-pool", Files: files}},
	}
}

// usersHealthGateway serves usersSpec(addr, cfg) with its own endpoint pool, which it returns.
func usersHealthGateway(t *testing.T, addr string, cfg routing.ClusterConfig) (*gateway, *routing.Pool, registry.Spec) {
	t.Helper()
	spec := usersSpec(t, addr, cfg)
	pool := routing.NewPool(nil, routing.WithPoolLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	g := startGateway(t, harnessOptions{
		empty:  true,
		spec:   func(s *registry.Spec, _ *shop.Shop) { *s = spec },
		server: []server.Option{server.WithPool(pool)},
	})
	return g, pool, spec
}

// failUntil makes calls of the users service through g until cond holds: with its backend down,
// each one is a failure the breaker and outlier detection count.
func failUntil(t *testing.T, g *gateway, what string, cond func() bool) {
	t.Helper()
	client := usersv1.NewUserServiceClient(g.conn)
	waitFor(t, 10*time.Second, what, func() bool {
		_, _ = client.GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"})
		return cond()
	})
}

// nextStatus receives the next status a health Watch sends.
func nextStatus(t *testing.T, w healthpb.Health_WatchClient) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	resp, err := w.Recv()
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	return resp.GetStatus()
}

// The gateway answers Check for itself and for every service it fronts; others are NOT_FOUND.
func TestHealthPerService(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	for _, tc := range []struct {
		service string
		want    healthpb.HealthCheckResponse_ServingStatus
		code    codes.Code
	}{
		{"", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{usersService, healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"shop.orders.v1.OrderService", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"shop.catalog.v1.CatalogService", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"acme.Nope", healthpb.HealthCheckResponse_UNKNOWN, codes.NotFound},
		{"grpc.health.v1.Health", healthpb.HealthCheckResponse_UNKNOWN, codes.NotFound},
	} {
		if got, code := checkHealth(t, g, tc.service); got != tc.want || code != tc.code {
			t.Errorf("Check(%q) = %v, %v; want %v, %v", tc.service, got, code, tc.want, tc.code)
		}
	}
	list, err := healthpb.NewHealthClient(g.conn).List(testContext(t), &healthpb.HealthListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", usersService, "shop.orders.v1.OrderService", "shop.catalog.v1.CatalogService"} {
		if got := list.GetStatuses()[name].GetStatus(); got != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("List: %q is %v, want SERVING", name, got)
		}
	}
	if n := len(list.GetStatuses()); n != 4 {
		t.Errorf("List has %d statuses, want 4: %v", n, list.GetStatuses())
	}
}

// Without active health checks, the service goes NOT_SERVING when failed calls find its only
// endpoint's connection failing, and eject it and open its circuit, and SERVING again once the
// gateway has reconnected and the ejection and the open timeout end, which nothing but the clock
// signals.
func TestHealthFollowsEjectionAndCircuit(t *testing.T) {
	verifyNoLeaks(t)
	const out = 200 * time.Millisecond
	b := startUsers(t, shop.Options{})
	g, pool, _ := usersHealthGateway(t, b.addr, routing.ClusterConfig{Endpoint: routing.EndpointConfig{
		Breaker: routing.BreakerConfig{OpenTimeout: out},
		Outlier: routing.OutlierConfig{BaseEjectionTime: out},
	}})
	if got, code := checkHealth(t, g, usersService); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check before the kill = %v, %v; want SERVING", got, code)
	}
	b.kill()
	failUntil(t, g, "endpoint ejected or circuit open", func() bool {
		s := statsOf(pool, b.addr)
		return s.Ejected || s.Breaker == "open"
	})
	if got, _ := checkHealth(t, g, usersService); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Check with the endpoint out = %v, want NOT_SERVING: %+v", got, statsOf(pool, b.addr))
	}
	if got, _ := checkHealth(t, g, ""); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("the gateway itself is %v, want SERVING: only the service lacks endpoints", got)
	}
	b.start()
	took := waitFor(t, 10*time.Second, "SERVING after the ejection and open timeout", func() bool {
		got, _ := checkHealth(t, g, usersService)
		return got == healthpb.HealthCheckResponse_SERVING
	})
	t.Logf("SERVING again %v after the restart (ejection and open timeout %v)", took.Round(time.Millisecond), out)
	if _, err := usersv1.NewUserServiceClient(g.conn).GetUser(t.Context(), &usersv1.GetUserRequest{Id: "1"}); err != nil {
		t.Errorf("a call once SERVING: %v", err)
	}
}

// A Watch follows the service: SERVING, NOT_SERVING while its endpoint is out, SERVING when the
// health checks see it back, SERVICE_UNKNOWN when a spec without it is applied, and SERVING again
// when it is registered again.
func TestHealthWatchFollowsEndpointsAndRegistrations(t *testing.T) {
	verifyNoLeaks(t)
	const interval = 100 * time.Millisecond
	b := startUsers(t, shop.Options{})
	// Ejections and open circuits last longer than the test: only the health checks bring it back.
	g, pool, spec := usersHealthGateway(t, b.addr, routing.ClusterConfig{Endpoint: routing.EndpointConfig{
		Health: routing.HealthCheckConfig{Interval: interval, Timeout: interval},
	}})
	ctx := testContext(t)
	w, err := healthpb.NewHealthClient(g.conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: usersService})
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := healthpb.NewHealthClient(g.conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: "acme.Nope"})
	if err != nil {
		t.Fatal(err)
	}
	if got := nextStatus(t, unknown); got != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Fatalf("Watch(acme.Nope) = %v, want SERVICE_UNKNOWN", got)
	}
	if got := nextStatus(t, w); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first status %v, want SERVING", got)
	}

	b.kill()
	failUntil(t, g, "endpoint ejected or circuit open", func() bool {
		s := statsOf(pool, b.addr)
		return s.Ejected || s.Breaker == "open"
	})
	if got := nextStatus(t, w); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("after the kill: %v, want NOT_SERVING", got)
	}
	// Restart once the checks have seen it down: their next pass clears the ejection and circuit.
	waitFor(t, 10*time.Second, "health checks fail", func() bool { return !statsOf(pool, b.addr).Healthy })
	b.start()
	if got := nextStatus(t, w); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("after the restart: %v, want SERVING", got)
	}
	if s := statsOf(pool, b.addr); !s.Healthy || s.Ejected || s.Breaker == "open" {
		t.Fatalf("SERVING, but the endpoint is out: %+v", s)
	}

	// The registration goes: SERVICE_UNKNOWN on the open Watch, NOT_FOUND for Check.
	if _, err := g.srv.Apply(registry.Spec{}); err != nil {
		t.Fatal(err)
	}
	if got := nextStatus(t, w); got != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Fatalf("after the registration was removed: %v, want SERVICE_UNKNOWN", got)
	}
	if got, code := checkHealth(t, g, usersService); code != codes.NotFound {
		t.Fatalf("Check after the registration was removed = %v, %v; want NOT_FOUND", got, code)
	}
	// And comes back: the same Watch says so.
	if _, err := g.srv.Apply(spec); err != nil {
		t.Fatal(err)
	}
	if got := nextStatus(t, w); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("after registering again: %v, want SERVING", got)
	}
}

// Draining, the gateway says NOT_SERVING for itself and every service, and ends its Watch calls,
// which would otherwise hold the graceful stop for its whole grace period.
func TestHealthWatchEndsOnDrain(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	ctx := testContext(t)
	var watches []healthpb.Health_WatchClient
	for _, service := range []string{"", usersService} {
		w, err := healthpb.NewHealthClient(g.conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatal(err)
		}
		if got := nextStatus(t, w); got != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Watch(%q) = %v, want SERVING", service, got)
		}
		watches = append(watches, w)
	}
	start := time.Now()
	stopped := make(chan time.Duration)
	go func() { g.stop(t); stopped <- time.Since(start) }()
	for i, w := range watches {
		if got := nextStatus(t, w); got != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("watch %d while draining: %v, want NOT_SERVING", i, got)
		}
		if _, err := w.Recv(); status.Code(err) != codes.Unavailable {
			t.Fatalf("watch %d after NOT_SERVING: %v, want the call ended with Unavailable", i, err)
		}
	}
	grace := g.srv.Config().ShutdownGrace
	if took := <-stopped; took >= grace {
		t.Errorf("the drain took %v, the whole grace period: the watches held it", took)
	}
}

// While the gateway drains, /readyz says so (503), rather than that no snapshot serves yet.
func TestReadyzWhileDraining(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	g := startGateway(t, harnessOptions{shop: shop.Options{OnCall: func(_ context.Context, method string) {
		if strings.HasSuffix(method, "/GetUser") {
			close(entered)
			<-release
		}
	}}})
	if code, body := httpGet(t, "http://"+g.admin+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before the drain: %d %s", code, body)
	}
	called := make(chan error, 1)
	go func() {
		_, err := usersv1.NewUserServiceClient(g.conn).GetUser(testContext(t), &usersv1.GetUserRequest{Id: "1"})
		called <- err
	}()
	<-entered // a call in flight holds the drain open
	stopped := make(chan struct{})
	go func() { g.stop(t); close(stopped) }()
	waitFor(t, 5*time.Second, "/readyz to say draining", func() bool {
		code, body := httpGet(t, "http://"+g.admin+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "draining")
	})
	close(release)
	if err := <-called; err != nil {
		t.Errorf("the call in flight during the drain: %v", err)
	}
	<-stopped
}
