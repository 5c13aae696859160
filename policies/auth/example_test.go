package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/auth"
	"github.com/protogate/gateway/policies/policy"
)

// An authenticator with one API key, and a rule that requires the scope the key grants.
func Example() {
	sum := sha256.Sum256([]byte("s3cret-key"))
	a, err := auth.New(config.Auth{
		APIKeys: config.APIKeys{Keys: []config.APIKey{{Consumer: "ci-bot", SHA256: hex.EncodeToString(sum[:]), Scopes: []string{"orders:read"}}}},
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	step, err := a.Step(config.RuleAuth{Scopes: []string{"orders:read"}})
	if err != nil {
		panic(err)
	}

	call := &policy.Call{Ctx: context.Background(), Method: "/shop.orders.v1.OrderService/ListOrders",
		MD: metadata.Pairs("x-api-key", "s3cret-key", "x-consumer-id", "someone-else")}
	fmt.Println(step.Admit(call), call.Identity.Consumer, call.Upstream(call.MD, false)["x-consumer-id"])

	call = &policy.Call{Ctx: context.Background(), MD: metadata.Pairs("x-api-key", "guess")}
	fmt.Println(step.Admit(call))
	// Output:
	// <nil> ci-bot [ci-bot]
	// Unauthenticated: the API key is not valid
}
