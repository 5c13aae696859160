package server_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/internal/testws"
)

// unmaskedFrame is a whole text frame as no client may send it (RFC 6455 5.1): without a mask.
func unmaskedFrame(payload string) []byte {
	return append([]byte{0x81, byte(len(payload))}, payload...)
}

// TestWebSocketProtocolErrors: a frame RFC 6455 forbids a client, unmasked (5.1) or with a reserved
// bit set (5.2), fails the connection: the socket closes with 1002 Protocol Error, the reason naming
// what was refused, no error frame before it, and the connection ends without the gateway waiting
// for the client's close frame (it reads nothing more of the client's). On a REST WebSocket the
// call ends with INVALID_ARGUMENT, in the access log too, not as a client gone (CANCELLED), and the
// backend's call is cancelled; so it does on a server-streaming socket, whose frames are read only
// for their control frames. GraphQL's sockets close with 1002 as well.
func TestWebSocketProtocolErrors(t *testing.T) {
	lines := make(accessLines, 64)
	calls := make(chan context.Context, 16)
	g := startGateway(t, harnessOptions{
		server: []server.Option{server.WithAccessLogWriter(lines)},
		shop: shop.Options{OnCall: func(ctx context.Context, method string) {
			if method == "/shop.catalog.v1.CatalogService/AdjustInventory" {
				calls <- ctx
			}
		}},
	})
	ctx := testContext(t)
	const adjust, watch = "/v1/inventory:adjust", "/v1/products/p1/inventory:watch"
	const msg = `{"productId":"p2","delta":1}`
	const unmasked, rsv = "received unmasked frame from client", "received header with unexpected rsv bits set: false:true:false"
	for _, tc := range []struct {
		name, path, subprotocol string
		first                   []byte // a message answered before the frame, or nil
		frame                   []byte
		reason                  string // of the close frame; "": any
	}{
		{"unmasked", adjust, "", nil, unmaskedFrame(msg), unmasked},
		// Nothing follows the header: a close handshake reading on would wait.
		{"unmasked and empty", adjust, "", nil, unmaskedFrame(""), unmasked},
		{"unmasked during a call", adjust, "", testws.ClientFrame(true, 1, []byte(msg)), unmaskedFrame(msg), unmasked},
		{"reserved bit", adjust, "", nil, testws.ClientFrame(true, 0x20|1, []byte(msg)), rsv},
		{"server streaming", watch + "?interval=0.01s", "", nil, unmaskedFrame(""), unmasked},
		{"graphql", "/graphql", "graphql-transport-ws", nil, unmaskedFrame(`{"type":"connection_init"}`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := dialRaw(t, g)
			br := testws.Handshake(t, conn, "http://"+g.addr+tc.path, tc.subprotocol, nil)
			var backend context.Context
			if tc.first != nil {
				testws.Write(t, conn, tc.first)
				if op, payload := testws.ReadFrame(t, br); op != 1 || !strings.Contains(string(payload), `"result"`) {
					t.Fatalf("the answer to a message: %d %s", op, payload)
				}
				backend = <-calls
			}
			testws.Write(t, conn, tc.frame)
			for {
				op, payload := testws.ReadFrame(t, br)
				if op == 1 && strings.Contains(string(payload), `"result"`) {
					continue // a server-streaming call's results, sent before the frame was read
				}
				if op != 8 || len(payload) < 2 || binary.BigEndian.Uint16(payload) != 1002 || !strings.HasPrefix(string(payload[2:]), tc.reason) {
					t.Fatalf("frame %d %q, want a close frame 1002 %q", op, payload, tc.reason)
				}
				break
			}
			// The connection ends at once, well before the library's 5 s wait for a close frame.
			if err := conn.SetReadDeadline(time.Now().Add(3 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if b, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the close frame: %v %v, want the connection closed", b, err)
			}
			if backend != nil {
				<-backend.Done() // bounded by the test's deadline
			}
			if tc.subprotocol != "" {
				return // a GraphQL socket's line has its HTTP response's code
			}
			path, _, _ := strings.Cut(tc.path, "?")
			if code := lines.codeFor(t, ctx, path); code != "INVALID_ARGUMENT" {
				t.Errorf("access log: grpc_code %s, want INVALID_ARGUMENT", code)
			}
		})
	}
}

// TestAccessLogOfRESTStreamsEndedEarly: a REST stream the gateway ends itself is logged with the
// code it ended it with, not its upstream call's CANCELLED: a line of the body that does not decode
// is INVALID_ARGUMENT. A client that goes away, dropping the connection or closing its WebSocket,
// is CANCELLED.
func TestAccessLogOfRESTStreamsEndedEarly(t *testing.T) {
	lines := make(accessLines, 64)
	g := startGateway(t, harnessOptions{server: []server.Option{server.WithAccessLogWriter(lines)}})
	ctx := testContext(t)
	const adjust = "/v1/inventory:adjust"

	resp := startStream(t, ctx, g, "POST", adjust, "{\"productId\":\n", "Content-Type", "application/x-ndjson")
	if _, err := io.ReadAll(resp.Body); err != nil || resp.StatusCode != 400 {
		t.Fatalf("HTTP %d, %v; want 400", resp.StatusCode, err)
	}
	if code := lines.codeFor(t, ctx, adjust); code != "INVALID_ARGUMENT" {
		t.Errorf("a line that does not decode: grpc_code %s, want INVALID_ARGUMENT", code)
	}

	for _, closeFrame := range []bool{false, true} {
		conn := dialRaw(t, g)
		br := testws.Handshake(t, conn, "http://"+g.addr+adjust, "", nil)
		testws.Write(t, conn, testws.ClientFrame(true, 1, []byte(`{"productId":"p2","delta":1}`)))
		if op, payload := testws.ReadFrame(t, br); op != 1 || !strings.Contains(string(payload), `"result"`) {
			t.Fatalf("the answer to a message: %d %s", op, payload)
		}
		if closeFrame {
			testws.Write(t, conn, testws.ClientFrame(true, 8, binary.BigEndian.AppendUint16(nil, 1001)))
		}
		conn.Close()
		if code := lines.codeFor(t, ctx, adjust); code != "CANCELLED" {
			t.Errorf("a client gone (close frame %t): grpc_code %s, want CANCELLED", closeFrame, code)
		}
	}

	// A data message on a server-streaming socket, which takes none: closed with 1008, logged as
	// the client's error, not as a client gone.
	const watch = "/v1/products/p1/inventory:watch"
	conn := dialRaw(t, g)
	br := testws.Handshake(t, conn, "http://"+g.addr+watch+"?interval=0.01s", "", nil)
	testws.Write(t, conn, testws.ClientFrame(true, 1, []byte(`{}`)))
	for {
		op, payload := testws.ReadFrame(t, br)
		if op == 8 {
			if len(payload) < 2 || binary.BigEndian.Uint16(payload) != 1008 {
				t.Fatalf("close frame %q, want 1008", payload)
			}
			break
		}
	}
	conn.Close()
	if code := lines.codeFor(t, ctx, watch); code != "INVALID_ARGUMENT" {
		t.Errorf("a data message on a server-streaming socket: grpc_code %s, want INVALID_ARGUMENT", code)
	}
}

// codeFor returns the grpc_code of the next line logged for path.
func (l accessLines) codeFor(t *testing.T, ctx context.Context, path string) string {
	t.Helper()
	for {
		select {
		case b := <-l:
			var e struct {
				Path string
				Code string `json:"grpc_code"`
			}
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("access-log line %q: %v", b, err)
			}
			if e.Path == path {
				return e.Code
			}
		case <-ctx.Done():
			t.Fatalf("no access-log line for %s", path)
		}
	}
}
