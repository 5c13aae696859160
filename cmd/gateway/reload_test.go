package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/registry"
)

// serveShop runs a shop service in the test process on addr ("127.0.0.1:0" for any port) and returns
// its address and a function that stops it.
func serveShop(t *testing.T, service, addr string) (string, func()) {
	t.Helper()
	lis := testnet.Listen(t, addr)
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
	return callAt(t, addr, func(ctx context.Context, conn *grpc.ClientConn) error {
		_, err := ordersv1.NewOrderServiceClient(conn).GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "o1"})
		return err
	})
}

// pendingEchoConfig returns a config of two services: echo, whose descriptors come by reflection
// from orders, a reserved port nothing serves yet (serve the orders service there to bring it up),
// and things, the users service from its .proto, served at once from users.
func pendingEchoConfig(t *testing.T) (config, orders, users string) {
	t.Helper()
	users, _ = serveShop(t, "users", "127.0.0.1:0")
	orders = testnet.Refused(t)
	return "services:\n" +
		"  - name: echo\n    endpoints: [\"" + orders + "\"]\n    reflect: true\n" +
		"  - name: things\n    endpoints: [\"" + users + "\"]\n" + usersProtoSource(t), orders, users
}

// usersProtoSource is the lines of a config service that take the users service's descriptors
// from its .proto, in the repository's proto directory.
func usersProtoSource(t *testing.T) string {
	t.Helper()
	protoDir, err := filepath.Abs("../../proto")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("    protos: [%q]\n    import_paths: [%q]\n", filepath.Join(protoDir, "shop/users/v1/users.proto"), protoDir)
}

// usersWithJWT is a config serving the users service at users, every call of it needing a JWT of
// issuer https://issuer.test signed by a key of the set in jwksFile; extra adds lines to its
// policies section.
func usersWithJWT(t *testing.T, users, jwksFile, extra string) string {
	t.Helper()
	return fmt.Sprintf("services:\n  - name: users\n    endpoints: [%q]\n", users) + usersProtoSource(t) + fmt.Sprintf(`policies:
  auth:
    jwt:
      - {name: corp, issuer: "https://issuer.test", jwks_file: %q}
  rules:
    - match: {service: shop.users.v1.UserService}
      auth: {required: true}
`, jwksFile) + extra
}

// TestConfigReflectionBackendDown runs `gateway serve` with a config service fetched by reflection
// whose backend is down: the gateway serves the other service at once and ready, adds the first once
// its backend comes up, applies reloads of unrelated settings while the backend is down (keeping the
// service), and refuses a changed section it cannot fetch, the old one serving on.
func TestConfigReflectionBackendDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	base, orders, _ := pendingEchoConfig(t)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	unrelated := base + "clusters:\n  - name: spare\n    endpoints: [\"" + testnet.Refused(t) + "\"]\n"
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
	// The listen addresses come from the command line, and stay as they were: no warning that they
	// apply at start only (it comes before "config reloaded" when it does).
	if m := gw.awaitLines(t, regexp.MustCompile(`apply at start only|config reloaded`)); m[0] != "config reloaded" {
		t.Errorf("a reload that changes no start-only setting warned: %q", m[0])
		gw.awaitLines(t, regexp.MustCompile(`config reloaded`))
	}
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

// TestPendingNamedServiceUnavailable runs `gateway serve` with a config service fetched by
// reflection from a backend that is down and whose services list names the service: until the
// backend answers, a call of that service is UNAVAILABLE saying why (not UNIMPLEMENTED, as for a
// service nobody registered), and its health is NOT_SERVING; once the backend is up, both serve.
func TestPendingNamedServiceUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	base, orders, _ := pendingEchoConfig(t)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, strings.Replace(base, "reflect: true\n", "reflect: true\n    services: [shop.orders.v1.OrderService]\n", 1))

	gw := startProcess(t, "", "serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	data := gw.awaitLines(t, listeningLine)[1]
	err := getOrder(t, data)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), `config service "echo" waits for its descriptors from `+orders) {
		t.Fatalf("a named service of a pending config service: %v, want Unavailable saying it waits for its descriptors", err)
	}
	if err := getUnknown(t, data); status.Code(err) != codes.Unimplemented {
		t.Errorf("a service nobody names: %v, want Unimplemented", err)
	}
	if got := healthOf(t, data, "shop.orders.v1.OrderService"); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health of the pending service = %v, want NOT_SERVING", got)
	}

	serveShop(t, "orders", orders)
	gw.awaitLines(t, regexp.MustCompile(`config service served.*name=echo`))
	if err := getOrder(t, data); err != nil {
		t.Fatalf("once its backend is up: %v", err)
	}
	if got := healthOf(t, data, "shop.orders.v1.OrderService"); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health once served = %v, want SERVING", got)
	}
	gw.stop(t)
}

// getUnknown calls a method of a service no config or registration names.
func getUnknown(t *testing.T, addr string) error {
	t.Helper()
	return callAt(t, addr, func(ctx context.Context, conn *grpc.ClientConn) error {
		return conn.Invoke(ctx, "/acme.Nope/Get", &emptypb.Empty{}, &emptypb.Empty{})
	})
}

// healthOf asks the gateway at addr for service's health; a Check that fails fails the test.
func healthOf(t *testing.T, addr, service string) (got healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	err := callAt(t, addr, func(ctx context.Context, conn *grpc.ClientConn) error {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		got = resp.GetStatus()
		return err
	})
	if err != nil {
		t.Fatalf("health of %q: %v", service, err)
	}
	return got
}

// TestServicesConfigAndAdmin runs `gateway serve` with two config services, one pending (its
// reflection backend is down), and registers a third through the admin API: `services list`, `get`,
// GET /v1/registrations show all three, marked by origin; the config file's cannot be removed,
// rolled back or registered over, each refusal naming the config file.
func TestServicesConfigAndAdmin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	config, orders, users := pendingEchoConfig(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, config)
	gw := startProcess(t, "", "serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	gw.awaitLines(t, regexp.MustCompile(`config service not served yet.*name=echo`))
	admin := "http://" + gw.awaitLines(t, listeningLine)[2]

	setFile := filepath.Join(dir, "catalog.binpb")
	writeDescriptorSet(t, setFile, catalogv1.File_shop_catalog_v1_catalog_proto)
	catalog := testnet.Refused(t)
	mustCLI(t, "catalog: version 1 active", "register", "--admin", admin, "--name", "catalog", "--endpoint", catalog, "--descriptor-set", setFile)

	out := mustCLI(t, "NAME", "services", "list", "--admin", admin)
	for _, want := range []string{
		`(?m)^catalog\s+admin\s+serving\s+1\s+descriptor-set\s+\d+\s+catalog\s+` + regexp.QuoteMeta(catalog) + `\s+shop\.catalog\.v1\.CatalogService$`,
		`(?m)^echo\s+config\s+pending\s+-\s+reflection\s+-\s+echo\s+` + regexp.QuoteMeta(orders) + `\s+-$`,
		`(?m)^things\s+config\s+serving\s+-\s+proto\s+5\s+things\s+` + regexp.QuoteMeta(users) + `\s+shop\.users\.v1\.UserService$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("services list does not match %s:\n%s", want, out)
		}
	}
	out = mustCLI(t, `things: defined in the config file`, "services", "get", "--admin", admin, "things")
	for _, want := range []string{`(?m)^state:\s+serving$`, `(?m)^source:\s+proto$`, `(?m)^cluster:\s+things$`,
		`(?m)^services:\s+shop\.users\.v1\.UserService$`, `(?m)^digest:\s+[0-9a-f]{64}$`, `(?m)^files:\s+.*shop/users/v1/users\.proto`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("services get things does not match %s:\n%s", want, out)
		}
	}
	out = mustCLI(t, `echo: defined in the config file`, "services", "get", "--admin", admin, "echo")
	for _, want := range []string{`(?m)^state:\s+pending: not served until its backend's reflection answers \(last: .*` + regexp.QuoteMeta(orders) + `.*\)$`,
		`(?m)^source:\s+reflection$`, `(?m)^endpoints:\s+` + regexp.QuoteMeta(orders) + `$`, `(?m)^services:\s+-$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("services get echo does not match %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "digest:") {
		t.Errorf("services get echo shows a digest while pending:\n%s", out)
	}
	if out := mustCLI(t, "catalog", "services", "get", "--admin", admin, "catalog"); !regexp.MustCompile(`(?m)^1\s+\*`).MatchString(out) {
		t.Errorf("services get catalog does not show version 1 active:\n%s", out)
	}

	resp, err := http.Get(admin + "/v1/registrations")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var list adminv1.ListResponse
	if err := protojson.Unmarshal(body, &list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/registrations: %d %s: %v", resp.StatusCode, body, err)
	}
	var got []string
	for _, r := range list.GetRegistrations() {
		got = append(got, fmt.Sprintf("%s %s pending=%v", r.GetName(), r.GetOrigin(), r.GetPending()))
	}
	if want := []string{"catalog ORIGIN_ADMIN pending=false", "echo ORIGIN_CONFIG pending=true", "things ORIGIN_CONFIG pending=false"}; !slices.Equal(got, want) {
		t.Errorf("GET /v1/registrations = %q, want %q", got, want)
	}

	// The config file's services are changed there only, and the refusal says so.
	for _, name := range []string{"echo", "things"} {
		for _, args := range [][]string{
			{"services", "rm", "--admin", admin, name},
			{"rollback", "--admin", admin, name},
			{"register", "--admin", admin, "--name", name, "--endpoint", catalog, "--descriptor-set", setFile},
		} {
			out, ok := cli(t, args...)
			if want := `registration "` + name + `" is defined in the config file`; ok || !strings.Contains(out, want) ||
				strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Errorf("gateway %s: ok=%v, want one line naming %q:\n%s", strings.Join(args, " "), ok, want, out)
			}
		}
	}
	mustCLI(t, "echo", "services", "list", "--admin", admin)

	serveShop(t, "orders", orders)
	gw.awaitLines(t, regexp.MustCompile(`config service served.*name=echo`))
	out = mustCLI(t, "echo", "services", "list", "--admin", admin)
	if !regexp.MustCompile(`(?m)^echo\s+config\s+serving\s+-\s+reflection\s+5\s+echo\s+` + regexp.QuoteMeta(orders) + `\s+shop\.orders\.v1\.OrderService$`).MatchString(out) {
		t.Errorf("services list once echo's backend answered:\n%s", out)
	}
	mustCLI(t, "deleted", "services", "rm", "--admin", admin, "catalog")
	if out := mustCLI(t, "things", "services", "list", "--admin", admin); strings.Contains(out, "catalog") {
		t.Errorf("a deleted registration is listed:\n%s", out)
	}
	gw.stop(t)
}

// TestSIGHUPWithoutConfig sends SIGHUP to `gateway serve` started without --config: it says there
// is nothing to reload and serves on (the signal's default action would end it with status 129),
// then drains and exits 0 on SIGTERM.
func TestSIGHUPWithoutConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	gw := startProcess(t, "", "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	admin := gw.awaitLines(t, listeningLine)[2]
	for range 2 {
		if err := gw.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		gw.awaitLines(t, regexp.MustCompile(`SIGHUP ignored: serve runs without --config`))
	}
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz after SIGHUP = %d, want 200", resp.StatusCode)
	}
	if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	gw.awaitLines(t, regexp.MustCompile(`draining`))
	if err := gw.cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v, want exit status 0", err)
	}
}

// silentListener listens on loopback, accepts one connection, hands it on accepted and never
// answers on it: a backend or identity provider that holds the gateway's start up. The listener
// closes when the test ends.
func silentListener(t *testing.T) (net.Listener, <-chan net.Conn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := lis.Accept(); err == nil {
			accepted <- c
		}
	}()
	return lis, accepted
}

// TestSIGHUPWhileStarting sends SIGHUP to `gateway serve --config` while it is still asking a config
// service's backend for its descriptors, before it watches the file: the gateway is not ended by it,
// and reloads once it runs.
func TestSIGHUPWhileStarting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	lis, accepted := silentListener(t)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, "services:\n  - name: echo\n    endpoints: [\""+lis.Addr().String()+"\"]\n    reflect: true\n")
	gw := startProcess(t, "", "serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")

	// The gateway dialing the backend is the sign that it is fetching descriptors, with SIGHUP
	// already caught.
	var conn net.Conn
	select {
	case conn = <-accepted:
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway never asked the reflection backend")
	}
	if err := gw.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// Then the backend answers, on this connection's successors.
	srv, err := shop.NewServer("orders", shop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn.Close()

	// The watcher starts as the listeners open: its reload and their line come in either order.
	var data, reload string
	for data == "" || reload == "" {
		m := gw.awaitLines(t, regexp.MustCompile(`(config reload.*trigger=SIGHUP.*)|`+listeningLine.String()))
		if m[1] != "" {
			reload = m[1]
		} else {
			data = m[2]
		}
	}
	if !strings.HasPrefix(reload, "config reloaded") {
		t.Errorf("the SIGHUP sent while starting: %s, want config reloaded", reload)
	}
	if err := getUser(t, data); status.Code(err) != codes.Unimplemented {
		t.Errorf("GetUser, which no service offers: %v, want Unimplemented (the gateway serves)", err)
	}
	gw.stop(t)
}

// TestSIGTERMWhileStarting: a stop signal while the start waits for an identity provider's key set
// (a jwks_url that accepts connections and never answers, waited for 10s) ends the start at once:
// the gateway exits 0 without listening.
func TestSIGTERMWhileStarting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	lis, accepted := silentListener(t)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, "policies:\n  auth:\n    jwt:\n      - name: idp\n        issuer: https://idp.test\n"+
		"        jwks_url: http://"+lis.Addr().String()+"/jwks.json\n")
	gw := startProcess(t, "", "serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")

	// The gateway connecting to the key set's URL is the sign that the start waits for it.
	select {
	case conn := <-accepted:
		defer conn.Close()
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway never asked for the key set")
	}
	if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	var log strings.Builder
	for gw.lines.Scan() { // to the end of its output: the process exiting
		log.WriteString(gw.lines.Text() + "\n")
	}
	took := time.Since(signalled)
	if err := gw.cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM while starting: %v, want exit status 0", err)
	}
	if took > 5*time.Second {
		t.Errorf("the gateway exited %v after SIGTERM: the start went on waiting for the key set", took)
	}
	if listeningLine.MatchString(log.String()) {
		t.Errorf("the gateway listened after SIGTERM while starting:\n%s", log.String())
	}
}

// clusterConfig is a config file of one cluster, users, served at endpoint, and a route of the
// users service to it.
func clusterConfig(endpoint string) string {
	return "clusters:\n  - name: users\n    endpoints: [\"" + endpoint + "\"]\n" +
		"routes:\n  - match: {service: shop.users.v1.UserService}\n    cluster: users\n"
}

// configMapVersion writes content as version's gateway.yaml in dir laid out as a Kubernetes
// ConfigMap volume (gateway.yaml -> ..data/gateway.yaml, ..data -> version), and switches to it as
// the kubelet does (see volumeVersion). It returns the path of dir's gateway.yaml.
func configMapVersion(t *testing.T, dir, version, content string) string {
	t.Helper()
	volumeVersion(t, dir, version, func(v string) { writeFile(t, filepath.Join(v, "gateway.yaml"), content) }, "gateway.yaml")
	return filepath.Join(dir, "gateway.yaml")
}

// volumeVersion makes version the content of dir, laid out as a Kubernetes ConfigMap or Secret
// volume, and switches to it as the kubelet does: write fills the version's directory, a new
// symlink to it is renamed over ..data, then the previous version is removed. The first version
// also links each of names in dir through ..data (tls.crt -> ..data/tls.crt).
func volumeVersion(t *testing.T, dir, version string, write func(versionDir string), names ...string) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, version), 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(dir, version))
	data, tmp := filepath.Join(dir, "..data"), filepath.Join(dir, "..data_tmp")
	previous, _ := os.Readlink(data)
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, data); err != nil {
		t.Fatal(err)
	}
	if previous != "" {
		if err := os.RemoveAll(filepath.Join(dir, previous)); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, name := range names {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// reloadHarness is a gateway run in the test process from a config file, with the reloader serve
// gives it, driven by hand: each look stands for one burst of events in the file's directory (or,
// with always, a SIGHUP), so the test says exactly when the file is read again.
type reloadHarness struct {
	r           *reloader
	log         *testlog.Buffer
	data, admin string // the listeners' addresses
}

func newReloadHarness(t *testing.T, path string) *reloadHarness {
	t.Helper()
	data, file, err := readConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	override := func(c *config.Config) { c.Listen, c.AdminListen = "127.0.0.1:0", "127.0.0.1:0" }
	override(cfg)
	buf := new(testlog.Buffer)
	log := slog.New(slog.NewTextHandler(buf, nil))
	srv, err := server.New(cfg, server.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	spec, err := baseSpec(ctx, cfg, registry.StaticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	named := make(fileStates)
	named.add(cfg.Files(), nil)
	named.add(sourceFiles(spec), nil)
	if _, err := srv.Apply(spec); err != nil {
		t.Fatal(err)
	}
	dataLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done, ready := make(chan error, 1), make(chan struct{})
	go func() { done <- srv.ServeListeners(ctx, dataLn, adminLn, ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &reloadHarness{r: &reloader{path: path, override: override, srv: srv, log: log, last: file, named: named}, log: buf,
		data: dataLn.Addr().String(), admin: adminLn.Addr().String()}
}

// look reads the file again as the watcher does, and reports what came of it: "reloaded",
// "refused" or "" (nothing, not even a log line).
func (h *reloadHarness) look(t *testing.T, always bool) string {
	t.Helper()
	before, logged := h.r.srv.Snapshot().Version(), len(h.log.String())
	trigger := "file changed"
	if always {
		trigger = "SIGHUP"
	}
	h.r.reload(context.Background(), trigger, always)
	after, lines := h.r.srv.Snapshot().Version(), h.log.String()[logged:]
	switch {
	case after == before+1 && strings.Contains(lines, "config reloaded"):
		return "reloaded"
	case after == before && strings.Contains(lines, "config reload refused"):
		return "refused"
	case after == before && lines == "":
		return ""
	}
	t.Fatalf("snapshot %d -> %d, logged:\n%s", before, after, lines)
	return ""
}

// TestReloadComparesTheFile drives serve's reloader as its watcher does after each burst of events
// in the config file's directory: it reloads when the file's content changed, however it was written
// (in place, renamed over, removed and written again), but not for another file of the directory or
// a write of the same bytes; a file it cannot read is reported once, not at every event. SIGHUP
// reloads whatever the file holds.
func TestReloadComparesTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	one, two := clusterConfig("127.0.0.1:1"), clusterConfig("127.0.0.1:2")
	writeFile(t, path, one)
	h := newReloadHarness(t, path)
	for _, step := range []struct {
		name   string
		change func()
		always bool
		want   string
	}{
		{"nothing changed", nil, false, ""},
		{"another file of the directory", func() { writeFile(t, filepath.Join(dir, "notes.txt"), "x") }, false, ""},
		{"an editor's swap file", func() { writeFile(t, filepath.Join(dir, ".gateway.yaml.swp"), "x") }, false, ""},
		{"the same bytes written again", func() { writeFile(t, path, one) }, false, ""},
		{"written in place", func() { writeFile(t, path, two) }, false, "reloaded"},
		{"renamed over", func() {
			writeFile(t, path+".new", one)
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
		}, false, "reloaded"},
		{"SIGHUP, nothing changed", nil, true, "reloaded"},
		{"removed", func() {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, false, "refused"},
		{"still missing", nil, false, ""},
		{"SIGHUP while missing", nil, true, "refused"},
		{"written again, as it was", func() { writeFile(t, path, one) }, false, "reloaded"},
		{"truncated", func() { writeFile(t, path, "") }, false, "refused"},
		{"SIGHUP while empty", nil, true, "refused"},
		{"written after the truncation", func() { writeFile(t, path, two) }, false, "reloaded"},
		{"only comments", func() { writeFile(t, path, "# nothing yet\n\n") }, false, "refused"},
		{"an explicit empty document", func() { writeFile(t, path, "{}\n") }, false, "reloaded"},
	} {
		if step.change != nil {
			step.change()
		}
		if got := h.look(t, step.always); got != step.want {
			t.Errorf("%s: %q, want %q", step.name, got, step.want)
		}
	}
	for _, want := range []string{"no such file or directory", "holds no YAML document"} {
		if !strings.Contains(h.log.String(), want) {
			t.Errorf("no refusal says %q:\n%s", want, h.log.String())
		}
	}
}

// TestReloadRefusesEmptyFile runs `gateway serve` on an empty config file, which is allowed at start,
// and configures a service: truncating the file then is refused, and the service serves on; "{}"
// configures nothing.
func TestReloadRefusesEmptyFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	users, _ := serveShop(t, "users", "127.0.0.1:0")
	service := "services:\n  - name: things\n    endpoints: [\"" + users + "\"]\n" + usersProtoSource(t)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, "")
	gw := startProcess(t, "", "serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	data := gw.awaitLines(t, listeningLine)[1]

	writeFile(t, path, service)
	gw.awaitLines(t, regexp.MustCompile(`config reloaded`))
	if err := getUser(t, data); err != nil {
		t.Fatalf("once configured: %v", err)
	}
	writeFile(t, path, "")
	gw.awaitLines(t, regexp.MustCompile(`config reload refused.*holds no YAML document`))
	if err := getUser(t, data); err != nil {
		t.Fatalf("after the file was truncated: %v, want the service still served", err)
	}
	writeFile(t, path, "{}\n")
	gw.awaitLines(t, regexp.MustCompile(`config reloaded`))
	if err := getUser(t, data); status.Code(err) != codes.Unimplemented {
		t.Fatalf("after {}: %v, want Unimplemented (nothing configured)", err)
	}
	gw.stop(t)
}

// TestReloadConfigMap drives serve's reloader over a Kubernetes ConfigMap volume, whose config path
// is a symlink through ..data: each update the kubelet makes reloads, even one that leaves
// gateway.yaml's content as it was (the files it names may have changed with it).
func TestReloadConfigMap(t *testing.T) {
	dir := t.TempDir()
	one, two := clusterConfig("127.0.0.1:1"), clusterConfig("127.0.0.1:2")
	path := configMapVersion(t, dir, "..2025_01_01_00_00_00.1", one)
	h := newReloadHarness(t, path)
	if got := h.look(t, false); got != "" {
		t.Fatalf("before any update: %q, want nothing", got)
	}
	configMapVersion(t, dir, "..2025_01_01_00_00_00.2", two)
	if got := h.look(t, false); got != "reloaded" {
		t.Errorf("a new version: %q, want reloaded", got)
	}
	configMapVersion(t, dir, "..2025_01_01_00_00_00.3", two)
	if got := h.look(t, false); got != "reloaded" {
		t.Errorf("a new version of the same gateway.yaml: %q, want reloaded", got)
	}
	writeFile(t, filepath.Join(dir, "..2025_01_01_00_00_00.3", "other.yaml"), "x")
	if got := h.look(t, false); got != "" {
		t.Errorf("another file of the version: %q, want nothing", got)
	}
}

// TestConfigMapReload runs `gateway serve --config` on a Kubernetes ConfigMap volume's config path
// and updates the ConfigMap as the kubelet does: the gateway applies the new version.
func TestConfigMapReload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	users, _ := serveShop(t, "users", "127.0.0.1:0")
	dir := t.TempDir()
	path := configMapVersion(t, dir, "..2025_01_01_00_00_00.1", clusterConfig(testnet.Refused(t)))
	gw := startProcess(t, "", "serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	data := gw.awaitLines(t, listeningLine)[1]
	if err := getUser(t, data); status.Code(err) != codes.Unavailable {
		t.Fatalf("routed to a closed port: %v, want Unavailable", err)
	}
	configMapVersion(t, dir, "..2025_01_01_00_00_00.2", clusterConfig(users))
	gw.awaitLines(t, regexp.MustCompile(`config reloaded.*trigger="file changed"`))
	if err := getUser(t, data); err != nil {
		t.Fatalf("after the ConfigMap's update: %v", err)
	}
	gw.stop(t)
}

// TestReloadStartOnlySettings reloads `gateway serve`'s config with a shorter shutdown_grace, which
// the next SIGTERM's drain then uses, and an access log, which is read at start only and so is
// named in a warning.
func TestReloadStartOnlySettings(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	clusters := clusterConfig(testnet.Refused(t))
	writeFile(t, path, "shutdown_grace: 30s\n"+clusters)
	gw := startProcess(t, "", "serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	gw.awaitLines(t, listeningLine)

	writeFile(t, path, "shutdown_grace: 1s\npolicies:\n  access_log: {output: stderr}\n"+clusters)
	// The warning comes before "config reloaded".
	m := gw.awaitLines(t, regexp.MustCompile(`apply at start only.*settings=(\S+)|config reloaded`))
	if m[1] != "policies.access_log" {
		t.Errorf("a reload that adds an access log: %q, want a warning naming policies.access_log only", m[0])
	}
	if m[1] != "" {
		gw.awaitLines(t, regexp.MustCompile(`config reloaded`))
	}
	if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if m := gw.awaitLines(t, regexp.MustCompile(`draining grace=(\S+)`)); m[1] != "1s" {
		t.Errorf("the drain after a reload of shutdown_grace to 1s: grace=%s", m[1])
	}
	if err := gw.cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v, want exit status 0", err)
	}
}

// A reload refused for a config service's problem that only compiling the services finds (a name its
// descriptors lack, a service two of them claim) says where in the file, as validate does.
func TestReloadPlacesServiceProblems(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	writeDescriptorSet(t, filepath.Join(dir, "users.binpb"), usersv1.File_shop_users_v1_users_proto)
	users := "  - name: users\n    endpoints: [\"127.0.0.1:1\"]\n    descriptor_set: users.binpb\n"
	writeFile(t, path, "services:\n"+users)
	h := newReloadHarness(t, path)
	for _, step := range []struct{ name, config, want string }{
		{"a service its descriptors lack", "services:\n" + users + "    services: [shop.users.v1.UserServce]\n",
			path + `:5:16: services[0].services[0]: registration \"users\": service shop.users.v1.UserServce is not in its descriptors`},
		{"one service claimed twice", "services:\n" + users + "  - name: users2\n    endpoints: [\"127.0.0.1:2\"]\n    descriptor_set: users.binpb\n",
			path + `:5:5: services[1]: conflict: service shop.users.v1.UserService is provided by both registration \"users\" (` +
				path + `:2:5: services[0]) and \"users2\"`},
	} {
		writeFile(t, path, step.config)
		logged := len(h.log.String())
		if got := h.look(t, false); got != "refused" {
			t.Errorf("%s: %q, want refused", step.name, got)
		}
		if lines := h.log.String()[logged:]; !strings.Contains(lines, step.want) {
			t.Errorf("%s: the refusal does not say %s:\n%s", step.name, step.want, lines)
		}
	}
}

// What the config says that does not apply, though it is no error (a policy rule waiting for its
// service, one naming a method the service lacks, a route that never wins), is logged once per
// snapshot the config makes: at start and at each reload, not at each call, even of a method the
// rules are matched against anew (one of a service only a route proxies).
func TestConfigWarningsLoggedOncePerReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	users, _ := serveShop(t, "users", "127.0.0.1:0")
	writeDescriptorSet(t, filepath.Join(dir, "users.binpb"), usersv1.File_shop_users_v1_users_proto)
	writeFile(t, path, `clusters:
  - {name: users, endpoints: ["`+users+`"]}
routes:
  - {name: users, match: {service: shop.users.v1.UserService}, cluster: users}
  - {name: users-again, match: {service: shop.users.v1.UserService}, cluster: users}
  - {name: legacy, match: {service: acme.legacy.v1.Legacy}, cluster: users}
services:
  - {name: users, cluster: users, descriptor_set: users.binpb}
policies:
  rules:
    - {match: {service: acme.billing.v1.Billing}, rate_limit: {rate: 1000}}
    - {match: {method: shop.users.v1.UserService/GetUsr}, rate_limit: {rate: 1000}}
    - {match: {service: acme.legacy.v1.Legacy}, rate_limit: {rate: 1000}}
`)
	h := newReloadHarness(t, path)
	warnings := []string{
		`policy rules wait: each applies once a registration brings the service it names (a misspelt name never will)" waiting="` +
			path + `:11:25: policies.rules[0].match.service: service acme.billing.v1.Billing is not registered"`,
		`policy rules apply to no call: the method they name is not their service's, or the service is the gateway's own (a misspelt name?)" rules="` +
			path + `:12:24: policies.rules[1].match.method: the registered service shop.users.v1.UserService has no method GetUsr"`,
		`routes never win: an earlier route of the same match takes every call they match" routes="` +
			path + `:5:5: routes[1]: route \"users-again\" never wins: route \"users\" (` + path + `:4:5: routes[0]) comes first and takes every call it matches"`,
	}
	count := func(when string, want int) {
		t.Helper()
		for _, w := range warnings {
			if got := strings.Count(h.log.String(), w); got != want {
				t.Errorf("%s: %d lines with %s, want %d:\n%s", when, got, w, want, h.log.String())
			}
		}
	}
	count("at start", 1)
	for range 3 {
		if err := getUser(t, h.data); err != nil {
			t.Fatal(err)
		}
		// A service only a route proxies: its calls are matched against the rules as they come.
		err := callAt(t, h.data, func(ctx context.Context, conn *grpc.ClientConn) error {
			return conn.Invoke(ctx, "/acme.legacy.v1.Legacy/Get", &emptypb.Empty{}, &emptypb.Empty{})
		})
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("a call the legacy route proxies to the users backend: %v, want Unimplemented from it", err)
		}
	}
	count("after calls", 1)
	if got := h.look(t, true); got != "reloaded" {
		t.Fatalf("SIGHUP: %q, want reloaded", got)
	}
	count("after a reload", 2)
}
