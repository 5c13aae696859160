package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/config"
)

// TestPolicyHeadersEveryFront: the headers a policy reads count on every front, though REST and
// GraphQL pass neither upstream: an API key in x-api-key authenticates the caller, and a rate limit
// keyed by header:x-tenant keeps a bucket per tenant.
func TestPolicyHeadersEveryFront(t *testing.T) {
	const key = "k-3fa9c1"
	sum := sha256.Sum256([]byte(key))
	pol := config.Policies{
		Auth: config.Auth{APIKeys: config.APIKeys{Keys: []config.APIKey{{Consumer: "ci-bot", SHA256: hex.EncodeToString(sum[:])}}}},
		Rules: []config.PolicyRule{
			{
				Name:  "orders-by-key",
				Match: config.PolicyMatch{Service: "shop.orders.v1.OrderService"},
				Auth:  config.RuleAuth{Providers: []string{"api_key"}},
			},
			{
				Name:      "per-tenant",
				Match:     config.PolicyMatch{Method: "/shop.catalog.v1.CatalogService/GetProduct"},
				RateLimit: config.RuleRateLimit{Rate: 2, Per: time.Minute, Key: "header:x-tenant"},
			},
		},
		AccessLog: config.AccessLog{Output: config.AccessLogOff},
	}.Completed()
	g := startGateway(t, harnessOptions{policies: &pol})
	for _, f := range matrixFronts {
		t.Run(f.name, func(t *testing.T) {
			if got := f.call(t, g, listOrders, []string{"X-Api-Key", key}); got.code != codes.OK {
				t.Errorf("with the API key in x-api-key: %v, want OK", got.code)
			}
			if got := f.call(t, g, listOrders, []string{"X-Api-Key", "wrong"}); got.code != codes.Unauthenticated {
				t.Errorf("with a wrong key: %v, want UNAUTHENTICATED", got.code)
			}
			// Two keys: which one counts? Refused on every front, whichever comes first.
			for _, keys := range [][]string{{"X-Api-Key", key, "X-Api-Key", "other"}, {"X-Api-Key", "other", "X-Api-Key", key}} {
				if got := f.call(t, g, listOrders, keys); got.code != codes.Unauthenticated || got.reason != "CREDENTIALS_AMBIGUOUS" {
					t.Errorf("with two API keys %v: %v %s, want UNAUTHENTICATED CREDENTIALS_AMBIGUOUS", keys, got.code, got.reason)
				}
			}
			// Each front's tenants have buckets of their own: two calls each, then a refusal.
			own, other := "a-"+f.name, "b-"+f.name
			for i, want := range []codes.Code{codes.OK, codes.OK, codes.ResourceExhausted} {
				if got := f.call(t, g, getProduct, []string{"X-Tenant", own}); got.code != want {
					t.Fatalf("tenant %s, call %d: %v, want %v", own, i, got.code, want)
				}
			}
			if got := f.call(t, g, getProduct, []string{"X-Tenant", other}); got.code != codes.OK {
				t.Errorf("tenant %s after %s ran out: %v, want OK (a bucket of its own)", other, own, got.code)
			}
		})
	}
}

// TestRequestPolicyDenialsCounted: the refusals of the policies that answer HTTP requests
// themselves, the firewall and the limits, are counted in gateway_policy_denials_total as the
// admission's are, by the rule or the limit that refused.
func TestRequestPolicyDenialsCounted(t *testing.T) {
	pol := demo.Policies()
	pol.AccessLog.Output = config.AccessLogOff
	g := startGateway(t, harnessOptions{policies: &pol})
	for _, f := range matrixFronts[2:] { // REST and GraphQL
		for _, tg := range []target{wafProbe, oversized} {
			if got := f.call(t, g, tg, nil); got.code == codes.OK {
				t.Fatalf("%s: %s admitted", f.name, tg.method)
			}
		}
	}
	wantMetrics(t, g,
		`gateway_policy_denials_total{front="rest",policy="waf",reason="942100"} 1`,
		`gateway_policy_denials_total{front="graphql",policy="waf",reason="942100"} 1`,
		`gateway_policy_denials_total{front="rest",policy="limits",reason="BODY_TOO_LARGE"} 1`,
		`gateway_policy_denials_total{front="graphql",policy="limits",reason="BODY_TOO_LARGE"} 1`,
		// REST requests the firewall or the limits refused are counted under the methods they called.
		`gateway_requests_total{code="PERMISSION_DENIED",front="rest",method="/shop.users.v1.UserService/ListUsers"} 1`,
		`gateway_requests_total{code="RESOURCE_EXHAUSTED",front="rest",method="`+oversized.method+`"} 1`,
	)
}
