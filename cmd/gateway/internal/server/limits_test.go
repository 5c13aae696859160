package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/transcoder"
)

// The JSON limits of policies.limits, end to end: a real gateway in front of the shop, over loopback.

const (
	createUser   = "/shop.users.v1.UserService/CreateUser"
	importOrders = "/shop.orders.v1.OrderService/ImportOrders"
	stringLimit  = "JSON string longer than the limit of 256 bytes"
)

// limitedGateway starts a gateway whose JSON strings may be 256 bytes long, counting the shop's calls.
func limitedGateway(t *testing.T) (*gateway, *methodCounter) {
	t.Helper()
	pol := config.Policies{Limits: config.Limits{MaxStringLength: 256}}.Completed()
	calls := &methodCounter{}
	return startGateway(t, harnessOptions{policies: &pol, shop: shop.Options{OnCall: calls.onCall}}), calls
}

// post sends body labelled contentType, or with no Content-Type when it is "".
func post(t *testing.T, g *gateway, path, contentType, body string) restResponse {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+g.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header["Content-Type"] = []string{contentType}
	}
	return send(t, http.DefaultClient, req)
}

// TestJSONLimitsWhateverTheContentType: a body the REST front reads as JSON or NDJSON is held to
// the JSON limits under every Content-Type it reads so, malformed parameters and every name of
// NDJSON included: a string over max_string_length is refused with 400 naming the limit and never
// reaches the backend, while the same request within the limit is served, which shows that the
// front reads the type. A type the front does not read is refused either way.
func TestJSONLimitsWhateverTheContentType(t *testing.T) {
	g, calls := limitedGateway(t)
	long := strings.Repeat("x", 257)
	for i, ct := range []string{
		"", "application/json", `application/json; charset="utf-8`, "application/json; charset", ";charset=utf-8",
		" Application/JSON ", "application/j\u017fon", `application/merge-patch+json; profile="`,
		"application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines",
		`application/x-jsonlines; charset="utf-8`,
		"text/plain", "application/json charset=utf-8",
	} {
		kind := transcoder.RequestBodyKind(ct)
		t.Run(fmt.Sprintf("%q", ct), func(t *testing.T) {
			// Unary: CreateUser reads a JSON body; NDJSON is for streams (415).
			user := func(name string) string { return fmt.Sprintf(`{"name":%q,"email":"ct%d@example.com"}`, name, i) }
			before := calls.count(createUser)
			over := post(t, g, "/v1/users", ct, user(long))
			if calls.count(createUser) != before {
				t.Errorf("CreateUser: the string over the limit reached the backend (HTTP %d %s)", over.status, over.body)
			}
			within := post(t, g, "/v1/users", ct, user("Grace Hopper"))
			if kind == transcoder.BodyJSON {
				if within.status != 200 {
					t.Errorf("CreateUser within the limits: HTTP %d %s", within.status, within.body)
				}
				wantLimitRefusal(t, over)
			} else if within.status != http.StatusUnsupportedMediaType || over.status/100 != 4 {
				t.Errorf("CreateUser: HTTP %d within the limits and %d over them, want 415 and a refusal", within.status, over.status)
			}

			// Client streaming: ImportOrders reads NDJSON, or a sequence of JSON values.
			order := func(id, gift string) string {
				return fmt.Sprintf(`{"order":{"id":%q,"userId":"1","giftMessage":%q,"items":[{"productId":"p1","quantity":1}]}}`, id, gift)
			}
			overID := fmt.Sprintf("ct-%d-over", i)
			over = post(t, g, "/v1/orders:import", ct, order(overID, long)+"\n")
			if r := newRESTClient(g).do(t, "GET", "/v1/orders/"+overID, ""); r.status != http.StatusNotFound {
				t.Errorf("ImportOrders: the string over the limit reached the backend: GET the order: HTTP %d", r.status)
			}
			within = post(t, g, "/v1/orders:import", ct, order(fmt.Sprintf("ct-%d-within", i), "Happy birthday")+"\n")
			if kind == transcoder.BodyJSON || kind == transcoder.BodyNDJSON {
				if within.status != 200 || !contains(t, within.body, `{"imported":1}`) {
					t.Errorf("ImportOrders within the limits: HTTP %d %s", within.status, within.body)
				}
				wantLimitRefusal(t, over)
			} else if within.status != http.StatusUnsupportedMediaType || over.status != http.StatusUnsupportedMediaType {
				t.Errorf("ImportOrders: HTTP %d within the limits and %d over them, want 415", within.status, over.status)
			}
		})
	}
}

// TestNDJSONStreamHasNoTotalLimit: max_body_bytes bounds each message of a REST stream, not the
// stream: an NDJSON import larger than the limit in all is served whether it announces its length or
// is chunked, while an NDJSON body to a unary method, which the front reads whole, is refused 413
// either way.
func TestNDJSONStreamHasNoTotalLimit(t *testing.T) {
	pol := config.Policies{Limits: config.Limits{MaxBodyBytes: 4 << 10}}.Completed()
	g := startGateway(t, harnessOptions{policies: &pol})
	unary := fmt.Sprintf(`{"name":"Grace Hopper","email":"grace@example.com","nickname":%q}`, strings.Repeat("x", 5<<10))
	for _, framing := range []string{"length", "chunked"} {
		t.Run(framing, func(t *testing.T) {
			ndjson := func(path, body string) restResponse {
				t.Helper()
				var r io.Reader = strings.NewReader(body)
				if framing == "chunked" {
					r = io.MultiReader(r) // no length the client can see
				}
				req, err := http.NewRequest("POST", "http://"+g.addr+path, r)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-ndjson")
				return send(t, http.DefaultClient, req)
			}
			var stream strings.Builder
			const orders = 60
			for i := range orders {
				fmt.Fprintf(&stream, `{"order":{"id":"nolimit-%s-%d","userId":"1","items":[{"productId":"p1","quantity":1}]}}`+"\n", framing, i)
			}
			if stream.Len() <= 4<<10 {
				t.Fatalf("the stream is %d bytes, within the limit: the case proves nothing", stream.Len())
			}
			if r := ndjson("/v1/orders:import", stream.String()); r.status != 200 || !contains(t, r.body, fmt.Sprintf(`{"imported":%d}`, orders)) {
				t.Errorf("an import of %d bytes: HTTP %d %s, want every order imported", stream.Len(), r.status, r.body)
			}
			if r := ndjson("/v1/users", unary); r.status != http.StatusRequestEntityTooLarge {
				t.Errorf("a unary NDJSON body of %d bytes: HTTP %d %s, want 413", len(unary), r.status, r.body)
			}
		})
	}
}

// wantLimitRefusal checks r is the limits' refusal of a string over max_string_length: 400
// INVALID_ARGUMENT naming the limit, with a google.rpc.BadRequest detail naming the body.
func wantLimitRefusal(t *testing.T, r restResponse) {
	t.Helper()
	st := decodeJSON[statusJSON](t, string(r.body))
	if r.status != 400 || st.Code != 3 || !strings.Contains(st.Message, stringLimit) || len(st.Details) != 1 ||
		st.Details[0]["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
		t.Errorf("HTTP %d %s, want 400 INVALID_ARGUMENT naming the limit", r.status, r.body)
	}
}

// TestJSONLimitsOverWebSocket: the limits hold every WebSocket message as they hold a POST's body.
// Over REST, a text frame over them ends the call as a malformed frame does: a last {"error": ...}
// frame, INVALID_ARGUMENT naming the limit and the message, then close 4003; the frame never
// reaches the backend. Over GraphQL, a subscribe over them gets an error message for its id, calls
// nothing, and the socket serves on.
func TestJSONLimitsOverWebSocket(t *testing.T) {
	g, calls := limitedGateway(t)
	ctx := testContext(t)
	long := strings.Repeat("x", 257)
	dial := func(t *testing.T, path string) *websocket.Conn {
		t.Helper()
		return dialRESTWebSocket(t, ctx, g, path)
	}
	write := func(t *testing.T, c *websocket.Conn, m string) {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	wantRefused := func(t *testing.T, c *websocket.Conn) {
		t.Helper()
		f := readFrame(t, ctx, c)
		if f.Error == nil || f.Error.Code != 3 || !strings.HasPrefix(f.Error.Message, "message 2: "+stringLimit+" (at byte ") ||
			len(f.Error.Details) != 1 || f.Error.Details[0]["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
			t.Fatalf("frame %+v, want INVALID_ARGUMENT naming the limit and message 2", f)
		}
		if ce := closeOf(t, ctx, c); ce.Code != 4003 || !strings.HasPrefix(ce.Reason, "message 2: "+stringLimit) {
			t.Errorf("close %v, want 4003 (4000 + INVALID_ARGUMENT) naming the limit", ce)
		}
	}

	t.Run("rest client stream", func(t *testing.T) {
		c := dial(t, "/v1/orders:import")
		write(t, c, `{"order":{"id":"ws-limit-1","userId":"1","items":[{"productId":"p1","quantity":1}]}}`)
		write(t, c, `{"order":{"id":"ws-limit-2","userId":"1","giftMessage":"`+long+`","items":[{"productId":"p1","quantity":1}]}}`)
		_ = c.Write(ctx, websocket.MessageText, nil) // half-close; the call may have ended already
		wantRefused(t, c)
		if r := newRESTClient(g).do(t, "GET", "/v1/orders/ws-limit-2", ""); r.status != http.StatusNotFound {
			t.Errorf("the frame over the limit reached the backend: GET the order: HTTP %d", r.status)
		}
	})

	t.Run("rest bidi", func(t *testing.T) {
		c := dial(t, "/v1/inventory:adjust")
		write(t, c, `{"productId":"p4","delta":1}`)
		if f := readFrame(t, ctx, c); f.Result["productId"] != "p4" {
			t.Fatalf("frame %+v", f)
		}
		write(t, c, `{"productId":"`+long+`","delta":1}`)
		wantRefused(t, c)
	})

	t.Run("graphql", func(t *testing.T) {
		const watch = "/shop.catalog.v1.CatalogService/WatchInventory"
		const subscription = `subscription W($id: String!) { watchInventory(id: $id, interval: "0.01s") { productId sequence } }`
		ws := dialGraphQLWS(t, ctx, g)
		before := calls.count(watch)
		m := ws.subscribe("1", subscription, map[string]any{"id": long})
		var errs []gqlError
		if err := json.Unmarshal(m.Payload, &errs); err != nil || m.Type != "error" || len(errs) != 1 {
			t.Fatalf("got %s %s, want an error message", m.Type, m.Payload)
		}
		if e := errs[0]; e.Extensions.Code != "INVALID_ARGUMENT" || !strings.HasPrefix(e.Message, stringLimit+" (at byte ") ||
			len(e.Extensions.Details) != 1 || e.Extensions.Details[0]["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
			t.Errorf("error %+v, want INVALID_ARGUMENT naming the limit", e)
		}
		if calls.count(watch) != before {
			t.Error("the refused subscription called WatchInventory")
		}
		m = ws.subscribe("2", subscription, map[string]any{"id": "p2"})
		if m.Type != "next" || !strings.Contains(string(m.Payload), `"productId":"p2"`) {
			t.Errorf("a subscription within the limits: got %s %s", m.Type, m.Payload)
		}
		ws.send(gqlWSMessage{ID: "2", Type: "complete"})
	})
}
