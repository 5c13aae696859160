package server_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/internal/testws"
)

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
