package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
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

// TestGraphQLWebSocketCredentialInPayload: browsers cannot set headers on a WebSocket's upgrade, so
// the connection_init payload carries their credentials. An API key under the api_keys header's name
// (in any case, or in a "headers" object) authenticates the socket's operations as it does in a
// header and, as from a header, does not go upstream; "Authorization: ApiKey" does too, and goes
// upstream as Authorization does. A key given twice with different values is ambiguous; one on the
// upgrade request is read before the payload's, as Authorization's is.
func TestGraphQLWebSocketCredentialInPayload(t *testing.T) {
	const key = "secretkey123"
	sum := sha256.Sum256([]byte(key))
	pol := config.Policies{
		Auth: config.Auth{APIKeys: config.APIKeys{Keys: []config.APIKey{{Consumer: "browser", SHA256: hex.EncodeToString(sum[:])}}}},
		Rules: []config.PolicyRule{{
			Name:  "orders-by-key",
			Match: config.PolicyMatch{Service: "shop.orders.v1.OrderService"},
			Auth:  config.RuleAuth{Providers: []string{"api_key"}},
		}},
		AccessLog: config.AccessLog{Output: config.AccessLogOff},
	}.Completed()
	var upstream upstreamLog
	g := startGateway(t, harnessOptions{policies: &pol, shop: shop.Options{OnCall: upstream.onCall}})
	for _, tc := range []struct {
		name      string
		header    []string // on the upgrade request
		payload   map[string]any
		reason    string // "" when the call is admitted
		forwarded metadata.MD
	}{
		{"x-api-key", nil, map[string]any{"x-api-key": key}, "", metadata.MD{}},
		{"X-Api-Key", nil, map[string]any{"X-Api-Key": key}, "", metadata.MD{}},
		{"in headers", nil, map[string]any{"headers": map[string]any{"X-API-KEY": key}}, "", metadata.MD{}},
		{"Authorization", nil, map[string]any{"Authorization": "ApiKey " + key}, "", metadata.MD{"authorization": {"ApiKey " + key}}},
		{"a wrong key", nil, map[string]any{"x-api-key": "wrong"}, "API_KEY_INVALID", nil},
		{"two keys", nil, map[string]any{"x-api-key": key, "X-Api-Key": "other"}, "CREDENTIALS_AMBIGUOUS", nil},
		{"a key and Authorization", nil, map[string]any{"x-api-key": key, "Authorization": "ApiKey " + key}, "CREDENTIALS_AMBIGUOUS", nil},
		{"none", nil, map[string]any{"x-request-id": "r1"}, "CREDENTIALS_MISSING", nil},
		{"on the upgrade and, another, in the payload", []string{"X-Api-Key", key}, map[string]any{"x-api-key": "wrong"}, "CREDENTIALS_AMBIGUOUS", nil},
		{"the same on the upgrade and in the payload", []string{"X-Api-Key", key}, map[string]any{"x-api-key": key}, "", metadata.MD{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _, _ := upstream.snapshot()
			code, reason := listOrdersOverWS(t, g, tc.header, tc.payload)
			calls, consumer, forwarded := upstream.snapshot()
			switch {
			case tc.reason != "":
				if code != "UNAUTHENTICATED" || reason != tc.reason {
					t.Errorf("%s %s, want UNAUTHENTICATED %s", code, reason, tc.reason)
				}
				if calls != before {
					t.Error("the refused call reached the backend")
				}
			case code != "":
				t.Errorf("%s %s, want the orders", code, reason)
			case calls != before+1 || !slices.Equal(consumer, []string{"browser"}):
				t.Errorf("upstream: %d calls, consumer %q; want one call of consumer browser", calls-before, consumer)
			case !reflect.DeepEqual(forwarded, tc.forwarded):
				t.Errorf("credentials upstream %v, want %v", forwarded, tc.forwarded)
			}
		})
	}
}

// listOrdersOverWS runs listOrders over graphql-transport-ws, on a connection whose upgrade request
// carries header (name, value pairs) and whose connection_init carries payload. It returns the
// error's code and ErrorInfo reason, "" when the orders came back.
func listOrdersOverWS(t *testing.T, g *gateway, header []string, payload map[string]any) (code, reason string) {
	t.Helper()
	ws := openGraphQLWS(t, g, header, payload)
	m := ws.subscribe("1", `{ listOrders(userId: "1") { orders { id } } }`, nil)
	var r struct {
		Data   json.RawMessage
		Errors []gqlError
	}
	if err := json.Unmarshal(m.Payload, &r); m.Type != "next" || err != nil {
		t.Fatalf("got %s %s, want next", m.Type, m.Payload)
	}
	if len(r.Errors) == 0 {
		if !strings.Contains(string(r.Data), `"orders":[{`) {
			t.Fatalf("no errors and no orders: %s", m.Payload)
		}
		return "", ""
	}
	code = r.Errors[0].Extensions.Code
	for _, d := range r.Errors[0].Extensions.Details {
		if s, ok := d["reason"].(string); ok {
			reason = s
		}
	}
	return code, reason
}
