package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
)

// gqlSocket is a GraphQL WebSocket to the gateway, graphql-transport-ws or the legacy graphql-ws.
type gqlSocket struct {
	t      *testing.T
	ctx    context.Context
	c      *websocket.Conn
	legacy bool
}

// openGraphQLSocket upgrades a connection to /graphql with subprotocol, and has it acknowledged when
// init is set.
func openGraphQLSocket(t *testing.T, ctx context.Context, g *gateway, subprotocol string, init bool) *gqlSocket {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws://"+g.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	s := &gqlSocket{t: t, ctx: ctx, c: c, legacy: subprotocol == "graphql-ws"}
	if init {
		s.init()
	}
	return s
}

// init sends connection_init and wants it acknowledged.
func (s *gqlSocket) init() {
	s.t.Helper()
	s.send(gqlWSMessage{Type: "connection_init"})
	if m := s.read(""); m.Type != "connection_ack" {
		s.t.Fatalf("after connection_init: %s %q %s", m.Type, m.ID, m.Payload)
	}
}

func (s *gqlSocket) send(m gqlWSMessage) {
	s.t.Helper()
	if err := wsjson.Write(s.ctx, s.c, m); err != nil {
		s.t.Fatal(err)
	}
}

// start starts the operation query under id: subscribe, or graphql-ws's start.
func (s *gqlSocket) start(id, query string, vars map[string]any) {
	s.t.Helper()
	p, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	typ := "subscribe"
	if s.legacy {
		typ = "start"
	}
	s.send(gqlWSMessage{ID: id, Type: typ, Payload: p})
}

// event is the type of an operation's result message.
func (s *gqlSocket) event() string {
	if s.legacy {
		return "data"
	}
	return "next"
}

// read returns the next message but keep-alives (the server's pings, graphql-ws's ka) and the events
// of the operation running reads past ("" for none).
func (s *gqlSocket) read(running string) gqlWSMessage {
	s.t.Helper()
	for {
		var m gqlWSMessage
		if err := wsjson.Read(s.ctx, s.c, &m); err != nil {
			s.t.Fatalf("reading: %v", err)
		}
		switch {
		case m.Type == "ka" || m.Type == "ping":
		case running != "" && m.ID == running && m.Type == s.event():
		default:
			return m
		}
	}
}

// closed reads until the server closes the socket, and returns its close frame. Events of the
// operation running may come first; anything else fails the test.
func (s *gqlSocket) closed(running string) websocket.CloseError {
	s.t.Helper()
	for {
		var m gqlWSMessage
		err := wsjson.Read(s.ctx, s.c, &m)
		var ce websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return ce
		case err != nil:
			s.t.Fatalf("no close frame: %v", err)
		case m.Type == "ka" || m.Type == "ping" || m.ID == running && m.Type == s.event():
		default:
			s.t.Fatalf("before the close: %s %q %s", m.Type, m.ID, m.Payload)
		}
	}
}

// TestGraphQLWebSocketAfterReload: a reload that hardens the GraphQL front (introspection off) and
// the request policies (max_json_depth 4) applies to the operations of sockets opened before it
// too. Such a socket's subscription runs on, its pings and a first connection_init are answered,
// but an operation its client starts closes it with 1012 Service Restart instead of running under
// the old configuration; a new socket gets the new one.
func TestGraphQLWebSocketAfterReload(t *testing.T) {
	const (
		watch         = `subscription { watchInventory(id: "p1", interval: "0.01s") { sequence } }`
		introspection = `{ __schema { queryType { name } } }`
		deep          = `query U($x: JSON) { getUser(id: "1") { name } }`
		reason        = "the gateway's configuration changed: reconnect"
	)
	deepVars := map[string]any{"x": map[string]any{"y": map[string]any{}}} // 5 levels in the message
	for _, subprotocol := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(subprotocol, func(t *testing.T) {
			g := startGateway(t, harnessOptions{})
			ctx := testContext(t)

			old := openGraphQLSocket(t, ctx, g, subprotocol, true)
			idle := openGraphQLSocket(t, ctx, g, subprotocol, false) // upgraded, not yet initialised
			old.start("w", watch, nil)
			if m := old.read(""); m.Type != old.event() || m.ID != "w" {
				t.Fatalf("subscription: %s %q %s", m.Type, m.ID, m.Payload)
			}
			old.start("before", introspection, nil) // the old configuration answers on the old socket
			if m := old.read("w"); m.Type != old.event() || !strings.Contains(string(m.Payload), `"queryType":{"name":"Query"}`) {
				t.Fatalf("introspection before the reload: %s %q %s", m.Type, m.ID, m.Payload)
			}
			if m := old.read("w"); m.Type != "complete" || m.ID != "before" {
				t.Fatalf("after the introspection: %s %q %s", m.Type, m.ID, m.Payload)
			}

			spec, err := demo.Spec(g.shop)
			if err != nil {
				t.Fatal(err)
			}
			spec.GraphQLFront.DisableIntrospection = true
			spec.Policies.Limits.MaxJSONDepth = 4
			if _, err := g.srv.Apply(spec); err != nil {
				t.Fatal(err)
			}
			if _, body := postGraphQL(t, "http://"+g.addr+"/graphql", introspection); !strings.Contains(body, "INTROSPECTION_DISABLED") {
				t.Fatalf("HTTP after the reload: %s", body)
			}

			if !old.legacy {
				// A ping is answered, and the subscription runs on: an event after the pong was
				// sent after the reload.
				old.send(gqlWSMessage{Type: "ping"})
				if m := old.read("w"); m.Type != "pong" {
					t.Fatalf("ping after the reload: %s %q %s", m.Type, m.ID, m.Payload)
				}
				if m := old.read(""); m.Type != "next" || m.ID != "w" {
					t.Fatalf("subscription after the reload: %s %q %s", m.Type, m.ID, m.Payload)
				}
			}
			idle.init()

			for name, s := range map[string]*gqlSocket{"old": old, "idle": idle} {
				s.start("after", introspection, nil)
				if ce := s.closed("w"); ce.Code != 1012 || ce.Reason != reason {
					t.Errorf("%s socket: closed with %d %q, want 1012 %q", name, ce.Code, ce.Reason, reason)
				}
			}

			fresh := openGraphQLSocket(t, ctx, g, subprotocol, true)
			fresh.start("i", introspection, nil)
			if m := fresh.read(""); m.Type != fresh.event() || m.ID != "i" || !strings.Contains(string(m.Payload), `"code":"INTROSPECTION_DISABLED"`) {
				t.Errorf("introspection on a new socket: %s %q %s", m.Type, m.ID, m.Payload)
			}
			if m := fresh.read(""); m.Type != "complete" || m.ID != "i" {
				t.Fatalf("after the introspection: %s %q %s", m.Type, m.ID, m.Payload)
			}
			fresh.start("d", deep, deepVars)
			if m := fresh.read(""); m.Type != "error" || m.ID != "d" || !strings.Contains(string(m.Payload), "JSON nested deeper than the limit of 4 levels") {
				t.Errorf("deep variables on a new socket: %s %q %s", m.Type, m.ID, m.Payload)
			}
			fresh.start("w", watch, nil) // the new socket serves on
			if m := fresh.read(""); m.Type != fresh.event() || m.ID != "w" {
				t.Errorf("subscription on a new socket: %s %q %s", m.Type, m.ID, m.Payload)
			}
		})
	}
}
