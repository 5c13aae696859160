package server_test

import (
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/protogate/gateway/config"
)

// TestWebSocketOriginsFollowCORS: browsers open WebSockets without a preflight, so the CORS policy
// applies at the handshake. A REST or GraphQL WebSocket from an origin the policy allows is
// accepted; from another origin it is refused with 403, as it is when no policy allows any.
func TestWebSocketOriginsFollowCORS(t *testing.T) {
	pol := config.Policies{CORS: config.CORS{AllowedOrigins: []string{"http://localhost:*"}}}.Completed()
	g := startGateway(t, harnessOptions{policies: &pol})
	ctx := testContext(t)
	sockets := []struct {
		name, path string
		protocols  []string
	}{
		{"rest", "/v1/products/p1/inventory:watch?interval=1s", nil},
		{"graphql", "/graphql", []string{"graphql-transport-ws"}},
	}
	for _, s := range sockets {
		for origin, want := range map[string]int{
			"http://localhost:3000":          http.StatusSwitchingProtocols,
			"http://evil.example":            http.StatusForbidden,
			"http://localhost:3000@evil.com": http.StatusForbidden,
		} {
			c, resp, err := websocket.Dial(ctx, wsURL(g, s.path), &websocket.DialOptions{
				HTTPHeader: http.Header{"Origin": {origin}}, Subprotocols: s.protocols})
			if resp == nil || resp.StatusCode != want {
				t.Errorf("%s from %s: %v, %v; want status %d", s.name, origin, err, resp, want)
			}
			if c != nil {
				c.Close(websocket.StatusNormalClosure, "")
			}
		}
	}
}
