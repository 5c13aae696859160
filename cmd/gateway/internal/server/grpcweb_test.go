package server_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protogate/gateway/config"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// webFrame is one gRPC-Web frame: a message, or the trailer block.
type webFrame struct {
	trailer bool
	data    []byte
}

// grpcWebCall posts req to method in binary or text mode over HTTP/1.1 and returns the response with
// its body decoded into frames, read one at a time from r.
func grpcWebCall(t *testing.T, addr, method string, req proto.Message, text bool, header http.Header) (*http.Response, *bufio.Reader) {
	t.Helper()
	return grpcWebPost(t, addr, method, []proto.Message{req}, text, header)
}

// grpcWebPost is grpcWebCall with a request body of any number of messages.
func grpcWebPost(t *testing.T, addr, method string, msgs []proto.Message, text bool, header http.Header) (*http.Response, *bufio.Reader) {
	t.Helper()
	var body bytes.Buffer
	for _, req := range msgs {
		msg, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		body.WriteByte(0)
		_ = binary.Write(&body, binary.BigEndian, uint32(len(msg)))
		body.Write(msg)
	}
	payload := body.Bytes()
	ct := "application/grpc-web+proto"
	if text {
		payload = []byte(base64.StdEncoding.EncodeToString(payload))
		ct = "application/grpc-web-text"
	}
	hreq, err := http.NewRequestWithContext(testContext(t), http.MethodPost, "http://"+addr+method, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		hreq.Header[k] = v
	}
	hreq.Header.Set("Content-Type", ct)
	hreq.Header.Set("X-Grpc-Web", "1")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	var r io.Reader = resp.Body
	if text {
		r = &quanta{r: resp.Body}
	}
	return resp, bufio.NewReader(r)
}

// quanta decodes base64 four characters at a time, so that the padding ending each separately
// encoded chunk of a gRPC-Web text response does not end the stream.
type quanta struct {
	r   io.Reader
	out []byte
}

func (q *quanta) Read(b []byte) (int, error) {
	for len(q.out) == 0 {
		var in [4]byte
		if _, err := io.ReadFull(q.r, in[:]); err != nil {
			return 0, err
		}
		dec, err := base64.StdEncoding.DecodeString(string(in[:]))
		if err != nil {
			return 0, err
		}
		q.out = dec
	}
	n := copy(b, q.out)
	q.out = q.out[n:]
	return n, nil
}

func readWebFrame(t *testing.T, r *bufio.Reader) webFrame {
	t.Helper()
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		t.Fatalf("reading a frame header: %v", err)
	}
	data := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
	if _, err := io.ReadFull(r, data); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	return webFrame{trailer: hdr[0]&0x80 != 0, data: data}
}

func TestGRPCWebBinaryUnary(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	resp, r := grpcWebCall(t, g.addr, "/shop.users.v1.UserService/GetUser", &usersv1.GetUserRequest{Id: "1"}, false,
		http.Header{"X-Request-Id": {"web-1"}})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/grpc-web") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := resp.Header.Get("X-Request-Id"); got != "web-1" {
		t.Errorf("response header x-request-id = %q, want web-1", got)
	}
	f := readWebFrame(t, r)
	var user usersv1.User
	if f.trailer || proto.Unmarshal(f.data, &user) != nil || user.GetName() != "Ada Lovelace" {
		t.Fatalf("first frame %+v is not Ada", f)
	}
	tr := readWebFrame(t, r)
	if !tr.trailer || !strings.Contains(string(tr.data), "grpc-status: 0") || !strings.Contains(string(tr.data), "x-served-by: users") {
		t.Fatalf("trailer frame %q, want grpc-status 0 and x-served-by", tr.data)
	}
}

func TestGRPCWebTextServerStreaming(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	_, r := grpcWebCall(t, g.addr, "/shop.catalog.v1.CatalogService/WatchInventory",
		&catalogv1.WatchInventoryRequest{Id: "p1", Interval: durationpb.New(10 * time.Millisecond)}, true,
		http.Header{"Grpc-Timeout": {"2S"}})
	// Messages arrive one by one while the stream is open, until the deadline ends it.
	for want := int64(1); want <= 3; want++ {
		f := readWebFrame(t, r)
		var u catalogv1.InventoryUpdate
		if f.trailer || proto.Unmarshal(f.data, &u) != nil || u.GetSequence() != want {
			t.Fatalf("frame %d: %+v", want, f)
		}
	}
}

func TestGRPCWebError(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	resp, r := grpcWebCall(t, g.addr, "/shop.users.v1.UserService/GetUser", &usersv1.GetUserRequest{Id: "99"}, false, nil)
	code, msg := resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	if code == "" { // not trailers-only: the status is in the trailer frame
		tr := readWebFrame(t, r)
		if !tr.trailer {
			t.Fatalf("a message frame for a failed call: %q", tr.data)
		}
		tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(tr.data, '\r', '\n'))))
		h, err := tp.ReadMIMEHeader()
		if err != nil {
			t.Fatalf("trailer block %q: %v", tr.data, err)
		}
		code, msg = h.Get("Grpc-Status"), h.Get("Grpc-Message")
	}
	if code != "5" || !strings.Contains(msg, "99") {
		t.Fatalf("grpc-status %q message %q, want 5 (NotFound) naming the user", code, msg)
	}
}

// TestUnservedGRPCForms: gRPC in a form the gateway does not serve gets an answer saying so, not
// the REST front's "no route", and the answer carries the CORS headers of an allowed origin, as
// every other answer does, so that a browser can read it.
func TestUnservedGRPCForms(t *testing.T) {
	pol := config.Policies{CORS: config.CORS{AllowedOrigins: []string{"http://localhost:*"}}}.Completed()
	g := startGateway(t, harnessOptions{policies: &pol})
	for _, tc := range []struct {
		contentType string
		status      int
		says        string
	}{
		{"application/grpc", http.StatusHTTPVersionNotSupported, "needs HTTP/2"},
		{"application/grpc+proto", http.StatusHTTPVersionNotSupported, "needs HTTP/2"},
		{"application/grpc-web+json", http.StatusUnsupportedMediaType, "application/grpc-web+proto"},
		{"application/grpc-web-text+json", http.StatusUnsupportedMediaType, "application/grpc-web+proto"},
	} {
		for _, origin := range []string{"", "http://localhost:5173", "https://evil.example"} {
			req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, "http://"+g.addr+"/shop.users.v1.UserService/GetUser",
				strings.NewReader("\x00\x00\x00\x00\x03\x0a\x011"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			if origin != "" {
				req.Header.Set("Origin", origin)
			}
			resp, body := doRequest(t, http.DefaultClient, req) // HTTP/1.1
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("%s over HTTP/1.1: %d %s, want %d saying %q", tc.contentType, resp.StatusCode, body, tc.status, tc.says)
			}
			allowed := ""
			if strings.HasPrefix(origin, "http://localhost:") {
				allowed = origin
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != allowed {
				t.Errorf("%s from origin %q: Access-Control-Allow-Origin %q, want %q", tc.contentType, origin, got, allowed)
			}
			if vary := resp.Header.Values("Vary"); origin != "" && !slices.Contains(vary, "Origin") {
				t.Errorf("%s from origin %q: Vary %q, want Origin", tc.contentType, origin, vary)
			}
		}
	}
	// Counted as the REST front's answers (to no method it serves), with the codes their bodies carry.
	wantMetrics(t, g,
		`gateway_requests_total{code="UNIMPLEMENTED",front="rest",method="unknown"} 6`,
		`gateway_requests_total{code="INVALID_ARGUMENT",front="rest",method="unknown"} 6`)
}
