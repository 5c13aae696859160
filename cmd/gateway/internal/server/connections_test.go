package server_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// TestMaxConcurrentStreams: the data port announces its bound on a connection's streams, native
// gRPC's (h2c with prior knowledge) included.
func TestMaxConcurrentStreams(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	fr := dialH2C(t, g.addr, 10*time.Second)
	// A gRPC call's headers: the port hands the connection to the native gRPC server.
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/grpc.health.v1.Health/Check"},
		{":authority", "x"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no SETTINGS announcing MAX_CONCURRENT_STREAMS: %v", err)
		}
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() || sf.NumSettings() == 0 { // the port's own empty SETTINGS comes first
			continue
		}
		if v, ok := sf.Value(http2.SettingMaxConcurrentStreams); !ok || v != server.MaxConcurrentStreams {
			t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS %d (set: %v), want %d", v, ok, server.MaxConcurrentStreams)
		}
		return
	}
}

// TestIdleConnectionsClosed: a connection with nothing in flight is closed once the idle timeout
// passes: gRPC's with GOAWAY (the client goes idle, to reconnect when it next calls), HTTP/1.1's
// keep-alive by closing it.
func TestIdleConnectionsClosed(t *testing.T) {
	g := startGateway(t, harnessOptions{server: []server.Option{server.WithIdleTimeout(200 * time.Millisecond)}})
	ctx := testContext(t)

	cc, err := grpc.NewClient(g.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	users := usersv1.NewUserServiceClient(cc)
	if _, err := users.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	for s := cc.GetState(); s != connectivity.Idle; s = cc.GetState() {
		if !cc.WaitForStateChange(ctx, s) {
			t.Fatalf("the gRPC connection stayed %v", s)
		}
	}
	if _, err := users.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err != nil {
		t.Fatalf("a call after the idle close: %v", err)
	}

	conn := sendHead(t, g.addr, "GET /v1/users/1 HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("the idle keep-alive connection: %v, want it closed (EOF)", err)
	}
}

// dialH2C opens an HTTP/2 connection with prior knowledge to addr, for tests that write and read
// its frames themselves: the client preface and an empty SETTINGS are sent. The connection fails
// its reads and writes after timeout, and is closed when the test ends.
func dialH2C(t *testing.T, addr string, timeout time.Duration) *http2.Framer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return fr
}
