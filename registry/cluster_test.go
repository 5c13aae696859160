package registry_test

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/reflect/protoreflect"

	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/internal/testpki"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/routing"
)

// clustersConfig is a config file of two clusters that registrations made through the admin API
// can name: legacy and spare.
const clustersConfig = "clusters:\n" +
	"  - {name: legacy, endpoints: [\"" + addrB + "\"]}\n" +
	"  - {name: spare, endpoints: [\"" + addrC + "\"]}\n"

// onCluster makes req name cluster instead of endpoints.
func onCluster(req *adminv1.RegisterRequest, cluster string) *adminv1.RegisterRequest {
	req.Endpoints, req.Cluster = nil, cluster
	return req
}

// describedCluster renders a description as "version cluster endpoints".
func describedCluster(r *adminv1.Registration) string {
	return fmt.Sprintf("%d %s %s", r.GetVersion(), r.GetCluster(), strings.Join(r.GetEndpoints(), ","))
}

// A registration made through the admin API can name a cluster of the config file instead of
// endpoints: its calls go to that cluster, no cluster named after it is made, and every description
// shows the cluster with the endpoints it has. The cluster is part of the registration: naming it
// again changes nothing, naming another, or endpoints (even the same ones), makes a new version, and
// it is stored with the version.
func TestRegistryOnConfigCluster(t *testing.T) {
	ctx := t.Context()
	base := specOf(t, t.TempDir(), clustersConfig)
	st := store.NewMemory()
	f := newFixture(t, st)
	f.open(t, base)
	set := generatedSet(t, usersv1.File_shop_users_v1_users_proto)

	resp := f.register(t, onCluster(setReq("users", set), "legacy"))
	if got := describedCluster(resp.GetRegistration()); got != "1 legacy "+addrB {
		t.Errorf("registered on legacy: %q, want version 1 on legacy at %s", got, addrB)
	}
	snap := f.reg.Current()
	if c := routedCluster(snap, usersMethods[0], nil); c != "legacy" {
		t.Errorf("GetUser routes to %q, want legacy", c)
	}
	if _, ok := snap.Cluster("users"); ok {
		t.Error("the snapshot has a cluster named after the registration, which named legacy")
	}
	if resp := f.register(t, onCluster(setReq("users", set), "legacy")); resp.GetChanged() {
		t.Errorf("legacy again: %v, want unchanged", resp)
	}

	resp = f.register(t, onCluster(setReq("users", set), "spare"))
	if got := describedCluster(resp.GetRegistration()); !resp.GetChanged() || got != "2 spare "+addrC {
		t.Errorf("registered on spare: changed=%v, %q, want version 2 on spare at %s", resp.GetChanged(), got, addrC)
	}
	resp = f.register(t, setReq("users", set, addrB))
	if got := describedCluster(resp.GetRegistration()); got != "3 users "+addrB {
		t.Errorf("registered on legacy's endpoint: %q, want version 3 on a cluster of its own", got)
	}
	if c := routedCluster(f.reg.Current(), usersMethods[0], nil); c != "users" {
		t.Errorf("GetUser routes to %q, want the registration's own cluster", c)
	}

	versions, err := f.admin.ListVersions(ctx, &adminv1.ListVersionsRequest{Name: "users"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range versions.GetVersions() {
		got = append(got, describedCluster(v))
	}
	if want := []string{"3 users " + addrB, "2 spare " + addrC, "1 legacy " + addrB}; !slices.Equal(got, want) {
		t.Errorf("versions %q, want %q", got, want)
	}
	if versions.GetVersions()[0].GetDigest() == versions.GetVersions()[2].GetDigest() {
		t.Error("version 3, at legacy's endpoint, has the digest of version 1, on legacy")
	}

	rolled, err := f.admin.Rollback(ctx, &adminv1.RollbackRequest{Name: "users", Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	got = []string{describedCluster(rolled)}
	if r, err := f.admin.Get(ctx, &adminv1.GetRequest{Name: "users"}); err == nil {
		got = append(got, describedCluster(r))
	}
	if list, err := f.admin.List(ctx, &adminv1.ListRequest{}); err == nil && len(list.GetRegistrations()) == 1 {
		got = append(got, describedCluster(list.GetRegistrations()[0]))
	}
	if want := slices.Repeat([]string{"2 spare " + addrC}, 3); !slices.Equal(got, want) {
		t.Errorf("rolled back to version 2, Rollback, Get and List describe %q, want %q", got, want)
	}

	// Opened again on its store, the registry serves version 2 on spare.
	g := newFixture(t, st)
	if c := routedCluster(g.open(t, base), usersMethods[0], nil); c != "spare" {
		t.Errorf("opened again: GetUser routes to %q, want spare", c)
	}
	if r, err := g.admin.Get(ctx, &adminv1.GetRequest{Name: "users"}); err != nil || describedCluster(r) != "2 spare "+addrC {
		t.Errorf("opened again: %v, %v; want version 2 on spare", r, err)
	}
}

// A cluster is named as a config service's is: one the config file defines, and instead of
// endpoints, never with them; and a reflection source asks its first endpoint, so it takes no
// endpoint of its own. Each refusal is INVALID_ARGUMENT naming the problem and changes nothing. A
// config that drops a cluster a registration names is refused, at a reload and at a start.
func TestRegistryOnConfigClusterRejects(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st := store.NewMemory()
	f := newFixture(t, st)
	f.open(t, specOf(t, dir, clustersConfig))
	usersSet := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	ordersSet := generatedSet(t, ordersv1.File_shop_orders_v1_orders_proto)
	f.register(t, onCluster(setReq("users", usersSet), "legacy"))

	both := setReq("orders", ordersSet, addrA)
	both.Cluster = "legacy"
	reflectFrom := onCluster(reflectReq("orders", addrA, 0), "legacy")
	reflectFrom.GetReflection().Endpoint = addrA
	for _, tc := range []struct {
		name string
		req  *adminv1.RegisterRequest
		want string
	}{
		{"unknown cluster", onCluster(setReq("orders", ordersSet), "legasy"),
			`registration "orders": unknown cluster "legasy": the config file defines "legacy", "spare"`},
		{"unknown cluster for the serving registration", onCluster(setReq("users", usersSet), "nope"),
			`registration "users": unknown cluster "nope": the config file defines "legacy", "spare"`},
		{"cluster and endpoints", both,
			`registration "orders": set either cluster ("legacy") or endpoints, not both`},
		{"cluster and a reflection endpoint", reflectFrom,
			`registration "orders": reflection endpoint ` + addrA + ` is set with cluster "legacy", whose first endpoint reflection asks`},
		{"neither cluster nor endpoints", setReq("orders", ordersSet),
			`registration "orders" has no endpoints: give at least one host:port, or a cluster of the config file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.view(t)
			_, err := f.reg.Register(ctx, tc.req)
			wantStatus(t, err, codes.InvalidArgument, tc.want)
			f.unchanged(t, before)
		})
	}
	if c := routedCluster(f.reg.Current(), usersMethods[0], nil); c != "legacy" {
		t.Errorf("after the refusals, GetUser routes to %q, want legacy", c)
	}

	spareOnly := specOf(t, dir, "clusters:\n  - {name: spare, endpoints: [\""+addrC+"\"]}\n")
	const dropped = `registration "users": unknown cluster "legacy": the config file defines "spare"`
	before := f.view(t)
	if _, err := f.reg.SetBase(spareOnly); err == nil || !strings.Contains(err.Error(), dropped) {
		t.Errorf("a reload without legacy: %v, want it refused: %s", err, dropped)
	}
	f.unchanged(t, before)
	if _, err := newFixture(t, st).reg.Open(ctx, spareOnly); err == nil || !strings.Contains(err.Error(), dropped) {
		t.Errorf("a start without legacy: %v, want it refused: %s", err, dropped)
	}

	// Without clusters in the config, the refusal says so.
	empty := newFixture(t, store.NewMemory())
	empty.open(t, registry.Spec{})
	_, err := empty.reg.Register(ctx, onCluster(setReq("orders", ordersSet), "legacy"))
	wantStatus(t, err, codes.InvalidArgument, `unknown cluster "legacy": the config file defines no clusters`)
}

// A registration by reflection on a cluster reached over TLS asks the cluster's first endpoint over
// TLS, as the config file's services do, when it registers and at every refresh; the same backend
// through a plaintext cluster does not answer.
func TestRegistryReflectionOnTLSCluster(t *testing.T) {
	dir := t.TempDir()
	cert := testpki.SelfSigned(t)
	testpki.WriteKeyPair(t, dir, "users", cert)
	backend := startReflectionBackend(t, generatedFiles(t, usersv1.File_shop_users_v1_users_proto),
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	spec := specOf(t, dir, "clusters:\n"+
		"  - {name: secure, endpoints: [\""+backend.addr+"\"], tls: {enabled: true, ca_file: users.crt}}\n"+
		"  - {name: plain, endpoints: [\""+backend.addr+"\"]}\n")
	f := newFixture(t, store.NewMemory(), registry.WithReflectionTimeout(5*time.Second))
	f.open(t, spec)

	before := f.view(t)
	_, err := f.reg.Register(t.Context(), onCluster(reflectReq("users", "", 0), "plain"))
	wantStatus(t, err, codes.FailedPrecondition, `registration "users": reflection at `+backend.addr)
	f.unchanged(t, before)

	resp := f.register(t, onCluster(reflectReq("users", "", time.Second), "secure"))
	if got := describedCluster(resp.GetRegistration()); got != "1 secure "+backend.addr {
		t.Errorf("registered by reflection on secure: %q", got)
	}
	if c := routedCluster(f.reg.Current(), usersMethods[0], nil); c != "secure" {
		t.Errorf("GetUser routes to %q, want secure", c)
	}

	backend.serve(t, compiledFiles(t, usersSource(t, "bytes avatar = 12;", "bytes avatar = 12;\n  string extra = 99;")))
	recv(t, f.notify, "a snapshot with the descriptors refreshed over TLS", func(s *registry.Snapshot) bool {
		d, err := s.Files().FindDescriptorByName("shop.users.v1.User")
		return err == nil && d.(protoreflect.MessageDescriptor).Fields().ByName("extra") != nil
	})
	if v, err := f.reg.Get("users"); err != nil || v.Number != 2 || v.Cluster != "secure" || v.ReflectionEndpoint != "" {
		t.Errorf("refreshed: %+v, %v; want version 2 on secure, asking the cluster", v, err)
	}
}

// Clusters that list one address with other breaker or health check settings each get an endpoint
// of their own, which behaves as its cluster configures it, whatever the other clusters say; the
// clusters whose settings are alike share one. A reload of the same config keeps every endpoint
// with its state, every time; one that changes a cluster's settings gives it a new endpoint and
// keeps the others'.
func TestSpecEndpointSettings(t *testing.T) {
	addr, hs := testnet.Health(t)
	dir := t.TempDir()
	clusters := func(failures int) registry.Spec {
		return specOf(t, dir, "clusters:\n"+
			"  - {name: plain, endpoints: [\""+addr+"\"]}\n"+
			"  - name: checked\n"+
			"    endpoints: [\""+addr+"\"]\n"+
			"    health_check: {interval: 10ms, unhealthy_threshold: 1}\n"+
			fmt.Sprintf("    circuit_breaker: {consecutive_failures: %d, open_timeout: 1m}\n", failures)+
			"  - {name: plain-too, endpoints: [\""+addr+"\"]}\n")
	}
	spec := clusters(3)
	pool := routing.NewPool(nil, routing.WithPoolLogger(slog.New(slog.DiscardHandler)))
	defer pool.Close()
	changes, stop := pool.Subscribe()
	defer stop()
	endpointOf := func(s *registry.Snapshot, cluster string) *routing.Endpoint {
		t.Helper()
		c, ok := s.Cluster(cluster)
		if !ok || len(c.Endpoints()) != 1 {
			t.Fatalf("cluster %s: %v, want one endpoint", cluster, c)
		}
		return c.Endpoints()[0]
	}

	snap, err := registry.Compile(spec, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	plain, checked := endpointOf(snap, "plain"), endpointOf(snap, "checked")
	if endpointOf(snap, "plain-too") != plain {
		t.Error("plain and plain-too, alike, do not share their endpoint")
	}
	if checked == plain {
		t.Fatalf("checked shares plain's endpoint, whose settings are %q", plain.Stats().Settings)
	}
	const want = "health_check.interval 10ms, health_check.unhealthy_threshold 1, " +
		"circuit_breaker.consecutive_failures 3, circuit_breaker.open_timeout 1m0s"
	if got := checked.Stats().Settings; got != want {
		t.Errorf("checked's endpoint has settings %q, want %q", got, want)
	}
	if got := plain.Stats().Settings; got != "defaults" {
		t.Errorf("plain's endpoint has settings %q, want defaults", got)
	}

	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	recv(t, changes, "checked's endpoint unhealthy", func(struct{}) bool { return !checked.Stats().Healthy })
	if !plain.Stats().Healthy {
		t.Error("plain's endpoint, without health checks, is unhealthy")
	}

	for v := uint64(2); v <= 6; v++ {
		next, err := registry.Compile(spec, pool, v)
		if err != nil {
			t.Fatal(err)
		}
		snap.Retire(pool)
		snap = next
		if endpointOf(snap, "plain") != plain || endpointOf(snap, "plain-too") != plain || endpointOf(snap, "checked") != checked {
			t.Fatalf("reload %d of the same config changed an endpoint", v-1)
		}
		if st := checked.Stats(); st.Healthy || st.Settings != want {
			t.Fatalf("after reload %d, checked's endpoint: %+v, want it unhealthy with its settings", v-1, st)
		}
	}

	next, err := registry.Compile(clusters(4), pool, 7)
	if err != nil {
		t.Fatal(err)
	}
	snap.Retire(pool)
	snap = next
	if endpointOf(snap, "plain") != plain {
		t.Error("a reload that changed checked's breaker changed plain's endpoint")
	}
	if got := endpointOf(snap, "checked"); got == checked || !strings.Contains(got.Stats().Settings, "circuit_breaker.consecutive_failures 4") {
		t.Errorf("a reload that changed checked's breaker: endpoint %q, want a new one with consecutive_failures 4", got.Stats().Settings)
	}
	if n := pool.Len(); n != 2 {
		t.Errorf("%d endpoints in the pool, want 2", n)
	}
	snap.Retire(pool)
}

// A cluster's outlier_detection.panic_threshold reaches routing as written, 0 included: 0 never
// panics (routing's negative), where a threshold left out is routing's default (its 0). A written 0
// used to become the default, 50.
func TestSpecPanicThreshold(t *testing.T) {
	spec := specOf(t, t.TempDir(), "clusters:\n"+
		"  - {name: unset, endpoints: [\""+addrB+"\"]}\n"+
		"  - {name: never, endpoints: [\""+addrB+"\"], outlier_detection: {panic_threshold: 0}}\n"+
		"  - {name: forty, endpoints: [\""+addrB+"\"], outlier_detection: {panic_threshold: 40}}\n")
	got := map[string]int{}
	for _, c := range spec.Clusters {
		got[c.Name] = c.Config.PanicThreshold
	}
	if got["unset"] != 0 || got["never"] >= 0 || got["forty"] != 40 {
		t.Errorf("PanicThreshold by cluster: %v, want unset 0 (the default), never negative, forty 40", got)
	}
}
