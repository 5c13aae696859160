package telemetry_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry"
)

// lineLog hands each access-log line to the test as it is logged.
type lineLog chan string

func (l lineLog) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// next returns the next line, or fails the test when none comes.
func (l lineLog) next(t *testing.T) string {
	t.Helper()
	select {
	case line := <-l:
		return line
	case <-time.After(20 * time.Second): // a deadline for a hung test, not a synchronisation
		t.Fatal("no access-log line")
		return ""
	}
}

// TestAccessLogCountsWebSocketBytes: the line of a WebSocket session reports in bytes_in and
// bytes_out the frames that crossed the hijacked connection, exactly: the client's, masked, and
// the gateway's; not the handshake. The client here writes frames by hand, so that their sizes are
// known: a masked 5-byte text frame (11 bytes) and a masked close frame with code 1000 (8) in; the
// echoed text frame (7) and the close frame answering (4) out. Frames the client sends with the
// handshake, before the 101 (which the server may have read with the request), count as well.
func TestAccessLogCountsWebSocketBytes(t *testing.T) {
	lines := make(lineLog, 4)
	tel, err := telemetry.New(telemetry.Config{Metrics: config.Metrics{Disabled: true}, AccessLogWriter: lines}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, msg, err := c.Read(context.Background())
		if err != nil || c.Write(context.Background(), typ, msg) != nil {
			return
		}
		_, _, _ = c.Read(context.Background()) // the client's close, answered
	})
	srv := httptest.NewServer(tel.Middleware()(policy.FrontREST, echo))
	defer srv.Close()

	const handshake = "GET /v1/socket HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	mask := []byte{1, 2, 3, 4}
	masked := func(header byte, payload string) []byte {
		f := append([]byte{header, 0x80 | byte(len(payload))}, mask...)
		for i := range len(payload) {
			f = append(f, payload[i]^mask[i%4])
		}
		return f
	}
	hello := masked(0x81, "hello")                  // FIN, text
	closing := masked(0x88, string([]byte{3, 232})) // FIN, close, 1000

	for _, early := range []bool{false, true} {
		name := map[bool]string{false: "after the 101", true: "with the handshake"}[early]
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			first := []byte(handshake)
			if early {
				first = append(first, hello...)
			}
			if _, err := conn.Write(first); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("handshake: %v %v", resp, err)
			}
			if !early {
				if _, err := conn.Write(hello); err != nil {
					t.Fatal(err)
				}
			}
			got := make([]byte, 7)
			if _, err := io.ReadFull(br, got); err != nil || string(got) != "\x81\x05hello" {
				t.Fatalf("echo %q, %v", got, err)
			}
			if _, err := conn.Write(closing); err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(br) // the close frame answering, then the server closes
			if err != nil || string(rest) != "\x88\x02\x03\xe8" {
				t.Fatalf("after the close: %q, %v", rest, err)
			}
			var e struct {
				Status   int   `json:"http_status"`
				BytesIn  int64 `json:"bytes_in"`
				BytesOut int64 `json:"bytes_out"`
			}
			line := lines.next(t)
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if e.Status != http.StatusSwitchingProtocols || e.BytesIn != 19 || e.BytesOut != 11 {
				t.Errorf("line %s: want http_status 101, bytes_in 19 and bytes_out 11", line)
			}
		})
	}
}
