package resolvers

import (
	"testing"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// closeRecorder is a WebSocket connection that records its close frame.
type closeRecorder struct {
	transport.WebsocketConn
	code   int
	reason string
}

func (c *closeRecorder) WriteClose(code int, reason string) error {
	c.code, c.reason = code, reason
	return nil
}

// gqlgen gives up waiting for connection_init with 1002; the protocol says 4408.
func TestWebSocketInitTimeoutCloseCode(t *testing.T) {
	rec := &closeRecorder{}
	c := &wsConn{WebsocketConn: rec, rules: true}
	_ = c.WriteClose(transport.WebsocketCloseProtocolError, "connection initialisation timeout")
	if rec.code != closeInitTimeout || rec.reason != "Connection initialisation timeout" {
		t.Errorf("closed with %d %q, want %d", rec.code, rec.reason, closeInitTimeout)
	}
	_ = c.WriteClose(1000, "bye")
	if rec.code != 1000 || rec.reason != "bye" {
		t.Errorf("closed with %d %q, want 1000 bye: other closes pass unchanged", rec.code, rec.reason)
	}
}
