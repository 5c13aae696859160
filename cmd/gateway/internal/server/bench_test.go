package server_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// BenchmarkUnary measures one GetUser call over loopback, straight to the backend and through the
// gateway, in the same run: the difference is the gateway's per-call cost (proxy path, route lookup,
// one extra hop). Allocations count the client, the gateway and the backend, all in this process.
func BenchmarkUnary(b *testing.B) {
	g := startGateway(b, harnessOptions{})
	direct, err := grpc.NewClient(g.shop.Addr("users"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	for _, target := range []struct {
		name string
		conn *grpc.ClientConn
	}{{"direct", direct}, {"gateway", g.conn}} {
		b.Run(target.name, func(b *testing.B) {
			client := usersv1.NewUserServiceClient(target.conn)
			req := &usersv1.GetUserRequest{Id: "1"}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := client.GetUser(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
