package registry_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/protogate/gateway/examples/shop"
	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/routing"
)

// laterBackend is a shop service on a loopback port reserved at once and served only from start on:
// until then (and after stop) the port refuses connections, as a backend that is down.
type laterBackend struct {
	t       testing.TB
	service string
	addr    string
	srv     *grpc.Server
}

func reserveBackend(t testing.TB, service string) *laterBackend {
	t.Helper()
	b := &laterBackend{t: t, service: service, addr: testnet.Refused(t)}
	t.Cleanup(b.stop)
	return b
}

func (b *laterBackend) start() {
	b.t.Helper()
	lis := testnet.Listen(b.t, b.addr)
	var err error
	if b.srv, err = shop.NewServer(b.service, shop.Options{}); err != nil {
		b.t.Fatal(err)
	}
	go func() { _ = b.srv.Serve(lis) }()
}

func (b *laterBackend) stop() {
	if b.srv != nil {
		b.srv.Stop()
		b.srv = nil
	}
}

// staticSpec is what the gateway makes of a config file: SpecFromConfig plus StaticRegistrations.
func staticSpec(t testing.TB, dir, text string, o registry.StaticOptions) (registry.Spec, error) {
	t.Helper()
	cfg, spec := parseSpec(t, dir, text)
	o.Timeout = 5 * time.Second
	var err error
	spec.Registrations, spec.Pending, err = registry.StaticRegistrations(t.Context(), cfg, o)
	return spec, err
}

func serves(snap *registry.Snapshot, service string) bool {
	return slices.Contains(snap.Services(), service)
}

// A config service with reflection whose backend is down: at start it is pending while the rest
// serves, and it serves once the backend answers; a reload keeps an unchanged section's descriptors
// (or its pending state) without asking the backend, and refuses a changed one the backend cannot
// answer for.
func TestConfigReflectionService(t *testing.T) {
	orders := reserveBackend(t, "orders")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.binpb"), generatedSet(t, usersv1.File_shop_users_v1_users_proto), 0o600); err != nil {
		t.Fatal(err)
	}
	base := "services:\n" +
		"  - name: users\n    endpoints: [\"" + addrA + "\"]\n    descriptor_set: users.binpb\n" +
		"  - name: orders\n    endpoints: [\"" + orders.addr + "\"]\n    reflect: true\n"
	unrelated := base + "clusters:\n  - name: spare\n    endpoints: [\"" + addrB + "\"]\n"
	changed := strings.Replace(base, "reflect: true\n", "reflect: true\n    services: [shop.orders.v1.OrderService]\n", 1)

	if _, err := staticSpec(t, dir, base, registry.StaticOptions{}); err == nil ||
		!strings.Contains(err.Error(), `service "orders": reflection at `+orders.addr+`: unavailable`) {
		t.Fatalf("without Defer, a backend that is down = %v, want the service named", err)
	}
	spec, err := staticSpec(t, dir, base, registry.StaticOptions{Defer: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Pending) != 1 || spec.Pending[0].Registration.Name != "orders" || spec.Pending[0].Err == nil {
		t.Fatalf("pending = %+v, want orders with its error", spec.Pending)
	}

	logs := make(logLines, 256)
	f := newFixture(t, store.NewMemory(), registry.WithLogger(slog.New(logs)),
		registry.WithReflectionRetry(5*time.Millisecond, 20*time.Millisecond))
	snap := f.open(t, spec)
	if !serves(snap, userService) || serves(snap, orderService) {
		t.Fatalf("first snapshot serves %q, want users only", snap.Services())
	}
	recv(t, logs, "a warning about the pending service", func(l string) bool {
		return strings.HasPrefix(l, "config service not served yet") && strings.Contains(l, "name=orders")
	})
	st, err := f.admin.Status(t.Context(), &adminv1.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if p := st.GetPending(); len(p) != 1 || p[0].GetName() != "orders" || p[0].GetEndpoint() != orders.addr || !strings.Contains(p[0].GetError(), "unavailable") {
		t.Errorf("status lists pending %v, want orders at %s with its error", p, orders.addr)
	}
	if _, err := f.reg.Register(t.Context(), setReq("orders", generatedSet(t, usersv1.File_shop_users_v1_users_proto), addrC)); err == nil {
		t.Error("the admin API registered a name the config file holds (pending)")
	}

	// While the backend is down: an unrelated change applies and the service stays pending; a change
	// of its section is refused.
	spec, err = staticSpec(t, dir, unrelated, registry.StaticOptions{Previous: f.reg.Base()})
	if err != nil {
		t.Fatalf("reload of an unrelated setting while the backend is down: %v", err)
	}
	if snap, err = f.reg.SetBase(spec); err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Cluster("spare"); !ok || serves(snap, orderService) || len(f.reg.Base().Pending) != 1 {
		t.Fatalf("after the reload: services %q, pending %d", snap.Services(), len(f.reg.Base().Pending))
	}
	if _, err := staticSpec(t, dir, changed, registry.StaticOptions{Previous: f.reg.Base()}); err == nil ||
		!strings.Contains(err.Error(), `service "orders": section changed`) {
		t.Fatalf("reload of the changed section while the backend is down = %v, want refused", err)
	}
	stale, err := staticSpec(t, dir, base, registry.StaticOptions{Previous: f.reg.Base()}) // read before the backend answers
	if err != nil {
		t.Fatal(err)
	}

	orders.start()
	snap = recv(t, f.notify, "a snapshot serving orders", func(s *registry.Snapshot) bool { return serves(s, orderService) })
	if !serves(snap, userService) || len(f.reg.Pending()) != 0 {
		t.Fatalf("once the backend answered: services %q, pending %v", snap.Services(), f.reg.Pending())
	}
	// A reload built while the service was pending keeps the descriptors it got meanwhile.
	if snap, err = f.reg.SetBase(stale); err != nil || !serves(snap, orderService) || len(f.reg.Base().Pending) != 0 {
		t.Fatalf("reload read while pending, applied after: %v, services %q, pending %d", err, snap.Services(), len(f.reg.Base().Pending))
	}

	orders.stop()
	loaded := f.reg.Base().Registrations
	spec, err = staticSpec(t, dir, unrelated, registry.StaticOptions{Previous: f.reg.Base()})
	if err != nil {
		t.Fatalf("reload of an unrelated setting after the backend went down: %v", err)
	}
	if i := slices.IndexFunc(spec.Registrations, func(r *registry.Registration) bool { return r.Name == "orders" }); i < 0 ||
		!slices.ContainsFunc(loaded, func(r *registry.Registration) bool { return r.Files == spec.Registrations[i].Files }) {
		t.Fatal("the unchanged section did not keep the descriptors it had")
	}
	if snap, err = f.reg.SetBase(spec); err != nil || !serves(snap, orderService) {
		t.Fatalf("after the reload: %v, services %q", err, snap.Services())
	}
	if _, err := staticSpec(t, dir, changed, registry.StaticOptions{Previous: f.reg.Base()}); err == nil ||
		!strings.Contains(err.Error(), `service "orders": section changed, so its descriptors are fetched again: reflection at `+orders.addr) {
		t.Fatalf("reload of the changed section while the backend is down = %v, want refused", err)
	}
	if !serves(f.reg.Current(), orderService) {
		t.Error("after a refused reload the service is no longer served")
	}
}

// A config service records the files on disk its descriptors were read from: its descriptor set,
// or its .proto files and what they import from its import paths (not the google files the gateway
// links); one fetched by reflection, none.
func TestConfigSourceFiles(t *testing.T) {
	dir := t.TempDir()
	set := filepath.Join(dir, "users.binpb")
	if err := os.WriteFile(set, generatedSet(t, usersv1.File_shop_users_v1_users_proto), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(protoRoot)
	if err != nil {
		t.Fatal(err)
	}
	users := reserveBackend(t, "users")
	users.start()
	spec, err := staticSpec(t, dir, "services:\n"+
		"  - name: set\n    endpoints: [\""+addrA+"\"]\n    descriptor_set: users.binpb\n"+
		"  - name: sources\n    endpoints: [\""+addrB+"\"]\n"+
		"    protos: [\""+filepath.Join(root, "shop/orders/v1/orders.proto")+"\"]\n    import_paths: [\""+root+"\"]\n"+
		"  - name: reflected\n    endpoints: [\""+users.addr+"\"]\n    reflect: true\n", registry.StaticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"set":       {set},
		"sources":   {filepath.Join(root, "shop/common/v1/money.proto"), filepath.Join(root, "shop/orders/v1/orders.proto")},
		"reflected": nil,
	}
	for _, reg := range spec.Registrations {
		if got := reg.SourceFiles(); !slices.Equal(got, want[reg.Name]) {
			t.Errorf("%s: SourceFiles() = %q, want %q", reg.Name, got, want[reg.Name])
		}
	}
	if len(spec.Registrations) != len(want) {
		t.Errorf("%d registrations, want %d", len(spec.Registrations), len(want))
	}
}

// A problem Compile finds with a config service starts with the place in the file of the entry at
// fault, as the config's own problems do: the name in its services list that its descriptors lack,
// or the later of two services that claim one thing, whose message places the other one too.
func TestConfigServiceProblemsPlaced(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.binpb"), generatedSet(t, usersv1.File_shop_users_v1_users_proto), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "people.proto"), []byte(typeCollision), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "gateway.yaml")
	users := "  - name: users\n    endpoints: [\"" + addrA + "\"]\n    descriptor_set: users.binpb\n"
	for _, tc := range []struct {
		name, config, want string
		conflict, placed   bool
	}{
		{"a service its descriptors lack", "services:\n" + users + "    services: [shop.users.v1.UserService, shop.users.v1.UserServce]\n",
			file + ":5:43: services[0].services[1]: registration \"users\": service shop.users.v1.UserServce is not in its descriptors", false, true},
		{"one service claimed twice", "services:\n" + users + "  - name: users2\n    endpoints: [\"" + addrB + "\"]\n    descriptor_set: users.binpb\n",
			file + ":5:5: services[1]: conflict: service shop.users.v1.UserService is provided by both registration \"users\" (" +
				file + ":2:5: services[0]) and \"users2\"", true, true},
		{"one GraphQL name claimed twice", "services:\n" + users + "  - name: people\n    endpoints: [\"" + addrB + "\"]\n    protos: [people.proto]\n",
			"conflict: GraphQL type User for acme.people.v1.User (registration \"people\" (" + file + ":5:5: services[1])) " +
				"is already taken by shop.users.v1.User (registration \"users\" (" + file + ":2:5: services[0]))", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := staticSpec(t, dir, tc.config, registry.StaticOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = registry.Compile(spec, routing.NewPool(nil, routing.WithPoolOffline()), 1)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Compile: %v\nwant an error starting %s", err, tc.want)
			}
			if errors.Is(err, registry.ErrConflict) != tc.conflict {
				t.Errorf("errors.Is(err, ErrConflict) = %t, want %t", !tc.conflict, tc.conflict)
			}
			if _, placed := errors.AsType[*registry.ServiceError](err); placed != tc.placed {
				t.Errorf("err is a *ServiceError: %t, want %t", placed, tc.placed)
			}
		})
	}
}
