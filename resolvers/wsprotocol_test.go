package resolvers_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/internal/testws"
	"github.com/protogate/gateway/policies/sanitize"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
)

const watchP1 = `subscription { watchInventory(id: "p1", interval: "0.01s") { stock sequence } }`

// wsClient is a GraphQL WebSocket client speaking graphql-transport-ws or the legacy graphql-ws.
type wsClient struct {
	t      *testing.T
	ctx    context.Context
	c      *websocket.Conn
	legacy bool
}

// dialWS opens a GraphQL WebSocket with subprotocol and has its connection acknowledged.
func dialWS(t *testing.T, g *gateway, subprotocol string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.url, "http"), &websocket.DialOptions{Subprotocols: []string{subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	if c.Subprotocol() != subprotocol {
		t.Fatalf("negotiated %q, want %q", c.Subprotocol(), subprotocol)
	}
	w := &wsClient{t: t, ctx: ctx, c: c, legacy: subprotocol == "graphql-ws"}
	w.send(wsMessage{Type: "connection_init"})
	if m := w.read(); m.Type != "connection_ack" {
		t.Fatalf("after connection_init: %+v", m)
	}
	return w
}

func (w *wsClient) send(m wsMessage) {
	w.t.Helper()
	if err := wsjson.Write(w.ctx, w.c, m); err != nil {
		w.t.Fatal(err)
	}
}

// subscribe starts the operation doc under id.
func (w *wsClient) subscribe(id, doc string) {
	w.t.Helper()
	p, _ := json.Marshal(request{Query: doc})
	typ := "subscribe"
	if w.legacy {
		typ = "start"
	}
	w.send(wsMessage{ID: id, Type: typ, Payload: p})
}

// read returns the next message but the legacy protocol's keep-alives.
func (w *wsClient) read() wsMessage {
	w.t.Helper()
	for {
		m, err := w.next()
		if err != nil {
			w.t.Fatal(err)
		}
		if m.Type != "ka" {
			return m
		}
	}
}

func (w *wsClient) next() (wsMessage, error) {
	var m wsMessage
	err := wsjson.Read(w.ctx, w.c, &m)
	return m, err
}

// want reads the next message and fails unless it has type typ and id.
func (w *wsClient) want(typ, id string) wsMessage {
	w.t.Helper()
	m := w.read()
	if m.Type != typ || m.ID != id {
		w.t.Fatalf("got %s %q %s, want %s %q", m.Type, m.ID, m.Payload, typ, id)
	}
	return m
}

// closed reads until the server closes the socket, skipping events of the operation id, and returns
// the close frame.
func (w *wsClient) closed(id string) websocket.CloseError {
	w.t.Helper()
	for {
		m, err := w.next()
		var ce websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return ce
		case err != nil:
			w.t.Fatalf("no close frame: %v", err)
		case m.Type == "ka":
		case m.Type != w.event() || m.ID != id:
			w.t.Fatalf("before the close: %s %q %s", m.Type, m.ID, m.Payload)
		}
	}
}

// event is the type of an operation's results: next, or graphql-ws's data.
func (w *wsClient) event() string {
	if w.legacy {
		return "data"
	}
	return "next"
}

// past returns the next message but the events of the operation id.
func (w *wsClient) past(id string) wsMessage {
	w.t.Helper()
	for {
		if m := w.read(); m.Type != w.event() || m.ID != id {
			return m
		}
	}
}

func TestWebSocketProtocolErrorEndsOperation(t *testing.T) {
	g := startGateway(t, setup{})
	w := dialWS(t, g, "graphql-transport-ws")
	for _, tc := range []struct {
		name string
		msg  wsMessage
	}{
		{"validation", wsMessage{ID: "4", Type: "subscribe", Payload: json.RawMessage(`{"query":"subscription { nope }"}`)}},
		{"undecodable payload", wsMessage{ID: "5", Type: "subscribe", Payload: json.RawMessage(`"subscription { nope }"`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			w.send(tc.msg)
			w.want("error", tc.msg.ID)
			// gqlgen writes its complete before it reads the ping: a pong next means none went out.
			w.send(wsMessage{Type: "ping"})
			w.want("pong", "")

			// The error ended the operation: its id is free again.
			w.subscribe(tc.msg.ID, watchP1)
			w.want("next", tc.msg.ID)
			w.send(wsMessage{ID: tc.msg.ID, Type: "complete"})
			w.send(wsMessage{Type: "ping"})
			if m := w.past(tc.msg.ID); m.Type != "pong" {
				t.Fatalf("after complete and ping: %s %q %s, want pong", m.Type, m.ID, m.Payload)
			}
		})
	}
}

func TestWebSocketProtocolDuplicateID(t *testing.T) {
	long := strings.Repeat("é", 80) // 160 bytes: the reason would not fit in a close frame
	for _, tc := range []struct {
		name, id, reason string
	}{
		{"short id", "6", "Subscriber for 6 already exists"},
		{"long id", long, "Subscriber for " + long[:92] + " already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, setup{})
			w := dialWS(t, g, "graphql-transport-ws")
			w.subscribe(tc.id, watchP1)
			w.want("next", tc.id)
			upstream := g.calls.last(mWatchInventory)

			w.subscribe(tc.id, watchP1)
			ce := w.closed(tc.id)
			if ce.Code != 4409 || ce.Reason != tc.reason {
				t.Errorf("closed with %d %q, want 4409 %q", ce.Code, ce.Reason, tc.reason)
			}
			if len(ce.Reason) > 123 || !utf8.ValidString(ce.Reason) {
				t.Errorf("reason of %d bytes, valid UTF-8 %v", len(ce.Reason), utf8.ValidString(ce.Reason))
			}
			waitDone(t, upstream, "close")
			if n := g.calls.count()[mWatchInventory]; n != 1 {
				t.Errorf("%d upstream streams, want the first only", n)
			}
		})
	}
}

func TestWebSocketProtocolIDReusedAfterEnd(t *testing.T) {
	g := startGateway(t, setup{})
	w := dialWS(t, g, "graphql-transport-ws")

	// A single result completes its operation.
	for range 2 {
		w.subscribe("q", `{ __typename }`)
		w.want("next", "q")
		w.want("complete", "q")
	}

	// The client's complete frees a subscription's id at once, as the protocol has it: a subscribe
	// reusing it right away starts a new operation (it was refused with 4409 while gqlgen wound the
	// old one down), and nothing about the old one follows but the events sent before the complete
	// was read, ahead of the new one's: no error, no complete. The two watch different products, to
	// tell their events apart. Many times over, as such races are rare.
	watch := func(product string) string {
		return `subscription { watchInventory(id: "` + product + `", interval: "0.01s") { productId } }`
	}
	old := ""
	for i := range 30 {
		product := []string{"p1", "p2"}[i%2]
		w.subscribe("s", watch(product))
		for {
			m := w.read()
			if m.Type != "next" || m.ID != "s" {
				t.Fatalf("round %d: got %s %q %s, want the events of %s", i, m.Type, m.ID, m.Payload, product)
			}
			if strings.Contains(string(m.Payload), `"productId":"`+product+`"`) {
				break
			}
			if old == "" || !strings.Contains(string(m.Payload), `"productId":"`+old+`"`) {
				t.Fatalf("round %d: got next %s, want the events of %s", i, m.Payload, product)
			}
		}
		w.send(wsMessage{ID: "s", Type: "complete"})
		old = product
	}
	w.send(wsMessage{Type: "ping"})
	if m := w.past("s"); m.Type != "pong" {
		t.Fatalf("after the last complete and ping: %s %q %s, want pong", m.Type, m.ID, m.Payload)
	}
}

// heldCaller holds the routing of the calls of method, while hold is set, until their context ends,
// telling routed that one is held: a call the client stops while it is being routed.
type heldCaller struct {
	resolvers.Caller
	method string
	hold   atomic.Bool
	routed chan struct{}
}

func (c *heldCaller) Route(ctx context.Context, method string, md metadata.MD) (routing.Upstream, error) {
	if method != c.method || !c.hold.Load() {
		return c.Caller.Route(ctx, method, md)
	}
	c.routed <- struct{}{}
	<-ctx.Done()
	return routing.Upstream{}, status.FromContextError(ctx.Err()).Err()
}

// Once the server has read the client's complete (graphql-ws: stop), nothing more is sent about the
// operation: not the error "context canceled" that gqlgen's winding it down produces (here it is
// stopped while its call is routed, as when the client completes at once), nor, under
// graphql-transport-ws, a complete. graphql-ws answers the stop with the operation's complete, as its
// reference server does, and nothing follows it. The gateway's stop then closes the socket at once:
// nothing runs.
func TestWebSocketNothingAfterClientComplete(t *testing.T) {
	for _, subprotocol := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(subprotocol, func(t *testing.T) {
			stopping, stop := context.WithCancel(context.Background())
			defer stop()
			held := &heldCaller{method: mWatchInventory, routed: make(chan struct{})}
			g := startGateway(t, setup{
				opts:   resolvers.Options{Stopping: stopping},
				caller: func(c resolvers.Caller) resolvers.Caller { held.Caller = c; return held },
			})
			held.hold.Store(true)
			w := dialWS(t, g, subprotocol)
			w.subscribe("2", watchP1)
			select {
			case <-held.routed:
			case <-w.ctx.Done():
				t.Fatal("the subscription's call was never routed")
			}
			if w.legacy {
				w.send(wsMessage{ID: "2", Type: "stop"})
				w.want("complete", "2")
			} else {
				w.send(wsMessage{ID: "2", Type: "complete"})
			}
			stop()
			if ce := w.closed(""); ce.Code != websocket.StatusGoingAway {
				t.Errorf("closed with %d %q, want 1001", ce.Code, ce.Reason)
			}
		})
	}
}

// The legacy graphql-ws protocol defines neither rule: an error may be followed by complete, and a
// start may reuse a running id.
func TestWebSocketLegacyProtocolUnchanged(t *testing.T) {
	g := startGateway(t, setup{})
	w := dialWS(t, g, "graphql-ws")
	w.subscribe("4", `subscription { nope }`)
	w.want("error", "4")
	w.want("complete", "4")

	w.subscribe("6", watchP1)
	w.want("data", "6")
	w.subscribe("6", watchP1)
	for g.calls.count()[mWatchInventory] < 2 {
		w.want("data", "6") // the socket stays open while the second stream starts
	}
}

// gqlgen's read limit (1 MiB) still reaches the connection: a message over coder/websocket's own
// 32 KiB is read, one over 1 MiB closes the socket.
func TestWebSocketProtocolReadLimit(t *testing.T) {
	g := startGateway(t, setup{})
	w := dialWS(t, g, "graphql-transport-ws")
	w.subscribe("big", "{ __typename }"+strings.Repeat(" ", 100<<10))
	w.want("error", "big") // read, and refused by the document size limit before it runs
	_ = w.c.Write(w.ctx, websocket.MessageText, make([]byte, 1<<20+1))
	if ce := w.closed(""); ce.Code != websocket.StatusMessageTooBig {
		t.Errorf("closed with %d %q", ce.Code, ce.Reason)
	}
}

// The protocol's close codes for what a client may not send: 4400 for an invalid message, 4401 for
// a subscribe before connection_init, 4429 for a second connection_init.
func TestWebSocketProtocolCloseCodes(t *testing.T) {
	g := startGateway(t, setup{})
	raw := func(t *testing.T, init bool) *wsClient {
		t.Helper()
		if init {
			return dialWS(t, g, "graphql-transport-ws")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.url, "http"), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.CloseNow() })
		return &wsClient{t: t, ctx: ctx, c: c}
	}
	for _, tc := range []struct {
		name string
		init bool
		send func(w *wsClient)
		code websocket.StatusCode
	}{
		{"not JSON", true, func(w *wsClient) { _ = w.c.Write(w.ctx, websocket.MessageText, []byte("hello")) }, 4400},
		{"unknown type", true, func(w *wsClient) { w.send(wsMessage{Type: "start", ID: "1"}) }, 4400},
		{"no type", true, func(w *wsClient) { w.send(wsMessage{ID: "1"}) }, 4400},
		{"subscribe without an id", true, func(w *wsClient) { w.subscribe("", "{ __typename }") }, 4400},
		{"subscribe before connection_init", false, func(w *wsClient) { w.subscribe("1", "{ __typename }") }, 4401},
		{"second connection_init", true, func(w *wsClient) { w.send(wsMessage{Type: "connection_init"}) }, 4429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := raw(t, tc.init)
			tc.send(w)
			if ce := w.closed(""); ce.Code != tc.code {
				t.Errorf("closed with %d %q, want %d", ce.Code, ce.Reason, tc.code)
			}
		})
	}
}

// Every message of a GraphQL WebSocket is held to the request's JSON limits (the limits policy's:
// here 128-byte strings, depth 4, arrays of 3) before anything decodes it, with either protocol: an
// operation over them is answered with an error message for its id naming the limit, calls
// nothing, and leaves its id free; any other message over them closes the socket with 4400, the
// reason naming the limit.
func TestWebSocketMessagesHeldToJSONLimits(t *testing.T) {
	limits, err := sanitize.New(config.Limits{MaxStringLength: 128, MaxJSONDepth: 4, MaxArrayLength: 3})
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, setup{policy: limits})
	const watch = `subscription W($id: String!) { watchInventory(id: $id, interval: "0.01s") { stock sequence } }`
	long := strings.Repeat("p", 129)
	for _, subprotocol := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(subprotocol, func(t *testing.T) {
			w := dialWS(t, g, subprotocol)
			operation, data := "subscribe", "next"
			if w.legacy {
				operation, data = "start", "data"
			}
			for _, tc := range []struct{ id, variables, limit string }{
				{"string", `{"id":"` + long + `"}`, "JSON string longer than the limit of 128 bytes"},
				{"depth", `{"id":"p1","x":{"y":{}}}`, "JSON nested deeper than the limit of 4 levels"},
				{"array", `{"id":"p1","x":[1,2,3,4]}`, "JSON array longer than the limit of 3 elements"},
				{"surrogate", `{"id":"\ud800"}`, "JSON string has a lone surrogate escape"},
			} {
				before := g.calls.count()[mWatchInventory]
				q, _ := json.Marshal(watch)
				w.send(wsMessage{ID: tc.id, Type: operation, Payload: json.RawMessage(`{"query":` + string(q) + `,"variables":` + tc.variables + `}`)})
				m := w.want("error", tc.id)
				var errs []struct {
					Message    string
					Extensions struct {
						Code    string
						Details []map[string]any
					}
				}
				if err := json.Unmarshal(m.Payload, &errs); err != nil || len(errs) != 1 {
					t.Fatalf("%s: payload %s, want one error", tc.id, m.Payload)
				}
				e := errs[0]
				if e.Extensions.Code != "INVALID_ARGUMENT" || !strings.HasPrefix(e.Message, tc.limit+" (at byte ") ||
					!strings.HasSuffix(e.Message, " of the message)") || len(e.Extensions.Details) != 1 ||
					e.Extensions.Details[0]["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
					t.Errorf("%s: error %+v, want INVALID_ARGUMENT naming the limit, with a BadRequest", tc.id, e)
				}
				if n := g.calls.count()[mWatchInventory]; n != before {
					t.Errorf("%s: the refused operation called WatchInventory", tc.id)
				}
			}

			// The refused ids are free, and the socket serves on.
			w.subscribe("string", `{ __typename }`)
			w.want(data, "string")
			w.want("complete", "string")

			// A message that is no operation: the socket closes.
			over := wsMessage{Type: "ping", Payload: json.RawMessage(`{"note":"` + long + `"}`)}
			if w.legacy {
				over = wsMessage{Type: "stop", ID: "string", Payload: over.Payload}
			}
			w.send(over)
			ce := w.closed("")
			if ce.Code != 4400 || !strings.HasPrefix(ce.Reason, "Invalid message received: JSON string longer than the limit of 128 bytes (at byte ") {
				t.Errorf("closed with %d %q, want 4400 naming the limit", ce.Code, ce.Reason)
			}
		})
	}
}

// A connection_init over the JSON limits closes the socket before it is acknowledged.
func TestWebSocketInitHeldToJSONLimits(t *testing.T) {
	limits, err := sanitize.New(config.Limits{MaxJSONDepth: 3})
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, setup{policy: limits})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.url, "http"), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	w := &wsClient{t: t, ctx: ctx, c: c}
	w.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{"headers":{"x":{"y":1}}}`)})
	if ce := w.closed(""); ce.Code != 4400 || !strings.Contains(ce.Reason, "JSON nested deeper than the limit of 3 levels") {
		t.Errorf("closed with %d %q, want 4400 naming the limit", ce.Code, ce.Reason)
	}
}

// A browser's handshake from another origin (which the CORS policy did not allow) is refused with
// 403 and one GraphQL error, PERMISSION_DENIED, before gqlgen's transport runs; the same origin, and
// clients that send no Origin, are accepted.
func TestWebSocketOriginRefused(t *testing.T) {
	g := startGateway(t, setup{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(g.url, "http")
	host := strings.TrimSuffix(strings.TrimPrefix(g.url, "http://"), "/graphql")
	dial := func(origin string) (*websocket.Conn, *http.Response, error) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h, Subprotocols: []string{"graphql-transport-ws"}})
	}
	for _, origin := range []string{"http://evil.com", "null", "http://" + host + "@evil.com", "%zz"} {
		c, resp, err := dial(origin)
		if err == nil {
			c.CloseNow()
			t.Errorf("Origin %q: accepted", origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Origin %q: %v, %v; want 403 with a JSON body", origin, err, resp)
			continue
		}
		dec := json.NewDecoder(resp.Body)
		var body struct{ Errors []gqlError }
		if err := dec.Decode(&body); err != nil || len(body.Errors) != 1 || body.Errors[0].code() != "PERMISSION_DENIED" ||
			!strings.Contains(body.Errors[0].Message, "origin") {
			t.Errorf("Origin %q: body %+v (%v), want one PERMISSION_DENIED error", origin, body, err)
		}
		if rest, _ := io.ReadAll(dec.Buffered()); len(strings.TrimSpace(string(rest))) != 0 {
			t.Errorf("Origin %q: more after the GraphQL response: %q", origin, rest)
		}
	}
	for _, origin := range []string{"", "http://" + host, "https://" + strings.ToUpper(host)} {
		c, resp, err := dial(origin)
		if err != nil {
			t.Errorf("Origin %q: %v, %v; want accepted", origin, err, resp)
			continue
		}
		c.CloseNow()
	}
}

// Once Options.Current reports false (the gateway's configuration changed), an operation a client
// starts closes its socket with 1012 Service Restart rather than run, with either protocol, and the
// socket's running subscription ends with it. Until then the socket serves on: its subscription's
// events, ping, complete (graphql-ws: stop), and connection_init on a socket upgraded before.
func TestWebSocketClosesOnceConfigurationChanged(t *testing.T) {
	var changed atomic.Bool
	g := startGateway(t, setup{opts: resolvers.Options{Current: func() bool { return !changed.Load() }}})
	for _, subprotocol := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(subprotocol, func(t *testing.T) {
			changed.Store(false)
			w := dialWS(t, g, subprotocol)
			stop := "complete"
			if w.legacy {
				stop = "stop"
			}
			w.subscribe("a", watchP1)
			w.want(w.event(), "a")
			w.subscribe("b", watchP1)
			if m := w.past("a"); m.Type != w.event() || m.ID != "b" {
				t.Fatalf("got %s %q %s, want %s %q", m.Type, m.ID, m.Payload, w.event(), "b")
			}
			upstream := g.calls.last(mWatchInventory)

			changed.Store(true)
			late := dialWS(t, g, subprotocol) // connection_init is acknowledged
			if !w.legacy {
				w.send(wsMessage{Type: "ping"})
				for m := w.past("b"); m.Type != "pong"; m = w.past("b") {
					if m.Type != "next" || m.ID != "a" {
						t.Fatalf("after ping: %s %q %s", m.Type, m.ID, m.Payload)
					}
				}
			}
			w.send(wsMessage{ID: "a", Type: stop})
			end, endID := "complete", "a" // graphql-ws answers a stop with the operation's complete, its last
			if !w.legacy {
				// Nothing about a follows the complete: the pong of a ping sent after it is past a's
				// last event.
				w.send(wsMessage{Type: "ping"})
				end, endID = "pong", ""
			}
			for m := w.past("b"); m.Type != end || m.ID != endID; m = w.past("b") {
				if m.Type != w.event() || m.ID != "a" {
					t.Fatalf("after %s: %s %q %s", stop, m.Type, m.ID, m.Payload)
				}
			}
			w.want(w.event(), "b") // runs on

			const reason = "the gateway's configuration changed: reconnect"
			w.subscribe("c", "{ __typename }")
			if ce := w.closed("b"); ce.Code != 1012 || ce.Reason != reason {
				t.Errorf("closed with %d %q, want 1012 %q", ce.Code, ce.Reason, reason)
			}
			waitDone(t, upstream, "the close") // the running subscription ended with the socket
			late.subscribe("c", "{ __typename }")
			if ce := late.closed(""); ce.Code != 1012 {
				t.Errorf("socket upgraded before the change: closed with %d %q, want 1012", ce.Code, ce.Reason)
			}

			changed.Store(false) // as on a socket of the current configuration
			fresh := dialWS(t, g, subprotocol)
			fresh.subscribe("c", "{ __typename }")
			fresh.want(fresh.event(), "c")
		})
	}
}

// rawWS opens a graphql-transport-ws WebSocket to g on a plain TCP connection, which the test
// writes frames to byte for byte, and has its connection acknowledged; ahead is sent with the
// handshake, after connection_init, so the server reads it along with the handshake.
func rawWS(t *testing.T, g *gateway, ahead []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	u, err := url.Parse(g.url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	// A bound on a test that fails (a server that never closes), not a synchronisation.
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	init := testws.ClientFrame(true, 1, []byte(`{"type":"connection_init"}`))
	br := testws.Handshake(t, conn, g.url, "graphql-transport-ws", append(init, ahead...))
	if op, payload := testws.ReadFrame(t, br); op != 1 || !strings.Contains(string(payload), `"connection_ack"`) {
		t.Fatalf("after connection_init: %d %s", op, payload)
	}
	return conn, br
}

// A frame announcing a message over the read limit (gqlgen's 1 MiB) closes the socket with 1009
// Message Too Big at its header, and the connection ends: the gateway reads none of the payload,
// so a client that announces 1 TiB and sends nothing more is closed at once, not waited for. A
// continuation taking a fragmented message over the limit is refused alike, and so is a frame
// sent along with the handshake, which the server has read ahead.
func TestWebSocketFrameOverReadLimit(t *testing.T) {
	g := startGateway(t, setup{})
	for _, tc := range []struct {
		name          string
		frames, ahead []byte
	}{
		{"one frame", testws.ClientHeader(true, 1, 1<<40), nil},
		{"a continuation", append(testws.ClientFrame(false, 1, []byte(`{"type":`)), testws.ClientHeader(true, 0, 1<<20)...), nil},
		{"with the handshake", nil, testws.ClientHeader(true, 1, 1<<40)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, br := rawWS(t, g, tc.ahead)
			testws.Write(t, conn, tc.frames)
			for {
				op, payload := testws.ReadFrame(t, br) // fails at the deadline if no close frame comes
				if op != 8 {
					continue // a keep-alive
				}
				if len(payload) < 2 || binary.BigEndian.Uint16(payload) != 1009 || !strings.Contains(string(payload[2:]), "over the limit of 1048576 bytes") {
					t.Fatalf("close frame %q, want 1009 naming the limit", payload)
				}
				break
			}
			if b, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the close frame: %v %v, want the connection closed", b, err)
			}
		})
	}
}

// An operation whose payload gives a request parameter twice, in any case or escaped, is answered
// with an error message for its id naming the parameter and where its second key is, with either
// protocol, as a POST's body giving one twice is refused: gqlgen would run the last copy, where an
// inspector reading the first sees another operation. It runs nothing, its id is free again and the
// socket serves on. A key repeated within a parameter (a variable's name) is no parameter's.
func TestWebSocketOperationRepeatedParam(t *testing.T) {
	g := startGateway(t, setup{})
	watch, _ := json.Marshal(watchP1)
	for _, subprotocol := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(subprotocol, func(t *testing.T) {
			w := dialWS(t, g, subprotocol)
			operation, data := "subscribe", "next"
			if w.legacy {
				operation, data = "start", "data"
			}
			for _, tc := range []struct{ id, payload, again, param string }{
				{"query", `{"query":"{ __typename }","query":` + string(watch) + `}`, `"query":` + string(watch), "query"},
				{"case", `{"query":` + string(watch) + `,"variables":{},"VARIABLES":{"id":"p1"}}`, `"VARIABLES"`, "variables"},
				{"escape", `{"operationName":"A","query":` + string(watch) + `,"operation\u004eame":"B"}`, `"operation\u004eame"`, "operationName"},
				{"folding", `{"query":` + string(watch) + `,"extensions":{},"extenſions":{}}`, `"extenſions"`, "extensions"},
			} {
				before := g.calls.count()[mWatchInventory]
				w.send(wsMessage{ID: tc.id, Type: operation, Payload: json.RawMessage(tc.payload)})
				m := w.want("error", tc.id)
				var errs []struct {
					Message    string
					Extensions struct{ Code string }
				}
				if err := json.Unmarshal(m.Payload, &errs); err != nil || len(errs) != 1 {
					t.Fatalf("%s: payload %s, want one error", tc.id, m.Payload)
				}
				want := fmt.Sprintf("the payload must be one JSON object with each key once: %q is given twice (again at byte %d",
					tc.param, strings.LastIndex(tc.payload, tc.again))
				if e := errs[0]; e.Extensions.Code != "INVALID_ARGUMENT" || !strings.HasPrefix(e.Message, want) {
					t.Errorf("%s: error %+v, want INVALID_ARGUMENT %q", tc.id, e, want)
				}
				if n := g.calls.count()[mWatchInventory]; n != before {
					t.Errorf("%s: the refused operation called WatchInventory", tc.id)
				}
			}

			// The refused ids are free, and the socket serves on; a variable given twice is no
			// parameter given twice.
			w.send(wsMessage{ID: "query", Type: operation, Payload: json.RawMessage(`{"query":"{ __typename }","variables":{"a":1,"a":2}}`)})
			w.want(data, "query")
			w.want("complete", "query")
		})
	}
}

// A message giving id, type or payload twice, in any case or escaped, closes the socket with 4400
// naming the key, with either protocol: which operation, or which kind of message, it is would be
// a guess (gqlgen would take the last copy). Nothing runs.
func TestWebSocketEnvelopeRepeatedKey(t *testing.T) {
	g := startGateway(t, setup{})
	watch, _ := json.Marshal(watchP1)
	for _, subprotocol := range []string{"graphql-transport-ws", "graphql-ws"} {
		operation := "subscribe"
		if subprotocol == "graphql-ws" {
			operation = "start"
		}
		payload := `{"query":` + string(watch) + `}`
		for _, tc := range []struct{ name, msg, again, key string }{
			{"id", `{"id":"a","type":"` + operation + `","payload":` + payload + `,"id":"b"}`, `"id":"b"`, "id"},
			{"type", `{"id":"a","type":"complete","payload":` + payload + `,"Type":"` + operation + `"}`, `"Type"`, "type"},
			{"payload", `{"id":"a","type":"` + operation + `","payload":{"query":"{ __typename }"},"p\u0061yload":` + payload + `}`, `"p\u0061yload"`, "payload"},
		} {
			t.Run(subprotocol+"/"+tc.name, func(t *testing.T) {
				w := dialWS(t, g, subprotocol)
				before := g.calls.count()[mWatchInventory]
				if err := w.c.Write(w.ctx, websocket.MessageText, []byte(tc.msg)); err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("Invalid message received: %q is given twice (again at byte %d", tc.key, strings.LastIndex(tc.msg, tc.again))
				if ce := w.closed(""); ce.Code != 4400 || !strings.HasPrefix(ce.Reason, want) {
					t.Errorf("closed with %d %q, want 4400 %q", ce.Code, ce.Reason, want)
				}
				if n := g.calls.count()[mWatchInventory]; n != before {
					t.Error("the refused message started WatchInventory")
				}
			})
		}
	}
}
