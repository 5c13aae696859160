package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testpki"
	"github.com/protogate/gateway/routing"
)

// readTime is the time a request may take to arrive in these tests: base, and a second per
// perSecond bytes announced.
func readTime(base time.Duration, perSecond int64) server.Option {
	return server.WithRequestReadTime(routing.ReadTime{Base: base, PerSecond: perSecond})
}

// A native gRPC request announces nothing before it has come: it is given the time of the largest
// the gateway takes (grpc.max_message_bytes), which a large perSecond makes Base.
const nothingPerByte = 1 << 40

// A native gRPC call on h2c that sends its headers and never its message (what holds a cluster
// at its max_requests for ever, one connection being enough for a hundred) ends with
// DEADLINE_EXCEEDED once its time is up.
func TestStalledGRPCRequestEnds(t *testing.T) {
	g := startGateway(t, harnessOptions{server: []server.Option{readTime(100*time.Millisecond, nothingPerByte)}})
	fr := dialH2C(t, g.addr, 20*time.Second)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/shop.catalog.v1.CatalogService/GetProduct"},
		{":authority", g.addr}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if got := rawCallEnd(t, fr, 1); got != fmt.Sprintf("grpc-status %d", codes.DeadlineExceeded) {
		t.Errorf("stalled call: %s, want DEADLINE_EXCEEDED", got)
	}
}

// Over TLS, where native gRPC reaches the gateway through its HTTP server, a call whose message
// never comes ends too, once its time is up: UNAVAILABLE, grpc-go's code for a request body that
// fails there, naming why.
func TestStalledGRPCRequestEndsOverTLS(t *testing.T) {
	ca := testpki.NewCA(t, "test server CA")
	certFile, keyFile := testpki.WriteKeyPair(t, t.TempDir(), "server", ca.Server(t))
	g := startGateway(t, harnessOptions{
		config: func(c *config.Config) { c.TLS = config.ServerTLS{CertFile: certFile, KeyFile: keyFile} },
		server: []server.Option{readTime(100*time.Millisecond, nothingPerByte)},
	})
	conn, err := grpc.NewClient(g.addr, grpc.WithTransportCredentials(credentials.NewTLS(
		&tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cs, err := conn.NewStream(testContext(t), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, usersv1.UserService_GetUser_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	var resp usersv1.User
	err = cs.RecvMsg(&resp)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "the request did not arrive in time") {
		t.Errorf("stalled call: %v, want UNAVAILABLE saying the request was late", err)
	}
}

// webRequest is a gRPC-Web call of GetUser over HTTP/1.1 written by hand, so that its body can
// stop anywhere.
type webRequest struct {
	conn net.Conn
	body []byte // the frame: header and message
}

// startWebRequest sends the request's head, announcing a body of one frame, and the first n bytes of
// the body.
func startWebRequest(t *testing.T, addr string, n int) *webRequest {
	t.Helper()
	msg, err := proto.Marshal(&usersv1.GetUserRequest{Id: "1"})
	if err != nil {
		t.Fatal(err)
	}
	body := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	body = append(body, msg...)
	conn := sendHead(t, addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nContent-Length: %d\r\n\r\n",
		usersv1.UserService_GetUser_FullMethodName, addr, len(body)))
	r := &webRequest{conn: conn, body: body}
	r.send(t, 0, n)
	return r
}

// send sends bytes [from, to) of the body.
func (r *webRequest) send(t *testing.T, from, to int) {
	t.Helper()
	if _, err := r.conn.Write(r.body[from:to]); err != nil {
		t.Fatal(err)
	}
}

// status reads the response and returns its grpc-status and grpc-message, from its headers
// (trailers-only) or its trailer frame.
func (r *webRequest) status(t *testing.T) (code, msg string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(r.conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if code := resp.Header.Get("Grpc-Status"); code != "" {
		return code, resp.Header.Get("Grpc-Message")
	}
	br := bufio.NewReader(resp.Body)
	for {
		f := readWebFrame(t, br)
		if !f.trailer {
			continue
		}
		for line := range strings.SplitSeq(string(f.data), "\r\n") {
			k, v, _ := strings.Cut(line, ":")
			switch strings.ToLower(k) {
			case "grpc-status":
				code = strings.TrimSpace(v)
			case "grpc-message":
				msg = strings.TrimSpace(v)
			}
		}
		return code, msg
	}
}

// A gRPC-Web body that stops, after its frame's header or before it, ends the call with
// DEADLINE_EXCEEDED once the time for what it announced is up, naming that time.
func TestStalledGRPCWebBodyEnds(t *testing.T) {
	g := startGateway(t, harnessOptions{server: []server.Option{readTime(100*time.Millisecond, 1)}})
	for _, tc := range []struct {
		name string
		sent int
		wait string
	}{
		{"before the frame", 0, "100ms"},
		{"in the frame header", 3, "100ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := startWebRequest(t, g.addr, tc.sent).status(t)
			if code != fmt.Sprint(int(codes.DeadlineExceeded)) || !strings.Contains(msg, "did not arrive within "+tc.wait) {
				t.Errorf("grpc-status %s %q, want DEADLINE_EXCEEDED naming %s", code, msg, tc.wait)
			}
		})
	}
}

// A gRPC-Web body slower than the time allowed a request that announces nothing, but within the
// time for the message its frame announced, is served.
func TestSlowGRPCWebBodyWithinItsTime(t *testing.T) {
	// A second per byte: what the frame announces, not how fast it comes, decides.
	g := startGateway(t, harnessOptions{server: []server.Option{readTime(time.Second, 1)}})
	slow := startWebRequest(t, g.addr, 7) // the frame's header and 2 bytes of its message
	// A request started later that sends nothing ends when the time for no bytes is up, which has
	// passed for the slow one by then.
	if code, _ := startWebRequest(t, g.addr, 0).status(t); code != fmt.Sprint(int(codes.DeadlineExceeded)) {
		t.Fatalf("a stalled request: grpc-status %s, want DEADLINE_EXCEEDED", code)
	}
	slow.send(t, 7, len(slow.body))
	if code, msg := slow.status(t); code != "0" {
		t.Errorf("the slow request: grpc-status %s %q, want OK", code, msg)
	}
}

// restStream is a chunked NDJSON POST to the REST front over HTTP/1.1, written by hand, so that its
// body can stop anywhere.
type restStream struct{ conn net.Conn }

func startRESTStream(t *testing.T, addr, path string) *restStream {
	t.Helper()
	return &restStream{conn: sendHead(t, addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n", path, addr))}
}

// sendHead opens an HTTP/1.1 connection to addr, closed when the test ends, and sends head, a
// request's line and headers written by hand, so that the test sends its body as it likes.
func sendHead(t *testing.T, addr, head string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	return conn
}

// send sends line as one chunk, or the body's end for "".
func (s *restStream) send(t *testing.T, line string) {
	t.Helper()
	chunk := "0\r\n\r\n"
	if line != "" {
		chunk = fmt.Sprintf("%x\r\n%s\r\n", len(line), line)
	}
	if _, err := io.WriteString(s.conn, chunk); err != nil {
		t.Fatal(err)
	}
}

func (s *restStream) response(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(s.conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

const importLine = `{"order":{"id":"stall-1","userId":"1","items":[{"productId":"p1","quantity":1}]}}` + "\n"

// A REST client stream whose first message does not come ends with 408 DEADLINE_EXCEEDED once its
// time is up: its upstream had opened at once, and is let go.
func TestStalledRESTStreamEnds(t *testing.T) {
	g := startGateway(t, harnessOptions{server: []server.Option{readTime(100*time.Millisecond, nothingPerByte)}})
	code, body := startRESTStream(t, g.addr, "/v1/orders:import").response(t)
	if code != http.StatusRequestTimeout || !strings.Contains(body, `"code":4`) || !strings.Contains(body, "did not arrive within 100ms") {
		t.Errorf("HTTP %d %s, want 408 DEADLINE_EXCEEDED naming the time", code, body)
	}
}

// A REST client stream whose first message came in time may idle for longer than that before its
// next: only the first is bounded.
func TestRESTStreamIdlesAfterFirstMessage(t *testing.T) {
	const base = 300 * time.Millisecond
	g := startGateway(t, harnessOptions{server: []server.Option{readTime(base, nothingPerByte)}})
	s := startRESTStream(t, g.addr, "/v1/orders:import")
	s.send(t, importLine)
	idle, cancel := context.WithTimeout(testContext(t), 2*base) // the stream idles past the bound's time
	defer cancel()
	<-idle.Done()
	s.send(t, strings.ReplaceAll(importLine, "stall-1", "stall-2"))
	s.send(t, "")
	if code, body := s.response(t); code != http.StatusOK || !strings.Contains(body, `"imported":2`) {
		t.Errorf("HTTP %d %s, want both orders imported", code, body)
	}
}

// A REST call whose body ends early is counted under the method its path binds to, with the code
// it ended with, as a body the limits refused is: DEADLINE_EXCEEDED for a body that came too late
// (here one the front bounds itself, NDJSON to a unary method), CANCELLED for one whose client reset
// its HTTP/2 stream before it came, whatever its type (the limits read a JSON body of known length
// themselves, the front any other). Neither is a refusal of the limits.
func TestUnreadRESTBodyCountsUnderItsMethod(t *testing.T) {
	g := startGateway(t, harnessOptions{server: []server.Option{readTime(100*time.Millisecond, nothingPerByte)}})
	late := sendHead(t, g.addr, fmt.Sprintf("POST /v1/users HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: 10\r\n\r\n{\"", g.addr))
	resp, err := http.ReadResponse(bufio.NewReader(late), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("a late body: HTTP %d, want 408", resp.StatusCode)
	}

	fr := dialH2C(t, g.addr, 20*time.Second)
	for i, contentType := range []string{"application/x-protobuf", "application/json"} {
		var hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/v1/users"},
			{":authority", g.addr}, {"content-type", contentType}, {"content-length", "10"}} {
			if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
				t.Fatal(err)
			}
		}
		id := uint32(2*i + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteData(id, false, []byte(`{"`)); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			t.Fatal(err)
		}
	}
	cancelled := `gateway_requests_total{code="CANCELLED",front="rest",method="` + createUser + `"} 2`
	waitFor(t, 10*time.Second, "the reset calls counted", func() bool {
		_, metrics := httpGet(t, "http://"+g.admin+"/metrics")
		return strings.Contains(metrics, cancelled+"\n")
	})
	wantMetrics(t, g, `gateway_requests_total{code="DEADLINE_EXCEEDED",front="rest",method="`+createUser+`"} 1`)
	if _, metrics := httpGet(t, "http://"+g.admin+"/metrics"); strings.Contains(metrics, `method="unknown"`) || strings.Contains(metrics, `policy="limits"`) {
		t.Errorf("/metrics counts a call under no method, or as a refusal of the limits:\n%s", metrics)
	}
}
