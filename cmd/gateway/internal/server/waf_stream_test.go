package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"google.golang.org/protobuf/proto"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/config"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	"github.com/protogate/gateway/internal/testlog"
)

// The WAF inspects each message of a stream, end to end: a real gateway over loopback, with the
// firewall's rule set loaded once for every case below (blocking, the section's mode; then
// detection by a rule for every method: the reload keeps the loaded firewall).

const (
	sqli = `1' OR '1'='1' UNION SELECT password FROM users --`
	xss  = `<script>alert(document.cookie)</script>`
)

// wafEntry is a log line of the firewall.
type wafEntry struct {
	Msg, Action, Front, Method, Route, RPC string
	Path                                   *string // never logged: it holds what the client sent
	Message                                int
	Rules, Variables                       []string
}

// wafMessageLines returns the firewall's log lines about messages that logs took since its last
// Take.
func wafMessageLines(t *testing.T, logs *testlog.Buffer) []wafEntry {
	t.Helper()
	var out []wafEntry
	for line := range strings.SplitSeq(strings.TrimSpace(logs.Take()), "\n") {
		var e wafEntry
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "waf: message matched rules" {
			if strings.Contains(line, "OR '1'") || strings.Contains(line, "<script>") {
				t.Errorf("a log line carries the message's data: %s", line)
			}
			out = append(out, e)
		}
	}
	return out
}

// wantMessageRefused checks how the WAF refuses a WebSocket's message: an error frame whose status
// names the message (prefix), then close 4007 (4000 + PERMISSION_DENIED).
func wantMessageRefused(t *testing.T, ctx context.Context, c *websocket.Conn, prefix string) {
	t.Helper()
	wantWAFStatus(t, readFrame(t, ctx, c).Error, prefix)
	if ce := closeOf(t, ctx, c); ce.Code != 4007 {
		t.Errorf("close %v, want 4007", ce)
	}
}

// wantWAFStatus checks a google.rpc.Status is the WAF's refusal, its message prefixed as given.
func wantWAFStatus(t *testing.T, st *statusJSON, prefix string) {
	t.Helper()
	if st == nil || st.Code != 7 || !strings.HasPrefix(st.Message, prefix+"request blocked by the web application firewall") ||
		len(st.Details) != 1 || st.Details[0]["reason"] != "WAF_BLOCKED" {
		t.Fatalf("status %+v, want the WAF's PERMISSION_DENIED (message %q...)", st, prefix)
	}
	if ids, _ := st.Details[0]["metadata"].(map[string]any)["ruleIds"].(string); !strings.Contains(ids, "949110") {
		t.Errorf("rule ids %q", ids)
	}
}

// gqlWS is a graphql-transport-ws connection to the gateway.
type gqlWS struct {
	t   *testing.T
	ctx context.Context
	c   *websocket.Conn
}

type gqlWSMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func dialGraphQLWS(t *testing.T, ctx context.Context, g *gateway) *gqlWS {
	t.Helper()
	return dialGraphQLWSWith(t, ctx, g, nil)
}

// dialGraphQLWSWith opens a graphql-transport-ws connection whose connection_init carries payload
// (none when nil), and has it acknowledged.
func dialGraphQLWSWith(t *testing.T, ctx context.Context, g *gateway, payload map[string]any) *gqlWS {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws://"+g.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	ws := &gqlWS{t: t, ctx: ctx, c: c}
	init := gqlWSMessage{Type: "connection_init"}
	if payload != nil {
		init.Payload, _ = json.Marshal(payload)
	}
	ws.send(init)
	if m := ws.read(); m.Type != "connection_ack" {
		t.Fatalf("got %+v", m)
	}
	return ws
}

func (ws *gqlWS) send(m gqlWSMessage) {
	ws.t.Helper()
	if err := wsjson.Write(ws.ctx, ws.c, m); err != nil {
		ws.t.Fatal(err)
	}
}

// read returns the next message other than ping and pong.
func (ws *gqlWS) read() gqlWSMessage {
	ws.t.Helper()
	for {
		var m gqlWSMessage
		if err := wsjson.Read(ws.ctx, ws.c, &m); err != nil {
			ws.t.Fatal(err)
		}
		if m.Type != "ping" && m.Type != "pong" {
			return m
		}
	}
}

// subscribe sends an operation with its variables and returns the first answer to it.
func (ws *gqlWS) subscribe(id, query string, vars map[string]any) gqlWSMessage {
	ws.t.Helper()
	p, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ws.send(gqlWSMessage{ID: id, Type: "subscribe", Payload: p})
	for {
		if m := ws.read(); m.ID == id {
			return m
		}
	}
}

// gqlError is an error of a GraphQL response or "error" message.
type gqlError struct {
	Message    string
	Extensions struct {
		Code    string
		Details []map[string]any
	}
}

func TestWAFInspectsStreamedMessages(t *testing.T) {
	logs := &testlog.Buffer{}
	g, calls := wafGateway(t, logs)
	ctx := testContext(t)
	rest := newRESTClient(g)
	const importOrders = "/shop.orders.v1.OrderService/ImportOrders"
	order := func(id, userID, voucher string) string {
		return fmt.Sprintf(`{"order":{"id":%q,"userId":%q,"voucherCode":%q,"items":[{"productId":"p1","quantity":1}]}}`, id, userID, voucher)
	}
	orderExists := func(t *testing.T, id string) bool {
		t.Helper()
		r := rest.do(t, "GET", "/v1/orders/"+id, "")
		if r.status != 200 && r.status != 404 {
			t.Fatalf("GET order %s: HTTP %d %s", id, r.status, r.body)
		}
		return r.status == 200
	}

	// Before the first response, a refused line is an ordinary 403 error response, its message
	// naming the line; the upstream call, opened with the first line, is cancelled before the
	// refused line reaches it.
	t.Run("ndjson client stream", func(t *testing.T) {
		for _, tc := range []struct{ name, line string }{
			{"sqli", order("waf-nd-sqli", sqli, "")},
			{"xss", order("waf-nd-xss", "1", xss)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := calls.count(importOrders)
				body := order("", "1", "SPRING-10") + "\n" + tc.line + "\n" + order("", "2", "") + "\n"
				r := rest.do(t, "POST", "/v1/orders:import", body, "Content-Type", "application/x-ndjson")
				if r.status != 403 {
					t.Fatalf("HTTP %d %s, want 403", r.status, r.body)
				}
				wantWAFStatus(t, ptr(decodeJSON[statusJSON](t, string(r.body))), "line 2: ")
				// The upstream call was opened with the first line; whether the backend's handler
				// started before the refusal cancelled it is the scheduler's choice, not the
				// gateway's. It is one call at most, and the refused line never reaches it.
				if n := calls.count(importOrders) - before; n > 1 {
					t.Errorf("%d upstream calls for one request", n)
				}
				if orderExists(t, "waf-nd-"+tc.name) {
					t.Errorf("the refused line reached the backend: order waf-nd-%s was imported", tc.name)
				}
			})
		}
		wafMessageLines(t, logs)
	})

	t.Run("clean ndjson stream passes", func(t *testing.T) {
		body := order("waf-clean-1", "1", "O'BRIEN-10") + "\n" + order("waf-clean-2", "2", "") + "\n"
		r := rest.do(t, "POST", "/v1/orders:import", body, "Content-Type", "application/x-ndjson")
		if r.status != 200 || !contains(t, r.body, `{"imported":2}`) {
			t.Fatalf("HTTP %d %s", r.status, r.body)
		}
		if l := wafMessageLines(t, logs); len(l) != 0 {
			t.Errorf("clean messages logged: %+v", l)
		}
	})

	// After the first response, a refused line ends a bidi stream with an {"error": ...} line.
	t.Run("ndjson bidi after the first response", func(t *testing.T) {
		conn := dialRaw(t, g)
		if _, err := fmt.Fprint(conn, "POST /v1/inventory:adjust HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/x-ndjson\r\n"+
			"Transfer-Encoding: chunked\r\n\r\n"+chunk(`{"productId":"p4","delta":1}`+"\n")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		if l := readLine(t, br); resp.StatusCode != 200 || l.Result["productId"] != "p4" {
			t.Fatalf("HTTP %d, first line %+v", resp.StatusCode, l)
		}
		// Sent only now that the stream has begun.
		if _, err := fmt.Fprint(conn, chunk(`{"productId":"`+xss+`","delta":1}`+"\n")); err != nil {
			t.Fatal(err)
		}
		wantWAFStatus(t, readLine(t, br).Error, "line 2: ")
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Errorf("after the error line: %q, %v", rest, err)
		}
		wafMessageLines(t, logs)
	})

	dial := func(t *testing.T, path string) *websocket.Conn {
		t.Helper()
		return dialRESTWebSocket(t, ctx, g, path)
	}
	write := func(t *testing.T, c *websocket.Conn, typ websocket.MessageType, m string) {
		t.Helper()
		if err := c.Write(ctx, typ, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}

	// A refused text frame: the final error frame, then close 4007 (wantMessageRefused).
	t.Run("websocket bidi", func(t *testing.T) {
		c := dial(t, "/v1/inventory:adjust")
		write(t, c, websocket.MessageText, `{"productId":"p4","delta":1}`)
		if f := readFrame(t, ctx, c); f.Result["productId"] != "p4" {
			t.Fatalf("frame %+v", f)
		}
		write(t, c, websocket.MessageText, `{"productId":"`+sqli+`","delta":1}`)
		wantMessageRefused(t, ctx, c, "message 2: ")
		wafMessageLines(t, logs)
	})

	t.Run("websocket client stream", func(t *testing.T) {
		c := dial(t, "/v1/orders:import")
		write(t, c, websocket.MessageText, order("", "1", ""))
		write(t, c, websocket.MessageText, order("waf-ws-xss", "1", xss))
		wantMessageRefused(t, ctx, c, "message 2: ")
		if orderExists(t, "waf-ws-xss") {
			t.Error("the refused frame reached the backend")
		}
		wafMessageLines(t, logs)
	})

	// Binary frames are protobuf: not inspected (as gRPC is not), so this one reaches the shop,
	// which knows no such product.
	t.Run("websocket binary frames pass uninspected", func(t *testing.T) {
		c := dial(t, "/v1/inventory:adjust")
		bin, err := proto.Marshal(&catalogv1.AdjustInventoryRequest{ProductId: sqli, Delta: 1})
		if err != nil {
			t.Fatal(err)
		}
		write(t, c, websocket.MessageBinary, string(bin))
		if f := readFrame(t, ctx, c); f.Error == nil || f.Error.Code != 5 {
			t.Fatalf("frame %+v, want the shop's NOT_FOUND", f)
		}
	})

	const watch = "/shop.catalog.v1.CatalogService/WatchInventory"
	const subscription = `subscription W($id: String!) { watchInventory(id: $id, interval: "0.01s") { productId sequence } }`

	// An operation over graphql-transport-ws is inspected as a POST's body would be: a refused
	// one gets an "error" message with the denial, and never calls its method.
	t.Run("graphql websocket", func(t *testing.T) {
		ws := dialGraphQLWS(t, ctx, g)
		before := calls.count(watch)
		m := ws.subscribe("1", subscription, map[string]any{"id": sqli})
		var errs []gqlError
		if err := json.Unmarshal(m.Payload, &errs); err != nil || m.Type != "error" || len(errs) != 1 {
			t.Fatalf("got %s %s, want an error message", m.Type, m.Payload)
		}
		e := errs[0]
		if e.Extensions.Code != "PERMISSION_DENIED" || !strings.HasPrefix(e.Message, "request blocked by the web application firewall") ||
			len(e.Extensions.Details) != 1 || e.Extensions.Details[0]["reason"] != "WAF_BLOCKED" {
			t.Errorf("error %+v", e)
		}
		if calls.count(watch) != before {
			t.Error("the refused subscription called WatchInventory")
		}
		// A query over the socket is inspected too.
		m = ws.subscribe("2", `query U($id: String!) { getUser(id: $id) { name } }`, map[string]any{"id": xss})
		if m.Type != "error" || !strings.Contains(string(m.Payload), "WAF_BLOCKED") {
			t.Errorf("query: got %s %s, want an error message", m.Type, m.Payload)
		}
		// The socket still serves clean operations, variables named like MongoDB operators included.
		m = ws.subscribe("3", `subscription W($in: String!, $where: Duration) { watchInventory(id: $in, interval: $where) { productId sequence } }`,
			map[string]any{"in": "p2", "where": "0.01s"})
		if m.Type != "next" || !strings.Contains(string(m.Payload), `"productId":"p2"`) {
			t.Errorf("clean subscription: got %s %s", m.Type, m.Payload)
		}
		ws.send(gqlWSMessage{ID: "3", Type: "complete"})
		wafMessageLines(t, logs)
	})

	// A connection_init payload's values go upstream as forwarded headers: they are inspected as
	// a request's headers are. A clean one (a token, a request id) is acknowledged; an injection
	// in one closes the socket with 4403 before any operation.
	t.Run("graphql websocket connection_init", func(t *testing.T) {
		init := func(t *testing.T, payload map[string]any) *websocket.Conn {
			c, _, err := websocket.Dial(ctx, "ws://"+g.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.CloseNow() })
			p, _ := json.Marshal(payload)
			if err := wsjson.Write(ctx, c, gqlWSMessage{Type: "connection_init", Payload: p}); err != nil {
				t.Fatal(err)
			}
			return c
		}
		clean := init(t, map[string]any{"headers": map[string]any{"Authorization": "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "x-request-id": "init-1"}})
		var m gqlWSMessage
		if err := wsjson.Read(ctx, clean, &m); err != nil || m.Type != "connection_ack" {
			t.Fatalf("clean payload: got %+v, %v; want connection_ack", m, err)
		}
		bad := init(t, map[string]any{"headers": map[string]any{"x-request-id": sqli}})
		if ce := closeOf(t, ctx, bad); ce.Code != 4403 {
			t.Errorf("close %v, want 4403", ce)
		}
		wafMessageLines(t, logs)
	})

	// SSE subscriptions are POSTs: their body is inspected by the request's transaction (403).
	t.Run("graphql sse", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"query": subscription, "variables": map[string]any{"id": sqli}})
		r := rest.do(t, "POST", "/graphql", string(body), "Accept", "text/event-stream")
		if r.status != 403 || !strings.Contains(string(r.body), "WAF_BLOCKED") {
			t.Fatalf("HTTP %d %s, want 403", r.status, r.body)
		}
	})

	// Detection by a rule: the same firewall (the waf section is unchanged). GraphQL keeps the
	// strictest mode of all (the section's blocking), so this is the REST front's.
	detection := wafPolicies()
	detection.Rules = []config.PolicyRule{{Name: "detect", Match: config.PolicyMatch{Prefix: "/"}, WAF: "detection"}}
	spec, err := demo.Spec(g.shop)
	if err != nil {
		t.Fatal(err)
	}
	spec.Policies = detection
	if _, err := g.srv.Apply(spec); err != nil {
		t.Fatal(err)
	}
	wafMessageLines(t, logs)

	t.Run("detection passes and logs", func(t *testing.T) {
		body := order("waf-det-1", "1", "") + "\n" + order("waf-det-2", sqli, "") + "\n"
		r := rest.do(t, "POST", "/v1/orders:import", body, "Content-Type", "application/x-ndjson")
		if r.status != 200 || !contains(t, r.body, `{"imported":2}`) {
			t.Fatalf("HTTP %d %s, want both orders imported", r.status, r.body)
		}
		entries := wafMessageLines(t, logs)
		if len(entries) != 1 {
			t.Fatalf("log %+v, want one line", entries)
		}
		if e := entries[0]; e.Action != "detected" || e.Front != "rest" || e.Route != "/v1/orders:import" ||
			e.RPC != importOrders || e.Path != nil || e.Message != 2 ||
			!strings.Contains(strings.Join(e.Variables, " "), "ARGS:json.order.userId") {
			t.Errorf("log entry %+v", e)
		}

	})

	// Blocking by a rule on the method alone, the section off: a WebSocket handshake is a GET on
	// the path of a method bound to POST, and must still be resolved to that method's rule.
	byRule := wafPolicies()
	byRule.WAF.Mode = "off"
	byRule.Rules = []config.PolicyRule{{Name: "import-blocks", Match: config.PolicyMatch{Method: importOrders}, WAF: "blocking"}}
	spec.Policies = byRule
	if _, err := g.srv.Apply(spec); err != nil {
		t.Fatal(err)
	}
	wafMessageLines(t, logs)
	t.Run("websocket under a method rule", func(t *testing.T) {
		c := dial(t, "/v1/orders:import")
		write(t, c, websocket.MessageText, order("waf-ws-rule", "1", xss))
		wantMessageRefused(t, ctx, c, "message 1: ")
		if orderExists(t, "waf-ws-rule") {
			t.Error("the refused frame reached the backend")
		}
		wafMessageLines(t, logs)
	})
}

func ptr[T any](v T) *T { return &v }

// dialRESTWebSocket opens a WebSocket to the REST route at path, closed when the test ends.
func dialRESTWebSocket(t *testing.T, ctx context.Context, g *gateway, path string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.Dial(ctx, wsURL(g, path), nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}
