package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
)

// wireCount counts the bytes a client's connections write and read on the wire.
type wireCount struct{ written, read atomic.Int64 }

type countedConn struct {
	net.Conn
	n *wireCount
}

func (c countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.read.Add(int64(n))
	return n, err
}

// Write counts p before it writes it: the http.Transport writes from a goroutine of its own, which
// may not have run again by the time the server's answer is read.
func (c countedConn) Write(p []byte) (int, error) {
	c.n.written.Add(int64(len(p)))
	n, err := c.Conn.Write(p)
	if n < len(p) {
		c.n.written.Add(int64(n - len(p)))
	}
	return n, err
}

// dialCounted opens a WebSocket whose wire bytes are counted, and returns the counts of the
// handshake (the upgrade request written, the 101 read) with the counter: the server sends nothing
// before the client's first frame on either front.
func dialCounted(t *testing.T, ctx context.Context, url string, subprotocols ...string) (c *websocket.Conn, n *wireCount, reqBytes, respBytes int64) {
	t.Helper()
	n = &wireCount{}
	var d net.Dialer
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countedConn{conn, n}, nil
	}}}
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client, Subprotocols: subprotocols})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, n, n.written.Load(), n.read.Load()
}

// accessLines hands each access-log line to the test as it is logged.
type accessLines chan []byte

func (l accessLines) Write(p []byte) (int, error) {
	l <- append([]byte(nil), p...)
	return len(p), nil
}

// sessionLine is the access-log line of a WebSocket session.
type sessionLine struct {
	Front    string
	Path     string
	Status   int   `json:"http_status"`
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
}

// lineFor returns the next line logged for path.
func (l accessLines) lineFor(t *testing.T, ctx context.Context, path string) sessionLine {
	t.Helper()
	for {
		select {
		case b := <-l:
			var e sessionLine
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("access-log line %q: %v", b, err)
			}
			if e.Path == path {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("no access-log line for %s", path)
		}
	}
}

// TestAccessLogOfWebSockets: the access-log line of a WebSocket session, GraphQL's and REST's,
// reports as bytes_in and bytes_out the bytes of the frames the client sent and received after the
// handshake (frame headers and masks included), exactly as the client counts them on the wire, not
// 0: the hijacked connection is counted.
func TestAccessLogOfWebSockets(t *testing.T) {
	lines := make(accessLines, 64)
	g := startGateway(t, harnessOptions{server: []server.Option{server.WithAccessLogWriter(lines)}})
	ctx := testContext(t)
	want := func(t *testing.T, path string, n *wireCount, reqBytes, respBytes int64) {
		t.Helper()
		e := lines.lineFor(t, ctx, path)
		in, out := n.written.Load()-reqBytes, n.read.Load()-respBytes
		if e.Status != http.StatusSwitchingProtocols || e.BytesIn != in || e.BytesOut != out || in == 0 || out == 0 {
			t.Errorf("%s: line %+v, want http_status 101, bytes_in %d and bytes_out %d", path, e, in, out)
		}
	}

	t.Run("graphql subscription", func(t *testing.T) {
		c, n, req, resp := dialCounted(t, ctx, wsURL(g, "/graphql"), "graphql-transport-ws")
		ws := &gqlWS{t: t, ctx: ctx, c: c}
		ws.send(gqlWSMessage{Type: "connection_init"})
		if m := ws.read(); m.Type != "connection_ack" {
			t.Fatalf("got %+v", m)
		}
		m := ws.subscribe("s", `subscription { watchInventory(id: "p1", interval: "0.01s") { productId sequence } }`, nil)
		if m.Type != "next" {
			t.Fatalf("got %s %s, want next", m.Type, m.Payload)
		}
		ws.send(gqlWSMessage{ID: "s", Type: "complete"})
		// Nothing about s follows the complete: the pong of a ping sent after it is the last frame
		// before the close, the events sent before the complete took effect read on the way.
		ws.send(gqlWSMessage{Type: "ping"})
		for m.Type != "pong" {
			if err := wsjson.Read(ctx, c, &m); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
		want(t, "/graphql", n, req, resp)
	})

	t.Run("rest bidi", func(t *testing.T) {
		c, n, req, resp := dialCounted(t, ctx, wsURL(g, "/v1/inventory:adjust"))
		for i := range 2 {
			if err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"productId":"p2","delta":%d}`, i+1)); err != nil {
				t.Fatal(err)
			}
			if f := readFrame(t, ctx, c); f.Result["productId"] != "p2" {
				t.Fatalf("frame %d: %+v", i+1, f)
			}
		}
		if err := c.Write(ctx, websocket.MessageText, nil); err != nil { // half-close: the call ends OK
			t.Fatal(err)
		}
		if ce := closeOf(t, ctx, c); ce.Code != websocket.StatusNormalClosure {
			t.Fatalf("close %v, want 1000", ce)
		}
		want(t, "/v1/inventory:adjust", n, req, resp)
	})
}
