package server_test

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testws"
)

// Streaming over REST, end to end: the real gateway in front of the real shop, over loopback.

// startStream sends a REST request and returns the response as soon as its headers arrive; the
// body is read as it streams. headers are name, value pairs. The body is closed when the test ends.
func startStream(t *testing.T, ctx context.Context, g *gateway, method, path, body string, headers ...string) *http.Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+g.addr+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// streamLine is one NDJSON line of a streamed response.
type streamLine struct {
	Result map[string]any `json:"result"`
	Error  *statusJSON    `json:"error"`
}

type statusJSON struct {
	Code    int              `json:"code"`
	Message string           `json:"message"`
	Details []map[string]any `json:"details"`
}

// readLine reads one NDJSON line, which must be exactly one of result or error.
func readLine(t *testing.T, br *bufio.Reader) streamLine {
	t.Helper()
	raw, err := br.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading a line: %v (got %q)", err, raw)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil || len(keys) != 1 {
		t.Fatalf("line %q is not {\"result\": ...} or {\"error\": ...}", raw)
	}
	var l streamLine
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatal(err)
	}
	if (l.Result == nil) == (l.Error == nil) {
		t.Fatalf("line %q has neither result nor error", raw)
	}
	return l
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	event string // "" for the default type
	data  string
}

// readEvent reads one SSE event.
func readEvent(t *testing.T, br *bufio.Reader) sseEvent {
	t.Helper()
	var ev sseEvent
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading an event: %v (got %q)", err, line)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			ev.data = strings.Join(data, "\n")
			return ev
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
}

func decodeJSON[T any](t *testing.T, data string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	return v
}

// TestRESTServerStreamNDJSON reads WatchInventory as newline-delimited JSON.
func TestRESTServerStreamNDJSON(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	resp := startStream(t, testContext(t), g, "GET", "/v1/products/p1/inventory:watch?interval=0.01s", "", "Grpc-Metadata-X-Request-Id", "nd-1")
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q, want application/x-ndjson", ct)
	}
	if got := resp.Header.Get("Grpc-Metadata-X-Request-Id"); got != "nd-1" {
		t.Errorf("Grpc-Metadata-X-Request-Id = %q: the backend's header did not come back", got)
	}
	br := bufio.NewReader(resp.Body)
	for seq := 1; seq <= 3; seq++ {
		l := readLine(t, br)
		if l.Result == nil || l.Result["productId"] != "p1" || l.Result["sequence"] != fmt.Sprint(seq) || l.Result["at"] == nil {
			t.Fatalf("line %d: %+v", seq, l)
		}
	}
}

// TestRESTServerStreamSSE reads WatchInventory as Server-Sent Events.
func TestRESTServerStreamSSE(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	resp := startStream(t, testContext(t), g, "GET", "/v1/products/p2/inventory:watch?interval=0.01s", "", "Accept", "text/event-stream")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("HTTP %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	for seq := 1; seq <= 3; seq++ {
		ev := readEvent(t, br)
		if ev.event != "" {
			t.Fatalf("event %d has type %q, want the default", seq, ev.event)
		}
		m := decodeJSON[map[string]any](t, ev.data)
		if m["productId"] != "p2" || m["sequence"] != fmt.Sprint(seq) {
			t.Fatalf("event %d: %s", seq, ev.data)
		}
	}
}

// TestRESTStreamErrors: a failure before the first message is an ordinary error response; after it,
// the stream's last element. Bidi streaming over POST exercises the mid-stream case: the third
// adjustment would take the stock below 0.
func TestRESTStreamErrors(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	ctx := testContext(t)

	t.Run("before the first message", func(t *testing.T) {
		for _, accept := range []string{"", "text/event-stream"} {
			resp := startStream(t, ctx, g, "GET", "/v1/products/p99/inventory:watch", "", "Accept", accept)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("Accept %q: HTTP %d %q: %s", accept, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if st := decodeJSON[statusJSON](t, string(body)); st.Code != 5 || !strings.Contains(st.Message, "p99") || len(st.Details) == 0 {
				t.Errorf("status %s", body)
			}
			if got := resp.Header.Get("Grpc-Trailer-X-Served-By"); got != "catalog" {
				t.Errorf("Grpc-Trailer-X-Served-By = %q, want the backend's trailer as a header", got)
			}
		}
	})

	body := `{"productId":"p4","delta":5}` + "\n" + `{"productId":"p4","delta":-2}` + "\n" + `{"productId":"p4","delta":-100000000}` + "\n"
	t.Run("mid-stream NDJSON", func(t *testing.T) {
		resp := startStream(t, ctx, g, "POST", "/v1/inventory:adjust", body, "Content-Type", "application/x-ndjson")
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		br := bufio.NewReader(resp.Body)
		first, second := readLine(t, br), readLine(t, br)
		if first.Result == nil || second.Result == nil || first.Result["sequence"] != "1" || second.Result["sequence"] != "2" {
			t.Fatalf("lines %+v, %+v", first, second)
		}
		s1, s2 := decodeJSON[int](t, first.Result["stock"].(string)), decodeJSON[int](t, second.Result["stock"].(string))
		if s2 != s1-2 {
			t.Errorf("stock %d then %d", s1, s2)
		}
		last := readLine(t, br)
		if last.Error == nil || last.Error.Code != 9 || !strings.Contains(last.Error.Message, "below 0") ||
			len(last.Error.Details) != 1 || last.Error.Details[0]["@type"] != "type.googleapis.com/google.rpc.PreconditionFailure" {
			t.Fatalf("last line %+v, want a FAILED_PRECONDITION status with its detail", last)
		}
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Errorf("after the error line: %q, %v", rest, err)
		}
		if got := resp.Trailer.Get("Grpc-Trailer-X-Served-By"); got != "catalog" {
			t.Errorf("HTTP trailer Grpc-Trailer-X-Served-By = %q (trailers %v)", got, resp.Trailer)
		}
	})

	t.Run("mid-stream SSE", func(t *testing.T) {
		resp := startStream(t, ctx, g, "POST", "/v1/inventory:adjust", body, "Content-Type", "application/x-ndjson", "Accept", "text/event-stream")
		br := bufio.NewReader(resp.Body)
		for range 2 {
			if ev := readEvent(t, br); ev.event != "" {
				t.Fatalf("event %+v", ev)
			}
		}
		ev := readEvent(t, br)
		if st := decodeJSON[statusJSON](t, ev.data); ev.event != "error" || st.Code != 9 {
			t.Fatalf("last event %+v, want an error event with FAILED_PRECONDITION", ev)
		}
	})

	t.Run("upstream stops mid-stream", func(t *testing.T) {
		g := startGateway(t, harnessOptions{}) // its own shop, stopped below
		nd := startStream(t, ctx, g, "GET", "/v1/products/p1/inventory:watch?interval=0.01s", "")
		sse := startStream(t, ctx, g, "GET", "/v1/products/p1/inventory:watch?interval=0.01s", "", "Accept", "text/event-stream")
		ndr, sser := bufio.NewReader(nd.Body), bufio.NewReader(sse.Body)
		readLine(t, ndr)
		readEvent(t, sser)
		g.shop.Close() // open server streams end with UNAVAILABLE
		for {
			if l := readLine(t, ndr); l.Error != nil {
				if l.Error.Code != 14 {
					t.Errorf("NDJSON error %+v, want UNAVAILABLE", l.Error)
				}
				break
			}
		}
		for {
			if ev := readEvent(t, sser); ev.event != "" {
				if st := decodeJSON[statusJSON](t, ev.data); ev.event != "error" || st.Code != 14 {
					t.Errorf("SSE event %+v, want an UNAVAILABLE error", ev)
				}
				break
			}
		}
		// Both streams count as failed, though their responses began with 200. Each is counted
		// once its handler returns, which may be a moment after the client read its last line.
		const failed = `gateway_requests_total{code="UNAVAILABLE",front="rest",method="/shop.catalog.v1.CatalogService/WatchInventory"} 2`
		waitFor(t, 10*time.Second, "both streams counted", func() bool {
			_, metrics := httpGet(t, "http://"+g.admin+"/metrics")
			return strings.Contains(metrics, failed+"\n")
		})
		wantMetrics(t, g, failed)
	})
}

// TestRESTStreamOK: a stream that ends with OK ends the NDJSON body, or sends SSE's complete event.
func TestRESTStreamOK(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	ctx := testContext(t)
	body := `{"productId":"p5","delta":1}` + "\n"
	nd := startStream(t, ctx, g, "POST", "/v1/inventory:adjust", body, "Content-Type", "application/x-ndjson")
	br := bufio.NewReader(nd.Body)
	if l := readLine(t, br); l.Result["productId"] != "p5" {
		t.Fatalf("line %+v", l)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after the last message: %q, %v", rest, err)
	}
	sse := startStream(t, ctx, g, "POST", "/v1/inventory:adjust", body, "Content-Type", "application/x-ndjson", "Accept", "text/event-stream")
	br = bufio.NewReader(sse.Body)
	readEvent(t, br)
	if ev := readEvent(t, br); ev.event != "complete" || ev.data != "{}" {
		t.Errorf("last event %+v, want complete", ev)
	}
}

// TestRESTClientStream imports orders from a newline-delimited JSON body.
func TestRESTClientStream(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	c := newRESTClient(g)
	nd := "Content-Type"
	body := `{"order":{"id":"rest-1","userId":"1","items":[{"productId":"p1","quantity":1}]}}` + "\r\n" +
		"\n   \n" +
		`{"order":{"userId":"2","items":[{"productId":"p2","quantity":3}]}}` + "\n" +
		`{"order":{"id":"rest-2","items":[{"productId":"p2","quantity":3}]}}` // no newline at the end
	r := c.do(t, "POST", "/v1/orders:import", body, nd, "application/x-ndjson")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("HTTP %d %q: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if !contains(t, r.body, `{"imported":2,"rejected":{"rest-2":"user_id is required"}}`) {
		t.Errorf("response %s", r.body)
	}
	if r.header.Get("Grpc-Trailer-X-Served-By") != "orders" {
		t.Errorf("headers %v: no Grpc-Trailer-X-Served-By", r.header)
	}
	if g := c.do(t, "GET", "/v1/orders/rest-1", ""); g.status != 200 {
		t.Errorf("the imported order: HTTP %d %s", g.status, g.body)
	}
	// Labelled application/json, the body is a sequence of JSON values, one per message, each over
	// as many lines as it likes (as a JSON decoder reads a stream).
	pretty := "{\n  \"order\": {\n    \"id\": \"rest-3\", \"userId\": \"1\",\n    \"items\": [{\"productId\": \"p1\", \"quantity\": 1}]\n  }\n}" +
		`{"order":{"id":"rest-4 } \" {","userId":"2","items":[{"productId":"p2","quantity":1}]}}` + "\n\n" +
		`{"order":{"id":"rest-5","items":[]}}`
	r = c.do(t, "POST", "/v1/orders:import", pretty, nd, "application/json")
	if r.status != 200 || !contains(t, r.body, `{"imported":2,"rejected":{"rest-5":"user_id is required"}}`) {
		t.Errorf("a sequence of JSON values: HTTP %d %s", r.status, r.body)
	}

	cases := []struct {
		name, body, contentType string
		status                  int
		message                 string
	}{
		{"bad JSON on line 3", `{"order":{"userId":"1"}}` + "\n\n" + `{"order":{"userId":` + "\n" + `{}`, "application/x-ndjson", 400, "line 3: "},
		{"unknown field on line 2", "{}\n" + `{"colour":"red"}`, "application/jsonl", 400, "line 2: "},
		{"unknown field in message 2", "{}\n{\n" + `"colour":"red"}`, "application/json", 400, "message 2: "},
		{"cut short", "{}{\"order\":", "application/json", 400, "message 2: "},
		{"not JSON lines", "a=b", "application/x-www-form-urlencoded", 415, "newline-delimited JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(t, "POST", "/v1/orders:import", tc.body, nd, tc.contentType)
			if r.status != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", r.status, tc.status, r.body)
			}
			if st := decodeJSON[statusJSON](t, string(r.body)); st.Code != 3 || !strings.Contains(st.Message, tc.message) {
				t.Errorf("status %s, want INVALID_ARGUMENT with %q", r.body, tc.message)
			}
		})
	}
}

// wsURL is the WebSocket URL of a REST path.
func wsURL(g *gateway, path string) string { return "ws://" + g.addr + path }

// readFrame reads one text frame, which must be exactly one of result or error.
func readFrame(t *testing.T, ctx context.Context, c *websocket.Conn) streamLine {
	t.Helper()
	typ, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("a %v frame, want text", typ)
	}
	return readLine(t, bufio.NewReader(strings.NewReader(string(data)+"\n")))
}

// closeOf reads until the socket closes and returns its close frame.
func closeOf(t *testing.T, ctx context.Context, c *websocket.Conn) websocket.CloseError {
	t.Helper()
	_, data, err := c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("after the last message: %q, %v; want a close frame", data, err)
	}
	return ce
}

// TestRESTWebSocket runs AdjustInventory (bidi, bound to POST) and WatchInventory over WebSocket.
func TestRESTWebSocket(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	ctx := testContext(t)
	dial := func(t *testing.T, path string, opts *websocket.DialOptions) *websocket.Conn {
		t.Helper()
		c, resp, err := websocket.Dial(ctx, wsURL(g, path), opts)
		if err != nil {
			t.Fatalf("dial: %v (%v)", err, resp)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}

	t.Run("bidi round trip", func(t *testing.T) {
		c := dial(t, "/v1/inventory:adjust", nil)
		var stock int
		for i, delta := range []int{5, -2} {
			if err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"productId":"p3","delta":%d}`, delta)); err != nil {
				t.Fatal(err)
			}
			f := readFrame(t, ctx, c)
			if f.Result == nil || f.Result["productId"] != "p3" || f.Result["sequence"] != fmt.Sprint(i+1) {
				t.Fatalf("frame %d: %+v", i+1, f)
			}
			got := decodeJSON[int](t, f.Result["stock"].(string))
			if i > 0 && got != stock+delta {
				t.Errorf("stock %d after %d, want %d", got, delta, stock+delta)
			}
			stock = got
		}
		// A binary frame is a protobuf request.
		bin, err := proto.Marshal(&catalogv1.AdjustInventoryRequest{ProductId: "p3", Delta: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write(ctx, websocket.MessageBinary, bin); err != nil {
			t.Fatal(err)
		}
		if f := readFrame(t, ctx, c); f.Result["stock"] != fmt.Sprint(stock-1) {
			t.Errorf("after a binary frame: %+v, want stock %d", f, stock-1)
		}
		// An empty text frame half-closes; the upstream's OK closes the socket normally.
		if err := c.Write(ctx, websocket.MessageText, nil); err != nil {
			t.Fatal(err)
		}
		if ce := closeOf(t, ctx, c); ce.Code != websocket.StatusNormalClosure {
			t.Errorf("close %v, want 1000", ce)
		}
	})

	t.Run("upstream error", func(t *testing.T) {
		c := dial(t, "/v1/inventory:adjust", nil)
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"productId":"p3","delta":-100000000}`)); err != nil {
			t.Fatal(err)
		}
		f := readFrame(t, ctx, c)
		if f.Error == nil || f.Error.Code != 9 || len(f.Error.Details) != 1 {
			t.Fatalf("frame %+v, want FAILED_PRECONDITION with its detail", f)
		}
		if ce := closeOf(t, ctx, c); ce.Code != 4009 || !strings.Contains(ce.Reason, "below 0") {
			t.Errorf("close %v, want 4009 (4000 + FAILED_PRECONDITION) with the message", ce)
		}
	})

	t.Run("bad message", func(t *testing.T) {
		c := dial(t, "/v1/inventory:adjust", nil)
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"productId":`)); err != nil {
			t.Fatal(err)
		}
		f := readFrame(t, ctx, c)
		if f.Error == nil || f.Error.Code != 3 || !strings.HasPrefix(f.Error.Message, "message 1: ") {
			t.Fatalf("frame %+v, want INVALID_ARGUMENT naming message 1", f)
		}
		if ce := closeOf(t, ctx, c); ce.Code != 4003 {
			t.Errorf("close %v, want 4003", ce)
		}
	})

	t.Run("server streaming", func(t *testing.T) {
		c := dial(t, "/v1/products/p1/inventory:watch?interval=0.01s", nil)
		for seq := 1; seq <= 2; seq++ {
			if f := readFrame(t, ctx, c); f.Result["sequence"] != fmt.Sprint(seq) {
				t.Fatalf("frame %d: %+v", seq, f)
			}
		}
		if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	t.Run("client streaming", func(t *testing.T) {
		c := dial(t, "/v1/orders:import", nil)
		for _, m := range []string{`{"order":{"userId":"1","items":[{"productId":"p1","quantity":1}]}}`, `{"order":{"id":"ws-2"}}`, ""} {
			if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		f := readFrame(t, ctx, c)
		if f.Result == nil || f.Result["imported"] != float64(1) {
			t.Fatalf("frame %+v", f)
		}
		if ce := closeOf(t, ctx, c); ce.Code != websocket.StatusNormalClosure {
			t.Errorf("close %v", ce)
		}
	})

	t.Run("handshake errors", func(t *testing.T) {
		_, resp, err := websocket.Dial(ctx, wsURL(g, "/v1/inventory:adjust"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example"}}})
		if err == nil || resp == nil || resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("cross-origin handshake: %v, %v; want a 403 status", err, resp)
		}
		_, resp, err = websocket.Dial(ctx, wsURL(g, "/v2/nope"), nil)
		if err == nil || resp == nil || resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("handshake on no route: %v, %v; want a 404 status", err, resp)
		}
		// An upstream failure comes after the upgrade: in the socket.
		c := dial(t, "/v1/products/p99/inventory:watch", nil)
		if f := readFrame(t, ctx, c); f.Error == nil || f.Error.Code != 5 {
			t.Fatalf("frame %+v, want NOT_FOUND", f)
		}
		if ce := closeOf(t, ctx, c); ce.Code != 4005 {
			t.Errorf("close %v, want 4005", ce)
		}
	})
}

// TestRESTStreamClientGoneCancelsUpstream: a client that goes away, over each transport, cancels the
// backend's call.
func TestRESTStreamClientGoneCancelsUpstream(t *testing.T) {
	calls := make(chan context.Context, 16)
	g := startGateway(t, harnessOptions{shop: shop.Options{OnCall: func(ctx context.Context, method string) {
		switch method {
		case "/shop.catalog.v1.CatalogService/WatchInventory", "/shop.catalog.v1.CatalogService/AdjustInventory",
			"/shop.orders.v1.OrderService/ImportOrders":
			calls <- ctx
		}
	}}})
	backendCall := func(t *testing.T) context.Context {
		t.Helper()
		select {
		case ctx := <-calls:
			return ctx
		case <-time.After(10 * time.Second):
			t.Fatal("the backend saw no call")
			return nil
		}
	}
	wantCancelled := func(t *testing.T, ctx context.Context) {
		t.Helper()
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the backend's call was not cancelled within 10s of the client going away")
		}
	}
	watch := "/v1/products/p1/inventory:watch?interval=0.01s"

	for _, accept := range []string{"application/x-ndjson", "text/event-stream"} {
		t.Run(accept, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testContext(t))
			resp := startStream(t, ctx, g, "GET", watch, "", "Accept", accept)
			if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			backend := backendCall(t)
			cancel()
			resp.Body.Close()
			wantCancelled(t, backend)
		})
	}

	t.Run("client streaming body abandoned", func(t *testing.T) {
		// A raw HTTP/1.1 request: one line of a chunked body, then the connection drops.
		conn, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		line := `{"order":{"userId":"1","items":[{"productId":"p1","quantity":1}]}}` + "\n"
		if _, err := fmt.Fprintf(conn, "POST /v1/orders:import HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/x-ndjson\r\n"+
			"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(line), line); err != nil {
			t.Fatal(err)
		}
		backend := backendCall(t)
		conn.Close()
		wantCancelled(t, backend)
	})

	for _, tc := range []struct{ name, path string }{{"WebSocket server streaming", watch}, {"WebSocket bidi", "/v1/inventory:adjust"}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			c, _, err := websocket.Dial(ctx, wsURL(g, tc.path), nil)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tc.path, "adjust") {
				if err := c.Write(ctx, websocket.MessageText, []byte(`{"productId":"p1","delta":1}`)); err != nil {
					t.Fatal(err)
				}
			}
			readFrame(t, ctx, c)
			backend := backendCall(t)
			c.CloseNow() // the connection drops, without a close handshake
			wantCancelled(t, backend)
		})
	}
}

// TestRESTBidiConnectionAfterEarlyEnd: a bidi POST over HTTP/1.1 whose upstream ends while the
// client is still sending must not spoil its connection. The handler stops the pending body read,
// which ends the connection's context in net/http; a next request on the same connection would then
// start cancelled. Whether the body is still open (here) or complete but not yet seen to end (a
// race the scheduler decides), the connection must close after the response or serve the next
// request normally.
func TestRESTBidiConnectionAfterEarlyEnd(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	conn := dialRaw(t, g)
	br := bufio.NewReader(conn)
	// Two lines of a chunked body that never ends: the second fails upstream (stock below 0).
	if _, err := fmt.Fprint(conn, "POST /v1/inventory:adjust HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/x-ndjson\r\n"+
		"Transfer-Encoding: chunked\r\n\r\n"+chunk(`{"productId":"p3","delta":1}`+"\n")+chunk(`{"productId":"p3","delta":-100000000}`+"\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"code":9`) {
		t.Fatalf("HTTP %d, %v: %s", resp.StatusCode, err, body)
	}
	if resp.Close {
		if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Errorf("the response says Connection: close, yet the connection stays open (read %d, %v)", n, err)
		}
		return
	}
	if _, err := fmt.Fprint(conn, "GET /v1/products/p1 HTTP/1.1\r\nHost: gateway\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	next, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(next.Body)
	if next.StatusCode != 200 {
		t.Errorf("the next request on the connection: HTTP %d: %s", next.StatusCode, body)
	}
}

// dialRaw opens a plain TCP connection to the gateway's data port for hand-written HTTP/1.1, closed
// when the test ends; reads and writes fail after 20 seconds rather than hang.
func dialRaw(t *testing.T, g *gateway) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// chunk is s as one chunk of a chunked HTTP/1.1 body.
func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

// TestStreamsEndWhenTheGatewayStops: streams would hold a stopping gateway's drain to its end and
// then be cut; shortly before that they are ended instead, each with UNAVAILABLE "the gateway is
// shutting down" in its front's shape.
func TestStreamsEndWhenTheGatewayStops(t *testing.T) {
	const grace = 2 * time.Second
	g := startGateway(t, harnessOptions{config: func(c *config.Config) { c.ShutdownGrace = grace }})
	ctx := testContext(t)
	const shutting = "the gateway is shutting down"

	watch, err := catalogv1.NewCatalogServiceClient(g.conn).WatchInventory(ctx,
		&catalogv1.WatchInventoryRequest{Id: "p1", Interval: durationpb.New(10 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
	nd := bufio.NewReader(startStream(t, ctx, g, "GET", "/v1/products/p1/inventory:watch?interval=0.01s", "").Body)
	readLine(t, nd)
	gql := bufio.NewReader(startStream(t, ctx, g, "POST", "/graphql", `{"query":"subscription { watchInventory(id: \"p1\", interval: \"0.01s\") { stock } }"}`,
		"Content-Type", "application/json", "Accept", "text/event-stream").Body)
	nextData := func() string { // gqlgen's SSE: "event: next" and "data: ..." lines, ":" comments
		t.Helper()
		for {
			line, err := gql.ReadString('\n')
			if err != nil {
				t.Fatalf("GraphQL SSE: %v", err)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				return data
			}
		}
	}
	nextData()
	// GraphQL WebSockets: one with a subscription running, one with nothing running (the legacy
	// graphql-ws protocol). WebSockets are hijacked connections, which the HTTP server's drain does
	// not wait for: each closes with 1001 Going Away once its operations have ended.
	ws := dialGraphQLWS(t, ctx, g)
	if m := ws.subscribe("w", `subscription { watchInventory(id: "p1", interval: "0.01s") { stock } }`, nil); m.Type != "next" {
		t.Fatalf("WebSocket subscription: %+v", m)
	}
	idle, _, err := websocket.Dial(ctx, "ws://"+g.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer idle.CloseNow()
	if err := wsjson.Write(ctx, idle, gqlWSMessage{Type: "connection_init"}); err != nil {
		t.Fatal(err)
	}
	if m := readWS(t, ctx, idle); m.Type != "connection_ack" {
		t.Fatalf("graphql-ws: %+v", m)
	}

	stopped := make(chan struct{})
	go func() { g.stop(t); close(stopped) }()

	for {
		if _, err := watch.Recv(); err != nil {
			if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), shutting) {
				t.Errorf("gRPC stream: %v, want UNAVAILABLE: %s", err, shutting)
			}
			break
		}
	}
	for {
		if l := readLine(t, nd); l.Error != nil {
			if l.Error.Code != 14 || !strings.Contains(l.Error.Message, shutting) {
				t.Errorf("NDJSON error %+v, want UNAVAILABLE: %s", l.Error, shutting)
			}
			break
		}
	}
	for {
		if data := nextData(); strings.Contains(data, `"errors"`) {
			if !strings.Contains(data, "UNAVAILABLE") || !strings.Contains(data, shutting) {
				t.Errorf("GraphQL event %s, want an UNAVAILABLE error: %s", data, shutting)
			}
			break
		}
	}
	// The subscription's last event carries the error, then it completes, then the socket closes.
	var events []string
	for {
		var m gqlWSMessage
		if err := wsjson.Read(ctx, ws.c, &m); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusGoingAway || !strings.Contains(err.Error(), shutting) {
				t.Errorf("WebSocket ended with %v, want 1001 %s", err, shutting)
			}
			break
		}
		if m.Type != "ping" && m.Type != "pong" {
			events = append(events, m.Type+" "+string(m.Payload))
		}
	}
	if n := len(events); n < 2 || !strings.HasPrefix(events[n-1], "complete") ||
		!strings.HasPrefix(events[n-2], "next ") || !strings.Contains(events[n-2], "UNAVAILABLE") || !strings.Contains(events[n-2], shutting) {
		t.Errorf("WebSocket subscription's last messages %q, want a next with the UNAVAILABLE error, then complete", events[max(0, len(events)-2):])
	}
	for {
		if _, _, err := idle.Read(ctx); err != nil { // keep-alives ("ka") until the close
			if websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Errorf("idle WebSocket ended with %v, want 1001", err)
			}
			break
		}
	}
	<-stopped
}

// TestWebSocketsCloseWhenTheGatewayStops: WebSockets are hijacked connections, which the HTTP
// server's drain does not wait for. With nothing but WebSockets open the drain waits for them all the
// same, so that each closes as documented rather than being dropped when the process exits (its
// client reading EOF, 1006): a GraphQL socket running nothing closes with 1001 Going Away as the
// drain starts; one running a subscription, and a REST WebSocket, go on until streams are ended, and
// then close in their front's shape.
func TestWebSocketsCloseWhenTheGatewayStops(t *testing.T) {
	const grace = 3 * time.Second
	g := startGateway(t, harnessOptions{config: func(c *config.Config) { c.ShutdownGrace = grace }})
	ctx := testContext(t)
	const shutting = "the gateway is shutting down"

	idle := dialGraphQLWS(t, ctx, g)
	sub := dialGraphQLWS(t, ctx, g)
	if m := sub.subscribe("w", `subscription { watchInventory(id: "p1", interval: "0.01s") { stock } }`, nil); m.Type != "next" {
		t.Fatalf("WebSocket subscription: %+v", m)
	}
	rest, _, err := websocket.Dial(ctx, wsURL(g, "/v1/inventory:adjust"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rest.CloseNow()
	adjust := func() streamLine {
		t.Helper()
		if err := rest.Write(ctx, websocket.MessageText, []byte(`{"productId":"p3","delta":1}`)); err != nil {
			t.Fatal(err)
		}
		return readFrame(t, ctx, rest)
	}
	if f := adjust(); f.Result == nil {
		t.Fatalf("REST WebSocket: %+v", f)
	}
	idleEnd := make(chan error, 1)
	go func() { // the socket runs nothing: what it reads is its close
		_, _, err := idle.c.Read(ctx)
		idleEnd <- err
	}()

	stopped := make(chan struct{})
	go func() { g.stop(t); close(stopped) }()

	if err := <-idleEnd; websocket.CloseStatus(err) != websocket.StatusGoingAway || !strings.Contains(err.Error(), shutting) {
		t.Errorf("idle GraphQL WebSocket ended with %v, want 1001 %s", err, shutting)
	}
	// The drain goes on: the streams have until a second before its end.
	if f := adjust(); f.Result == nil {
		t.Errorf("REST WebSocket while draining: %+v, want a result", f)
	}
	if m := sub.read(); m.Type != "next" || strings.Contains(string(m.Payload), "errors") {
		t.Errorf("GraphQL subscription while draining: %+v, want an event", m)
	}
	for {
		if f := readFrame(t, ctx, rest); f.Error != nil {
			if f.Error.Code != 14 || !strings.Contains(f.Error.Message, shutting) {
				t.Errorf("REST WebSocket error %+v, want UNAVAILABLE: %s", f.Error, shutting)
			}
			break
		}
	}
	if ce := closeOf(t, ctx, rest); ce.Code != 4014 || !strings.HasPrefix(ce.Reason, shutting) {
		t.Errorf("REST WebSocket closed with %v, want 4014 %s", ce, shutting)
	}
	var last gqlWSMessage // before complete
	for {
		var m gqlWSMessage
		if err := wsjson.Read(ctx, sub.c, &m); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusGoingAway || !strings.Contains(err.Error(), shutting) {
				t.Errorf("GraphQL WebSocket ended with %v, want 1001 %s", err, shutting)
			}
			break
		}
		if m.Type == "complete" {
			if last.Type != "next" || !strings.Contains(string(last.Payload), "UNAVAILABLE") || !strings.Contains(string(last.Payload), shutting) {
				t.Errorf("GraphQL subscription's last event %+v, want the UNAVAILABLE error", last)
			}
		}
		last = m
	}
	if last.Type != "complete" {
		t.Errorf("GraphQL subscription's last message %+v, want complete", last)
	}
	<-stopped
}

// TestUnaryCallsCutWhenTheGraceEnds: unary calls still running when shutdown_grace ends are cut
// with their connections: a native gRPC client gets UNAVAILABLE from its transport, a REST or
// GraphQL client no response.
func TestUnaryCallsCutWhenTheGraceEnds(t *testing.T) {
	var entered sync.WaitGroup
	entered.Add(3)
	release := make(chan struct{})
	defer close(release)
	g := startGateway(t, harnessOptions{
		config: func(c *config.Config) { c.ShutdownGrace = time.Second },
		shop: shop.Options{OnCall: func(_ context.Context, method string) {
			if strings.HasSuffix(method, "/GetUser") {
				entered.Done()
				<-release // past the gateway's stop
			}
		}},
	})
	ctx := testContext(t)
	grpcErr := make(chan error, 1)
	go func() {
		_, err := usersv1.NewUserServiceClient(g.conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
		grpcErr <- err
	}()
	httpErr := func(method, path, body string) chan error {
		errc := make(chan error, 1)
		go func() {
			req, err := http.NewRequestWithContext(ctx, method, "http://"+g.addr+path, strings.NewReader(body))
			if err != nil {
				errc <- err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				err = fmt.Errorf("a response: %s", resp.Status)
			}
			errc <- err
		}()
		return errc
	}
	restErr := httpErr("GET", "/v1/users/1", "")
	gqlErr := httpErr("POST", "/graphql", `{"query":"{ getUser(id: \"1\") { name } }"}`)
	entered.Wait()
	g.stop(t)

	if err := <-grpcErr; status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC call cut: %v, want UNAVAILABLE", err)
	}
	for front, errc := range map[string]chan error{"REST": restErr, "GraphQL": gqlErr} {
		if err := <-errc; err == nil || strings.HasPrefix(err.Error(), "a response") || ctx.Err() != nil {
			t.Errorf("%s call cut: %v, want no response", front, err)
		}
	}
}

// readWS reads the next message of a GraphQL WebSocket other than a keep-alive.
func readWS(t *testing.T, ctx context.Context, c *websocket.Conn) gqlWSMessage {
	t.Helper()
	for {
		var m gqlWSMessage
		if err := wsjson.Read(ctx, c, &m); err != nil {
			t.Fatal(err)
		}
		if m.Type != "ka" && m.Type != "ping" && m.Type != "pong" {
			return m
		}
	}
}

// TestRESTWebSocketFrameOverReadLimit: a REST WebSocket's messages may be as large as
// policies.limits.max_body_bytes (here 64 KiB). A frame announcing more for its message closes the
// socket with 1009 Message Too Big at its header, the reason naming the limit, and the connection
// ends: the gateway reads none of the payload, so a client that announces 1 TiB and sends nothing
// more is closed at once, not waited for, and its call ends. So is a continuation taking a
// fragmented message over the limit, a frame sent along with the handshake (which the server has
// read ahead), a binary frame, and a data frame on a server-streaming socket (where any data frame
// is refused, with 1008 when it is within the limit).
func TestRESTWebSocketFrameOverReadLimit(t *testing.T) {
	calls := make(chan context.Context, 16)
	pol := config.Policies{Limits: config.Limits{MaxBodyBytes: 64 << 10}}.Completed()
	g := startGateway(t, harnessOptions{policies: &pol, shop: shop.Options{OnCall: func(ctx context.Context, method string) {
		if method == "/shop.catalog.v1.CatalogService/AdjustInventory" {
			calls <- ctx
		}
	}}})
	const adjust, watch = "/v1/inventory:adjust", "/v1/products/p1/inventory:watch?interval=0.01s"
	within := testws.ClientFrame(true, 1, []byte(`{"productId":"p2","delta":1}`))
	for _, tc := range []struct {
		name, path    string
		first         []byte // a message answered before the frames, or nil
		frames, ahead []byte
		code          uint16
		reason        string
	}{
		{"one frame", adjust, within, testws.ClientHeader(true, 1, 1<<40), nil, 1009, "message of 1099511627776 bytes announced, over the limit of 65536 bytes"},
		{"just over", adjust, nil, testws.ClientHeader(true, 1, 64<<10+1), nil, 1009, "message of 65537 bytes announced, over the limit of 65536 bytes"},
		{"a continuation", adjust, nil, append(testws.ClientFrame(false, 1, []byte(`{"productId":`)), testws.ClientHeader(true, 0, 64<<10)...), nil,
			1009, "message of 65549 bytes announced, over the limit of 65536 bytes"},
		{"a binary frame", "/v1/orders:import", nil, testws.ClientHeader(true, 2, 1<<62), nil, 1009, "over the limit of 65536 bytes"},
		{"with the handshake", adjust, nil, nil, testws.ClientHeader(true, 1, 1<<40), 1009, "over the limit of 65536 bytes"},
		{"server streaming", watch, nil, testws.ClientHeader(true, 1, 1<<40), nil, 1009, "over the limit of 65536 bytes"},
		{"server streaming, within the limit", watch, nil, testws.ClientFrame(true, 1, []byte(`{}`)), nil, 1008, "unexpected data message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, br := rawRESTWebSocket(t, g, tc.path, tc.ahead)
			var backend context.Context
			if tc.first != nil {
				testws.Write(t, conn, tc.first)
				if op, payload := testws.ReadFrame(t, br); op != 1 || !strings.Contains(string(payload), `"result"`) {
					t.Fatalf("the answer to a message within the limit: %d %s", op, payload)
				}
				backend = <-calls
			}
			testws.Write(t, conn, tc.frames)
			for {
				op, payload := testws.ReadFrame(t, br) // fails at the deadline if no close frame comes
				if op != 8 {
					continue // a result streaming in
				}
				if len(payload) < 2 || binary.BigEndian.Uint16(payload) != tc.code || !strings.Contains(string(payload[2:]), tc.reason) {
					t.Fatalf("close frame %q, want %d %q", payload, tc.code, tc.reason)
				}
				break
			}
			if tc.code != 1009 {
				// A close handshake: the server waits for the client's close frame. At 1009 it
				// does not, having stopped reading the client.
				testws.Write(t, conn, testws.ClientFrame(true, 8, binary.BigEndian.AppendUint16(nil, tc.code)))
			}
			if b, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the close frame: %v %v, want the connection closed", b, err)
			}
			if backend != nil {
				<-backend.Done() // bounded by the test's deadline
			}
		})
	}
}

// rawRESTWebSocket opens a WebSocket on a REST path over a plain TCP connection, sending ahead along
// with the handshake, and returns the connection and its reader once the handshake is answered.
// Reads and writes fail after 20 seconds rather than hang (dialRaw).
func rawRESTWebSocket(t *testing.T, g *gateway, path string, ahead []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn := dialRaw(t, g)
	br := testws.Handshake(t, conn, "http://"+g.addr+path, "", ahead)
	return conn, br
}
