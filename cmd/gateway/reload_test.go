package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/examples/shop"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
)

// serveShop runs a shop service in the test process on addr ("127.0.0.1:0" for any port) and returns
// its address and a function that stops it.
func serveShop(t *testing.T, service, addr string) (string, func()) {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := shop.NewServer(service, shop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), srv.Stop
}

func getOrder(t *testing.T, addr string) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = ordersv1.NewOrderServiceClient(conn).GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "o1"})
	return err
}

// TestConfigReflectionBackendDown runs `gateway serve` with a config service fetched by reflection
// whose backend is down: the gateway serves the other service at once and ready, adds the first once
// its backend comes up, applies reloads of unrelated settings while the backend is down (keeping the
// service), and refuses a changed section it cannot fetch, the old one serving on.
func TestConfigReflectionBackendDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	users, _ := serveShop(t, "users", "127.0.0.1:0")
	orders := closedPort(t) // reserved: served from later on
	protoDir, err := filepath.Abs("../../proto")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	base := "services:\n" +
		"  - name: echo\n    endpoints: [\"" + orders + "\"]\n    reflect: true\n" +
		"  - name: things\n    endpoints: [\"" + users + "\"]\n" +
		"    protos: [\"" + filepath.Join(protoDir, "shop/users/v1/users.proto") + "\"]\n    import_paths: [\"" + protoDir + "\"]\n"
	unrelated := base + "clusters:\n  - name: spare\n    endpoints: [\"" + closedPort(t) + "\"]\n"
	changed := strings.Replace(base, "reflect: true\n", "reflect: true\n    services: [shop.orders.v1.OrderService]\n", 1)
	writeFile(t, path, base)

	gw := startProcess(t, "", "serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	gw.awaitLines(t, regexp.MustCompile(`config service not served yet.*name=echo.*unavailable`))
	m := gw.awaitLines(t, listeningLine)
	data, admin := m[1], m[2]
	if err := getUser(t, data); err != nil {
		t.Fatalf("the healthy service, while the other's backend is down: %v", err)
	}
	if err := getOrder(t, data); status.Code(err) != codes.Unimplemented {
		t.Fatalf("the pending service: %v, want Unimplemented", err)
	}
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d while one service is pending, want 200: the rest serves", resp.StatusCode)
	}
	mustCLI(t, "pending: echo: not served until its backend's reflection at "+orders+" answers", "status", "--admin", "http://"+admin)

	writeFile(t, path, unrelated)
	gw.awaitLines(t, regexp.MustCompile(`config reloaded`))
	writeFile(t, path, changed)
	gw.awaitLines(t, regexp.MustCompile(`config reload refused.*service \\?"echo\\?": section changed.*unavailable`))

	_, stopOrders := serveShop(t, "orders", orders)
	gw.awaitLines(t, regexp.MustCompile(`config service served.*name=echo`))
	if err := getOrder(t, data); err != nil {
		t.Fatalf("once its backend is up: %v", err)
	}
	if out := mustCLI(t, "shop.orders.v1.OrderService", "status", "--admin", "http://"+admin); strings.Contains(out, "pending") {
		t.Errorf("gateway status lists a pending service once all serve:\n%s", out)
	}

	stopOrders()
	writeFile(t, path, base)
	gw.awaitLines(t, regexp.MustCompile(`config reloaded`))
	if err := getOrder(t, data); status.Code(err) != codes.Unavailable {
		t.Fatalf("after a reload while its backend is down: %v, want Unavailable (still routed)", err)
	}
	writeFile(t, path, changed)
	gw.awaitLines(t, regexp.MustCompile(`config reload refused.*section changed`))
	if err := getOrder(t, data); status.Code(err) != codes.Unavailable {
		t.Fatalf("after a refused reload: %v, want Unavailable (still routed)", err)
	}
	if err := getUser(t, data); err != nil {
		t.Fatalf("the healthy service at the end: %v", err)
	}
	gw.stop(t)
}
