package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/keys"
)

// TestStreamOutlivesItsToken: credentials are checked when a call is admitted. A subscription
// admitted with a token runs on once the token has expired, while a new operation on the same
// WebSocket, admitted then, is refused UNAUTHENTICATED with TOKEN_EXPIRED. The token is valid for
// one to two seconds, with no clock_skew: the test waits for it to expire, reading the
// subscription's events meanwhile.
func TestStreamOutlivesItsToken(t *testing.T) {
	noSkew := time.Duration(0)
	pol := config.Policies{
		Auth: config.Auth{JWT: []config.JWTProvider{{
			Name: demo.DemoProvider, Issuer: keys.DemoIssuer, Audiences: []string{keys.DemoAudience},
			JWKS: string(keys.DemoJWKS), ClockSkew: &noSkew,
		}}},
		Rules: []config.PolicyRule{{
			Name:  "everything",
			Match: config.PolicyMatch{Prefix: "/"},
			Auth:  config.RuleAuth{Providers: []string{demo.DemoProvider}},
		}},
		AccessLog: config.AccessLog{Output: config.AccessLogOff},
	}.Completed()
	g := startGateway(t, harnessOptions{policies: &pol})
	issued := time.Now().Truncate(time.Second)
	expires := issued.Add(2 * time.Second)
	tok, err := demo.Token("1", nil, expires.Sub(issued), issued)
	if err != nil {
		t.Fatal(err)
	}

	ctx := testContext(t)
	ws := dialGraphQLWSWith(t, ctx, g, map[string]any{"Authorization": "Bearer " + tok})
	if m := ws.subscribe("w", `subscription { watchInventory(id: "p1", interval: "0.05s") { sequence } }`, nil); m.Type != "next" {
		t.Fatalf("subscription with a valid token: %s %s", m.Type, m.Payload)
	}
	for time.Now().Before(expires) { // the token expires while the subscription runs
		if m := ws.read(); m.Type != "next" || m.ID != "w" {
			t.Fatalf("before the token expired: %s %q %s", m.Type, m.ID, m.Payload)
		}
	}

	m := ws.subscribe("q", `{ getUser(id: "1") { name } }`, nil)
	var r struct{ Errors []gqlError }
	_ = json.Unmarshal(m.Payload, &r)
	reason := ""
	if len(r.Errors) == 1 {
		for _, d := range r.Errors[0].Extensions.Details {
			if s, ok := d["reason"].(string); ok {
				reason = s
			}
		}
	}
	if m.Type != "next" || len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "UNAUTHENTICATED" || reason != "TOKEN_EXPIRED" {
		t.Fatalf("a new operation once the token expired: %s %s, want UNAUTHENTICATED TOKEN_EXPIRED", m.Type, m.Payload)
	}
	// Sent after the refusal, so after the token expired: the subscription runs on.
	for {
		if m := ws.read(); m.ID == "w" {
			if m.Type != "next" {
				t.Fatalf("the subscription after the token expired: %s %s, want its events", m.Type, m.Payload)
			}
			break
		}
	}
}
