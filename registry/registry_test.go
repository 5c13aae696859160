package registry_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protogate/gateway/config"
	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	commonv1 "github.com/protogate/gateway/gen/shop/common/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/transcoder"
)

// Upstream addresses nothing listens on: the pool dials lazily and no test here calls through a
// snapshot, so they are never connected to.
const (
	addrA = "127.0.0.1:41001"
	addrB = "127.0.0.1:41002"
	addrC = "127.0.0.1:41003"
)

const (
	userService    = "shop.users.v1.UserService"
	orderService   = "shop.orders.v1.OrderService"
	catalogService = "shop.catalog.v1.CatalogService"
	usersProtoPath = "shop/users/v1/users.proto"
)

// usersMethods are the full method names of the shop's UserService.
var usersMethods = []string{
	"/shop.users.v1.UserService/GetUser",
	"/shop.users.v1.UserService/ListUsers",
	"/shop.users.v1.UserService/CreateUser",
	"/shop.users.v1.UserService/UpdateUser",
	"/shop.users.v1.UserService/BatchGetUsers",
}

// fixture is a Registry over a store, with a publish callback that records every snapshot and,
// as the server does, retires the one it replaces (at once: no call is ever in flight here). So
// the pool holds exactly the endpoints of the current snapshot, which lets tests check that a
// failed change acquires nothing.
type fixture struct {
	store store.Store
	pool  *routing.Pool
	reg   *registry.Registry
	admin *registry.AdminService

	mu        sync.Mutex
	published []*registry.Snapshot
	notify    chan *registry.Snapshot // every published snapshot, if there is room
}

func newFixture(t testing.TB, st store.Store, opts ...registry.Option) *fixture {
	t.Helper()
	f := &fixture{store: st, pool: routing.NewPool(nil), notify: make(chan *registry.Snapshot, 256)}
	opts = append([]registry.Option{registry.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	f.reg = registry.New(st, f.pool, f.publish, opts...)
	f.admin = registry.NewAdminService(f.reg)
	t.Cleanup(func() {
		f.reg.Close()
		_ = f.pool.Close()
	})
	return f
}

func (f *fixture) publish(s *registry.Snapshot) {
	f.mu.Lock()
	if n := len(f.published); n > 0 {
		f.published[n-1].Retire(f.pool)
	}
	f.published = append(f.published, s)
	f.mu.Unlock()
	select {
	case f.notify <- s:
	default:
	}
}

func (f *fixture) publishedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.published)
}

func (f *fixture) last() *registry.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.published) == 0 {
		return nil
	}
	return f.published[len(f.published)-1]
}

func (f *fixture) open(t testing.TB, base registry.Spec) *registry.Snapshot {
	t.Helper()
	snap, err := f.reg.Open(t.Context(), base)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return snap
}

func (f *fixture) register(t testing.TB, req *adminv1.RegisterRequest) *adminv1.RegisterResponse {
	t.Helper()
	resp, err := f.reg.Register(t.Context(), req)
	if err != nil {
		t.Fatalf("Register %q: %v", req.GetName(), err)
	}
	return resp
}

func (f *fixture) state(t testing.TB) store.State {
	t.Helper()
	st, err := f.store.Load(t.Context())
	if err != nil {
		t.Fatalf("store Load: %v", err)
	}
	return st
}

// view is what a refused change must leave as it was.
type view struct {
	current   *registry.Snapshot
	version   uint64
	published int
	list      []string
	state     store.State
	pooled    int
}

func (f *fixture) view(t testing.TB) view {
	t.Helper()
	v := view{current: f.reg.Current(), published: f.publishedCount(), state: f.state(t), pooled: f.pool.Len()}
	if v.current != nil {
		v.version = v.current.Version()
	}
	v.list = listing(f.reg)
	return v
}

func (f *fixture) unchanged(t testing.TB, before view) {
	t.Helper()
	after := f.view(t)
	if after.current != before.current || after.version != before.version {
		t.Errorf("Current() changed: snapshot %d -> %d", before.version, after.version)
	}
	if after.published != before.published {
		t.Errorf("%d snapshot(s) published", after.published-before.published)
	}
	if !slices.Equal(after.list, before.list) {
		t.Errorf("List() = %q, was %q", after.list, before.list)
	}
	if !reflect.DeepEqual(after.state, before.state) {
		t.Errorf("store changed:\n%+v\nwas\n%+v", after.state.Active, before.state.Active)
	}
	if after.pooled != before.pooled {
		t.Errorf("pool holds %d endpoints, held %d: a refused change kept endpoints", after.pooled, before.pooled)
	}
}

// listing renders List() as "name@version digest-prefix", by name.
func listing(r *registry.Registry) []string {
	var out []string
	for _, v := range r.List() {
		out = append(out, fmt.Sprintf("%s@%d %.12s", v.Name, v.Number, v.Digest))
	}
	return out
}

func setReq(name string, set []byte, endpoints ...string) *adminv1.RegisterRequest {
	return &adminv1.RegisterRequest{Name: name, Endpoints: endpoints, Source: &adminv1.RegisterRequest_DescriptorSet{DescriptorSet: set}}
}

func protosReq(name string, files map[string]string, entryPoints []string, endpoints ...string) *adminv1.RegisterRequest {
	return &adminv1.RegisterRequest{Name: name, Endpoints: endpoints, Source: &adminv1.RegisterRequest_Protos{
		Protos: &adminv1.ProtoSources{Files: files, EntryPoints: entryPoints},
	}}
}

func reflectReq(name, endpoint string, refresh time.Duration, services ...string) *adminv1.RegisterRequest {
	src := &adminv1.ReflectionSource{}
	if refresh > 0 {
		src.RefreshInterval = durationpb.New(refresh)
	}
	return &adminv1.RegisterRequest{Name: name, Endpoints: []string{endpoint}, Services: services,
		Source: &adminv1.RegisterRequest_Reflection{Reflection: src}}
}

// generatedSet is the descriptor set of generated files and everything they import, as FilesOf
// collects them and DescriptorSetOf serializes them: no source info.
func generatedSet(t testing.TB, fds ...protoreflect.FileDescriptor) []byte {
	t.Helper()
	set, err := registry.DescriptorSetOf(generatedFiles(t, fds...))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func generatedFiles(t testing.TB, fds ...protoreflect.FileDescriptor) *protoregistry.Files {
	t.Helper()
	files, err := registry.FilesOf(fds...)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// compiledFiles compiles .proto sources keyed by import path.
func compiledFiles(t testing.TB, sources map[string]string) *protoregistry.Files {
	t.Helper()
	files, err := registry.FilesFromProtos(context.Background(), sources, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return files
}

// compiledSet is the descriptor set of compiled .proto sources, source info included.
func compiledSet(t testing.TB, sources map[string]string) []byte {
	t.Helper()
	set, err := registry.DescriptorSetOf(compiledFiles(t, sources))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// usersSource is the shop's users.proto with each old text of edits (old, new, old, new...)
// replaced by its new one.
func usersSource(t testing.TB, edits ...string) map[string]string {
	t.Helper()
	src := shopSources(t)[usersProtoPath]
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(src, edits[i]) {
			t.Fatalf("users.proto has no %q", edits[i])
		}
		src = strings.Replace(src, edits[i], edits[i+1], 1)
	}
	return map[string]string{usersProtoPath: src}
}

func wantStatus(t testing.TB, err error, code codes.Code, substrings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v", code)
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("err %q is not a gRPC status", err)
	}
	if st.Code() != code {
		t.Errorf("code = %v, want %v; message: %s", st.Code(), code, st.Message())
	}
	for _, s := range substrings {
		if !strings.Contains(st.Message(), s) {
			t.Errorf("message does not name %q:\n%s", s, st.Message())
		}
	}
}

// routedCluster returns the name of the cluster snap routes a call of method to, or "" when no
// route matches.
func routedCluster(snap *registry.Snapshot, method string, h routing.Headers) string {
	r := snap.Routes().Match(method, h)
	if r == nil {
		return ""
	}
	return r.PickCluster().Name()
}

func clusterAddrs(t testing.TB, snap *registry.Snapshot, name string) []string {
	t.Helper()
	c, ok := snap.Cluster(name)
	if !ok {
		t.Fatalf("snapshot %d has no cluster %q", snap.Version(), name)
	}
	var out []string
	for _, ep := range c.Endpoints() {
		out = append(out, ep.Addr())
	}
	slices.Sort(out)
	return out
}

func versionNumbers(vs []*registry.Version) []uint64 {
	out := make([]uint64, len(vs))
	for i, v := range vs {
		out[i] = v.Number
	}
	return out
}

func TestRegistryLifecycle(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, store.NewMemory())
	snap0 := f.open(t, registry.Spec{})
	if snap0.Version() != 1 || len(snap0.Services()) != 0 || f.publishedCount() != 1 {
		t.Fatalf("empty Open: snapshot %d with %q, %d published", snap0.Version(), snap0.Services(), f.publishedCount())
	}
	set := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	files, err := registry.FilesFromDescriptorSet(set)
	if err != nil {
		t.Fatal(err)
	}

	// Version 1.
	resp := f.register(t, setReq("users", set, addrA))
	got := resp.GetRegistration()
	if !resp.GetChanged() || got.GetVersion() != 1 || !got.GetActive() || got.GetName() != "users" {
		t.Fatalf("first Register = %v", resp)
	}
	if got.GetSource() != adminv1.SourceKind_SOURCE_KIND_DESCRIPTOR_SET || got.GetMethodCount() != 5 ||
		!slices.Equal(got.GetServices(), []string{userService}) || !slices.Equal(got.GetEndpoints(), []string{addrA}) {
		t.Errorf("registration = %v", got)
	}
	if want := registry.Digest(files, []string{addrA}, []string{userService}, ""); got.GetDigest() != want {
		t.Errorf("digest = %s, want Digest(files, endpoints, services) = %s", got.GetDigest(), want)
	}
	if !slices.Contains(got.GetFiles(), usersProtoPath) {
		t.Errorf("files = %q", got.GetFiles())
	}
	snap1 := f.last()
	if f.publishedCount() != 2 || f.reg.Current() != snap1 || snap1.Version() != 2 {
		t.Fatalf("after Register: %d published, current %d", f.publishedCount(), f.reg.Current().Version())
	}
	if !slices.Contains(snap1.Services(), userService) {
		t.Errorf("services = %q", snap1.Services())
	}
	for _, m := range usersMethods {
		if c := routedCluster(snap1, m, nil); c != "users" {
			t.Errorf("%s routes to cluster %q, want the registration's cluster %q", m, c, "users")
		}
		if kind, known, ok := snap1.Method(m); kind != routing.KindUnary || !known || !ok {
			t.Errorf("Method(%s) = %v, %v, %v", m, kind, known, ok)
		}
	}
	if addrs := clusterAddrs(t, snap1, "users"); !slices.Equal(addrs, []string{addrA}) {
		t.Errorf("cluster users = %q", addrs)
	}
	if v, err := f.reg.Get("users"); err != nil || v.Number != 1 {
		t.Errorf("Get = %v, %v", v, err)
	}

	// The same again: nothing changes.
	resp = f.register(t, setReq("users", set, addrA))
	if resp.GetChanged() || resp.GetRegistration().GetVersion() != 1 || !resp.GetRegistration().GetActive() {
		t.Errorf("identical Register = %v, want unchanged version 1", resp)
	}
	if f.publishedCount() != 2 || f.reg.Current() != snap1 {
		t.Error("an identical Register published a snapshot")
	}

	// Version 2: a second endpoint.
	resp = f.register(t, setReq("users", set, addrA, addrB))
	if !resp.GetChanged() || resp.GetRegistration().GetVersion() != 2 || len(resp.GetBreakingChanges()) != 0 {
		t.Fatalf("update = %v", resp)
	}
	if addrs := clusterAddrs(t, f.reg.Current(), "users"); !slices.Equal(addrs, []string{addrA, addrB}) {
		t.Errorf("cluster users after update = %q", addrs)
	}
	if f.pool.Len() != 2 {
		t.Errorf("pool holds %d endpoints, want 2", f.pool.Len())
	}

	// Rollback to the version before the active one, then to an explicit one.
	for _, step := range []struct {
		to, want uint64
		addrs    []string
	}{
		{0, 1, []string{addrA}},
		{2, 2, []string{addrA, addrB}},
		{1, 1, []string{addrA}},
	} {
		before := f.publishedCount()
		v, err := f.reg.Rollback(ctx, "users", step.to)
		if err != nil || v.Number != step.want {
			t.Fatalf("Rollback(%d) = %v, %v; want version %d", step.to, v, err, step.want)
		}
		if active, err := f.reg.Get("users"); err != nil || active.Number != step.want {
			t.Errorf("after Rollback(%d): Get = %v, %v", step.to, active, err)
		}
		if f.publishedCount() != before+1 {
			t.Errorf("Rollback(%d) published %d snapshots", step.to, f.publishedCount()-before)
		}
		if addrs := clusterAddrs(t, f.reg.Current(), "users"); !slices.Equal(addrs, step.addrs) {
			t.Errorf("after Rollback(%d): cluster users = %q, want %q", step.to, addrs, step.addrs)
		}
		if st := f.state(t); st.Active["users"] != step.want {
			t.Errorf("after Rollback(%d): store has version %d active", step.to, st.Active["users"])
		}
	}
	before := f.view(t)
	if v, err := f.reg.Rollback(ctx, "users", 1); err != nil || v.Number != 1 {
		t.Errorf("Rollback to the active version = %v, %v", v, err)
	}
	f.unchanged(t, before)
	_, err = f.reg.Rollback(ctx, "users", 0)
	wantStatus(t, err, codes.FailedPrecondition, "no version before 1")
	_, err = f.reg.Rollback(ctx, "users", 9)
	wantStatus(t, err, codes.NotFound, "no version 9")
	_, err = f.reg.Rollback(ctx, "nobody", 0)
	wantStatus(t, err, codes.NotFound, `"nobody"`)
	f.unchanged(t, before)

	// Delete: nothing of it is served, its history stays.
	if _, err := f.reg.Delete(ctx, "users"); err != nil {
		t.Fatal(err)
	}
	snapDel := f.reg.Current()
	if slices.Contains(snapDel.Services(), userService) {
		t.Errorf("deleted service still listed: %q", snapDel.Services())
	}
	for _, m := range usersMethods {
		if r := snapDel.Routes().Match(m, nil); r != nil {
			t.Errorf("%s still routes (route %q)", m, r.Name)
		}
		if kind, known, ok := snapDel.Method(m); kind != routing.KindUnknown || known || ok {
			t.Errorf("Method(%s) = %v, %v, %v after Delete", m, kind, known, ok)
		}
	}
	_, err = f.reg.Get("users")
	wantStatus(t, err, codes.NotFound, `"users"`)
	if len(f.reg.List()) != 0 {
		t.Errorf("List after Delete = %q", listing(f.reg))
	}
	versions, active, err := f.reg.Versions("users")
	if err != nil || active != 0 || !slices.Equal(versionNumbers(versions), []uint64{2, 1}) {
		t.Errorf("Versions after Delete = %v, active %d, %v", versionNumbers(versions), active, err)
	}
	if st := f.state(t); len(st.Records) != 2 {
		t.Errorf("store holds %d records after Delete, want the 2 versions", len(st.Records))
	} else if _, ok := st.Active["users"]; ok {
		t.Errorf("store still has users active: %v", st.Active)
	}
	if f.pool.Len() != 0 {
		t.Errorf("pool holds %d endpoints with nothing registered", f.pool.Len())
	}
	// Deleting it again changes nothing, and is no error (as HTTP DELETE is idempotent); a name
	// never registered is not found.
	afterDel := f.view(t)
	if changed, err := f.reg.Delete(ctx, "users"); changed || err != nil {
		t.Errorf("Delete of a deleted registration = %v, %v; want unchanged, no error", changed, err)
	}
	f.unchanged(t, afterDel)
	_, err = f.reg.Delete(ctx, "nobody")
	wantStatus(t, err, codes.NotFound, `"nobody"`)
	_, err = f.reg.Rollback(ctx, "users", 0)
	wantStatus(t, err, codes.FailedPrecondition, "deleted")

	// Registering again continues the history.
	resp = f.register(t, setReq("users", set, addrA))
	if !resp.GetChanged() || resp.GetRegistration().GetVersion() != 3 {
		t.Errorf("Register after Delete = %v, want version 3", resp)
	}
	if c := routedCluster(f.reg.Current(), usersMethods[0], nil); c != "users" {
		t.Errorf("GetUser routes to %q after registering again", c)
	}

	// A dry run reports what would happen and changes nothing.
	before = f.view(t)
	dry := setReq("users", set, addrB)
	dry.DryRun = true
	resp = f.register(t, dry)
	if !resp.GetChanged() || resp.GetRegistration().GetVersion() != 4 || resp.GetRegistration().GetActive() {
		t.Errorf("dry run = %v, want changed, version 4, not active", resp)
	}
	dry = setReq("users", set, addrA)
	dry.DryRun = true
	if resp = f.register(t, dry); resp.GetChanged() {
		t.Errorf("dry run of the active content = %v, want unchanged", resp)
	}
	f.unchanged(t, before)
	if versions, _, _ := f.reg.Versions("users"); len(versions) != 3 {
		t.Errorf("a dry run added a version: %v", versionNumbers(versions))
	}

	// After Close nothing more is accepted.
	f.reg.Close()
	_, err = f.reg.Register(ctx, setReq("users", set, addrB))
	wantStatus(t, err, codes.Unavailable, "shutting down")
	f.unchanged(t, before)
}

// Every source gives a working registration, and equal descriptors give equal digests whatever
// their source. Digest's doc: source info counts, so .proto sources equal a set uploaded with source
// info, and the generated descriptors (what reflection serves too) equal each other, not those.
func TestRegistrySources(t *testing.T) {
	addr := startShop(t, "users")
	usersFD := usersv1.File_shop_users_v1_users_proto
	withSourceInfo := compiledSet(t, usersSource(t))

	for _, tc := range []struct {
		name       string
		req        *adminv1.RegisterRequest
		source     adminv1.SourceKind
		sourceInfo bool
	}{
		{"descriptor set without imports", setReq("users", marshal(t, descriptorSet(false, usersFD)), addr), adminv1.SourceKind_SOURCE_KIND_DESCRIPTOR_SET, false},
		{"descriptor set with imports", setReq("users", generatedSet(t, usersFD), addr), adminv1.SourceKind_SOURCE_KIND_DESCRIPTOR_SET, false},
		{"reflection", reflectReq("users", addr, 0), adminv1.SourceKind_SOURCE_KIND_REFLECTION, false},
		{"reflection, service named", reflectReq("users", addr, 0, userService), adminv1.SourceKind_SOURCE_KIND_REFLECTION, false},
		{"descriptor set with source info", setReq("users", withSourceInfo, addr), adminv1.SourceKind_SOURCE_KIND_DESCRIPTOR_SET, true},
		{"proto sources", protosReq("users", shopSources(t), []string{usersProtoPath}, addr), adminv1.SourceKind_SOURCE_KIND_PROTO_SOURCES, true},
		{"proto sources, users only", protosReq("users", usersSource(t), nil, addr), adminv1.SourceKind_SOURCE_KIND_PROTO_SOURCES, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, store.NewMemory())
			f.open(t, registry.Spec{})
			got := f.register(t, tc.req).GetRegistration()
			if got.GetSource() != tc.source || got.GetVersion() != 1 || got.GetMethodCount() != 5 ||
				!slices.Equal(got.GetServices(), []string{userService}) {
				t.Errorf("registration = %v", got)
			}
			if c := routedCluster(f.reg.Current(), usersMethods[0], nil); c != "users" {
				t.Errorf("GetUser routes to %q", c)
			}
			v, err := f.reg.Get("users")
			if err != nil {
				t.Fatal(err)
			}
			// The services asked for count too (none but in one case).
			digest := func(files *protoregistry.Files) string {
				return registry.VersionDigest(registry.Digest(files, []string{addr}, []string{userService}, ""), tc.req.GetServices(), 0, "")
			}
			if want := digest(v.Files); got.GetDigest() != want {
				t.Errorf("digest %s is not Digest of its files (%s)", got.GetDigest(), want)
			}
			generated, err := registry.FilesFromDescriptorSet(marshal(t, descriptorSet(false, usersFD)))
			if err != nil {
				t.Fatal(err)
			}
			sameAsGenerated := got.GetDigest() == digest(generated)
			compiled, err := registry.FilesFromDescriptorSet(withSourceInfo)
			if err != nil {
				t.Fatal(err)
			}
			sameAsCompiled := got.GetDigest() == digest(compiled)
			if sameAsGenerated == tc.sourceInfo || sameAsCompiled != tc.sourceInfo {
				t.Errorf("digest equals the generated set's: %v, the compiled set's: %v; source info: %v",
					sameAsGenerated, sameAsCompiled, tc.sourceInfo)
			}
		})
	}

	// Equal content from another source is no change.
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	f.register(t, protosReq("users", usersSource(t), nil, addr))
	if resp := f.register(t, setReq("users", withSourceInfo, addr)); resp.GetChanged() {
		t.Errorf("the compiled set after the same .proto sources = %v, want unchanged", resp)
	}
	f.register(t, reflectReq("users", addr, 0))
	if resp := f.register(t, setReq("users", marshal(t, descriptorSet(false, usersFD)), addr)); resp.GetChanged() {
		t.Errorf("the generated set after reflection = %v, want unchanged", resp)
	}
}

// The small .proto files registered next to the shop's users to collide with them in one way each.
var (
	restCollision = `syntax = "proto3";
package acme.rest.v1;
import "google/api/annotations.proto";
service RestService {
  rpc FindAccount(FindAccountRequest) returns (FindAccountResponse) {
    option (google.api.http) = {get: "/v1/users/{x}"};
  }
}
message FindAccountRequest { string x = 1; }
message FindAccountResponse { string x = 1; }
`
	typeCollision = `syntax = "proto3";
package acme.people.v1;
service PeopleService {
  rpc FindPerson(FindPersonRequest) returns (User);
}
message FindPersonRequest { string id = 1; }
message User { string id = 1; }
`
	rootFieldCollision = `syntax = "proto3";
package acme.root.v1;
service RootService {
  rpc GetUser(RootLookupRequest) returns (RootLookupResponse);
}
message RootLookupRequest { string id = 1; }
message RootLookupResponse { string id = 1; }
`
	extraProto = `syntax = "proto3";
package acme.extra.v1;
service ExtraService {
  rpc GetExtra(GetExtraRequest) returns (Extra);
}
message GetExtraRequest { string id = 1; }
message Extra { string id = 1; }
`
	impostor = `syntax = "proto3";
package shop.users.v1;
service ImpostorService {
  rpc Impersonate(User) returns (User);
}
message User { string id = 1; }
`
	missingRuleField = `syntax = "proto3";
package acme.rule.v1;
import "google/api/annotations.proto";
service RuleService {
  rpc FetchRule(FetchRuleRequest) returns (FetchRuleResponse) {
    option (google.api.http) = {get: "/v1/rules/{rule_id}"};
  }
}
message FetchRuleRequest { string id = 1; }
message FetchRuleResponse { string id = 1; }
`
	syntaxError = `syntax = "proto3";
package acme.bad.v1;
message Broken {
  string a = 1
}
`
	missingImport = `syntax = "proto3";
package acme.imp.v1;
import "acme/missing/v1/missing.proto";
service ImpService {
  rpc Imp(acme.missing.v1.Missing) returns (acme.missing.v1.Missing);
}
`
)

func TestRegistryRejects(t *testing.T) {
	const reflectTimeout = time.Second
	shopAddr := startShop(t, "users")
	usersSet := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	f := newFixture(t, store.NewMemory(), registry.WithReflectionTimeout(reflectTimeout))
	f.open(t, registry.Spec{})
	f.register(t, setReq("users", usersSet, addrA))
	f.register(t, setReq("orders", generatedSet(t, ordersv1.File_shop_orders_v1_orders_proto), addrB))

	one := func(path, src string) map[string]string { return map[string]string{path: src} }
	withServices := func(req *adminv1.RegisterRequest, services ...string) *adminv1.RegisterRequest {
		req.Services = services
		return req
	}
	inv, pre, conflict := codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists
	moneyChanged := shopSources(t)
	moneyChanged["shop/common/v1/money.proto"] = strings.Replace(moneyChanged["shop/common/v1/money.proto"],
		"int32 nanos = 3;", "int64 nanos = 3;", 1)
	for _, tc := range []struct {
		name    string
		req     *adminv1.RegisterRequest
		code    codes.Code
		want    []string
		wantRE  string
		elapsed time.Duration // at most, when set
		// newFirst is how the message should read: the new registration's element first, as the
		// one that collides with what is served (not the other way round).
		newFirst string
	}{
		{name: "empty name", req: setReq("", usersSet, addrC), code: inv, want: []string{"name is empty"}},
		{name: "upper-case name", req: setReq("Users", usersSet, addrC), code: inv, want: []string{`name "Users" is invalid`}},
		{name: "name with a slash", req: setReq("a/b", usersSet, addrC), code: inv, want: []string{`name "a/b" is invalid`}},
		{name: "name starting with a dash", req: setReq("-a", usersSet, addrC), code: inv, want: []string{`name "-a" is invalid`}},
		{name: "name too long", req: setReq(strings.Repeat("a", 64), usersSet, addrC), code: inv, want: []string{"is invalid"}},
		{name: "no endpoints", req: setReq("acme", usersSet), code: inv, want: []string{`"acme" has no endpoints`}},
		{name: "endpoint without port", req: setReq("acme", usersSet, "nohost"), code: inv, want: []string{`endpoint: invalid address "nohost": missing port in address, want host:port`}},
		{name: "endpoint port 0", req: setReq("acme", usersSet, "h:0"), code: inv, want: []string{`invalid port "0" in "h:0": want 1..65535`}},
		{name: "endpoint port 70000", req: setReq("acme", usersSet, "h:70000"), code: inv, want: []string{`invalid port "70000" in "h:70000"`}},
		{name: "endpoint named port", req: setReq("acme", usersSet, "h:http"), code: inv, want: []string{`invalid port "http" in "h:http"`}},
		{name: "endpoint signed port", req: setReq("acme", usersSet, "h:+8080"), code: inv, want: []string{`invalid port "+8080"`}},
		{name: "endpoint without host", req: setReq("acme", usersSet, ":8080"), code: inv, want: []string{`endpoint: missing host in ":8080"`}},
		{name: "endpoint host with a space", req: setReq("acme", usersSet, "exa mple:80"), code: inv, want: []string{`invalid host "exa mple"`}},
		{name: "endpoint host with a slash", req: setReq("acme", usersSet, "ho/st:80"), code: inv, want: []string{`invalid host "ho/st"`}},
		{name: "endpoint host not an IPv4", req: setReq("acme", usersSet, "1.2.3.4.5:80"), code: inv, want: []string{`invalid host "1.2.3.4.5"`}},
		{name: "endpoint brackets not IPv6", req: setReq("acme", usersSet, "[zz]:80"), code: inv, want: []string{`invalid IPv6 address "zz"`}},
		{name: "endpoint escape", req: setReq("acme", usersSet, "h%st:80"), code: inv, want: []string{`invalid host "h%st"`}},
		{name: "second endpoint bad", req: setReq("acme", usersSet, addrC, "h:0"), code: inv, want: []string{`"h:0"`}},
		{name: "endpoint twice", req: setReq("acme", usersSet, addrC, "h:1", addrC), code: inv, want: []string{"endpoint " + addrC + " is listed twice"}},
		{name: "no source", req: &adminv1.RegisterRequest{Name: "acme", Endpoints: []string{addrC}}, code: inv, want: []string{`"acme" has no descriptors`}},
		{name: "garbage descriptor set", req: setReq("acme", []byte{0xff, 0xff, 0xff, 0xff}, addrC), code: inv,
			want: []string{`registration "acme"`, "descriptor set: not a serialized google.protobuf.FileDescriptorSet"}},
		{name: "empty descriptor set", req: setReq("acme", []byte{}, addrC), code: inv, want: []string{"descriptor set", "holds no files"}},
		{name: "descriptor set missing an import", req: setReq("acme", marshal(t, descriptorSet(false, ordersv1.File_shop_orders_v1_orders_proto)), addrC),
			code: inv, want: []string{`"shop/orders/v1/orders.proto" imports "shop/common/v1/money.proto", which is not in the set`}},
		{name: "descriptors without a service", req: setReq("acme", generatedSet(t, commonv1.File_shop_common_v1_money_proto), addrC),
			code: inv, want: []string{`"acme" declares no service`}},
		{name: "service not in the descriptors", req: withServices(setReq("acme", usersSet, addrC), "shop.users.v1.Nope"),
			code: inv, want: []string{"service shop.users.v1.Nope is not in its descriptors"}},
		{name: "service naming a message", req: withServices(setReq("acme", usersSet, addrC), "shop.users.v1.User"),
			code: inv, want: []string{"shop.users.v1.User is not a service"}},
		{name: "no .proto files", req: protosReq("acme", nil, nil, addrC), code: inv, want: []string{"no .proto files"}},
		{name: ".proto syntax error", req: protosReq("acme", one("acme/bad/v1/bad.proto", syntaxError), nil, addrC),
			code: inv, wantRE: `acme/bad/v1/bad\.proto:5:1: syntax error`},
		{name: ".proto missing import", req: protosReq("acme", one("acme/imp/v1/imp.proto", missingImport), nil, addrC),
			code: inv, want: []string{"acme/imp/v1/imp.proto", `"acme/missing/v1/missing.proto"`, "not found"}},
		{name: "entry point not among the sources", req: protosReq("acme", one("acme/bad/v1/bad.proto", syntaxError), []string{"x.proto"}, addrC),
			code: inv, want: []string{`entry point "x.proto"`}},
		{name: "reflection refused", req: reflectReq("acme", testnet.Refused(t), 0), code: pre,
			want: []string{`registration "acme"`, "reflection at 127.0.0.1:", "unavailable"}, elapsed: reflectTimeout},
		{name: "reflection never answers", req: reflectReq("acme", testnet.Silent(t), 0), code: pre,
			want: []string{"reflection at 127.0.0.1:", "deadline exceeded"}, elapsed: reflectTimeout + 3*time.Second},
		{name: "reflection lacks the service", req: reflectReq("acme", shopAddr, 0, orderService), code: pre,
			want: []string{"does not list service shop.orders.v1.OrderService", userService}},
		{name: "reflection endpoint invalid", req: &adminv1.RegisterRequest{Name: "acme", Endpoints: []string{addrC},
			Source: &adminv1.RegisterRequest_Reflection{Reflection: &adminv1.ReflectionSource{Endpoint: "h:0"}}},
			code: inv, want: []string{`reflection endpoint: invalid port "0" in "h:0"`}},
		{name: "refresh below 1s", req: reflectReq("acme", shopAddr, 500*time.Millisecond), code: inv, want: []string{"refresh interval 500ms is below the 1s minimum"}},
		{name: "HttpRule on a missing field", req: protosReq("acme-rule", one("acme/rule/v1/rule.proto", missingRuleField), nil, addrC), code: inv,
			want: []string{`acme.rule.v1.RuleService.FetchRule (registration "acme-rule"): path /v1/rules/{rule_id}: acme.rule.v1.FetchRuleRequest has no field "rule_id"`}},

		// Conflicts with what another registration serves: AlreadyExists (compile.go's ErrConflict).
		{name: "service of another registration", req: setReq("users-copy", usersSet, addrC), code: conflict,
			want: []string{`service shop.users.v1.UserService is provided by both registration "users" and "users-copy"`}},
		{name: "REST route collision", req: protosReq("acme-rest", one("acme/rest/v1/rest.proto", restCollision), nil, addrC), code: conflict,
			want:     []string{"REST route GET", "/v1/users/{", "acme.rest.v1.RestService.FindAccount", "shop.users.v1.UserService.GetUser", `"acme-rest"`, `"users"`},
			newFirst: `REST route GET /v1/users/{x} of acme.rest.v1.RestService.FindAccount (registration "acme-rest") collides with shop.users.v1.UserService.GetUser (registration "users")`},
		{name: "GraphQL type collision", req: protosReq("acme-people", one("acme/people/v1/people.proto", typeCollision), nil, addrC), code: conflict,
			want:     []string{"GraphQL type User", "acme.people.v1.User", "shop.users.v1.User", `"acme-people"`, `"users"`},
			newFirst: `GraphQL type User for acme.people.v1.User (registration "acme-people") is already taken by shop.users.v1.User (registration "users")`},
		{name: "GraphQL root field collision", req: protosReq("acme-root", one("acme/root/v1/root.proto", rootFieldCollision), nil, addrC), code: conflict,
			want:     []string{"GraphQL root field getUser", "acme.root.v1.RootService.GetUser", "shop.users.v1.UserService.GetUser", `"acme-root"`},
			newFirst: `GraphQL root field getUser of acme.root.v1.RootService.GetUser (registration "acme-root") is already taken by shop.users.v1.UserService.GetUser (registration "users")`},
		{name: "shared file changed incompatibly", req: protosReq("catalog", moneyChanged, []string{"shop/catalog/v1/catalog.proto"}, addrC), code: conflict,
			want: []string{`registration "catalog": conflict: its copy of file shop/common/v1/money.proto and the one registration "orders" brought differ, and neither holds the other compatibly`,
				`shop.common.v1.Money: field 3 "nanos" type changed from int32 to int64`}},
		{name: "proto name declared by another registration", req: protosReq("impostor", one("acme/impostor/v1/impostor.proto", impostor), nil, addrC), code: conflict,
			want:     []string{"shop.users.v1.User"},
			newFirst: `registration "impostor": conflict: file acme/impostor/v1/impostor.proto declares shop.users.v1.User, which file shop/users/v1/users.proto of registration "users" declares already`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.view(t)
			start := time.Now()
			resp, err := f.reg.Register(t.Context(), tc.req)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("Register = %v, want %v", resp, tc.code)
			}
			wantStatus(t, err, tc.code, tc.want...)
			if tc.wantRE != "" && !regexp.MustCompile(tc.wantRE).MatchString(status.Convert(err).Message()) {
				t.Errorf("message does not match %s:\n%s", tc.wantRE, status.Convert(err).Message())
			}
			if msg := status.Convert(err).Message(); tc.newFirst != "" && !strings.Contains(msg, tc.newFirst) {
				t.Errorf("message blames the registration already serving; want %q in:\n%s", tc.newFirst, msg)
			}
			if tc.elapsed > 0 && took > tc.elapsed {
				t.Errorf("took %v, want at most %v", took, tc.elapsed)
			}
			f.unchanged(t, before)
		})
	}
}

func TestRegistryBreakingChanges(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	f.register(t, setReq("users", generatedSet(t, usersv1.File_shop_users_v1_users_proto), addrA))
	breaking := usersSource(t,
		"  bytes avatar = 12;\n", "",
		"string email = 3", "bytes email = 3",
		`rpc BatchGetUsers(BatchGetUsersRequest) returns (BatchGetUsersResponse) {
    option (google.api.http) = {get: "/v1/users:batchGet"};
    option idempotency_level = NO_SIDE_EFFECTS;
  }`, "",
	)
	// Each protobuf break, and what it does to the GraphQL schema.
	wantBreaks := []string{
		"GraphQL Query: field batchGetUsers removed",
		"GraphQL User: field avatar removed",
		"GraphQL User: field email type changed from String! to Bytes!",
		"GraphQL UserInput: field avatar removed",
		"GraphQL UserInput: field email type changed from String! to Bytes!",
		`shop.users.v1.User: field 12 "avatar" removed`,
		`shop.users.v1.User: field 3 "email" type changed from string to bytes`,
		"shop.users.v1.UserService: method BatchGetUsers removed",
	}

	before := f.view(t)
	_, err := f.reg.Register(t.Context(), protosReq("users", breaking, nil, addrA))
	wantStatus(t, err, codes.FailedPrecondition, append([]string{`registration "users"`, "8 breaking change(s) against active version 1", "allow-breaking"}, wantBreaks...)...)
	f.unchanged(t, before)

	// A dry run with allow_breaking reports them and changes nothing.
	req := protosReq("users", breaking, nil, addrA)
	req.AllowBreaking, req.DryRun = true, true
	resp := f.register(t, req)
	if !slices.Equal(resp.GetBreakingChanges(), wantBreaks) {
		t.Errorf("dry run breaking changes = %q\nwant %q", resp.GetBreakingChanges(), wantBreaks)
	}
	f.unchanged(t, before)

	req.DryRun = false
	resp = f.register(t, req)
	if !resp.GetChanged() || resp.GetRegistration().GetVersion() != 2 || !slices.Equal(resp.GetBreakingChanges(), wantBreaks) {
		t.Errorf("allow_breaking = %v\nwant version 2 with breaking changes %q", resp, wantBreaks)
	}
	if resp.GetRegistration().GetMethodCount() != 4 {
		t.Errorf("method count = %d, want 4", resp.GetRegistration().GetMethodCount())
	}
	snap := f.reg.Current()
	if r := snap.Routes().Match("/shop.users.v1.UserService/BatchGetUsers", nil); r == nil {
		// The service route is a prefix route, so the removed method still routes; Method says it is gone.
		t.Error("the service's prefix route no longer matches")
	}
	if _, known, ok := snap.Method("/shop.users.v1.UserService/BatchGetUsers"); !known || ok {
		t.Errorf("Method(BatchGetUsers) known=%v ok=%v, want a known service without that method", known, ok)
	}

	// Additions never break.
	additive := map[string]string{usersProtoPath: strings.Replace(breaking[usersProtoPath],
		"int64 loyalty_points = 11;", "int64 loyalty_points = 11;\n  string extra = 99;", 1)}
	resp = f.register(t, protosReq("users", additive, nil, addrA))
	if len(resp.GetBreakingChanges()) != 0 || resp.GetRegistration().GetVersion() != 3 {
		t.Errorf("additive change = %v", resp)
	}
}

// Exposing fewer services of the same files (a narrower --service) breaks the dropped services'
// clients, as removing them from the files would.
func TestRegistryNarrowerServicesBreak(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	files := map[string]string{"acme/two.proto": `syntax = "proto3";
package acme.v1;
message M { string s = 1; }
service One { rpc A(M) returns (M); }
service Two { rpc B(M) returns (M); }
`}
	f.register(t, protosReq("two", files, nil, addrA))
	before := f.view(t)
	narrower := protosReq("two", files, nil, addrA)
	narrower.Services = []string{"acme.v1.Two"}
	_, err := f.reg.Register(t.Context(), narrower)
	wantStatus(t, err, codes.FailedPrecondition, "2 breaking change(s)", "acme.v1.One: service no longer exposed", "GraphQL Mutation: field a removed")
	f.unchanged(t, before)

	narrower.AllowBreaking = true
	resp := f.register(t, narrower)
	if want := []string{"GraphQL Mutation: field a removed", "acme.v1.One: service no longer exposed"}; !slices.Equal(resp.GetBreakingChanges(), want) {
		t.Errorf("breaking changes = %q, want %q", resp.GetBreakingChanges(), want)
	}
	// Exposing it again is an addition.
	if resp := f.register(t, protosReq("two", files, nil, addrA)); len(resp.GetBreakingChanges()) != 0 {
		t.Errorf("exposing One again: breaking changes %q", resp.GetBreakingChanges())
	}
}

// Breaking changes are measured against the active version: rolling back re-validates too.
func TestRegistryRollbackRevalidates(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	v1 := map[string]string{"acme/thing/v1/thing.proto": `syntax = "proto3";
package acme.thing.v1;
service ThingService { rpc GetThing(GetThingRequest) returns (Thing); }
message GetThingRequest { string id = 1; }
message Thing { string id = 1; }
`}
	v2 := map[string]string{"acme/thing/v1/thing.proto": `syntax = "proto3";
package acme.thing.v1;
service ThingService { rpc GetThing(GetThingRequest) returns (Gadget); }
message GetThingRequest { string id = 1; }
message Gadget { string id = 1; }
`}
	other := map[string]string{"acme/other/v1/other.proto": `syntax = "proto3";
package acme.other.v1;
service OtherService { rpc GetOther(GetOtherRequest) returns (Thing); }
message GetOtherRequest { string id = 1; }
message Thing { string name = 1; }
`}
	f.register(t, protosReq("thing", v1, nil, addrA))
	req := protosReq("thing", v2, nil, addrA)
	req.AllowBreaking = true
	f.register(t, req)
	f.register(t, protosReq("other", other, nil, addrB)) // takes the GraphQL type name Thing
	before := f.view(t)
	_, err := f.reg.Rollback(ctx, "thing", 1)
	wantStatus(t, err, codes.FailedPrecondition, "rolling \"thing\" back to version 1", "GraphQL type Thing")
	f.unchanged(t, before)
}

// failingStore fails every Commit (and Load, when loadErr is set) and otherwise is a memory store.
type failingStore struct {
	store.Store
	loadErr error
}

func (s failingStore) Load(ctx context.Context) (store.State, error) {
	if s.loadErr != nil {
		return store.State{}, s.loadErr
	}
	return s.Store.Load(ctx)
}

func (failingStore) Commit(context.Context, string, uint64, ...store.Record) error {
	return errors.New("disk full")
}

// A change the store cannot save is not served.
func TestRegistryCommitFails(t *testing.T) {
	ctx := t.Context()
	set := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	mem := store.NewMemory()
	f := newFixture(t, mem)
	f.open(t, registry.Spec{})
	f.register(t, setReq("users", set, addrA))
	f.register(t, setReq("users", set, addrA, addrB))

	g := newFixture(t, failingStore{Store: mem})
	g.open(t, registry.Spec{})
	before := g.view(t)
	_, err := g.reg.Register(ctx, setReq("users", set, addrC))
	wantStatus(t, err, codes.Unavailable, `registration "users": saving: disk full`)
	g.unchanged(t, before)
	_, err = g.reg.Rollback(ctx, "users", 1)
	wantStatus(t, err, codes.Unavailable, "disk full")
	g.unchanged(t, before)
	_, err = g.reg.Delete(ctx, "users")
	wantStatus(t, err, codes.Unavailable, "disk full")
	g.unchanged(t, before)
	if v, err := g.reg.Get("users"); err != nil || v.Number != 2 {
		t.Errorf("Get = %v, %v; want version 2 still active", v, err)
	}
}

func TestRegistryPersistence(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, st)
	f.open(t, registry.Spec{})
	usersSet := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	f.register(t, setReq("users", usersSet, addrA))
	f.register(t, setReq("users", usersSet, addrA, addrB))
	if _, err := f.reg.Rollback(ctx, "users", 0); err != nil {
		t.Fatal(err)
	}
	// Two services in one registration, named out of order.
	commerce := protosReq("commerce", shopSources(t), []string{"shop/orders/v1/orders.proto", "shop/catalog/v1/catalog.proto"}, addrC)
	commerce.Services = []string{orderService, catalogService}
	f.register(t, commerce)
	f.register(t, protosReq("extra", map[string]string{"acme/extra/v1/extra.proto": extraProto}, nil, addrB))
	if _, err := f.reg.Delete(ctx, "extra"); err != nil {
		t.Fatal(err)
	}

	type summary struct {
		active   *adminv1.Registration
		versions []*adminv1.Registration
	}
	summarize := func(r *registry.Registry) map[string]summary {
		out := make(map[string]summary)
		for _, name := range []string{"users", "commerce", "extra"} {
			var s summary
			if v, err := r.Get(name); err == nil {
				s.active = v.Proto(true)
			}
			vs, active, err := r.Versions(name)
			if err != nil {
				t.Fatalf("Versions(%s): %v", name, err)
			}
			for _, v := range vs {
				s.versions = append(s.versions, v.Proto(v.Number == active))
			}
			out[name] = s
		}
		return out
	}
	before := summarize(f.reg)
	beforeServices := f.reg.Current().Services()
	f.reg.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	g := newFixture(t, st2)
	snap := g.open(t, registry.Spec{})
	if g.publishedCount() != 1 {
		t.Errorf("Open published %d snapshots", g.publishedCount())
	}
	if want := []string{catalogService, orderService, userService}; !slices.Equal(snap.Services(), want) || !slices.Equal(beforeServices, want) {
		t.Errorf("services after reopening = %q, before = %q, want %q", snap.Services(), beforeServices, want)
	}
	after := summarize(g.reg)
	for name, b := range before {
		a := after[name]
		if !proto.Equal(a.active, b.active) {
			t.Errorf("%s: active version after reopening:\n%v\nbefore:\n%v", name, a.active, b.active)
		}
		if len(a.versions) != len(b.versions) {
			t.Errorf("%s: %d versions after reopening, %d before", name, len(a.versions), len(b.versions))
			continue
		}
		for i := range a.versions {
			if !proto.Equal(a.versions[i], b.versions[i]) {
				t.Errorf("%s: version after reopening:\n%v\nbefore:\n%v", name, a.versions[i], b.versions[i])
			}
		}
	}
	if v, err := g.reg.Get("users"); err != nil || v.Number != 1 {
		t.Errorf("users after reopening = %v, %v; want the rolled-back version 1", v, err)
	}
	for method, cluster := range map[string]string{
		"/shop.users.v1.UserService/GetUser":          "users",
		"/shop.orders.v1.OrderService/GetOrder":       "commerce",
		"/shop.catalog.v1.CatalogService/GetProduct":  "commerce",
		"/acme.extra.v1.ExtraService/GetExtra":        "",
		"/shop.catalog.v1.CatalogService/AdjustStock": "commerce", // a prefix route: any method of the service
	} {
		if got := routedCluster(snap, method, nil); got != cluster {
			t.Errorf("%s routes to %q, want %q", method, got, cluster)
		}
	}
	if kind, _, _ := snap.Method("/shop.catalog.v1.CatalogService/AdjustInventory"); kind != routing.KindBidiStream {
		t.Errorf("AdjustInventory is %v after reopening", kind)
	}
	if addrs := clusterAddrs(t, snap, "users"); !slices.Equal(addrs, []string{addrA}) {
		t.Errorf("cluster users = %q", addrs)
	}

	// The history goes on where it stopped, and digests survive the restart.
	if resp := g.register(t, setReq("users", usersSet, addrA)); resp.GetChanged() {
		t.Errorf("the active content again after reopening = %v, want unchanged", resp)
	}
	if resp := g.register(t, setReq("users", usersSet, addrB)); resp.GetRegistration().GetVersion() != 3 {
		t.Errorf("update after reopening = %v, want version 3", resp)
	}
	if v, err := g.reg.Rollback(ctx, "extra", 1); err != nil || v.Number != 1 {
		t.Errorf("re-activating the deleted registration = %v, %v", v, err)
	}
}

func TestRegistryOpenFails(t *testing.T) {
	usersSet := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	t.Run("store cannot be loaded", func(t *testing.T) {
		f := newFixture(t, failingStore{Store: store.NewMemory(), loadErr: errors.New("disk on fire")})
		if _, err := f.reg.Open(t.Context(), registry.Spec{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Errorf("Open = %v, want the store's error", err)
		}
		if f.publishedCount() != 0 || f.reg.Current() != nil {
			t.Error("a failed Open published a snapshot")
		}
		_, err := f.admin.Status(t.Context(), &adminv1.StatusRequest{})
		wantStatus(t, err, codes.Unavailable, "no snapshot")
	})

	t.Run("record file damaged", func(t *testing.T) {
		dir := t.TempDir()
		st, err := store.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, st)
		f.open(t, registry.Spec{})
		f.register(t, setReq("users", usersSet, addrA))
		f.reg.Close()
		st.Close()
		records, err := filepath.Glob(filepath.Join(dir, "records", "*"))
		if err != nil || len(records) != 1 {
			t.Fatalf("record files: %q, %v", records, err)
		}
		data, err := os.ReadFile(records[0])
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(records[0], data, 0o600); err != nil {
			t.Fatal(err)
		}

		st2, err := store.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st2.Close() })
		g := newFixture(t, st2)
		_, err = g.reg.Open(t.Context(), registry.Spec{})
		if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), records[0]) {
			t.Errorf("Open = %v, want ErrCorrupt naming %s", err, records[0])
		}
		if g.publishedCount() != 0 || g.reg.Current() != nil {
			t.Error("a failed Open published a snapshot")
		}
	})

	t.Run("stored registrations do not compile with the config", func(t *testing.T) {
		mem := store.NewMemory()
		f := newFixture(t, mem)
		f.open(t, registry.Spec{})
		f.register(t, setReq("users", usersSet, addrA))

		g := newFixture(t, mem)
		base := registry.Spec{Clusters: []registry.ClusterSpec{{Name: "users", Endpoints: []string{addrB}}}}
		_, err := g.reg.Open(t.Context(), base)
		if err == nil || !strings.Contains(err.Error(), `a cluster named "users" already exists`) {
			t.Errorf("Open = %v, want the compile error", err)
		}
		if g.publishedCount() != 0 || g.reg.Current() != nil {
			t.Error("a failed Open published a snapshot")
		}
		// "It fails, changing nothing" (Open's doc).
		if got := listing(g.reg); len(got) != 0 {
			t.Errorf("after a failed Open, List() = %q: the stored registrations were taken in anyway", got)
		}
	})

	t.Run("the config's policies do not compile", func(t *testing.T) {
		mem := store.NewMemory()
		f := newFixture(t, mem)
		f.open(t, registry.Spec{})
		f.register(t, setReq("users", usersSet, addrA))

		g := newFixture(t, mem)
		base := registry.Spec{Admission: func(config.Policies, []string, func(*http.Request) (*transcoder.Binding, bool)) (routing.Admitter, error) {
			return nil, errors.New("rate_limit: environment variable REDIS_PASSWORD is not set")
		}}
		_, err := g.reg.Open(t.Context(), base)
		// The policies' own problem, not one of the registrations, which would compile.
		if !errors.Is(err, registry.ErrPolicies) || err.Error() != "policies: rate_limit: environment variable REDIS_PASSWORD is not set" {
			t.Errorf("Open = %v, want the policies' error alone, wrapping ErrPolicies", err)
		}
		if g.publishedCount() != 0 || g.reg.Current() != nil {
			t.Error("a failed Open published a snapshot")
		}
	})
}

func TestRegistrySetBase(t *testing.T) {
	ctx := t.Context()
	usersFiles := generatedFiles(t, usersv1.File_shop_users_v1_users_proto)
	static := &registry.Registration{Name: "users", Endpoints: []string{addrA}, Files: usersFiles}
	canary := registry.RouteSpec{
		Name: "canary-get-user",
		Match: routing.Match{Method: usersMethods[0], Headers: []routing.HeaderMatch{
			{Name: "x-canary", Present: true},
		}},
		Clusters: []registry.WeightedCluster{{Name: "canary", Weight: 1}},
	}
	base := registry.Spec{
		Clusters:      []registry.ClusterSpec{{Name: "canary", Endpoints: []string{addrB}}},
		Routes:        []registry.RouteSpec{canary},
		Registrations: []*registry.Registration{static},
	}
	f := newFixture(t, store.NewMemory())
	snap := f.open(t, base)
	if c := routedCluster(snap, usersMethods[0], nil); c != "users" {
		t.Errorf("GetUser routes to %q, want the static registration's cluster", c)
	}
	if c := routedCluster(snap, usersMethods[0], routing.MD{"x-canary": {"1"}}); c != "canary" {
		t.Errorf("GetUser with x-canary routes to %q, want the config route's cluster", c)
	}

	// The config owns its registrations' names.
	before := f.view(t)
	_, err := f.reg.Register(ctx, setReq("users", generatedSet(t, usersv1.File_shop_users_v1_users_proto), addrC))
	wantStatus(t, err, codes.FailedPrecondition, `registration "users" is defined in the config file`)
	_, err = f.reg.Delete(ctx, "users")
	wantStatus(t, err, codes.FailedPrecondition, "config file")
	_, err = f.reg.Rollback(ctx, "users", 1)
	wantStatus(t, err, codes.FailedPrecondition, "config file")
	f.unchanged(t, before)

	// A registration named like a config cluster would take the cluster's name: a conflict too.
	_, err = f.reg.Register(ctx, setReq("canary", generatedSet(t, ordersv1.File_shop_orders_v1_orders_proto), addrC))
	wantStatus(t, err, codes.AlreadyExists, `a cluster named "canary" already exists`)
	f.unchanged(t, before)

	f.register(t, setReq("orders", generatedSet(t, ordersv1.File_shop_orders_v1_orders_proto), addrC))

	// A base that does not compile changes nothing, and the old base stays in force.
	bad := base
	bad.Routes = []registry.RouteSpec{{Name: "broken", Match: routing.Match{Prefix: "/"}, Clusters: []registry.WeightedCluster{{Name: "nope", Weight: 1}}}}
	before = f.view(t)
	if _, err := f.reg.SetBase(bad); err == nil || !strings.Contains(err.Error(), `route "broken": unknown cluster "nope"`) {
		t.Errorf("SetBase(bad) = %v", err)
	}
	f.unchanged(t, before)
	f.register(t, setReq("catalog", generatedSet(t, catalogv1.File_shop_catalog_v1_catalog_proto), addrC))
	if c := routedCluster(f.reg.Current(), usersMethods[0], routing.MD{"x-canary": {"1"}}); c != "canary" {
		t.Errorf("after a refused SetBase, the next snapshot routes canary calls to %q", c)
	}

	// A new base without the static registration frees its name; registrations made through the
	// admin API stay.
	snap, err = f.reg.SetBase(registry.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if f.reg.Current() != snap || !slices.Equal(snap.Services(), []string{catalogService, orderService}) {
		t.Errorf("after SetBase: services %q", snap.Services())
	}
	if c := routedCluster(snap, usersMethods[0], nil); c != "" {
		t.Errorf("GetUser routes to %q after the config dropped it", c)
	}
	if resp := f.register(t, setReq("users", generatedSet(t, usersv1.File_shop_users_v1_users_proto), addrA)); resp.GetRegistration().GetVersion() != 1 {
		t.Errorf("Register of the freed name = %v", resp)
	}
}

// A config registration named like one made through the admin API: the config cannot take the
// name over silently, with both served and the admin one beyond reach.
func TestRegistrySetBaseNameTaken(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{Clusters: []registry.ClusterSpec{{Name: "legacy", Endpoints: []string{addrB}}}})
	f.register(t, setReq("users", generatedSet(t, usersv1.File_shop_users_v1_users_proto), addrA))
	base := registry.Spec{
		Clusters: []registry.ClusterSpec{{Name: "legacy", Endpoints: []string{addrB}}},
		Registrations: []*registry.Registration{{
			Name: "users", Cluster: "legacy",
			Files: generatedFiles(t, catalogv1.File_shop_catalog_v1_catalog_proto),
		}},
	}
	before := f.view(t)
	snap, err := f.reg.SetBase(base)
	if err == nil {
		var names []string
		for _, r := range snap.Registrations() {
			names = append(names, r.Name)
		}
		t.Errorf("SetBase accepted a config registration named like an admin one: the snapshot serves registrations %q", names)
		return
	}
	if !strings.Contains(err.Error(), `"users"`) {
		t.Errorf("SetBase = %v, want an error naming %q", err, "users")
	}
	f.unchanged(t, before)
}

// Digest's doc: services count as a set, so naming one twice is the same registration.
func TestRegistryRepeatedService(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	set := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	once := setReq("users", set, addrA)
	once.Services = []string{userService}
	twice := setReq("users", set, addrA)
	twice.Services = []string{userService, userService}
	resp, err := f.reg.Register(t.Context(), twice)
	if err != nil {
		t.Fatalf("Register naming the service twice: %v", err)
	}
	if !slices.Equal(resp.GetRegistration().GetServices(), []string{userService}) || resp.GetRegistration().GetMethodCount() != 5 {
		t.Errorf("registration = %v", resp.GetRegistration())
	}
	if resp := f.register(t, once); resp.GetChanged() {
		t.Errorf("naming it once after twice = %v, want unchanged", resp)
	}
}

// Each version asked for differently has a digest of its own, though the backend serves the same:
// by reflection, with a refresh, without it again, and asking for its one service. Only identical
// versions share one: the third is the first again.
func TestRegistryVersionDigests(t *testing.T) {
	addr := startShop(t, "users")
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	var digests []string
	for i, req := range []*adminv1.RegisterRequest{
		reflectReq("users", addr, 0),
		reflectReq("users", addr, time.Minute),
		reflectReq("users", addr, 0),
		reflectReq("users", addr, 0, userService),
	} {
		resp := f.register(t, req)
		if r := resp.GetRegistration(); !resp.GetChanged() || r.GetVersion() != uint64(i+1) {
			t.Fatalf("registration %d = changed %v, version %d; want version %d", i+1, resp.GetChanged(), r.GetVersion(), i+1)
		}
		digests = append(digests, resp.GetRegistration().GetDigest())
	}
	if digests[2] != digests[0] {
		t.Errorf("versions 1 and 3, identical, have digests %.12s and %.12s", digests[0], digests[2])
	}
	for _, pair := range [][2]int{{0, 1}, {0, 3}, {1, 3}} {
		if a, b := pair[0], pair[1]; digests[a] == digests[b] {
			t.Errorf("versions %d and %d, asked for differently, share digest %.12s", a+1, b+1, digests[a])
		}
	}
	versions, err := f.admin.ListVersions(t.Context(), &adminv1.ListVersionsRequest{Name: "users"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions.GetVersions() {
		if want := digests[v.GetVersion()-1]; v.GetDigest() != want {
			t.Errorf("version %d lists digest %.12s, registered as %.12s", v.GetVersion(), v.GetDigest(), want)
		}
	}
	if resp := f.register(t, reflectReq("users", addr, 0, userService)); resp.GetChanged() {
		t.Errorf("the last version again = %v, want unchanged", resp)
	}
}

// A changed refresh interval is a change, though the descriptors are the same.
func TestRegistryRefreshIntervalChange(t *testing.T) {
	addr := startShop(t, "users")
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	f.register(t, reflectReq("users", addr, 0))
	resp := f.register(t, reflectReq("users", addr, time.Hour))
	if got := resp.GetRegistration().GetRefreshInterval().AsDuration(); got != time.Hour {
		t.Errorf("after asking for a refresh every hour: changed=%v, version %d, refresh interval %v",
			resp.GetChanged(), resp.GetRegistration().GetVersion(), got)
	}
	v, err := f.reg.Get("users")
	if err != nil {
		t.Fatal(err)
	}
	if v.Refresh != time.Hour {
		t.Errorf("active version refreshes every %v, want 1h", v.Refresh)
	}
	resp = f.register(t, setReq("users", marshal(t, descriptorSet(false, usersv1.File_shop_users_v1_users_proto)), addr))
	if v, _ := f.reg.Get("users"); v.Refresh != 0 {
		t.Errorf("after registering a descriptor set: changed=%v, active version %d still refreshes every %v",
			resp.GetChanged(), v.Number, v.Refresh)
	}
}

// logLines is a slog.Handler that sends each record, rendered as one line, to lines when there is
// room.
type logLines chan string

// drain returns the lines logged so far that start with prefix, and forgets the others.
func (h logLines) drain(prefix string) []string {
	var lines []string
	for {
		select {
		case line := <-h:
			if strings.HasPrefix(line, prefix) {
				lines = append(lines, line)
			}
		default:
			return lines
		}
	}
}

func (h logLines) Enabled(context.Context, slog.Level) bool { return true }
func (h logLines) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h logLines) WithGroup(string) slog.Handler            { return h }
func (h logLines) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	select {
	case h <- b.String():
	default:
	}
	return nil
}

// reflectionBackend is a gRPC server whose reflection serves descriptors the test swaps at will,
// through the gateway's own reflection service over a compiled snapshot.
type reflectionBackend struct {
	addr    string
	pool    *routing.Pool
	current atomic.Pointer[registry.Snapshot]
	version atomic.Uint64
	asked   atomic.Int64 // reflection streams served
}

// startReflectionBackend starts a reflectionBackend serving files, with the server options opts
// (grpc.Creds for one reached over TLS).
func startReflectionBackend(t testing.TB, files *protoregistry.Files, opts ...grpc.ServerOption) *reflectionBackend {
	t.Helper()
	b := &reflectionBackend{pool: routing.NewPool(nil)}
	b.serve(t, files)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = lis.Addr().String()
	s := grpc.NewServer(append(opts, grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		b.asked.Add(1)
		return h(srv, ss)
	}))...)
	routing.RegisterReflection(s, func() routing.Catalog { return b.current.Load() })
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		_ = b.pool.Close()
	})
	return b
}

// serve makes the backend's reflection serve files from now on.
func (b *reflectionBackend) serve(t testing.TB, files *protoregistry.Files) {
	t.Helper()
	reg := &registry.Registration{Name: "backend", Endpoints: []string{addrC}, Files: files}
	snap, err := registry.Compile(registry.Spec{Registrations: []*registry.Registration{reg}}, b.pool, b.version.Add(1))
	if err != nil {
		t.Fatal(err)
	}
	b.current.Store(snap)
}

// recv waits for a value of ch that ok accepts; the wait is bounded only to fail instead of hanging.
func recv[T any](t testing.TB, ch <-chan T, what string, ok func(T) bool) T {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case v := <-ch:
			if ok(v) {
				return v
			}
		case <-timeout:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// The refresher asks the backend again at the interval: changed descriptors become a new version,
// a breaking change is refused and logged.
func TestRegistryReflectionRefresh(t *testing.T) {
	backend := startReflectionBackend(t, generatedFiles(t, usersv1.File_shop_users_v1_users_proto))
	logs := make(logLines, 64)
	f := newFixture(t, store.NewMemory(), registry.WithLogger(slog.New(logs)), registry.WithReflectionTimeout(5*time.Second))
	f.open(t, registry.Spec{})
	resp := f.register(t, reflectReq("live", backend.addr, time.Second))
	if got := resp.GetRegistration().GetRefreshInterval().AsDuration(); got != time.Second || resp.GetRegistration().GetVersion() != 1 {
		t.Fatalf("Register = %v", resp)
	}

	backend.serve(t, compiledFiles(t, usersSource(t, "  bytes avatar = 12;\n", "")))
	line := recv(t, logs, "the refused refresh to be logged", func(l string) bool {
		return strings.HasPrefix(l, "reflection refresh found changed descriptors that were refused")
	})
	if !strings.Contains(line, `field 12 \"avatar\" removed`) && !strings.Contains(line, `field 12 "avatar" removed`) {
		t.Errorf("log line does not name the break: %s", line)
	}
	// The same refusal at the next intervals is not logged again.
	deadline := time.Now().Add(15 * time.Second) // bounded only to fail instead of hanging
	for asked := backend.asked.Load(); backend.asked.Load() < asked+2; {
		if time.Now().After(deadline) {
			t.Fatal("the refresher stopped asking the backend")
		}
		select {
		case l := <-logs:
			if strings.HasPrefix(l, "reflection refresh found changed descriptors that were refused") {
				t.Fatalf("the same refusal logged again: %s", l)
			}
		case <-time.After(10 * time.Millisecond): // polling the backend's count
		}
	}
	if v, err := f.reg.Get("live"); err != nil || v.Number != 1 {
		t.Errorf("after a refused refresh: Get = %v, %v", v, err)
	}

	backend.serve(t, compiledFiles(t, usersSource(t, "bytes avatar = 12;", "bytes avatar = 12;\n  string extra = 99;")))
	recv(t, logs, "the refresh's recovery to be logged", func(l string) bool {
		return strings.HasPrefix(l, "reflection refresh works again")
	})
	snap := recv(t, f.notify, "a snapshot with the refreshed descriptors", func(s *registry.Snapshot) bool {
		d, err := s.Files().FindDescriptorByName("shop.users.v1.User")
		return err == nil && d.(protoreflect.MessageDescriptor).Fields().ByName("extra") != nil
	})
	v, err := f.reg.Get("live")
	if err != nil {
		t.Fatal(err)
	}
	if v.Number != 2 || v.Source != adminv1.SourceKind_SOURCE_KIND_REFLECTION || v.Refresh != time.Second || v.ReflectionEndpoint != backend.addr {
		t.Errorf("refreshed version = %+v", v)
	}
	if c := routedCluster(snap, usersMethods[0], nil); c != "live" {
		t.Errorf("GetUser routes to %q", c)
	}
	if st := f.state(t); st.Active["live"] != 2 || len(st.Records) != 2 {
		t.Errorf("store: active %v, %d records", st.Active, len(st.Records))
	}

	// A rollback pauses the refresh, which would undo it at the next interval: version 1 stays
	// active though the backend serves version 2's descriptors.
	if _, err := f.reg.Rollback(t.Context(), "live", 1); err != nil {
		t.Fatal(err)
	}
	recv(t, logs, "the paused refresh to be logged", func(l string) bool {
		return strings.HasPrefix(l, "reflection refresh paused")
	})
	recv(t, f.notify, "the rollback's snapshot", func(*registry.Snapshot) bool { return true })
	select { // a negative check: more than one refresh interval passes with nothing published
	case s := <-f.notify:
		t.Fatalf("a snapshot (%d) was published after the rollback", s.Version())
	case <-time.After(1500 * time.Millisecond):
	}
	if v, err := f.reg.Get("live"); err != nil || v.Number != 1 {
		t.Fatalf("after the rollback and an interval: Get = %v, %v, want version 1", v, err)
	}
	// Registering again resumes it.
	f.register(t, reflectReq("live", backend.addr, time.Second))
	if v, err := f.reg.Get("live"); err != nil || v.Number != 3 {
		t.Errorf("registered again: Get = %v, %v, want version 3", v, err)
	}
}

func TestRegistryConcurrent(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	usersSet := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	ordersSet := generatedSet(t, ordersv1.File_shop_orders_v1_orders_proto)
	f.register(t, setReq("users", usersSet, addrA))
	addrs := []string{addrA, addrB, addrC}

	allowed := func(err error, cs ...codes.Code) error {
		if err == nil || slices.Contains(cs, status.Code(err)) {
			return nil
		}
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 256)
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				var err error
				switch (g + i) % 5 {
				case 0:
					_, err = f.reg.Register(ctx, setReq("users", usersSet, addrs[(g+i)%3]))
				case 1:
					_, err = f.reg.Rollback(ctx, "users", 0)
					err = allowed(err, codes.FailedPrecondition)
				case 2:
					_, err = f.reg.Get("users")
					_ = f.reg.List()
					if _, _, verr := f.reg.Versions("users"); verr != nil {
						err = verr
					}
					if _, serr := f.admin.Status(ctx, &adminv1.StatusRequest{}); serr != nil {
						err = serr
					}
					if f.reg.Current().Routes().Match(usersMethods[0], nil) == nil {
						err = errors.New("GetUser does not route")
					}
				case 3:
					_, err = f.reg.Register(ctx, setReq("orders", ordersSet, addrs[i%3]))
				case 4:
					_, err = f.reg.Delete(ctx, "orders")
					err = allowed(err, codes.NotFound)
				}
				if err != nil {
					errs <- fmt.Errorf("goroutine %d, step %d: %w", g, i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Snapshots were published one at a time, in order, the last one current.
	f.mu.Lock()
	published := slices.Clone(f.published)
	f.mu.Unlock()
	for i, s := range published {
		if s.Version() != uint64(i+1) {
			t.Fatalf("snapshot %d published as number %d", s.Version(), i+1)
		}
	}
	snap := f.reg.Current()
	if snap != published[len(published)-1] {
		t.Error("Current() is not the last snapshot published")
	}
	// The registry, the store, the snapshot and the pool agree.
	st := f.state(t)
	var services []string
	endpoints := make(map[string]bool)
	for _, v := range f.reg.List() {
		if st.Active[v.Name] != v.Number {
			t.Errorf("%s: version %d active, the store says %d", v.Name, v.Number, st.Active[v.Name])
		}
		services = append(services, v.Exposed...)
		for _, ep := range v.Endpoints {
			endpoints[ep] = true
		}
	}
	slices.Sort(services)
	if !slices.Equal(services, snap.Services()) {
		t.Errorf("registrations expose %q, the snapshot serves %q", services, snap.Services())
	}
	if len(st.Active) != len(f.reg.List()) {
		t.Errorf("store has %v active, List() %q", st.Active, listing(f.reg))
	}
	if f.pool.Len() != len(endpoints) {
		t.Errorf("pool holds %d endpoints, the serving registrations use %v", f.pool.Len(), slices.Sorted(maps.Keys(endpoints)))
	}
}
