package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

func TestUnary(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	ctx := testContext(t)
	user, err := usersv1.NewUserServiceClient(g.conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if user.GetName() != "Ada Lovelace" || user.GetEmail() != "ada@example.com" {
		t.Fatalf("GetUser(1) = %v, want Ada Lovelace", user)
	}
}

func TestServerStreaming(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	stream, err := catalogv1.NewCatalogServiceClient(g.conn).WatchInventory(ctx, &catalogv1.WatchInventoryRequest{
		Id: "p1", Interval: durationpb.New(10 * time.Millisecond),
	})
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(1); want <= 5; want++ {
		u, err := stream.Recv()
		if err != nil {
			t.Fatalf("update %d: %v", want, err)
		}
		if u.GetProductId() != "p1" || u.GetSequence() != want {
			t.Fatalf("update %d = %v", want, u)
		}
	}
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("after cancel: %v, want Canceled", err)
	}
}

func TestClientStreaming(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	stream, err := ordersv1.NewOrderServiceClient(g.conn).ImportOrders(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	orders := []*ordersv1.Order{
		{Id: "import-1", UserId: "1", Items: []*ordersv1.LineItem{{ProductId: "p1", Quantity: 1}}},
		{Id: "import-2", UserId: "2", Items: []*ordersv1.LineItem{{ProductId: "p2", Quantity: 2}}},
		{Id: "import-3"}, // no user: rejected
	}
	for _, o := range orders {
		if err := stream.Send(&ordersv1.ImportOrdersRequest{Order: o}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetImported() != 2 || len(resp.GetRejected()) != 1 || resp.GetRejected()["import-3"] == "" {
		t.Fatalf("ImportOrders = %v, want 2 imported and import-3 rejected", resp)
	}
}

func TestBidiStreaming(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	stream, err := catalogv1.NewCatalogServiceClient(g.conn).AdjustInventory(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	// Each answer arrives before the next request is sent: the stream is really bidirectional.
	var last int64 = -1
	for i, delta := range []int64{5, -2, 10} {
		if err := stream.Send(&catalogv1.AdjustInventoryRequest{ProductId: "p2", Delta: delta}); err != nil {
			t.Fatal(err)
		}
		u, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && u.GetStock() != last+delta {
			t.Fatalf("after delta %d: stock %d, want %d", delta, u.GetStock(), last+delta)
		}
		last = u.GetStock()
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after CloseSend: %v, want EOF", err)
	}
}

func TestMetadataHeadersTrailers(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	ctx := metadata.AppendToOutgoingContext(testContext(t), "x-request-id", "req-42")
	var header, trailer metadata.MD
	_, err := usersv1.NewUserServiceClient(g.conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "req-42" {
		t.Errorf("header x-request-id = %q, want req-42 echoed by the backend", got)
	}
	if got := trailer.Get("x-served-by"); len(got) != 1 || got[0] != "users" {
		t.Errorf("trailer x-served-by = %q, want users", got)
	}

	// The same through a stream, where headers precede the messages.
	stream, err := catalogv1.NewCatalogServiceClient(g.conn).WatchInventory(metadata.AppendToOutgoingContext(testContext(t), "x-request-id", "req-43"),
		&catalogv1.WatchInventoryRequest{Id: "p1", Interval: durationpb.New(10 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := stream.Header()
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("x-request-id"); len(got) != 1 || got[0] != "req-43" {
		t.Errorf("stream header x-request-id = %q, want req-43", got)
	}
}

// metadataOf returns shop options under which the backend hands over the metadata each call of
// method arrives with, on a channel buffering n of them.
func metadataOf(method string, n int) (shop.Options, <-chan metadata.MD) {
	seen := make(chan metadata.MD, n)
	return shop.Options{OnCall: func(ctx context.Context, m string) {
		if m == method {
			md, _ := metadata.FromIncomingContext(ctx)
			seen <- md
		}
	}}, seen
}

// TestAcceptEncodingNotForwarded: the compressions a client can decode describe its connection to
// the gateway, not the gateway's to the upstream: the upstream sees the gateway's list, once, and
// never the client's (which could name a compression the gateway cannot decode).
func TestAcceptEncodingNotForwarded(t *testing.T) {
	opts, seen := metadataOf("/shop.users.v1.UserService/GetUser", 1)
	g := startGateway(t, harnessOptions{shop: opts})
	ctx := metadata.AppendToOutgoingContext(testContext(t), "grpc-accept-encoding", "snappy")
	if _, err := usersv1.NewUserServiceClient(g.conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	md := <-seen
	for _, v := range md.Get("grpc-accept-encoding") {
		if strings.Contains(v, "snappy") {
			t.Errorf("the upstream saw the client's grpc-accept-encoding: %q", md.Get("grpc-accept-encoding"))
		}
	}
	if got := md.Get("grpc-accept-encoding"); len(got) > 1 {
		t.Errorf("the upstream saw grpc-accept-encoding %d times: %q", len(got), got)
	}
}

func TestStatusPassthrough(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	_, err := usersv1.NewUserServiceClient(g.conn).GetUser(testContext(t), &usersv1.GetUserRequest{Id: "99"})
	st := status.Convert(err)
	if st.Code() != codes.NotFound || st.Message() != `user "99" not found` {
		t.Fatalf("GetUser(99) = %v, want NotFound naming the user", err)
	}
	var found bool
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.ResourceInfo); ok && ri.GetResourceName() == "99" {
			found = true
		}
	}
	if !found {
		t.Errorf("details %v lack the backend's ResourceInfo", st.Details())
	}
	// A streaming call's status passes through too.
	stream, err := catalogv1.NewCatalogServiceClient(g.conn).WatchInventory(testContext(t), &catalogv1.WatchInventoryRequest{Id: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.NotFound {
		t.Fatalf("WatchInventory(nope) = %v, want NotFound", err)
	}
}

func TestDeadlinePropagation(t *testing.T) {
	var (
		mu       sync.Mutex
		deadline time.Time
		seen     bool
	)
	g := startGateway(t, harnessOptions{shop: shop.Options{
		Latency: 2 * time.Second,
		OnCall: func(ctx context.Context, method string) {
			if method == "/shop.users.v1.UserService/GetUser" {
				mu.Lock()
				deadline, seen = ctx.Deadline()
				mu.Unlock()
			}
		},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()
	start := time.Now()
	_, err := usersv1.NewUserServiceClient(g.conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("GetUser with 300ms deadline against a 2s backend = %v, want DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 1500*time.Millisecond {
		t.Errorf("the call took %v: the deadline did not cut it short", elapsed)
	}
	mu.Lock()
	defer mu.Unlock()
	if !seen {
		t.Fatal("the backend saw no deadline")
	}
	if d := deadline.Sub(want); d > 50*time.Millisecond || d < -200*time.Millisecond {
		t.Errorf("backend deadline %v differs from the caller's %v by %v", deadline, want, d)
	}
}

func TestRouteTimeout(t *testing.T) {
	g := startGateway(t, harnessOptions{
		shop: shop.Options{Latency: 2 * time.Second},
		spec: func(spec *registry.Spec, s *shop.Shop) {
			spec.Routes = append(spec.Routes, registry.RouteSpec{
				Name:     "slow-get-user",
				Match:    routing.Match{Method: "/shop.users.v1.UserService/GetUser"},
				Clusters: []registry.WeightedCluster{{Name: "users", Weight: 1}},
				Timeout:  100 * time.Millisecond,
			})
		},
	})
	_, err := usersv1.NewUserServiceClient(g.conn).GetUser(testContext(t), &usersv1.GetUserRequest{Id: "1"})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("GetUser through a 100ms route = %v, want DeadlineExceeded", err)
	}
}

// TestRouteTimeoutEndsStreams: a route's timeout bounds a stream too, whatever its front: how long
// a subscription admitted with a token may outlive the token is bounded so (README, Authentication).
func TestRouteTimeoutEndsStreams(t *testing.T) {
	g := startGateway(t, harnessOptions{
		spec: func(spec *registry.Spec, s *shop.Shop) {
			spec.Routes = append(spec.Routes, registry.RouteSpec{
				Name:     "short-watch",
				Match:    routing.Match{Method: "/shop.catalog.v1.CatalogService/WatchInventory"},
				Clusters: []registry.WeightedCluster{{Name: "catalog", Weight: 1}},
				Timeout:  200 * time.Millisecond,
			})
		},
	})
	stream, err := catalogv1.NewCatalogServiceClient(g.conn).WatchInventory(testContext(t), &catalogv1.WatchInventoryRequest{
		Id: "p1", Interval: durationpb.New(10 * time.Millisecond),
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("gRPC stream through a 200ms route ended with %v, want DeadlineExceeded", err)
			}
			break
		}
	}

	ws := dialGraphQLWS(t, testContext(t), g)
	ws.send(gqlWSMessage{ID: "w", Type: "subscribe",
		Payload: json.RawMessage(`{"query":"subscription { watchInventory(id: \"p1\", interval: \"0.01s\") { sequence } }"}`)})
	for {
		m := ws.read()
		var r struct{ Errors []gqlError }
		_ = json.Unmarshal(m.Payload, &r)
		if m.Type != "next" || m.ID != "w" {
			t.Fatalf("subscription through a 200ms route: %s %q %s, want its events, then DEADLINE_EXCEEDED", m.Type, m.ID, m.Payload)
		}
		if len(r.Errors) > 0 {
			if r.Errors[0].Extensions.Code != "DEADLINE_EXCEEDED" {
				t.Fatalf("subscription through a 200ms route ended with %s, want DEADLINE_EXCEEDED", m.Payload)
			}
			break
		}
	}
}

func TestUnknownServiceAndMethod(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	err := g.conn.Invoke(testContext(t), "/acme.billing.v1.Billing/Charge", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	if st := status.Convert(err); st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "acme.billing.v1.Billing") {
		t.Errorf("unknown service: %v, want Unimplemented naming the service", err)
	}
	err = g.conn.Invoke(testContext(t), "/shop.users.v1.UserService/DropTables", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	if st := status.Convert(err); st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "DropTables") {
		t.Errorf("unknown method: %v, want Unimplemented naming the method", err)
	}
}

func TestOversizedMessage(t *testing.T) {
	g := startGateway(t, harnessOptions{config: func(c *config.Config) { c.GRPC.MaxMessageBytes = 64 << 10 }})
	big := strings.Repeat("x", 100<<10)
	_, err := usersv1.NewUserServiceClient(g.conn).CreateUser(testContext(t), &usersv1.CreateUserRequest{User: &usersv1.User{Name: big, Email: "big@example.com"}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a 100 KiB request over a 64 KiB limit = %v, want ResourceExhausted", err)
	}
	// The connection still serves.
	if _, err := usersv1.NewUserServiceClient(g.conn).GetUser(testContext(t), &usersv1.GetUserRequest{Id: "1"}); err != nil {
		t.Fatalf("after the oversized call: %v", err)
	}
}

func TestHealth(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	resp, err := healthpb.NewHealthClient(g.conn).Check(testContext(t), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v; want SERVING", resp, err)
	}
}

func TestGracefulDrain(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	checkDrain(t, g, g.conn)
}

// checkDrain opens a stream through conn, stops g while it is open, and checks that the gateway
// stops accepting but lets the stream finish.
func checkDrain(t *testing.T, g *gateway, conn grpc.ClientConnInterface) {
	t.Helper()
	stream, err := catalogv1.NewCatalogServiceClient(conn).AdjustInventory(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&catalogv1.AdjustInventoryRequest{ProductId: "p3", Delta: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { g.stop(t); close(stopped) }()
	waitRefused(t, g.addr)
	if err := stream.Send(&catalogv1.AdjustInventoryRequest{ProductId: "p3", Delta: 1}); err != nil {
		t.Fatalf("send during drain: %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("recv during drain: %v", err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream end during drain: %v, want EOF", err)
	}
	<-stopped
}

// waitRefused waits until the gateway refuses new connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		conn.Close()
		if status.Code(err) == codes.Unavailable {
			return
		}
		time.Sleep(10 * time.Millisecond) // polling for an external state change, not synchronising
	}
	t.Fatal("the gateway still accepts connections")
}
