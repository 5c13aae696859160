package registry_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
)

// versionsOf renders ListVersions as "number" or "number*" for the active one, newest first.
func versionsOf(t testing.TB, a *registry.AdminService, name string) []string {
	t.Helper()
	resp, err := a.ListVersions(t.Context(), &adminv1.ListVersionsRequest{Name: name})
	if err != nil {
		t.Fatalf("ListVersions(%s): %v", name, err)
	}
	var out []string
	for _, v := range resp.GetVersions() {
		s := strconv.FormatUint(v.GetVersion(), 10)
		if v.GetActive() {
			s += "*"
		}
		out = append(out, s)
	}
	return out
}

func TestAdminService(t *testing.T) {
	ctx := t.Context()
	created := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	f := newFixture(t, store.NewMemory(), registry.WithClock(func() time.Time { return created }))
	a := f.admin
	_, err := a.Status(ctx, &adminv1.StatusRequest{})
	wantStatus(t, err, codes.Unavailable, "no snapshot is serving yet")
	f.open(t, registry.Spec{})

	usersSet := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	reg1, err := a.Register(ctx, setReq("users", usersSet, addrA))
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Get(ctx, &adminv1.GetRequest{Name: "users"})
	if err != nil || !proto.Equal(got, reg1.GetRegistration()) {
		t.Fatalf("Get = %v, %v\nRegister answered %v", got, err, reg1.GetRegistration())
	}
	if !got.GetCreatedAt().AsTime().Equal(created) || got.GetRefreshInterval() != nil {
		t.Errorf("created_at = %v, refresh_interval = %v", got.GetCreatedAt().AsTime(), got.GetRefreshInterval())
	}
	if _, err := a.Register(ctx, setReq("users", usersSet, addrA, addrB)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Register(ctx, setReq("orders", generatedSet(t, ordersv1.File_shop_orders_v1_orders_proto), addrC)); err != nil {
		t.Fatal(err)
	}
	if v := versionsOf(t, a, "users"); !slices.Equal(v, []string{"2*", "1"}) {
		t.Errorf("users versions = %q, want newest first, 2 active", v)
	}

	list, err := a.List(ctx, &adminv1.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list.GetRegistrations() {
		names = append(names, r.GetName())
		if !r.GetActive() {
			t.Errorf("List shows %s version %d inactive", r.GetName(), r.GetVersion())
		}
	}
	if !slices.Equal(names, []string{"orders", "users"}) {
		t.Errorf("List = %q", names)
	}

	st, err := a.Status(ctx, &adminv1.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	snap := f.reg.Current()
	if st.GetSnapshotVersion() != snap.Version() || !st.GetActivatedAt().AsTime().Equal(snap.Built()) ||
		st.GetRegistrationCount() != 2 || st.GetRouteCount() != 2 || st.GetClusterCount() != 2 {
		t.Errorf("Status = %v", st)
	}
	wantServices := []*adminv1.ServiceStatus{
		{Name: orderService, Registration: "orders", MethodCount: 5, Cluster: "orders", Endpoints: []string{addrC}},
		{Name: userService, Registration: "users", MethodCount: 5, Cluster: "users", Endpoints: []string{addrA, addrB}},
	}
	if len(st.GetServices()) != len(wantServices) {
		t.Fatalf("Status services = %v", st.GetServices())
	}
	for i, want := range wantServices {
		if !proto.Equal(st.GetServices()[i], want) {
			t.Errorf("Status service %d = %v, want %v", i, st.GetServices()[i], want)
		}
	}

	rolled, err := a.Rollback(ctx, &adminv1.RollbackRequest{Name: "users"})
	if err != nil || rolled.GetVersion() != 1 || !rolled.GetActive() {
		t.Errorf("Rollback = %v, %v", rolled, err)
	}
	if v := versionsOf(t, a, "users"); !slices.Equal(v, []string{"2", "1*"}) {
		t.Errorf("users versions after rollback = %q", v)
	}
	if rolled, err = a.Rollback(ctx, &adminv1.RollbackRequest{Name: "users", Version: 2}); err != nil || rolled.GetVersion() != 2 {
		t.Errorf("Rollback to 2 = %v, %v", rolled, err)
	}

	if _, err := a.Delete(ctx, &adminv1.DeleteRequest{Name: "users"}); err != nil {
		t.Fatal(err)
	}
	_, err = a.Get(ctx, &adminv1.GetRequest{Name: "users"})
	wantStatus(t, err, codes.NotFound, `no registration named "users"`)
	if v := versionsOf(t, a, "users"); !slices.Equal(v, []string{"2", "1"}) {
		t.Errorf("users versions after Delete = %q, want the history without an active version", v)
	}
	if st, _ := a.Status(ctx, &adminv1.StatusRequest{}); st.GetRegistrationCount() != 1 || len(st.GetServices()) != 1 {
		t.Errorf("Status after Delete = %v", st)
	}
	if rolled, err = a.Rollback(ctx, &adminv1.RollbackRequest{Name: "users", Version: 1}); err != nil || rolled.GetVersion() != 1 {
		t.Errorf("re-activating a deleted registration = %v, %v", rolled, err)
	}

	// Errors: an empty name is the caller's mistake, an unknown one is not found.
	before := f.view(t)
	for name, call := range map[string]func(string) error{
		"Get":          func(n string) error { _, err := a.Get(ctx, &adminv1.GetRequest{Name: n}); return err },
		"Delete":       func(n string) error { _, err := a.Delete(ctx, &adminv1.DeleteRequest{Name: n}); return err },
		"Rollback":     func(n string) error { _, err := a.Rollback(ctx, &adminv1.RollbackRequest{Name: n}); return err },
		"ListVersions": func(n string) error { _, err := a.ListVersions(ctx, &adminv1.ListVersionsRequest{Name: n}); return err },
		"Register":     func(n string) error { _, err := a.Register(ctx, setReq(n, usersSet, addrA)); return err },
	} {
		t.Run(name, func(t *testing.T) {
			wantStatus(t, call(""), codes.InvalidArgument, "name is empty")
			if name != "Register" {
				wantStatus(t, call("nobody"), codes.NotFound, `"nobody"`)
			}
		})
	}
	_, err = a.Rollback(ctx, &adminv1.RollbackRequest{Name: "orders", Version: 5})
	wantStatus(t, err, codes.NotFound, `registration "orders" has no version 5`)
	_, err = a.Rollback(ctx, &adminv1.RollbackRequest{Name: "orders"})
	wantStatus(t, err, codes.FailedPrecondition, `registration "orders" has no version before 1`)
	f.unchanged(t, before)
}

// The admin service keeps its status codes over the wire.
func TestAdminServiceOverGRPC(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer()
	adminv1.RegisterAdminServiceServer(s, f.admin)
	go func() { _ = s.Serve(lis) }()
	defer s.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := adminv1.NewAdminServiceClient(conn)
	ctx := t.Context()

	resp, err := client.Register(ctx, setReq("users", generatedSet(t, usersv1.File_shop_users_v1_users_proto), addrA))
	if err != nil || resp.GetRegistration().GetVersion() != 1 {
		t.Fatalf("Register = %v, %v", resp, err)
	}
	if c := routedCluster(f.reg.Current(), usersMethods[0], nil); c != "users" {
		t.Errorf("GetUser routes to %q", c)
	}
	_, err = client.Get(ctx, &adminv1.GetRequest{})
	wantStatus(t, err, codes.InvalidArgument, "name is empty")
	_, err = client.Register(ctx, setReq("users", []byte("garbage"), addrA))
	wantStatus(t, err, codes.InvalidArgument, "descriptor set")
	_, err = client.Register(ctx, setReq("users-copy", generatedSet(t, usersv1.File_shop_users_v1_users_proto), addrB))
	wantStatus(t, err, codes.AlreadyExists, "provided by both")
	st, err := client.Status(ctx, &adminv1.StatusRequest{})
	if err != nil || len(st.GetServices()) != 1 || st.GetServices()[0].GetRegistration() != "users" {
		t.Errorf("Status = %v, %v", st, err)
	}
}

// The config file's services are listed and shown beside the admin API's registrations, marked as
// the config file's, a pending one included; the admin API refuses to change them or list versions
// of them, naming the config file.
func TestAdminServiceConfigServices(t *testing.T) {
	ctx := t.Context()
	orders := reserveBackend(t, "orders")
	dir := t.TempDir()
	usersSet := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	if err := os.WriteFile(filepath.Join(dir, "users.binpb"), usersSet, 0o600); err != nil {
		t.Fatal(err)
	}
	spec, err := staticSpec(t, dir, "services:\n"+
		"  - name: users\n    endpoints: [\""+addrA+"\", \""+addrB+"\"]\n    descriptor_set: users.binpb\n"+
		"  - name: orders\n    endpoints: [\""+orders.addr+"\"]\n    reflect: true\n", registry.StaticOptions{Defer: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, store.NewMemory(), registry.WithReflectionRetry(5*time.Millisecond, 20*time.Millisecond))
	f.open(t, spec)
	a := f.admin
	if _, err := a.Register(ctx, setReq("catalog", generatedSet(t, catalogv1.File_shop_catalog_v1_catalog_proto), addrC)); err != nil {
		t.Fatal(err)
	}

	list, err := a.List(ctx, &adminv1.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	regs := make(map[string]*adminv1.Registration)
	var names []string
	for _, r := range list.GetRegistrations() {
		names = append(names, r.GetName())
		regs[r.GetName()] = r
		got, err := a.Get(ctx, &adminv1.GetRequest{Name: r.GetName()})
		if err != nil || !proto.Equal(got, r) {
			t.Errorf("Get(%s) = %v, %v\nList shows %v", r.GetName(), got, err, r)
		}
	}
	if !slices.Equal(names, []string{"catalog", "orders", "users"}) {
		t.Fatalf("List = %q, want the admin API's and the config file's, pending included", names)
	}

	files, err := registry.FilesFromDescriptorSet(usersSet)
	if err != nil {
		t.Fatal(err)
	}
	users := regs["users"]
	wantUsers := &adminv1.Registration{
		Name: "users", Origin: adminv1.Origin_ORIGIN_CONFIG, Source: adminv1.SourceKind_SOURCE_KIND_DESCRIPTOR_SET,
		Cluster: "users", Endpoints: []string{addrA, addrB}, Services: []string{userService}, MethodCount: 5, Active: true,
		Digest: registry.Digest(files, []string{addrA, addrB}, []string{userService}, ""), Files: users.GetFiles(),
	}
	if !proto.Equal(users, wantUsers) || !slices.Contains(users.GetFiles(), usersProtoPath) {
		t.Errorf("config service users = %v\nwant %v", users, wantUsers)
	}
	if p := regs["orders"]; p.GetOrigin() != adminv1.Origin_ORIGIN_CONFIG || !p.GetPending() || p.GetActive() ||
		p.GetSource() != adminv1.SourceKind_SOURCE_KIND_REFLECTION || p.GetCluster() != "orders" ||
		!slices.Equal(p.GetEndpoints(), []string{orders.addr}) || !strings.Contains(p.GetPendingError(), "unavailable") ||
		p.GetDigest() != "" || p.GetMethodCount() != 0 || p.GetVersion() != 0 {
		t.Errorf("pending config service orders = %v", p)
	}
	if c := regs["catalog"]; c.GetOrigin() != adminv1.Origin_ORIGIN_ADMIN || c.GetVersion() != 1 || !c.GetActive() ||
		c.GetPending() || c.GetCluster() != "catalog" || c.GetCreatedAt() == nil {
		t.Errorf("admin registration catalog = %v", c)
	}

	// The admin API changes none of the config file's services, loaded or pending, and says why.
	before := f.view(t)
	for _, name := range []string{"users", "orders"} {
		_, err := a.Delete(ctx, &adminv1.DeleteRequest{Name: name})
		wantStatus(t, err, codes.FailedPrecondition, `registration "`+name+`" is defined in the config file`)
		_, err = a.Rollback(ctx, &adminv1.RollbackRequest{Name: name})
		wantStatus(t, err, codes.FailedPrecondition, `registration "`+name+`" is defined in the config file`)
		_, err = a.Register(ctx, setReq(name, usersSet, addrC))
		wantStatus(t, err, codes.FailedPrecondition, `registration "`+name+`" is defined in the config file`)
		_, err = a.ListVersions(ctx, &adminv1.ListVersionsRequest{Name: name})
		wantStatus(t, err, codes.FailedPrecondition, `registration "`+name+`" is defined in the config file; it has no versions`)
	}
	f.unchanged(t, before)
	if v := versionsOf(t, a, "catalog"); !slices.Equal(v, []string{"1*"}) {
		t.Errorf("catalog versions = %q", v)
	}
	_, err = a.Get(ctx, &adminv1.GetRequest{Name: "nobody"})
	wantStatus(t, err, codes.NotFound, `no registration named "nobody"`)

	// Once its backend answers, the pending service is listed as served, with its descriptors.
	orders.start()
	recv(t, f.notify, "a snapshot serving orders", func(s *registry.Snapshot) bool { return serves(s, orderService) })
	o, err := a.Get(ctx, &adminv1.GetRequest{Name: "orders"})
	if err != nil || o.GetPending() || !o.GetActive() || o.GetPendingError() != "" || o.GetMethodCount() != 5 ||
		!slices.Equal(o.GetServices(), []string{orderService}) || len(o.GetDigest()) != 64 {
		t.Errorf("orders once served = %v, %v", o, err)
	}
}
