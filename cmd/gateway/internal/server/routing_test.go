package server_test

import (
	"context"
	"math"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

// canaryShop starts a second users backend and counts the calls it serves.
func canaryShop(t *testing.T) (*shop.Shop, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	s, err := shop.Start(shop.Options{OnCall: func(context.Context, string) { calls.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, &calls
}

func TestHeaderRouting(t *testing.T) {
	canary, canaryCalls := canaryShop(t)
	var stableCalls atomic.Int64
	g := startGateway(t, harnessOptions{
		shop: shop.Options{OnCall: func(context.Context, string) { stableCalls.Add(1) }},
		spec: func(spec *registry.Spec, _ *shop.Shop) {
			spec.Clusters = append(spec.Clusters, registry.ClusterSpec{Name: "users-canary", Endpoints: []string{canary.Addr("users")}})
			spec.Routes = append(spec.Routes, registry.RouteSpec{
				Name: "testers",
				Match: routing.Match{
					Prefix:  "/shop.users.v1.UserService/",
					Headers: []routing.HeaderMatch{{Name: "x-canary", Exact: "always"}},
				},
				Clusters: []registry.WeightedCluster{{Name: "users-canary", Weight: 1}},
			})
		},
	})
	client := usersv1.NewUserServiceClient(g.conn)
	for range 10 {
		if _, err := client.GetUser(metadata.AppendToOutgoingContext(testContext(t), "x-canary", "always"), &usersv1.GetUserRequest{Id: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if _, err := client.GetUser(metadata.AppendToOutgoingContext(testContext(t), "x-canary", "never"), &usersv1.GetUserRequest{Id: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	if c, s := canaryCalls.Load(), stableCalls.Load(); c != 10 || s != 10 {
		t.Fatalf("canary served %d and stable %d calls; want 10 each (header x-canary: always -> canary)", c, s)
	}
}

func TestWeightedSplit(t *testing.T) {
	canary, canaryCalls := canaryShop(t)
	var stableCalls atomic.Int64
	g := startGateway(t, harnessOptions{
		shop: shop.Options{OnCall: func(context.Context, string) { stableCalls.Add(1) }},
		spec: func(spec *registry.Spec, _ *shop.Shop) {
			spec.Clusters = append(spec.Clusters, registry.ClusterSpec{Name: "users-canary", Endpoints: []string{canary.Addr("users")}})
			spec.Routes = append(spec.Routes, registry.RouteSpec{
				Name:  "split",
				Match: routing.Match{Prefix: "/shop.users.v1.UserService/"},
				Clusters: []registry.WeightedCluster{
					{Name: "users", Weight: 80},
					{Name: "users-canary", Weight: 20},
				},
			})
		},
	})
	const n = 2000
	client := usersv1.NewUserServiceClient(g.conn)
	for range n {
		if _, err := client.GetUser(testContext(t), &usersv1.GetUserRequest{Id: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	// Binomial(n, 0.2): mean 400, sd ~17.9. Six standard deviations make a false failure
	// astronomically unlikely while a broken split (e.g. 50/50 or 0/100) still fails.
	c := float64(canaryCalls.Load())
	mean, sd := n*0.2, math.Sqrt(n*0.2*0.8)
	if math.Abs(c-mean) > 6*sd || canaryCalls.Load()+stableCalls.Load() != n {
		t.Fatalf("canary served %v of %d calls, stable %d; want about %v (20%%)", c, n, stableCalls.Load(), mean)
	}
}
