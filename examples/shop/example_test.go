package shop_test

import (
	"context"
	"fmt"
	"log"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

func ExampleStart() {
	s, err := shop.Start(shop.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	conn, err := grpc.NewClient(s.Addr("users"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ada, err := usersv1.NewUserServiceClient(conn).GetUser(context.Background(), &usersv1.GetUserRequest{Id: "1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.ServiceName("users"))
	fmt.Println(ada.GetName(), ada.GetEmail())
	// Output:
	// shop.users.v1.UserService
	// Ada Lovelace ada@example.com
}
