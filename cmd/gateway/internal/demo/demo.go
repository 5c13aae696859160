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
	return spec, nil
}
