package schema_test

import (
	"fmt"

	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/protobuf/reflect/protoreflect"

	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/schema"
)

func ExampleBuild() {
	services := []protoreflect.ServiceDescriptor{
		usersv1.File_shop_users_v1_users_proto.Services().ByName("UserService"),
		ordersv1.File_shop_orders_v1_orders_proto.Services().ByName("OrderService"),
	}
	s, err := schema.Build(services, schema.Options{
		Links: []schema.Link{{
			OnType: "shop.orders.v1.Order",
			Field:  "user",
			Method: "shop.users.v1.UserService/GetUser",
			Args:   map[string]string{"id": "user_id"},
		}},
		Overrides: []schema.Override{{Method: "shop.orders.v1.OrderService/GetOrder", Name: "order"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	order := s.RootField(ast.Query, "order")
	fmt.Println("order calls", order.Path, "and returns", order.Result.Type)
	fmt.Println("its argument id sets", order.Args.Field("id").Desc.FullName())
	user := s.ObjectType("Order").Field("user")
	fmt.Println("Order.user calls", user.Link.Path, "with id from", user.Link.Args[0].Source[0].Name())
	fmt.Println(s.AST().Types["Order"].Fields.ForName("user").Type)
	// Output:
	// order calls /shop.orders.v1.OrderService/GetOrder and returns Order
	// its argument id sets shop.orders.v1.GetOrderRequest.id
	// Order.user calls /shop.users.v1.UserService/GetUser with id from user_id
	// User
}

func ExampleBuild_error() {
	services := []protoreflect.ServiceDescriptor{usersv1.File_shop_users_v1_users_proto.Services().Get(0)}
	_, err := schema.Build(services, schema.Options{
		Links:     []schema.Link{{OnType: "shop.users.v1.User", Field: "friend", Method: "shop.users.v1.UserService/GetFriend"}},
		Overrides: []schema.Override{{Method: "shop.users.v1.UserService/DeleteUser", Hide: true}},
	})
	fmt.Println(err)
	// Output:
	// graphql schema: link shop.users.v1.User.friend: unknown method shop.users.v1.UserService/GetFriend; override of method shop.users.v1.UserService/DeleteUser: unknown method
}
