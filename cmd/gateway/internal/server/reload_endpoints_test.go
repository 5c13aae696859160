package server_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

// probedBackend starts a gRPC server on loopback with the health service alone, counting the
// health checks it answers; stop stops it (as the test's end does).
func probedBackend(t *testing.T) (addr string, checks *atomic.Int64, stop func()) {
	t.Helper()
	checks = new(atomic.Int64)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		checks.Add(1)
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	stop = func() { srv.Stop(); <-done }
	t.Cleanup(stop)
	return lis.Addr().String(), checks, stop
}

// A reload that removes an endpoint from its cluster stops its health checks as the new
// configuration starts serving: its backend gets no more probes, stopping that backend then logs
// nothing about it, and the admin API no longer lists it, while the endpoint kept is checked on.
func TestReloadStopsRemovedEndpointsChecks(t *testing.T) {
	keptAddr, kept, _ := probedBackend(t)
	droppedAddr, dropped, stopDropped := probedBackend(t)
	files, err := registry.FilesOf(usersv1.File_shop_users_v1_users_proto)
	if err != nil {
		t.Fatal(err)
	}
	spec := func(addrs ...string) registry.Spec {
		cfg := routing.ClusterConfig{Endpoint: routing.EndpointConfig{Health: routing.HealthCheckConfig{Interval: 5 * time.Millisecond, Timeout: time.Second}}}
		return registry.Spec{
			Clusters:      []registry.ClusterSpec{{Name: "users-pool", Endpoints: addrs, Config: cfg}},
			Registrations: []*registry.Registration{{Name: "users", Cluster: "users-pool", Files: files}},
		}
	}
	var logs testlog.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	pool := routing.NewPool(nil, routing.WithPoolLogger(log))
	srv, err := server.New(config.Default(), server.WithLogger(log), server.WithPool(pool))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = srv.Serve(ctx, nil) // releases what New and Apply opened
	})
	if _, err := srv.Apply(spec(keptAddr, droppedAddr)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "checks of both endpoints", func() bool { return kept.Load() >= 3 && dropped.Load() >= 3 })

	if _, err := srv.Apply(spec(keptAddr)); err != nil {
		t.Fatal(err)
	}
	n := dropped.Load() + 1 // one check may have been on its way
	k := kept.Load()
	waitFor(t, 10*time.Second, "the kept endpoint's checks", func() bool { return kept.Load() >= k+20 })
	if got := dropped.Load(); got > n {
		t.Errorf("the removed endpoint was checked %d more times after the reload, while the kept one was 20 times", got-n)
	}
	if s := statsOf(pool, droppedAddr); s.Address != "" {
		t.Errorf("the pool lists the removed endpoint: %+v", s)
	}

	stopDropped()
	k = kept.Load()
	waitFor(t, 10*time.Second, "the kept endpoint's checks", func() bool { return kept.Load() >= k+20 })
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "endpoint="+droppedAddr) &&
			(strings.Contains(line, "endpoint unhealthy") || strings.Contains(line, "endpoint connection failing")) {
			t.Errorf("logged about the removed endpoint after the reload: %s", line)
		}
	}
}
