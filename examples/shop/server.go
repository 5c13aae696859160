package shop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/protogate/gateway/examples/shop/catalog"
	"github.com/protogate/gateway/examples/shop/orders"
	"github.com/protogate/gateway/examples/shop/users"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// ShutdownGrace is how long a stopping backend waits for calls in flight before it closes their
// connections. Server-streaming calls (WatchInventory, health Watch) end at once with Unavailable;
// client-streaming and bidi calls get this long to finish.
const ShutdownGrace = 5 * time.Second

// Options tune the shop's backends. The zero value serves without latency or observer.
type Options struct {
	// Latency is added to every call of a shop service before its handler runs (0 = none). A
	// call whose context ends first fails with the context's status (DeadlineExceeded, Canceled).
	Latency time.Duration
	// OnCall, if set, is called at the start of every call of a shop service, with the call's
	// context and full method name ("/shop.users.v1.UserService/GetUser"), so tests can see the
	// deadline and metadata the backend received. It must be safe for concurrent use.
	OnCall func(ctx context.Context, method string)
	// Clock, if set, stamps what the services stamp with the time (a new user's created_at, an
	// order's created_at, inventory updates) instead of time.Now, so tests get the same answers
	// from two shops.
	Clock func() time.Time
}

func (o Options) validate() error {
	if o.Latency < 0 {
		return fmt.Errorf("shop: negative latency %v", o.Latency)
	}
	return nil
}

// serviceNames lists the shop's services, sorted, as Shop.Services returns them.
var serviceNames = [...]string{"catalog", "orders", "users"}

// fullName returns the proto service name of a shop service ("users" ->
// "shop.users.v1.UserService"), or "" for an unknown service.
func fullName(service string) string {
	switch service {
	case "users":
		return usersv1.UserService_ServiceDesc.ServiceName
	case "orders":
		return ordersv1.OrderService_ServiceDesc.ServiceName
	case "catalog":
		return catalogv1.CatalogService_ServiceDesc.ServiceName
	}
	return ""
}

// backend is one running shop service: its gRPC server, health server and the switch that tells
// its streams the server is stopping.
type backend struct {
	grpc   *grpc.Server
	health *health.Server
	drain  context.CancelFunc
}

// NewServer returns a grpc.Server serving one shop service ("users", "orders" or "catalog") with
// fresh seed data, server reflection (v1 and v1alpha) and grpc.health.v1 reporting SERVING for ""
// and the service's name. The caller runs and stops it; note that GracefulStop waits for open
// streams such as WatchInventory, which end only when their client cancels. Serve stops more
// politely.
func NewServer(service string, opts Options) (*grpc.Server, error) {
	b, err := newBackend(service, opts)
	if err != nil {
		return nil, err
	}
	return b.grpc, nil
}

func newBackend(service string, opts Options) (*backend, error) {
	name := fullName(service)
	if name == "" {
		return nil, fmt.Errorf("shop: unknown service %q (want one of %q)", service, serviceNames)
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	draining, drain := context.WithCancel(context.Background())
	ic := newInterceptor(service, name, opts, draining)
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(ic.unary), grpc.ChainStreamInterceptor(ic.stream))
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	switch service {
	case "users":
		usersv1.RegisterUserServiceServer(s, users.New(users.WithClock(now)))
	case "orders":
		ordersv1.RegisterOrderServiceServer(s, orders.New(orders.WithClock(now)))
	case "catalog":
		catalogv1.RegisterCatalogServiceServer(s, catalog.New(catalog.WithClock(now)))
	}
	reflection.Register(s)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	return &backend{grpc: s, health: hs, drain: drain}, nil
}

// Serve runs one shop service on lis until ctx is done or the listener fails, then stops: health
// turns NOT_SERVING, open server streams end with Unavailable, and calls in flight get
// ShutdownGrace to finish. Serve closes lis. It returns nil after a stop through ctx, the
// listener's error otherwise.
func Serve(ctx context.Context, service string, lis net.Listener, opts Options) error {
	b, err := newBackend(service, opts)
	if err != nil {
		return errors.Join(err, lis.Close())
	}
	return b.serve(ctx, lis)
}

func (b *backend) serve(ctx context.Context, lis net.Listener) error {
	served := make(chan error, 1)
	go func() { served <- b.grpc.Serve(lis) }()
	select {
	case err := <-served:
		b.grpc.Stop() // the listener failed: close what connections it had accepted
		b.drain()
		return err
	case <-ctx.Done():
		b.stop()
		<-served // nil once stopped
		return nil
	}
}

// stop shuts the backend down as Serve documents.
func (b *backend) stop() {
	b.health.Shutdown()
	b.drain()
	stopped := make(chan struct{})
	go func() {
		b.grpc.GracefulStop()
		close(stopped)
	}()
	t := time.NewTimer(ShutdownGrace)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		b.grpc.Stop()
		<-stopped
	}
}
