package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/auth"
	"github.com/protogate/gateway/policies/policy"
)

// TestDemoTokenCommand: `gateway demo-token` prints a token the demo's OrderService rule admits,
// and a token without the scope is refused.
func TestDemoTokenCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := demo.Policies()
	a, err := auth.New(p.Auth)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var rule config.RuleAuth
	for _, r := range p.Rules {
		if r.Match.Matches("/shop.orders.v1.OrderService/ListOrders") && r.Auth.IsSet() {
			rule = r.Auth
			break
		}
	}
	step, err := a.Step(rule)
	if err != nil || step == nil {
		t.Fatalf("the demo has no auth step for the OrderService: %v", err)
	}
	admit := func(args ...string) error {
		t.Helper()
		out, err := gatewayCommand(ctx, append([]string{"demo-token"}, args...)...).Output()
		if err != nil {
			t.Fatalf("demo-token %s: %v", strings.Join(args, " "), err)
		}
		tok := strings.TrimSpace(string(out))
		c := &policy.Call{Ctx: ctx, Method: "/shop.orders.v1.OrderService/ListOrders", MD: metadata.Pairs("authorization", "Bearer "+tok)}
		if err := step.Admit(c); err != nil {
			return err
		}
		if c.Identity == nil || c.Identity.Consumer != "7" {
			t.Errorf("identity %+v, want consumer 7", c.Identity)
		}
		return nil
	}
	if err := admit("--sub", "7", "--scope", "orders:read", "--ttl", "5m"); err != nil {
		t.Errorf("token with orders:read refused: %v", err)
	}
	if err := admit("--sub", "7", "--scope", "users:read"); err == nil || !strings.Contains(err.Error(), "orders:read") {
		t.Errorf("token without orders:read: %v, want a refusal naming the scope", err)
	}
	if out, err := gatewayCommand(ctx, "demo-token").CombinedOutput(); err == nil {
		t.Errorf("demo-token without --sub succeeded: %s", out)
	}
}
