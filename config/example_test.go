package config_test

import (
	"errors"
	"fmt"

	"github.com/protogate/gateway/config"
)

func ExampleParse() {
	c, err := config.Parse("gateway.yaml", []byte(`
clusters:
  - name: users
    endpoints: [127.0.0.1:50051]
routes:
  - match: {service: shop.users.v1.UserService}
    cluster: users
    timeout: 2s
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Listen, c.Clusters[0].ConnectTimeout, c.Routes[0].Name)
	// Output: 127.0.0.1:8080 5s route-0
}

func ExampleParse_problems() {
	_, err := config.Parse("gateway.yaml", []byte(`
clusters:
  - name: users
    endpoints: [127.0.0.1:50051]
routes:
  - match: {method: shop.users.v1.UserService/GetUser}
    clusters:
      - {name: users, weight: 90}
      - {name: userz, weight: 10}
    timeout: -1s
`))
	var cerr *config.Error
	if errors.As(err, &cerr) {
		for _, p := range cerr.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// gateway.yaml:9:16: routes[0].clusters[1].name: unknown cluster "userz" (known: users)
	// gateway.yaml:10:14: routes[0].timeout: want a positive duration, got -1s
}

func ExampleLoad() {
	c, err := config.Load("testdata/example/gateway.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(c.Summary())
	// Output:
	// listen 127.0.0.1:8080
	// admin_listen 127.0.0.1:9090
	// data_dir none (registrations are kept in memory)
	// keep_versions 20
	// shutdown_grace 30s
	// tls off
	// grpc max_message_bytes 4MiB
	//
	// cluster users
	//   endpoint 127.0.0.1:50051 weight 1
	//   connect_timeout 5s
	//   tls off
	//
	// route route-0
	//   match service shop.users.v1.UserService
	//   to users
	//
	// service users
	//   cluster users
	//   descriptor_set testdata/example/users.binpb
	//   expose all services
}
