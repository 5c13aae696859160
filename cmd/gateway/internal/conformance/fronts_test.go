package conformance_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testnet"
)

// clock is the shops' clock: both copies stamp new users and orders with the same time.
func clock() time.Time { return time.Date(2024, time.March, 1, 12, 0, 0, 123456789, time.UTC) }

// env is the state of the backends a case runs against.
type env uint8

const (
	envUp   env = iota // the shop, running
	envDown            // every backend endpoint refuses gRPC: it closes each connection it accepts
	envSlow            // the shop, each call delayed by slowLatency
)

// slowLatency is far beyond any deadline a case sets, so a deadline always expires first; the
// backends give up as soon as the call's context ends, so no case waits for it.
const slowLatency = time.Minute

// fronts are the base URLs of the two REST fronts, each in front of its own copy of the shop (the
// copies start with the same seed data and clock, so the same requests in the same order get the
// same answers from both).
type fronts struct {
	gateway     string // the gateway's data port, serving the shop as demo.Spec registers it
	grpcGateway string // a runtime.ServeMux with the shop's generated handlers
}

// startFronts starts two shops for e and a front for each, and stops them when the test ends.
func startFronts(t *testing.T, e env) fronts {
	t.Helper()
	opts := shop.Options{Clock: clock}
	if e == envSlow {
		opts.Latency = slowLatency
	}
	var f fronts
	f.gateway = startGateway(t, startShop(t, opts), e)
	f.grpcGateway = startGRPCGateway(t, startShop(t, opts), e)
	return f
}

func startShop(t *testing.T, opts shop.Options) *shop.Shop {
	t.Helper()
	s, err := shop.Start(opts)
	if err != nil {
		t.Fatalf("shop: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// endpoint is where a front sends the calls of shop service name.
func endpoint(t *testing.T, s *shop.Shop, name string, e env) string {
	if e == envDown {
		return testnet.Closing(t)
	}
	return s.Addr(name)
}

// startGateway serves the shop through the gateway, registered as `gateway demo` registers it.
func startGateway(t *testing.T, s *shop.Shop, e env) string {
	t.Helper()
	spec, err := demo.Spec(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, reg := range spec.Registrations {
		reg.Endpoints = []string{endpoint(t, s, reg.Name, e)}
	}
	cfg := config.Default()
	cfg.ShutdownGrace = 5 * time.Second
	srv, err := server.New(cfg, server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
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
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- srv.ServeListeners(ctx, dataLn, adminLn, ready) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("gateway: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway: %v", err)
		}
	})
	return "http://" + dataLn.Addr().String()
}

// startGRPCGateway serves the shop through grpc-gateway's generated handlers, on a ServeMux as a
// production user would build it: runtime.NewServeMux() with no options (its default marshaler
// emits unpopulated fields and discards unknown ones; a wrong method on a known path is 501), one
// client connection per service.
func startGRPCGateway(t *testing.T, s *shop.Shop, e env) string {
	t.Helper()
	mux := runtime.NewServeMux()
	ctx := t.Context()
	register := []struct {
		name string
		reg  func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	}{
		{"users", usersv1.RegisterUserServiceHandler},
		{"orders", ordersv1.RegisterOrderServiceHandler},
		{"catalog", catalogv1.RegisterCatalogServiceHandler},
	}
	for _, r := range register {
		conn, err := grpc.NewClient(endpoint(t, s, r.name, e), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if err := r.reg(ctx, mux, conn); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// client sends the corpus: no redirects followed, no compression asked for.
var client = &http.Client{
	Transport: &http.Transport{DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
	Timeout: 20 * time.Second,
}
