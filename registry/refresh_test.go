package registry_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	registryv1 "github.com/protogate/gateway/gen/gateway/registry/v1"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
)

// awaitRefreshes returns once the refresher has made at least n whole refreshes that began after
// the call. A refresh opens one reflection stream, counted when it starts, and the next refresh
// starts only after the one before has applied its result; so once n+1 streams have started since
// the call, the first n of them belong to refreshes that are over.
func awaitRefreshes(t testing.TB, backend *reflectionBackend, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // bounded only to fail instead of hanging
	for want := backend.asked.Load() + n + 1; backend.asked.Load() < want; {
		if time.Now().After(deadline) {
			t.Fatal("the refresher stopped asking the backend")
		}
		time.Sleep(10 * time.Millisecond) // polling the backend's count
	}
}

func exposedNow(t testing.TB, f *fixture, name string) (uint64, []string) {
	t.Helper()
	v, err := f.reg.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return v.Number, v.Exposed
}

// The services a registration asks for are part of it: asking for them, or no longer asking, is a
// new version even when the exposed services stay the same, because the reflection refresh fetches
// only those asked for and so decides by them what later versions expose.
func TestRegistryRequestedServicesChange(t *testing.T) {
	catalogOnly := generatedFiles(t, catalogv1.File_shop_catalog_v1_catalog_proto)
	both := generatedFiles(t, catalogv1.File_shop_catalog_v1_catalog_proto, ordersv1.File_shop_orders_v1_orders_proto)
	backend := startReflectionBackend(t, catalogOnly)
	f := newFixture(t, store.NewMemory(), registry.WithReflectionTimeout(5*time.Second))
	f.open(t, registry.Spec{})
	f.register(t, reflectReq("m3", backend.addr, time.Second))

	// Asking for the only service the backend serves exposes the same: still a new version.
	narrowed := reflectReq("m3", backend.addr, time.Second, catalogService)
	narrowed.DryRun = true
	if resp := f.register(t, narrowed); !resp.GetChanged() || resp.GetRegistration().GetVersion() != 2 {
		t.Errorf("dry run of asking for %s: changed=%v, would be version %d; want a change to version 2",
			catalogService, resp.GetChanged(), resp.GetRegistration().GetVersion())
	}
	narrowed.DryRun = false
	resp := f.register(t, narrowed)
	if r := resp.GetRegistration(); !resp.GetChanged() || r.GetVersion() != 2 ||
		!slices.Equal(r.GetServices(), []string{catalogService}) || !slices.Equal(r.GetRequestedServices(), []string{catalogService}) {
		t.Fatalf("asking for %s = %v, want version 2 exposing and asking for it", catalogService, resp)
	}
	if resp := f.register(t, narrowed); resp.GetChanged() {
		t.Errorf("asking for it again = %v, want unchanged", resp)
	}

	// The backend serves another service: the refresh does not take it, as it was not asked for.
	backend.serve(t, both)
	awaitRefreshes(t, backend, 2)
	if n, exposed := exposedNow(t, f, "m3"); n != 2 || !slices.Equal(exposed, []string{catalogService}) {
		t.Fatalf("after refreshes against a backend serving both: version %d exposing %q, want version 2 exposing %s only", n, exposed, catalogService)
	}

	// No longer asking for it (while the backend serves it alone again) is a new version too, and the
	// refresh then takes every service the backend serves.
	backend.serve(t, catalogOnly)
	resp = f.register(t, reflectReq("m3", backend.addr, time.Second))
	if r := resp.GetRegistration(); !resp.GetChanged() || r.GetVersion() != 3 || len(r.GetRequestedServices()) != 0 {
		t.Fatalf("no longer asking for %s = %v, want version 3 asking for every service", catalogService, resp)
	}
	backend.serve(t, both)
	recv(t, f.notify, "a refresh exposing both services", func(s *registry.Snapshot) bool {
		return slices.Contains(s.Services(), orderService)
	})
	if n, exposed := exposedNow(t, f, "m3"); n != 4 || !slices.Equal(exposed, []string{catalogService, orderService}) {
		t.Errorf("after the refresh: version %d exposing %q, want version 4 exposing both", n, exposed)
	}
}

// The requested services survive a restart, and a version stored by an older gateway, which kept
// them as they were asked for (in any order, repeated), counts them as a set.
func TestRegistryRequestedServicesStored(t *testing.T) {
	files := generatedFiles(t, catalogv1.File_shop_catalog_v1_catalog_proto, ordersv1.File_shop_orders_v1_orders_proto)
	set, err := registry.DescriptorSetOf(files)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := proto.Marshal(&registryv1.StoredVersion{
		Name:          "shop",
		Endpoints:     []string{addrA},
		Services:      []string{orderService, catalogService, orderService},
		Source:        adminv1.SourceKind_SOURCE_KIND_DESCRIPTOR_SET,
		DescriptorSet: set,
	})
	if err != nil {
		t.Fatal(err)
	}
	mem := store.NewMemory()
	rec := store.Record{Name: "shop", Version: 1, CreatedAt: time.Unix(1700000000, 0).UTC(), Payload: payload,
		Digest: registry.Digest(files, []string{addrA}, []string{catalogService, orderService}, "")}
	if err := mem.Commit(t.Context(), "shop", 1, rec); err != nil {
		t.Fatal(err)
	}

	f := newFixture(t, mem)
	f.open(t, registry.Spec{})
	v, err := f.reg.Get("shop")
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Proto(true).GetRequestedServices(); !slices.Equal(got, []string{catalogService, orderService}) {
		t.Errorf("requested services of the stored version = %q", got)
	}
	// Its digest left the requested services out; it is computed again, counting them.
	want := registry.VersionDigest(rec.Digest, []string{catalogService, orderService}, 0, "")
	if v.Digest != want {
		t.Errorf("digest of the stored version = %.12s, want %.12s, counting the requested services", v.Digest, want)
	}
	req := setReq("shop", set, addrA)
	req.Services = []string{catalogService, orderService}
	if resp := f.register(t, req); resp.GetChanged() || resp.GetRegistration().GetDigest() != want {
		t.Errorf("the stored version's content and services again = %v, want unchanged, digest %.12s", resp, want)
	}
	// The same exposed services, no longer asked for by name: a new version, and it is stored.
	req.Services = nil
	if resp := f.register(t, req); !resp.GetChanged() || resp.GetRegistration().GetVersion() != 2 || resp.GetRegistration().GetDigest() != rec.Digest {
		t.Errorf("asking for every service = %v, want version 2 with the content's digest %.12s", resp, rec.Digest)
	}
	g := newFixture(t, mem)
	g.open(t, registry.Spec{})
	vs, active, err := g.reg.Versions("shop")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, strings.Join(v.Services, ","))
	}
	if want := []string{"", catalogService + "," + orderService}; active != 2 || !slices.Equal(got, want) {
		t.Errorf("after reopening: version %d active, versions %v ask for %q, want 2 active, asking for %q", active, versionNumbers(vs), got, want)
	}
}

// A refreshing version stored by an older gateway, whose digest left the refresh out, refreshes on
// after a restart without making a new version while its backend serves the same: the digest is
// computed again as the refresh computes it.
func TestRegistryRefreshStoredVersion(t *testing.T) {
	files := generatedFiles(t, catalogv1.File_shop_catalog_v1_catalog_proto)
	backend := startReflectionBackend(t, files)
	set, err := registry.DescriptorSetOf(files)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := proto.Marshal(&registryv1.StoredVersion{
		Name:               "mirror",
		Endpoints:          []string{backend.addr},
		Source:             adminv1.SourceKind_SOURCE_KIND_REFLECTION,
		DescriptorSet:      set,
		ReflectionEndpoint: backend.addr,
		RefreshInterval:    durationpb.New(time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	mem := store.NewMemory()
	rec := store.Record{Name: "mirror", Version: 1, CreatedAt: time.Unix(1700000000, 0).UTC(), Payload: payload,
		Digest: registry.Digest(files, []string{backend.addr}, []string{catalogService}, "")}
	if err := mem.Commit(t.Context(), "mirror", 1, rec); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, mem, registry.WithReflectionTimeout(5*time.Second))
	f.open(t, registry.Spec{})
	awaitRefreshes(t, backend, 2)
	vs, active, err := f.reg.Versions("mirror")
	if err != nil {
		t.Fatal(err)
	}
	if active != 1 || len(vs) != 1 {
		t.Errorf("after refreshes of an unchanged backend: versions %v, %d active; want version 1 alone", versionNumbers(vs), active)
	}
	if resp := f.register(t, reflectReq("mirror", backend.addr, time.Second)); resp.GetChanged() {
		t.Errorf("registering the stored version again = %v, want unchanged", resp)
	}
}

// Registering again resumes a refresh that a rollback paused, even when the backend serves what the
// active version holds: the registration makes a new version of that content, the newest, as the
// rollback's log line says.
func TestRegistryRegisterAgainResumesRefresh(t *testing.T) {
	catalogOnly := generatedFiles(t, catalogv1.File_shop_catalog_v1_catalog_proto)
	both := generatedFiles(t, catalogv1.File_shop_catalog_v1_catalog_proto, ordersv1.File_shop_orders_v1_orders_proto)
	backend := startReflectionBackend(t, catalogOnly)
	logs := make(logLines, 64)
	f := newFixture(t, store.NewMemory(), registry.WithLogger(slog.New(logs)), registry.WithReflectionTimeout(5*time.Second))
	f.open(t, registry.Spec{})
	req := reflectReq("mirror", backend.addr, time.Second)
	f.register(t, req)
	backend.serve(t, both)
	recv(t, f.notify, "the refresh to version 2", func(s *registry.Snapshot) bool { return slices.Contains(s.Services(), orderService) })

	// The rollback pauses the refresh; the backend then serves version 1's descriptors again.
	if _, err := f.reg.Rollback(t.Context(), "mirror", 1); err != nil {
		t.Fatal(err)
	}
	recv(t, logs, "the paused refresh to be logged", func(l string) bool {
		return strings.HasPrefix(l, "reflection refresh paused") && strings.Contains(l, "register again to resume")
	})
	backend.serve(t, catalogOnly)

	dry := proto.Clone(req).(*adminv1.RegisterRequest)
	dry.DryRun = true
	if resp := f.register(t, dry); !resp.GetChanged() || resp.GetRegistration().GetVersion() != 3 {
		t.Errorf("dry run of registering again = changed %v, version %d; want a change to version 3", resp.GetChanged(), resp.GetRegistration().GetVersion())
	}
	resp := f.register(t, req)
	if !resp.GetChanged() || resp.GetRegistration().GetVersion() != 3 || len(resp.GetBreakingChanges()) != 0 {
		t.Fatalf("registering again = %v, want version 3, a copy of version 1", resp)
	}
	recv(t, logs, "the resumed refresh to be logged", func(l string) bool {
		return strings.HasPrefix(l, "reflection refresh resumed")
	})
	if resp := f.register(t, req); resp.GetChanged() {
		t.Errorf("registering once more = %v, want unchanged: the refresh runs", resp)
	}

	// The refresh runs again: what the backend serves next becomes version 4.
	backend.serve(t, both)
	recv(t, f.notify, "the refresh to version 4", func(s *registry.Snapshot) bool { return slices.Contains(s.Services(), orderService) })
	if n, exposed := exposedNow(t, f, "mirror"); n != 4 || !slices.Equal(exposed, []string{catalogService, orderService}) {
		t.Errorf("after the resumed refresh: version %d exposing %q, want version 4 exposing both", n, exposed)
	}
}
