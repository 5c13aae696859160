package registry_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/protogate/gateway/config"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
)

// shopRegistrations are the three shop services as registrations, each on its own address; catalog
// compiled from its .proto source (with source info), the others generated (without): the
// money.proto both orders and catalog bring is the same file either way.
func shopRegistrations(t testing.TB) []*registry.Registration {
	t.Helper()
	sources := shopSources(t)
	catalog, err := registry.FilesFromProtos(t.Context(), sources, []string{"shop/catalog/v1/catalog.proto"})
	if err != nil {
		t.Fatal(err)
	}
	return []*registry.Registration{
		{Name: "users", Endpoints: []string{addrA}, Files: generatedFiles(t, usersv1.File_shop_users_v1_users_proto)},
		{Name: "orders", Endpoints: []string{addrB}, Files: generatedFiles(t, ordersv1.File_shop_orders_v1_orders_proto)},
		{Name: "catalog", Endpoints: []string{addrC}, Files: catalog},
	}
}

func TestCompileShop(t *testing.T) {
	pool := routing.NewPool(nil)
	defer pool.Close()
	snap, err := registry.Compile(registry.Spec{Registrations: shopRegistrations(t)}, pool, 7)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version() != 7 || time.Since(snap.Built()) > time.Minute {
		t.Errorf("version %d built %v", snap.Version(), snap.Built())
	}
	if want := []string{catalogService, orderService, userService}; !slices.Equal(snap.Services(), want) {
		t.Errorf("services = %q, want %q", snap.Services(), want)
	}
	var names []string
	for _, r := range snap.Registrations() {
		names = append(names, r.Name)
	}
	if want := []string{"catalog", "orders", "users"}; !slices.Equal(names, want) {
		t.Errorf("registrations = %q, want %q", names, want)
	}

	for _, tc := range []struct {
		method  string
		kind    routing.CallKind
		known   bool
		cluster string
	}{
		{"/shop.users.v1.UserService/GetUser", routing.KindUnary, true, "users"},
		{"/shop.orders.v1.OrderService/ImportOrders", routing.KindClientStream, true, "orders"},
		{"/shop.catalog.v1.CatalogService/WatchInventory", routing.KindServerStream, true, "catalog"},
		{"/shop.catalog.v1.CatalogService/AdjustInventory", routing.KindBidiStream, true, "catalog"},
		{"/shop.users.v1.UserService/DeleteUser", routing.KindUnknown, true, "users"}, // no such method: the service route still matches
		{"/shop.users.v1.UserServiceX/GetUser", routing.KindUnknown, false, ""},
		{"/acme.Unknown/Call", routing.KindUnknown, false, ""},
	} {
		kind, known, ok := snap.Method(tc.method)
		if kind != tc.kind || known != tc.known || ok != (tc.kind != routing.KindUnknown) {
			t.Errorf("Method(%s) = %v, %v, %v; want %v, %v", tc.method, kind, known, ok, tc.kind, tc.known)
		}
		if c := routedCluster(snap, tc.method, nil); c != tc.cluster {
			t.Errorf("%s routes to %q, want %q", tc.method, c, tc.cluster)
		}
	}
	for name, addr := range map[string]string{"users": addrA, "orders": addrB, "catalog": addrC} {
		if got := clusterAddrs(t, snap, name); !slices.Equal(got, []string{addr}) {
			t.Errorf("cluster %s = %q", name, got)
		}
	}

	// The merged descriptors serve reflection: every service, and the extensions they use.
	for _, svc := range snap.Services() {
		if _, err := snap.Files().FindDescriptorByName(protoreflect.FullName(svc)); err != nil {
			t.Errorf("Files() lacks %s: %v", svc, err)
		}
	}
	if _, err := snap.Types().FindExtensionByName("google.api.http"); err != nil {
		t.Errorf("Types() lacks google.api.http: %v", err)
	}
	var optionExts []string
	snap.Types().RangeExtensionsByMessage("google.protobuf.MethodOptions", func(xt protoreflect.ExtensionType) bool {
		optionExts = append(optionExts, string(xt.TypeDescriptor().FullName()))
		return true
	})
	if !slices.Contains(optionExts, "google.api.http") {
		t.Errorf("extensions of MethodOptions = %q", optionExts)
	}

	if pool.Len() != 3 {
		t.Errorf("pool holds %d endpoints, want 3", pool.Len())
	}
	snap.Retire(pool)
	if pool.Len() != 0 {
		t.Errorf("pool holds %d endpoints after Retire", pool.Len())
	}
}

func TestCompileRoutes(t *testing.T) {
	pool := routing.NewPool(nil)
	defer pool.Close()
	regs := shopRegistrations(t)
	regs[1].Cluster = "orders-pool" // orders runs on a cluster of the config
	regs[1].Endpoints = nil
	spec := registry.Spec{
		Clusters: []registry.ClusterSpec{
			{Name: "orders-pool", Endpoints: []string{addrB, addrC}},
			{Name: "pinned", Endpoints: []string{addrA}},
			{Name: "blue", Endpoints: []string{addrA}},
			{Name: "green", Endpoints: []string{addrB}},
		},
		Routes: []registry.RouteSpec{
			{Name: "pin-users", Match: routing.Match{Prefix: "/" + userService + "/"}, Clusters: []registry.WeightedCluster{{Name: "pinned", Weight: 1}}},
			{Name: "split-get-product", Match: routing.Match{Method: "/shop.catalog.v1.CatalogService/GetProduct"}, Timeout: 2 * time.Second,
				Clusters: []registry.WeightedCluster{{Name: "blue", Weight: 9}, {Name: "green", Weight: 1}}},
		},
		Registrations: regs,
	}
	snap, err := registry.Compile(spec, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Retire(pool)

	var routeNames []string
	for _, r := range snap.Routes().Routes() {
		routeNames = append(routeNames, r.Name)
	}
	want := []string{"pin-users", "split-get-product", "service:" + catalogService, "service:" + orderService, "service:" + userService}
	if !slices.Equal(routeNames, want) {
		t.Errorf("routes = %q, want the config's in order, then one per service: %q", routeNames, want)
	}
	// A config route comes before the generated one for the same prefix.
	if c := routedCluster(snap, usersMethods[0], nil); c != "pinned" {
		t.Errorf("GetUser routes to %q, want the config route's %q", c, "pinned")
	}
	r := snap.Routes().Match("/shop.catalog.v1.CatalogService/GetProduct", nil)
	if r == nil || r.Name != "split-get-product" || r.Timeout != 2*time.Second || len(r.Clusters) != 2 ||
		r.Clusters[0].Cluster.Name() != "blue" || r.Clusters[0].Weight != 9 || r.Clusters[1].Cluster.Name() != "green" {
		t.Errorf("GetProduct route = %+v", r)
	}
	if c := routedCluster(snap, "/shop.catalog.v1.CatalogService/ListProducts", nil); c != "catalog" {
		t.Errorf("ListProducts routes to %q", c)
	}
	if c := routedCluster(snap, "/shop.orders.v1.OrderService/GetOrder", nil); c != "orders-pool" {
		t.Errorf("GetOrder routes to %q, want the config cluster the registration names", c)
	}
	if _, ok := snap.Cluster("orders"); ok {
		t.Error("a registration with a config cluster got a cluster of its own")
	}
	// One endpoint per address, shared by the clusters that name it.
	if pool.Len() != 3 {
		t.Errorf("pool holds %d endpoints, want 3 addresses", pool.Len())
	}
}

// Endpoints are shared between snapshots: retiring one keeps what another still uses.
func TestCompileRetireShared(t *testing.T) {
	pool := routing.NewPool(nil)
	defer pool.Close()
	regs := shopRegistrations(t)
	a, err := registry.Compile(registry.Spec{Registrations: regs}, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := registry.Compile(registry.Spec{Registrations: regs[:1]}, pool, 2)
	if err != nil {
		t.Fatal(err)
	}
	epA, _ := a.Cluster("users")
	epB, _ := b.Cluster("users")
	if epA.Endpoints()[0] != epB.Endpoints()[0] {
		t.Error("two snapshots got different endpoints for one address")
	}
	a.Retire(pool)
	if pool.Len() != 1 {
		t.Errorf("after retiring the first snapshot the pool holds %d endpoints, want users' 1", pool.Len())
	}
	a.Retire(pool) // a second Retire releases nothing more
	if pool.Len() != 1 {
		t.Errorf("a second Retire released endpoints still in use: pool holds %d", pool.Len())
	}
	b.Retire(pool)
	if pool.Len() != 0 {
		t.Errorf("pool holds %d endpoints after retiring both", pool.Len())
	}
}

func TestCompileErrors(t *testing.T) {
	users := func() *registry.Registration {
		return &registry.Registration{Name: "users", Endpoints: []string{addrA}, Files: generatedFiles(t, usersv1.File_shop_users_v1_users_proto)}
	}
	orders := &registry.Registration{Name: "orders", Endpoints: []string{addrB}, Files: generatedFiles(t, ordersv1.File_shop_orders_v1_orders_proto)}
	// emptyUser imports google/protobuf/empty.proto, the gateway's own; vendoredEmpty declares
	// google.protobuf.Empty in a file of its own, and googleMessage a message google.protobuf.
	emptyUser := func() *registry.Registration {
		return &registry.Registration{Name: "hh", Endpoints: []string{addrA}, Files: compiledFiles(t, map[string]string{"acme/hh/v1/hh.proto": `syntax = "proto3";
package acme.hh.v1;
import "google/protobuf/empty.proto";
service H { rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty); }
`})}
	}
	vendoredEmpty := func() *registry.Registration {
		return &registry.Registration{Name: "vt", Endpoints: []string{addrB}, Files: compiledFiles(t, map[string]string{
			"vendor/empty.proto": "syntax = \"proto3\";\npackage google.protobuf;\nmessage Empty {}\n",
			"acme/vt/v1/vt.proto": `syntax = "proto3";
package acme.vt.v1;
import "vendor/empty.proto";
service V { rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty); }
`})}
	}
	googleMessage := func() *registry.Registration {
		return &registry.Registration{Name: "vt", Endpoints: []string{addrB}, Files: compiledFiles(t, map[string]string{
			"vendor/google.proto": "syntax = \"proto3\";\npackage google;\nmessage protobuf {}\nservice V { rpc Ping(protobuf) returns (protobuf); }\n"})}
	}
	cluster := func(name string) registry.ClusterSpec {
		return registry.ClusterSpec{Name: name, Endpoints: []string{addrC}}
	}
	for _, tc := range []struct {
		name     string
		spec     registry.Spec
		want     string
		conflict bool
	}{
		{name: "cluster defined twice", spec: registry.Spec{Clusters: []registry.ClusterSpec{cluster("c"), cluster("c")}},
			want: `cluster "c" is defined twice`},
		{name: "route to an unknown cluster", spec: registry.Spec{Clusters: []registry.ClusterSpec{cluster("c")}, Routes: []registry.RouteSpec{
			{Name: "r", Match: routing.Match{Prefix: "/"}, Clusters: []registry.WeightedCluster{{Name: "c", Weight: 1}, {Name: "d", Weight: 1}}}}},
			want: `route "r": unknown cluster "d"`},
		{name: "route the table refuses", spec: registry.Spec{Clusters: []registry.ClusterSpec{cluster("c")}, Routes: []registry.RouteSpec{
			{Name: "r", Match: routing.Match{Prefix: "/"}, Clusters: []registry.WeightedCluster{{Name: "c", Weight: 0}}}}},
			want: "weight 0"},
		{name: "registration on an unknown cluster", spec: registry.Spec{Registrations: []*registry.Registration{
			{Name: "users", Cluster: "nope", Files: users().Files}}},
			want: `registration "users": unknown cluster "nope"`},
		{name: "registration named like a cluster", spec: registry.Spec{Clusters: []registry.ClusterSpec{cluster("users")}, Registrations: []*registry.Registration{users()}},
			want: `registration "users": it takes a cluster named after it, and a cluster named "users" already exists`, conflict: true},
		{name: "registration without descriptors", spec: registry.Spec{Registrations: []*registry.Registration{{Name: "users", Endpoints: []string{addrA}}}},
			want: `registration "users" has no descriptors`},
		{name: "service not in the descriptors", spec: registry.Spec{Registrations: []*registry.Registration{
			{Name: "users", Endpoints: []string{addrA}, Files: users().Files, Services: []string{orderService}}}},
			want: `registration "users": service shop.orders.v1.OrderService is not in its descriptors`},
		{name: "service of two registrations", spec: registry.Spec{Registrations: []*registry.Registration{
			users(), {Name: "users2", Endpoints: []string{addrB}, Files: users().Files}}},
			want: `service shop.users.v1.UserService is provided by both registration "users" and "users2"`, conflict: true},
		{name: "symbol of two files", spec: registry.Spec{Registrations: []*registry.Registration{
			{Name: "acme", Endpoints: []string{addrA}, Files: compiledFiles(t, map[string]string{"acme/common/v1/common.proto": metaProto + "service A { rpc Get(Meta) returns (Meta); }\n"})},
			{Name: "vt", Endpoints: []string{addrB}, Files: compiledFiles(t, map[string]string{"vendor/common.proto": metaProto + "service V { rpc Get(Meta) returns (Meta); }\n"})}}},
			want: `registration "vt": file vendor/common.proto declares acme.common.v1.Meta, which file acme/common/v1/common.proto of registration "acme" declares already`, conflict: true},
		{name: "package named like a symbol", spec: registry.Spec{Registrations: []*registry.Registration{
			{Name: "acme", Endpoints: []string{addrA}, Files: compiledFiles(t, map[string]string{"acme/acme.proto": "syntax = \"proto3\";\npackage acme;\nmessage common {}\nservice A { rpc Get(common) returns (common); }\n"})},
			{Name: "vt", Endpoints: []string{addrB}, Files: compiledFiles(t, map[string]string{"vendor/common.proto": metaProto + "service V { rpc Get(Meta) returns (Meta); }\n"})}}},
			want: `registration "vt": file vendor/common.proto is in package acme.common.v1, but file acme/acme.proto of registration "acme" declares acme.common`, conflict: true},
		{name: "symbol named like a package", spec: registry.Spec{Registrations: []*registry.Registration{
			{Name: "vt", Endpoints: []string{addrB}, Files: compiledFiles(t, map[string]string{"vendor/common.proto": metaProto + "service V { rpc Get(Meta) returns (Meta); }\n"})},
			{Name: "acme", Endpoints: []string{addrA}, Files: compiledFiles(t, map[string]string{"acme/acme.proto": "syntax = \"proto3\";\npackage acme;\nmessage common {}\nservice A { rpc Get(common) returns (common); }\n"})}}},
			want: `registration "acme": file acme/acme.proto declares acme.common, which is a package of file vendor/common.proto of registration "vt"`, conflict: true},
		// The gateway's own files are no registration's, whichever registration imports one, and
		// whichever comes first.
		{name: "symbol of the gateway's own file", spec: registry.Spec{Registrations: []*registry.Registration{emptyUser(), vendoredEmpty()}},
			want: `registration "vt": file vendor/empty.proto declares google.protobuf.Empty, which the gateway's own file google/protobuf/empty.proto declares already`, conflict: true},
		{name: "symbol of the gateway's own file, brought last", spec: registry.Spec{Registrations: []*registry.Registration{vendoredEmpty(), emptyUser()}},
			want: `registration "vt": file vendor/empty.proto declares google.protobuf.Empty, which the gateway's own file google/protobuf/empty.proto declares already`, conflict: true},
		{name: "symbol named like the gateway's own package", spec: registry.Spec{Registrations: []*registry.Registration{emptyUser(), googleMessage()}},
			want: `registration "vt": file vendor/google.proto declares google.protobuf, which is a package of the gateway's own file google/protobuf/empty.proto`, conflict: true},
		{name: "symbol named like the gateway's own package, brought last", spec: registry.Spec{Registrations: []*registry.Registration{googleMessage(), emptyUser()}},
			want: `registration "vt": file vendor/google.proto declares google.protobuf, which is a package of the gateway's own file google/protobuf/empty.proto`, conflict: true},
		{name: "type of two registrations", spec: registry.Spec{Registrations: []*registry.Registration{users(), orders,
			{Name: "people", Endpoints: []string{addrC}, Files: compiledFiles(t, map[string]string{"acme/people/v1/people.proto": typeCollision})}}},
			want: "GraphQL type User", conflict: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := routing.NewPool(nil)
			defer pool.Close()
			snap, err := registry.Compile(tc.spec, pool, 1)
			if err == nil {
				snap.Retire(pool)
				t.Fatalf("Compile succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant %q", err, tc.want)
			}
			if errors.Is(err, registry.ErrConflict) != tc.conflict {
				t.Errorf("errors.Is(err, ErrConflict) = %v, want %v", !tc.conflict, tc.conflict)
			}
			if pool.Len() != 0 {
				t.Errorf("a failed Compile left %d endpoints in the pool", pool.Len())
			}
		})
	}
}

// metaProto declares acme.common.v1.Meta.
const metaProto = `syntax = "proto3";
package acme.common.v1;
message Meta { string id = 1; }
`

// rulesProto is a service whose one method carries the google.api.http option body %s.
const rulesProto = `syntax = "proto3";
package acme.rules.v1;
import "google/api/annotations.proto";
import "google/protobuf/wrappers.proto";
service RulesService {
  rpc Act(ActRequest) returns (ActResponse) {
    option (google.api.http) = {%s};
  }
}
message ActRequest {
  string id = 1;
  repeated string tags = 2;
  Inner inner = 3;
  google.protobuf.StringValue name = 4;
  map<string, string> labels = 5;
  string display_name = 6;
}
message Inner { string key = 1; }
message ActResponse { string id = 1; Inner inner = 2; }
`

// Every google.api.http binding must compile against its request and response.
func TestCompileHTTPRules(t *testing.T) {
	const where = `acme.rules.v1.RulesService.Act (registration "rules"): `
	for _, tc := range []struct {
		rule string
		want string // "" when it compiles
	}{
		{`get: "/v1/act/{id}"`, ""},
		{`get: "/v1/act/{inner.key}"`, ""},
		{`get: "/v1/act/{name}"`, ""}, // a wrapper binds like its value
		{`get: "/v1/act/{displayName}"`, ""},
		{`get: "/v1/act/{id=things/*}:run"`, ""},
		{`post: "/v1/act" body: "*"`, ""},
		{`post: "/v1/act" body: "inner"`, ""},
		{`get: "/v1/act" response_body: "inner"`, ""},
		{`custom: {kind: "HEAD" path: "/v1/act/{id}"}`, ""},
		{`get: "/v1/act/{id}" additional_bindings {get: "/v1/act/{id}"}`, ""}, // the same method twice is no collision
		{`get: "/v1/act/{missing}"`, where + `path /v1/act/{missing}: acme.rules.v1.ActRequest has no field "missing"`},
		{`get: "/v1/act/{tags}"`, where + "path /v1/act/{tags}: field acme.rules.v1.ActRequest.tags is repeated and cannot be bound to a path segment"},
		{`get: "/v1/act/{labels}"`, "field acme.rules.v1.ActRequest.labels is repeated"},
		{`get: "/v1/act/{inner}"`, "field acme.rules.v1.ActRequest.inner is a message and cannot be bound to a path segment"},
		{`get: "/v1/act/{id.key}"`, "field acme.rules.v1.ActRequest.id is not a singular message"},
		{`get: "/v1/act/{inner.nope}"`, `acme.rules.v1.Inner has no field "nope"`},
		{`post: "/v1/act" body: "nope"`, where + `body "nope": acme.rules.v1.ActRequest has no field "nope"`},
		{`get: "/v1/act" response_body: "nope"`, where + `response_body "nope": acme.rules.v1.ActResponse has no field "nope"`},
		{`get: "v1/act"`, `path template "v1/act"`},
		{`body: "*"`, "no HTTP method and path"},
		{`get: "/v1/act/{id}" additional_bindings {post: "/v1/act/{missing}" body: "*"}`, `has no field "missing"`},
		{`get: "/v1/act/{id}" additional_bindings {post: "/v1/act" body: "*" additional_bindings {get: "/v1/act"}}`,
			where + "google.api.http: method acme.rules.v1.RulesService.Act: option google.api.http: additional binding 1 (POST /v1/act) " +
				"has additional_bindings of its own (GET /v1/act): only the method's rule may have them"},
		{`delete: "/v1/act/{id}" body: "*" additional_bindings {get: "/v1/act" body: "inner"}`, ""}, // GET and DELETE may have a body
		// The gateway's own paths are not the REST router's to give.
		{`post: "/graphql" body: "*"`, where + "REST route POST /graphql is the gateway's own GraphQL endpoint (/graphql), which would always answer it"},
		{`get: "/graphql/{id}"`, "the gateway's own GraphQL endpoint"},
		{`get: "/openapi.json"`, "the gateway's own OpenAPI document (/openapi.json)"},
		{`get: "/docs"`, "the gateway's own OpenAPI document (/docs)"},
		{`get: "/graphql:run"`, ""}, // not under /graphql
		{`get: "/graphqlx/{id}"`, ""},
		{`get: "/{id}"`, ""}, // could take /docs, which wins over it
		{`get: "/v1/act/{missing}" additional_bindings {post: "/v1/act" body: "nope"}`, // every problem, sorted
			where + `body "nope": acme.rules.v1.ActRequest has no field "nope"; ` + where + `path /v1/act/{missing}`},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			files := compiledFiles(t, map[string]string{"acme/rules/v1/rules.proto": fmt.Sprintf(rulesProto, tc.rule)})
			pool := routing.NewPool(nil)
			defer pool.Close()
			snap, err := registry.Compile(registry.Spec{Registrations: []*registry.Registration{
				{Name: "rules", Endpoints: []string{addrA}, Files: files},
			}}, pool, 1)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Compile: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("Compile succeeded, want %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("err = %v\nwant %q", err, tc.want)
			case tc.want != "" && errors.Is(err, registry.ErrConflict):
				t.Errorf("an invalid binding is a conflict: %v", err)
			}
			if snap != nil {
				snap.Retire(pool)
			}
		})
	}
}

// GraphQL names: messages and enums by their name within the package, nested ones joined with '_'.
func TestCompileGraphQLNames(t *testing.T) {
	for _, tc := range []struct {
		desc protoreflect.Descriptor
		want string
	}{
		{(&usersv1.User{}).ProtoReflect().Descriptor(), "User"},
		{(&usersv1.User_Address{}).ProtoReflect().Descriptor(), "User_Address"},
		{(&usersv1.ListUsersRequest_Filter{}).ProtoReflect().Descriptor(), "ListUsersRequest_Filter"},
		{usersv1.Role(0).Descriptor(), "Role"},
		{(&catalogv1.Product{}).ProtoReflect().Descriptor(), "Product"},
	} {
		if got := schema.TypeName(tc.desc); got != tc.want {
			t.Errorf("GraphQLTypeName(%s) = %q, want %q", tc.desc.FullName(), got, tc.want)
		}
	}

	// Collisions the names cause, each between two registrations or within one.
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"nested and flat", map[string]string{"acme/flat/v1/flat.proto": `syntax = "proto3";
package acme.flat.v1;
service FlatService { rpc Flatten(FlattenRequest) returns (User_Address); }
message FlattenRequest { string id = 1; }
message User_Address { string line = 1; }
`}, "GraphQL type User_Address"},
		{"enum and message", map[string]string{"acme/roles/v1/roles.proto": `syntax = "proto3";
package acme.roles.v1;
service RolesService { rpc Assign(AssignRequest) returns (AssignResponse); }
message AssignRequest { string id = 1; }
message AssignResponse { Role role = 1; }
message Role { string name = 1; }
`}, "GraphQL type Role"},
		{"reached through a field", map[string]string{"acme/deep/v1/deep.proto": `syntax = "proto3";
package acme.deep.v1;
service DeepService { rpc Dig(DigRequest) returns (DigResponse); }
message DigRequest { string id = 1; }
message DigResponse { Layer layer = 1; }
message Layer { repeated User users = 1; }
message User { string id = 1; }
`}, `acme.deep.v1.User (registration "acme")`},
		{"within one registration", map[string]string{
			"acme/a/v1/a.proto": "syntax = \"proto3\";\npackage acme.a.v1;\nservice AService { rpc GetA(Thing) returns (Thing); }\nmessage Thing { string id = 1; }\n",
			"acme/b/v1/b.proto": "syntax = \"proto3\";\npackage acme.b.v1;\nservice BService { rpc GetB(Thing) returns (Thing); }\nmessage Thing { string id = 1; }\n",
		}, "GraphQL type Thing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := routing.NewPool(nil)
			defer pool.Close()
			regs := []*registry.Registration{
				{Name: "users", Endpoints: []string{addrA}, Files: generatedFiles(t, usersv1.File_shop_users_v1_users_proto)},
				{Name: "acme", Endpoints: []string{addrB}, Files: compiledFiles(t, tc.files)},
			}
			if _, err := registry.Compile(registry.Spec{Registrations: regs}, pool, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compile = %v, want %q", err, tc.want)
			}
		})
	}

	// Map values become JSON: their messages claim no name.
	pool := routing.NewPool(nil)
	defer pool.Close()
	snap, err := registry.Compile(registry.Spec{Registrations: []*registry.Registration{
		{Name: "users", Endpoints: []string{addrA}, Files: generatedFiles(t, usersv1.File_shop_users_v1_users_proto)},
		{Name: "acme", Endpoints: []string{addrB}, Files: compiledFiles(t, map[string]string{"acme/maps/v1/maps.proto": `syntax = "proto3";
package acme.maps.v1;
service MapsService { rpc Index(IndexRequest) returns (IndexResponse); }
message IndexRequest { string id = 1; }
message IndexResponse { map<string, User> users = 1; }
message User { string id = 1; }
`})},
	}}, pool, 1)
	if err != nil {
		t.Errorf("a message reachable only as a map value collided: %v", err)
	} else {
		snap.Retire(pool)
	}
}

// Two methods of one registration bound to one route: the registration contradicts itself, which
// is an invalid request, not a conflict with what another registration serves.
func TestRegistryRouteTwiceInOneRegistration(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	_, err := f.reg.Register(t.Context(), protosReq("twice", map[string]string{"acme/twice/v1/twice.proto": `syntax = "proto3";
package acme.twice.v1;
import "google/api/annotations.proto";
service TwiceService {
  rpc First(TwiceRequest) returns (TwiceResponse) { option (google.api.http) = {get: "/v1/twice/{id}"}; }
  rpc Second(TwiceRequest) returns (TwiceResponse) { option (google.api.http) = {get: "/v1/twice/{name}"}; }
}
message TwiceRequest { string id = 1; string name = 2; }
message TwiceResponse { string id = 1; }
`}, nil, addrA))
	wantStatus(t, err, codes.InvalidArgument, "REST route GET /v1/twice/{name} of acme.twice.v1.TwiceService.Second", "collides with acme.twice.v1.TwiceService.First")
}

// Naming a service twice is naming it once (Digest counts services as a set).
func TestCompileRepeatedService(t *testing.T) {
	pool := routing.NewPool(nil)
	defer pool.Close()
	snap, err := registry.Compile(registry.Spec{Registrations: []*registry.Registration{{
		Name: "users", Endpoints: []string{addrA}, Files: generatedFiles(t, usersv1.File_shop_users_v1_users_proto),
		Services: []string{userService, userService},
	}}}, pool, 1)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	defer snap.Retire(pool)
	if !slices.Equal(snap.Services(), []string{userService}) {
		t.Errorf("services = %q", snap.Services())
	}
}

// Two registrations with one name cannot both be served: one of them would be beyond the admin
// API's reach (the config's name shadows it).
func TestCompileDuplicateRegistrationName(t *testing.T) {
	pool := routing.NewPool(nil)
	defer pool.Close()
	snap, err := registry.Compile(registry.Spec{
		Clusters: []registry.ClusterSpec{{Name: "legacy", Endpoints: []string{addrB}}},
		Registrations: []*registry.Registration{
			{Name: "users", Endpoints: []string{addrA}, Files: generatedFiles(t, usersv1.File_shop_users_v1_users_proto)},
			{Name: "users", Cluster: "legacy", Files: generatedFiles(t, catalogv1.File_shop_catalog_v1_catalog_proto)},
		},
	}, pool, 1)
	if err == nil {
		snap.Retire(pool)
		t.Fatal("Compile accepted two registrations named \"users\"")
	}
	if !strings.Contains(err.Error(), `"users"`) {
		t.Errorf("err = %v, want it to name the registration", err)
	}
}

// The files of all registrations merge into one registry: a file two registrations bring must be
// the same, comments aside.
func TestCompileMergesFiles(t *testing.T) {
	pool := routing.NewPool(nil)
	defer pool.Close()
	sources := shopSources(t)
	compiledOrders, err := registry.FilesFromProtos(t.Context(), sources, []string{"shop/orders/v1/orders.proto"})
	if err != nil {
		t.Fatal(err)
	}
	regs := []*registry.Registration{
		{Name: "orders", Endpoints: []string{addrB}, Files: compiledOrders}, // money.proto with comments
		{Name: "catalog", Endpoints: []string{addrC}, Files: generatedFiles(t, catalogv1.File_shop_catalog_v1_catalog_proto)},
	}
	snap, err := registry.Compile(registry.Spec{Registrations: regs}, pool, 1)
	if err != nil {
		t.Fatalf("money.proto with and without source info: %v", err)
	}
	snap.Retire(pool)
	if n := countFiles(snap.Files(), "shop/common/v1/money.proto"); n != 1 {
		t.Errorf("merged files hold money.proto %d times", n)
	}
}

func countFiles(files *protoregistry.Files, path string) int {
	n := 0
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if fd.Path() == path {
			n++
		}
		return true
	})
	return n
}

// The gateway answers health checks and server reflection itself: a registration cannot claim them.
// Named, they are refused as a conflict; brought along in its files, they are left out.
func TestCompileGatewayServices(t *testing.T) {
	pool := routing.NewPool(nil)
	defer pool.Close()
	compile := func(r *registry.Registration) (*registry.Snapshot, error) {
		t.Helper()
		snap, err := registry.Compile(registry.Spec{Registrations: []*registry.Registration{r}}, pool, 1)
		if err == nil {
			t.Cleanup(func() { snap.Retire(pool) })
		}
		return snap, err
	}
	health := generatedFiles(t, healthpb.File_grpc_health_v1_health_proto)
	_, err := compile(&registry.Registration{Name: "hijack", Endpoints: []string{addrA}, Files: health})
	if err == nil || !strings.Contains(err.Error(), "declares no service besides health checks or server reflection") {
		t.Errorf("health.proto alone: err = %v", err)
	}
	_, err = compile(&registry.Registration{Name: "hijack", Endpoints: []string{addrA}, Files: health, Services: []string{"grpc.health.v1.Health"}})
	if !errors.Is(err, registry.ErrConflict) || !strings.Contains(err.Error(), "grpc.health.v1.Health is the gateway's own") {
		t.Errorf("grpc.health.v1.Health named: err = %v, want a conflict naming it", err)
	}
	both := generatedFiles(t, healthpb.File_grpc_health_v1_health_proto, usersv1.File_shop_users_v1_users_proto)
	snap, err := compile(&registry.Registration{Name: "users", Endpoints: []string{addrA}, Files: both})
	if err != nil {
		t.Fatalf("users with health.proto: %v", err)
	}
	if !slices.Equal(snap.Services(), []string{userService}) {
		t.Errorf("services = %q, want only %s", snap.Services(), userService)
	}
}

// The snapshot's OpenAPI document lists a method without a binding at its default route while the
// config serves default routes, and not once they are off.
func TestOpenAPIDefaultRoutes(t *testing.T) {
	files := compiledFiles(t, map[string]string{"acme/plain/v1/plain.proto": `syntax = "proto3";
package acme.plain.v1;
service PlainService { rpc Ping(PingRequest) returns (PingRequest); }
message PingRequest { string text = 1; }
`})
	for _, on := range []bool{true, false} {
		cfg := config.Default()
		cfg.REST.DefaultRoutes = &on
		spec, err := registry.SpecFromConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		spec.Registrations = []*registry.Registration{{Name: "plain", Endpoints: []string{addrA}, Files: files}}
		pool := routing.NewPool(nil)
		snap, err := registry.Compile(spec, pool, 1)
		if err != nil {
			t.Fatal(err)
		}
		listed := strings.Contains(string(snap.OpenAPI()), `"/acme.plain.v1.PlainService/Ping"`)
		snap.Retire(pool)
		pool.Close()
		if listed != on {
			t.Errorf("default_routes %t: the document lists POST /acme.plain.v1.PlainService/Ping: %t", on, listed)
		}
	}
}

// Bindings that OpenAPI would write as one path, which the REST front serves apart, cost the
// snapshot neither the registration nor its document: each is described at a path of its own, and
// one that still cannot be is left out alone, named by OpenAPIOmitted.
func TestOpenAPICollidingTemplates(t *testing.T) {
	files := compiledFiles(t, map[string]string{"qa/v1/things.proto": `syntax = "proto3";
package qa.v1;
import "google/api/annotations.proto";
service Things {
  rpc GetPublic(GetRequest) returns (GetRequest) { option (google.api.http) = {get: "/v1/{name=public/**}"}; }
  rpc GetSecret(GetRequest) returns (GetRequest) { option (google.api.http) = {get: "/v1/{name=secret/**}"}; }
  rpc GetBook(GetRequest) returns (GetRequest) { option (google.api.http) = {get: "/v2/{name=shelves/*/books/*}"}; }
  rpc GetAuthor(GetRequest) returns (GetRequest) { option (google.api.http) = {get: "/v2/{name=shelves/*/authors/*}"}; }
}
message GetRequest { string name = 1; }
`})
	pool := routing.NewPool(nil)
	defer pool.Close()
	snap, err := registry.Compile(registry.Spec{Registrations: []*registry.Registration{{Name: "things", Endpoints: []string{addrA}, Files: files}}}, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Retire(pool)
	if snap.OpenAPI() == nil || snap.OpenAPIError() != nil {
		t.Fatalf("no OpenAPI document: %v", snap.OpenAPIError())
	}
	var doc struct {
		Paths map[string]map[string]struct{ OperationID string }
	}
	if err := json.Unmarshal(snap.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/v1/public/{name}": "Things_GetPublic", "/v1/secret/{name}": "Things_GetSecret", "/v2/shelves/{name}": "Things_GetBook"} {
		if got := doc.Paths[path]["get"].OperationID; got != want {
			t.Errorf("GET %s is %q, want %s", path, got, want)
		}
	}
	want := "method qa.v1.Things.GetAuthor: binding 0: GET /v2/{name=shelves/*/authors/*}: its path in the document, /v2/shelves/{name}, is Things_GetBook's already"
	if omitted := snap.OpenAPIOmitted(); len(omitted) != 1 || !strings.HasPrefix(omitted[0], want) {
		t.Errorf("OpenAPIOmitted = %q, want one starting %q", omitted, want)
	}
}
