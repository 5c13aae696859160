// Package demo wires the example shop into the gateway: the registrations `gateway demo` serves.
package demo

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/examples/shop"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/schema"
	"github.com/protogate/gateway/transcoder"
)

// demoFiles are the descriptors of each demo service, as compiled into the binary.
var demoFiles = map[string]protoreflect.FileDescriptor{
	"users":   usersv1.File_shop_users_v1_users_proto,
	"orders":  ordersv1.File_shop_orders_v1_orders_proto,
	"catalog": catalogv1.File_shop_catalog_v1_catalog_proto,
}

// Spec registers each running shop service under its short name ("users", ...).
func Spec(backends *shop.Shop) (registry.Spec, error) {
	var spec registry.Spec
	for _, name := range backends.Services() {
		fd, ok := demoFiles[name]
		if !ok {
			return spec, fmt.Errorf("no descriptors for demo service %q", name)
		}
		files, err := registry.FilesOf(fd)
		if err != nil {
			return spec, err
		}
		spec.Registrations = append(spec.Registrations, &registry.Registration{
			Name:      name,
			Endpoints: []string{backends.Addr(name)},
			Files:     files,
		})
	}
	spec.GraphQL.Links = Links()
	// The document lists the default POST /pkg.Service/Method routes too, which the demo serves.
	spec.OpenAPI = transcoder.OpenAPIOptions{Title: "Example shop", Version: "1.0.0", IncludeUnbound: true}
	return spec, nil
}

// Links are the demo's cross-service GraphQL links: an order's user and a line item's product
// (each batched into one call per request level), and a user's orders.
func Links() []schema.Link {
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
