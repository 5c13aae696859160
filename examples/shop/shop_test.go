//lint:file-ignore SA1019 reflection v1alpha is deprecated, and still served for older tools: these tests check it.

package shop_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protogate/gateway/examples/shop"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// start runs the shop until the test ends.
func start(t testing.TB, opts shop.Options) *shop.Shop {
	t.Helper()
	s, err := shop.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// dial returns a client connection to addr, closed when the test ends.
func dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestStart(t *testing.T) {
	t.Parallel()
	s := start(t, shop.Options{})
	if got := s.Services(); !slices.Equal(got, []string{"catalog", "orders", "users"}) {
		t.Errorf("Services() = %v", got)
	}
	s.Services()[0] = "changed" // callers get their own copy
	want := map[string]string{
		"users":   "shop.users.v1.UserService",
		"orders":  "shop.orders.v1.OrderService",
		"catalog": "shop.catalog.v1.CatalogService",
	}
	ports := map[string]bool{}
	for _, svc := range s.Services() {
		if got := s.ServiceName(svc); got != want[svc] {
			t.Errorf("ServiceName(%q) = %q, want %q", svc, got, want[svc])
		}
		host, port, err := net.SplitHostPort(s.Addr(svc))
		if err != nil || host != "127.0.0.1" || port == "0" || ports[port] {
			t.Errorf("Addr(%q) = %q", svc, s.Addr(svc))
		}
		ports[port] = true
	}
	if s.Addr("payments") != "" || s.ServiceName("payments") != "" {
		t.Error("unknown service has an address or name")
	}

	ada, err := usersv1.NewUserServiceClient(dial(t, s.Addr("users"))).GetUser(context.Background(), &usersv1.GetUserRequest{Id: "1"})
	if err != nil || ada.GetName() != "Ada Lovelace" {
		t.Errorf("GetUser(1) = %v, %v", ada, err)
	}
	s.Close()
	s.Close() // a second Close does nothing
}

func TestReflectionAndHealth(t *testing.T) {
	t.Parallel()
	s := start(t, shop.Options{Latency: time.Hour}) // neither health nor reflection waits
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, svc := range s.Services() {
		conn := dial(t, s.Addr(svc))
		name := s.ServiceName(svc)

		v1, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := v1.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		resp, err := v1.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, sv := range resp.GetListServicesResponse().GetService() {
			names = append(names, sv.GetName())
		}
		if !slices.Contains(names, name) || !slices.Contains(names, "grpc.health.v1.Health") {
			t.Errorf("%s: reflection v1 lists %v", svc, names)
		}
		if err := v1.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: name}}); err != nil {
			t.Fatal(err)
		}
		if resp, err := v1.Recv(); err != nil || len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
			t.Errorf("%s: no descriptor for %s: %v, %v", svc, name, resp, err)
		}
		v1.CloseSend()

		alpha, err := reflectionv1alpha.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := alpha.Send(&reflectionv1alpha.ServerReflectionRequest{MessageRequest: &reflectionv1alpha.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		aresp, err := alpha.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(aresp.GetListServicesResponse().GetService(), func(s *reflectionv1alpha.ServiceResponse) bool { return s.GetName() == name }) {
			t.Errorf("%s: reflection v1alpha lists %v", svc, aresp.GetListServicesResponse())
		}
		alpha.CloseSend()

		for _, service := range []string{"", name} {
			hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
			if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("%s: health of %q = %v, %v", svc, service, hc, err)
			}
		}
	}
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	s := start(t, shop.Options{})
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "req-42")

	users := usersv1.NewUserServiceClient(dial(t, s.Addr("users")))
	for _, id := range []string{"1", "99"} { // success and error alike
		var header, trailer metadata.MD
		_, err := users.GetUser(ctx, &usersv1.GetUserRequest{Id: id}, grpc.Header(&header), grpc.Trailer(&trailer))
		if id == "99" && status.Code(err) != codes.NotFound {
			t.Errorf("GetUser(99): %v", err)
		}
		if got := trailer.Get("x-served-by"); !slices.Equal(got, []string{"users"}) {
			t.Errorf("GetUser(%s): x-served-by %q", id, got)
		}
		if id == "1" && !slices.Equal(header.Get("x-request-id"), []string{"req-42"}) {
			t.Errorf("GetUser(%s): x-request-id header %q", id, header.Get("x-request-id"))
		}
	}
	var header metadata.MD
	if _, err := users.GetUser(context.Background(), &usersv1.GetUserRequest{Id: "1"}, grpc.Header(&header)); err != nil || header.Get("x-request-id") != nil {
		t.Errorf("without a request id: header %v, %v", header, err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch, err := catalogv1.NewCatalogServiceClient(dial(t, s.Addr("catalog"))).WatchInventory(wctx, &catalogv1.WatchInventoryRequest{Id: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := watch.Header(); err != nil || !slices.Equal(h.Get("x-request-id"), []string{"req-42"}) {
		t.Errorf("WatchInventory header %v, %v", h, err)
	}
	cancel()

	imp, err := ordersv1.NewOrderServiceClient(dial(t, s.Addr("orders"))).ImportOrders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := imp.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	if got := imp.Trailer().Get("x-served-by"); !slices.Equal(got, []string{"orders"}) {
		t.Errorf("ImportOrders: x-served-by %q", got)
	}
}

func TestLatencyAndOnCall(t *testing.T) {
	t.Parallel()
	const latency = 50 * time.Millisecond
	type call struct {
		method    string
		requestID []string
		deadline  bool
	}
	var (
		mu    sync.Mutex
		calls []call
	)
	s := start(t, shop.Options{Latency: latency, OnCall: func(ctx context.Context, method string) {
		md, _ := metadata.FromIncomingContext(ctx)
		_, deadline := ctx.Deadline()
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{method, md.Get("x-request-id"), deadline})
	}})
	users := usersv1.NewUserServiceClient(dial(t, s.Addr("users")))

	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "r1"), 10*time.Second)
	defer cancel()
	begin := time.Now()
	if _, err := users.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took < latency {
		t.Errorf("GetUser took %v, want at least the %v latency", took, latency)
	}

	// A deadline shorter than the latency ends the wait with DeadlineExceeded.
	short, cancelShort := context.WithTimeout(context.Background(), latency/2)
	defer cancelShort()
	if _, err := users.GetUser(short, &usersv1.GetUserRequest{Id: "1"}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("GetUser with a deadline shorter than the latency: %v", err)
	}

	// Streams wait too.
	begin = time.Now()
	imp, err := ordersv1.NewOrderServiceClient(dial(t, s.Addr("orders"))).ImportOrders(ctx)
	if err == nil {
		_, err = imp.CloseAndRecv()
	}
	if took := time.Since(begin); err != nil || took < latency {
		t.Errorf("ImportOrders: %v after %v, want success after at least %v", err, took, latency)
	}

	// The call that timed out may or may not have reached the backend: leave it out.
	mu.Lock()
	defer mu.Unlock()
	calls = slices.DeleteFunc(calls, func(c call) bool { return c.requestID == nil })
	want := []call{
		{"/shop.users.v1.UserService/GetUser", []string{"r1"}, true},
		{"/shop.orders.v1.OrderService/ImportOrders", []string{"r1"}, true},
	}
	if len(calls) != len(want) {
		t.Fatalf("OnCall saw %+v, want %+v", calls, want)
	}
	for i := range want {
		if calls[i].method != want[i].method || !slices.Equal(calls[i].requestID, want[i].requestID) || calls[i].deadline != want[i].deadline {
			t.Errorf("call %d: %+v, want %+v", i, calls[i], want[i])
		}
	}
}

// TestPricesMirrorCatalog checks the order service's price list matches the catalog's prices.
func TestPricesMirrorCatalog(t *testing.T) {
	t.Parallel()
	s := start(t, shop.Options{})
	ctx := context.Background()
	catalog := catalogv1.NewCatalogServiceClient(dial(t, s.Addr("catalog")))
	orders := ordersv1.NewOrderServiceClient(dial(t, s.Addr("orders")))
	products, err := catalog.ListProducts(ctx, &catalogv1.ListProductsRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range products.GetProducts() {
		o, err := orders.CreateOrder(ctx, &ordersv1.CreateOrderRequest{UserId: "1", Items: []*ordersv1.LineItem{{ProductId: p.GetId(), Quantity: 1}}})
		if err != nil {
			t.Fatalf("ordering %s: %v", p.GetId(), err)
		}
		if got := o.GetItems()[0].GetUnitPrice(); !proto.Equal(got, p.GetPrice()) {
			t.Errorf("%s: order price %v, catalog price %v", p.GetId(), got, p.GetPrice())
		}
	}
	// Every product in a seed order is in the catalog.
	for u := 1; u <= 24; u++ {
		list, err := orders.ListOrders(ctx, &ordersv1.ListOrdersRequest{UserId: fmt.Sprint(u), PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.GetOrders() {
			for _, it := range o.GetItems() {
				if _, err := catalog.GetProduct(ctx, &catalogv1.GetProductRequest{Id: it.GetProductId()}); err != nil {
					t.Errorf("order %s: product %s: %v", o.GetId(), it.GetProductId(), err)
				}
			}
		}
	}
}

// TestStopEndsStreams checks a stop does not wait for open watches: they end with Unavailable.
func TestStopEndsStreams(t *testing.T) {
	t.Parallel()
	s := start(t, shop.Options{})
	conn := dial(t, s.Addr("catalog"))
	watch, err := catalogv1.NewCatalogServiceClient(conn).WatchInventory(context.Background(), &catalogv1.WatchInventoryRequest{Id: "p1", Interval: durationpb.New(10 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
	health, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if hc, err := health.Recv(); err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health watch: %v, %v", hc, err)
	}

	begin := time.Now()
	s.Close()
	if took := time.Since(begin); took >= shop.ShutdownGrace {
		t.Errorf("Close took %v: it waited for the open streams", took)
	}
	for {
		if _, err = watch.Recv(); err != nil {
			break
		}
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("watch ended with %v, want Unavailable", err)
	}
	// The health watch may or may not deliver NOT_SERVING first: it ends as the stop begins.
	for {
		hc, err := health.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Errorf("health watch ended with %v, want Unavailable", err)
			}
			break
		}
		if hc.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health watch sent %v while stopping", hc.GetStatus())
		}
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- shop.Serve(ctx, "orders", lis, shop.Options{}) }()

	o, err := ordersv1.NewOrderServiceClient(dial(t, lis.Addr().String())).GetOrder(context.Background(), &ordersv1.GetOrderRequest{Id: "o1"})
	if err != nil || o.GetUserId() != "1" {
		t.Errorf("GetOrder(o1) = %v, %v", o, err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v after cancel, want nil", err)
	}
	if _, err := net.Dial("tcp", lis.Addr().String()); err == nil {
		t.Error("listener still accepts after Serve returned")
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	if _, err := shop.NewServer("payments", shop.Options{}); err == nil {
		t.Error("NewServer accepted an unknown service")
	}
	if _, err := shop.NewServer("users", shop.Options{Latency: -time.Second}); err == nil {
		t.Error("NewServer accepted a negative latency")
	}
	if _, err := shop.Start(shop.Options{Latency: -time.Second}); err == nil {
		t.Error("Start accepted a negative latency")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := shop.Serve(context.Background(), "payments", lis, shop.Options{}); err == nil {
		t.Error("Serve accepted an unknown service")
	}
	if _, err := net.Dial("tcp", lis.Addr().String()); err == nil {
		t.Error("Serve left the listener open after failing")
	}

	srv, err := shop.NewServer("catalog", shop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.GetServiceInfo()["shop.catalog.v1.CatalogService"]; !ok {
		t.Errorf("NewServer(catalog) serves %v", srv.GetServiceInfo())
	}
	srv.Stop()
}

// BenchmarkGetUser measures one GetUser call over loopback, interceptor included.
func BenchmarkGetUser(b *testing.B) {
	s := start(b, shop.Options{})
	c := usersv1.NewUserServiceClient(dial(b, s.Addr("users")))
	ctx := context.Background()
	req := &usersv1.GetUserRequest{Id: "1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetUser(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
