package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/protogate/gateway/config"
)

// TestWebSocketOriginsFollowCORS: browsers open WebSockets without a preflight, so the CORS policy
// applies at the handshake. A REST or GraphQL WebSocket from an origin the policy allows is
// accepted; from another origin it is refused with 403, as it is when no policy allows any, in the
// front's error shape: a google.rpc.Status for REST, one GraphQL error for GraphQL, PERMISSION_DENIED
// both.
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
			if want == http.StatusForbidden && resp != nil {
				wantOriginRefusal(t, s.name, resp)
			}
		}
	}
}

// wantOriginRefusal checks a refused handshake's body is one error in the front's shape, and
// nothing more.
func wantOriginRefusal(t *testing.T, front string, resp *http.Response) {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var code string
	switch dec := json.NewDecoder(bytes.NewReader(body)); front {
	case "graphql":
		var r struct{ Errors []gqlError }
		if dec.Decode(&r) == nil && len(r.Errors) == 1 {
			code = r.Errors[0].Extensions.Code
		}
	default:
		if st := (statusJSON{}); dec.Decode(&st) == nil && st.Code == 7 {
			code = "PERMISSION_DENIED"
		}
	}
	if code != "PERMISSION_DENIED" || !json.Valid(body) || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s: refused with %q %s, want one PERMISSION_DENIED error in the front's shape", front, resp.Header.Get("Content-Type"), body)
	}
}
