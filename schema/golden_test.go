package schema_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/protobuf/reflect/protoreflect"

	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// shopServices are the demo shop's services from their generated Go: descriptors without comments.
func shopServices() []protoreflect.ServiceDescriptor {
	return []protoreflect.ServiceDescriptor{
		usersv1.File_shop_users_v1_users_proto.Services().Get(0),
		ordersv1.File_shop_orders_v1_orders_proto.Services().Get(0),
		catalogv1.File_shop_catalog_v1_catalog_proto.Services().Get(0),
	}
}

// shopLinks are the demo's links.
func shopLinks() []schema.Link {
	return []schema.Link{
		{
			OnType: "shop.orders.v1.Order", Field: "user",
			Method: "shop.users.v1.UserService/GetUser", Args: map[string]string{"id": "user_id"},
			Batch: &schema.BatchLink{Method: "shop.users.v1.UserService/BatchGetUsers", RequestField: "ids", ResponseField: "users", KeyField: "id"},
		},
		{
			OnType: "shop.orders.v1.LineItem", Field: "product",
			Method: "shop.catalog.v1.CatalogService/GetProduct", Args: map[string]string{"id": "product_id"},
			Batch: &schema.BatchLink{Method: "shop.catalog.v1.CatalogService/BatchGetProducts", RequestField: "ids", ResponseField: "products", KeyField: "id"},
		},
		{
			OnType: "shop.users.v1.User", Field: "orders",
			Method: "shop.orders.v1.OrderService/ListOrders", Args: map[string]string{"user_id": "id"},
			ResultField: "orders",
		},
	}
}

func TestGoldenShop(t *testing.T) {
	s, err := schema.Build(shopServices(), schema.Options{Links: shopLinks()})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "shop.graphql", s.SDL())
	if _, err := gqlparser.LoadSchema(&ast.Source{Name: "shop.graphql", Input: s.SDL()}); err != nil {
		t.Fatalf("SDL does not load: %v", err)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from what Build gives (run go test -update and review the diff):\n%s", path, got)
	}
}

// shopFromSource compiles the demo shop's .proto files, so descriptors carry their comments.
func shopFromSource(t testing.TB) []protoreflect.ServiceDescriptor {
	t.Helper()
	sources := make(map[string]string)
	for _, name := range []string{"users", "orders", "catalog"} {
		path := "shop/" + name + "/v1/" + name + ".proto"
		src, err := os.ReadFile(filepath.Join("..", "proto", path))
		if err != nil {
			t.Fatal(err)
		}
		sources[path] = string(src)
	}
	src, err := os.ReadFile(filepath.Join("..", "proto", "shop", "common", "v1", "money.proto"))
	if err != nil {
		t.Fatal(err)
	}
	sources["shop/common/v1/money.proto"] = string(src)
	services := compile(t, sources)
	if len(services) != 3 {
		t.Fatalf("compiled %d services, want 3", len(services))
	}
	return services
}

func TestGoldenShopFromSource(t *testing.T) {
	s := mustBuild(t, shopFromSource(t), schema.Options{Links: shopLinks()})
	golden(t, "shop_source.graphql", s.SDL())
}

func TestGoldenFeatures(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "features.proto"))
	if err != nil {
		t.Fatal(err)
	}
	s := mustBuild(t, compile(t, map[string]string{"features.proto": string(src)}), schema.Options{})
	golden(t, "features.graphql", s.SDL())
}
