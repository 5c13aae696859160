package grpcweb_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/routing/grpcweb"
)

const (
	unaryMethod     = "/grpc.testing.TestService/UnaryCall"
	streamOutMethod = "/grpc.testing.TestService/StreamingOutputCall"
	streamInMethod  = "/grpc.testing.TestService/StreamingInputCall"
	duplexMethod    = "/grpc.testing.TestService/FullDuplexCall"
)

// testContext bounds a test's calls, so that a missing flush or a lost
// cancellation fails the test instead of hanging it.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestUnary(t *testing.T) {
	srv := startServer(t, &testService{})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			req := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hello, browser")}}
			res := readResult(t, do(t, newRequest(t, testContext(t), srv.URL, unaryMethod, m, bytes.NewReader(m.body(marshal(t, req))))), m)
			if res.code() != codes.OK || res.trailersOnly {
				t.Fatalf("status %v %q (trailers-only %v), want OK in a trailer frame", res.code(), res.message(), res.trailersOnly)
			}
			if len(res.messages) != 1 {
				t.Fatalf("%d messages, want 1", len(res.messages))
			}
			var resp testpb.SimpleResponse
			if err := proto.Unmarshal(res.messages[0], &resp); err != nil {
				t.Fatal(err)
			}
			if got := string(resp.GetPayload().GetBody()); got != "hello, browser" {
				t.Fatalf("payload %q, want %q", got, "hello, browser")
			}
		})
	}
}

func TestRequestContentTypes(t *testing.T) {
	srv := startServer(t, &testService{})
	body := frame(0, marshal(t, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("x")}}))
	for _, tc := range []struct {
		contentType string
		mode        mode
	}{
		{"application/grpc-web", modes[0]},
		{"application/grpc-web+proto", modes[0]},
		{"Application/GRPC-Web+Proto; charset=utf-8", modes[0]},
		{"application/grpc-web-text", modes[1]},
		{"application/grpc-web-text+proto ; foo=bar", modes[1]},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			req := newRequest(t, testContext(t), srv.URL, unaryMethod, tc.mode, bytes.NewReader(tc.mode.encode(body)))
			req.Header.Set("Content-Type", tc.contentType)
			if !grpcweb.IsGRPCWebRequest(req) {
				t.Fatal("IsGRPCWebRequest = false")
			}
			if res := readResult(t, do(t, req), tc.mode); res.code() != codes.OK || len(res.messages) != 1 {
				t.Fatalf("status %v %q with %d messages, want OK with 1", res.code(), res.message(), len(res.messages))
			}
		})
	}
}

func TestIsGRPCWebRequest(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/grpc-web":                true,
		"application/grpc-web+proto":          true,
		"application/grpc-web-text":           true,
		"application/grpc-web-text+proto":     true,
		"application/grpc-web;charset=utf-8":  true,
		"application/grpc-web+json":           false,
		"application/grpc-web-text+thrift":    false,
		"application/grpc":                    false,
		"application/grpc+proto":              false,
		"application/grpc-webx":               false,
		"application/json":                    false,
		"":                                    false,
		"application/grpc-web-text-base64":    false,
		"text/plain; x=application/grpc-web":  false,
		"  application/grpc-web-text ; a=b  ": true,
	} {
		r := httptest.NewRequest(http.MethodPost, "/a.B/C", nil)
		r.Header.Set("Content-Type", ct)
		if got := grpcweb.IsGRPCWebRequest(r); got != want {
			t.Errorf("IsGRPCWebRequest(%q) = %v, want %v", ct, got, want)
		}
	}
}

// TestServerStreamingIsIncremental checks that each message reaches the
// client when it is sent: the server sends its second message only after
// the client has read the first.
func TestServerStreamingIsIncremental(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := startServer(t, &testService{
				streamOut: func(_ *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
					if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte("first")}}); err != nil {
						return err
					}
					select {
					case <-release:
					case <-stream.Context().Done():
						return stream.Context().Err()
					}
					return stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte("second")}})
				},
			})
			resp := do(t, newRequest(t, testContext(t), srv.URL, streamOutMethod, m, bytes.NewReader(m.body(marshal(t, &testpb.StreamingOutputCallRequest{})))))
			defer resp.Body.Close()
			rr := newResponseReader(resp.Body, m)
			for i, want := range []string{"first", "second"} {
				flags, b, err := rr.next()
				if err != nil {
					t.Fatalf("message %d: %v", i+1, err)
				}
				var msg testpb.StreamingOutputCallResponse
				if err := proto.Unmarshal(b, &msg); flags != 0 || err != nil || string(msg.GetPayload().GetBody()) != want {
					t.Fatalf("message %d: flags 0x%02x, %q (%v), want %q", i+1, flags, msg.GetPayload().GetBody(), err, want)
				}
				if i == 0 {
					close(release) // the server may send the second message now
				}
			}
			flags, b, err := rr.next()
			if err != nil || flags != flagTrailer {
				t.Fatalf("trailer frame: flags 0x%02x, %v", flags, err)
			}
			if tr := parseTrailer(t, b); tr["grpc-status"][0] != "0" {
				t.Fatalf("trailer %v, want grpc-status 0", tr)
			}
		})
	}
}

func TestClientStreaming(t *testing.T) {
	srv := startServer(t, &testService{})
	sizes := []int{1, 10, 0, 100}
	var raw []byte
	for _, n := range sizes {
		raw = append(raw, frame(0, marshal(t, &testpb.StreamingInputCallRequest{Payload: payload(n)}))...)
	}
	bodies := map[string]struct {
		mode mode
		body []byte
	}{
		"binary":                {modes[0], raw},
		"text one chunk":        {modes[1], []byte(base64.StdEncoding.EncodeToString(raw))},
		"text frame chunks":     {modes[1], modes[1].body(splitFrames(t, raw)...)},
		"text 1-byte chunks":    {modes[1], base64Chunks(raw, 1)},
		"text 7-byte chunks":    {modes[1], base64Chunks(raw, 7)},
		"text with line breaks": {modes[1], []byte(strings.Join(chunkString(base64.StdEncoding.EncodeToString(raw), 10), "\r\n"))},
	}
	for name, tc := range bodies {
		t.Run(name, func(t *testing.T) {
			res := readResult(t, do(t, newRequest(t, testContext(t), srv.URL, streamInMethod, tc.mode, bytes.NewReader(tc.body))), tc.mode)
			if res.code() != codes.OK || len(res.messages) != 1 {
				t.Fatalf("status %v %q with %d messages, want OK with 1", res.code(), res.message(), len(res.messages))
			}
			var resp testpb.StreamingInputCallResponse
			if err := proto.Unmarshal(res.messages[0], &resp); err != nil {
				t.Fatal(err)
			}
			if resp.GetAggregatedPayloadSize() != 111 {
				t.Fatalf("aggregated size %d, want 111", resp.GetAggregatedPayloadSize())
			}
		})
	}
}

// splitFrames returns the payloads of the frames in raw.
func splitFrames(t *testing.T, raw []byte) [][]byte {
	var out [][]byte
	for len(raw) > 0 {
		n := int(raw[1])<<24 | int(raw[2])<<16 | int(raw[3])<<8 | int(raw[4])
		out = append(out, raw[5:5+n])
		raw = raw[5+n:]
	}
	return out
}

func chunkString(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

// TestBidiStreaming plays ping-pong over HTTP/1.1: each request is written
// only after the answer to the previous one arrived, which needs the
// handler to read and write at once and to flush every message.
func TestBidiStreaming(t *testing.T) {
	srv := startServer(t, &testService{})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := testContext(t)
			pr, pw := pipe(ctx) // the transport waits for the body to end before giving up
			defer pw.Close()
			req := newRequest(t, ctx, srv.URL, duplexMethod, m, pr)
			type answer struct {
				resp *http.Response
				err  error
			}
			respc := make(chan answer, 1)
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					pw.CloseWithError(err)
				}
				respc <- answer{resp, err}
			}()
			var rr *responseReader
			for i, size := range []int32{3, 5, 8} {
				ping := marshal(t, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: size}}})
				if _, err := pw.Write(m.body(ping)); err != nil {
					t.Fatalf("writing request %d: %v", i+1, err)
				}
				if rr == nil {
					a := <-respc
					if a.err != nil {
						t.Fatal(a.err)
					}
					defer a.resp.Body.Close()
					rr = newResponseReader(a.resp.Body, m)
				}
				flags, b, err := rr.next()
				if err != nil || flags != 0 {
					t.Fatalf("answer %d: flags 0x%02x, %v", i+1, flags, err)
				}
				var pong testpb.StreamingOutputCallResponse
				if err := proto.Unmarshal(b, &pong); err != nil || len(pong.GetPayload().GetBody()) != int(size) {
					t.Fatalf("answer %d: %d bytes (%v), want %d", i+1, len(pong.GetPayload().GetBody()), err, size)
				}
			}
			pw.Close()
			flags, b, err := rr.next()
			if err != nil || flags != flagTrailer {
				t.Fatalf("trailer frame: flags 0x%02x, %v", flags, err)
			}
			if tr := parseTrailer(t, b); tr["grpc-status"][0] != "0" {
				t.Fatalf("trailer %v, want grpc-status 0", tr)
			}
		})
	}
}

// TestErrorAfterMessage checks an error status that follows a message: the
// status, its percent-encoded message, its details and the trailer metadata
// arrive in the trailer frame.
func TestErrorAfterMessage(t *testing.T) {
	const msg = "bad thing: 100% ünïcode\r\nsecond line"
	binValue := "\x00\xff\r\nbinary"
	srv := startServer(t, &testService{
		streamOut: func(_ *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
			if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: payload(2)}); err != nil {
				return err
			}
			stream.SetTrailer(metadata.Pairs("x-trail", "t1", "x-trail", "t2", "x-trail-bin", binValue))
			st, err := status.New(codes.FailedPrecondition, msg).WithDetails(&testpb.Payload{Body: []byte("detail")})
			if err != nil {
				return err
			}
			return st.Err()
		},
	})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			res := readResult(t, do(t, newRequest(t, testContext(t), srv.URL, streamOutMethod, m, bytes.NewReader(m.body(nil)))), m)
			if res.trailersOnly || len(res.messages) != 1 {
				t.Fatalf("trailers-only %v with %d messages, want a message then a trailer frame", res.trailersOnly, len(res.messages))
			}
			if res.code() != codes.FailedPrecondition || res.message() != msg {
				t.Fatalf("status %v %q, want %v %q", res.code(), res.message(), codes.FailedPrecondition, msg)
			}
			if raw := res.get("grpc-message"); !strings.Contains(raw, "100%25") || strings.ContainsAny(raw, "\r\nü") {
				t.Fatalf("grpc-message %q is not percent-encoded", raw)
			}
			if got := res.trailer["x-trail"]; !slices.Equal(got, []string{"t1", "t2"}) {
				t.Fatalf("x-trail %q, want [t1 t2]", got)
			}
			if got, err := base64.StdEncoding.DecodeString(res.get("x-trail-bin")); err != nil || string(got) != binValue {
				t.Fatalf("x-trail-bin %q decodes to %q (%v), want %q", res.get("x-trail-bin"), got, err, binValue)
			}
			var st spb.Status
			raw, err := base64.StdEncoding.DecodeString(res.get("grpc-status-details-bin"))
			if err != nil || proto.Unmarshal(raw, &st) != nil {
				t.Fatalf("grpc-status-details-bin %q: %v", res.get("grpc-status-details-bin"), err)
			}
			var detail testpb.Payload
			if len(st.GetDetails()) != 1 || st.GetDetails()[0].UnmarshalTo(&detail) != nil || string(detail.GetBody()) != "detail" {
				t.Fatalf("status details %v, want one Payload \"detail\"", st.GetDetails())
			}
		})
	}
}

// TestTrailersOnly checks a call that fails before sending anything: the
// status and trailer metadata travel in the HTTP headers, with no body.
func TestTrailersOnly(t *testing.T) {
	srv := startServer(t, &testService{
		unary: func(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			if err := grpc.SetTrailer(ctx, metadata.Pairs("x-trail", "why")); err != nil {
				return nil, err
			}
			return nil, status.Error(codes.NotFound, "no such thing")
		},
	})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			res := readResult(t, do(t, newRequest(t, testContext(t), srv.URL, unaryMethod, m, bytes.NewReader(m.body(nil)))), m)
			if !res.trailersOnly {
				t.Fatal("want a trailers-only response")
			}
			if res.code() != codes.NotFound || res.message() != "no such thing" || res.get("x-trail") != "why" {
				t.Fatalf("status %v %q, x-trail %q; want NotFound \"no such thing\", \"why\"", res.code(), res.message(), res.get("x-trail"))
			}
		})
	}
}

// TestHeaderSetBeforeError checks that header metadata stays header
// metadata when the call then fails: headers, then a trailer frame, as a
// native gRPC server does.
func TestHeaderSetBeforeError(t *testing.T) {
	srv := startServer(t, &testService{
		unary: func(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			if err := grpc.SetHeader(ctx, metadata.Pairs("x-head", "h")); err != nil {
				return nil, err
			}
			return nil, status.Error(codes.Aborted, "late failure")
		},
	})
	m := modes[0]
	res := readResult(t, do(t, newRequest(t, testContext(t), srv.URL, unaryMethod, m, bytes.NewReader(m.body(nil)))), m)
	if res.trailersOnly || res.code() != codes.Aborted || res.resp.Header.Get("X-Head") != "h" || res.get("x-head") != "" {
		t.Fatalf("trailers-only %v, status %v, header x-head %q, trailer x-head %q; want a trailer frame with Aborted after header x-head h",
			res.trailersOnly, res.code(), res.resp.Header.Get("X-Head"), res.get("x-head"))
	}
}

func TestMetadata(t *testing.T) {
	binIn := []byte{0x00, 0x01, 0xfe, 0xff}
	type seen struct {
		md     metadata.MD
		method string
	}
	seenc := make(chan seen, 1)
	srv := startServer(t, &testService{
		unary: func(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			method, _ := grpc.Method(ctx)
			seenc <- seen{md, method}
			if err := grpc.SetHeader(ctx, metadata.Pairs("x-head", "h1", "x-head-bin", "\x01\x02\x03")); err != nil {
				return nil, err
			}
			if err := grpc.SendHeader(ctx, metadata.Pairs("x-sent", "s1")); err != nil {
				return nil, err
			}
			if err := grpc.SetHeader(ctx, metadata.Pairs("x-late", "l")); err == nil {
				return nil, status.Error(codes.Internal, "SetHeader after SendHeader succeeded")
			}
			if err := grpc.SetTrailer(ctx, metadata.Pairs("x-tr", "t1", "x-tr-bin", "\xff")); err != nil {
				return nil, err
			}
			return &testpb.SimpleResponse{}, nil
		},
	})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			req := newRequest(t, testContext(t), srv.URL, unaryMethod, m, bytes.NewReader(m.body(nil)))
			req.Header.Set("X-Echo", "v1")
			req.Header.Add("X-Echo", "v2")
			req.Header.Set("X-Echo-Bin", base64.StdEncoding.EncodeToString(binIn))
			req.Header.Set("X-Unpadded-Bin", base64.RawStdEncoding.EncodeToString(binIn))
			req.Header.Set("X-User-Agent", "grpc-web-javascript/0.1")
			req.Header.Set("Authorization", "Bearer token")
			req.Header.Set("Grpc-Timeout", "10S")
			req.Header.Set("Connection", "X-Hop")
			req.Header.Set("X-Hop", "hop-by-hop")
			req.Header.Set("Grpc-Encoding", "identity")
			req.Header.Set("X-Non-Ascii", "caf\xc3\xa9")
			res := readResult(t, do(t, req), m)
			if res.code() != codes.OK {
				t.Fatalf("status %v %q", res.code(), res.message())
			}
			got := <-seenc
			if got.method != unaryMethod {
				t.Errorf("grpc.Method = %q, want %q", got.method, unaryMethod)
			}
			want := map[string][]string{
				"x-echo":         {"v1", "v2"},
				"x-echo-bin":     {string(binIn)},
				"x-unpadded-bin": {string(binIn)},
				"x-user-agent":   {"grpc-web-javascript/0.1"},
				"authorization":  {"Bearer token"},
				":authority":     {strings.TrimPrefix(srv.URL, "http://")},
			}
			for k, v := range want {
				if !slices.Equal(got.md[k], v) {
					t.Errorf("incoming metadata %s = %q, want %q", k, got.md[k], v)
				}
			}
			for _, k := range []string{"content-type", "content-length", "connection", "x-hop", "x-grpc-web", "grpc-timeout", "grpc-encoding", "accept-encoding", "host", "te", "x-non-ascii"} {
				if v, ok := got.md[k]; ok {
					t.Errorf("incoming metadata has transport header %s = %q", k, v)
				}
			}
			h := res.resp.Header
			if h.Get("X-Head") != "h1" || h.Get("X-Sent") != "s1" || h.Get("X-Late") != "" {
				t.Errorf("response headers x-head %q x-sent %q x-late %q, want h1 s1 and none", h.Get("X-Head"), h.Get("X-Sent"), h.Get("X-Late"))
			}
			if b, err := base64.StdEncoding.DecodeString(h.Get("X-Head-Bin")); err != nil || string(b) != "\x01\x02\x03" {
				t.Errorf("x-head-bin %q decodes to %q (%v)", h.Get("X-Head-Bin"), b, err)
			}
			if res.get("x-tr") != "t1" || res.get("x-tr-bin") != base64.StdEncoding.EncodeToString([]byte("\xff")) {
				t.Errorf("trailer x-tr %q x-tr-bin %q", res.get("x-tr"), res.get("x-tr-bin"))
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	type seen struct {
		deadline time.Time
		ok       bool
	}
	seenc := make(chan seen, 1)
	srv := startServer(t, &testService{
		unary: func(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			d, ok := ctx.Deadline()
			seenc <- seen{d, ok}
			return &testpb.SimpleResponse{}, nil
		},
	})
	m := modes[0]
	call := func(t *testing.T, timeout string) *result {
		req := newRequest(t, testContext(t), srv.URL, unaryMethod, m, bytes.NewReader(m.body(nil)))
		req.Header.Set("Grpc-Timeout", timeout)
		return readResult(t, do(t, req), m)
	}
	for timeout, want := range map[string]time.Duration{
		"7S":        7 * time.Second,
		"1500m":     1500 * time.Millisecond,
		"99999999u": 99999999 * time.Microsecond,
		"2M":        2 * time.Minute,
		"1H":        time.Hour,
		"30000000n": 30 * time.Millisecond,
	} {
		t.Run(timeout, func(t *testing.T) {
			before := time.Now()
			res := call(t, timeout)
			after := time.Now()
			got := <-seenc
			if res.code() != codes.OK || !got.ok {
				t.Fatalf("status %v, deadline set %v", res.code(), got.ok)
			}
			if got.deadline.Before(before.Add(want)) || got.deadline.After(after.Add(want)) {
				t.Fatalf("deadline %v after the call started, want %v", got.deadline.Sub(before), want)
			}
		})
	}
	t.Run("too large for a deadline", func(t *testing.T) {
		res := call(t, "99999999H")
		if got := <-seenc; res.code() != codes.OK || got.ok {
			t.Fatalf("status %v, deadline set %v; want OK without a deadline", res.code(), got.ok)
		}
	})
	for _, bad := range []string{"S", "1", "123456789S", "10s", "-1S", "1.5S", "abcS"} {
		t.Run("malformed "+bad, func(t *testing.T) {
			res := call(t, bad)
			if !res.trailersOnly || res.code() != codes.InvalidArgument || !strings.Contains(res.message(), "grpc-timeout") {
				t.Fatalf("status %v %q (trailers-only %v), want InvalidArgument about grpc-timeout", res.code(), res.message(), res.trailersOnly)
			}
			select {
			case <-seenc:
				t.Fatal("the handler ran")
			default:
			}
		})
	}
}

// TestClientDisconnectCancelsCall checks that a client going away cancels
// the context of a call that is still running.
func TestClientDisconnectCancelsCall(t *testing.T) {
	errc := make(chan error, 1)
	srv := startServer(t, &testService{
		streamOut: func(_ *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
			if err := stream.Send(&testpb.StreamingOutputCallResponse{}); err != nil {
				return err
			}
			<-stream.Context().Done()
			errc <- stream.Context().Err()
			return stream.Context().Err()
		},
	})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testContext(t))
			resp := do(t, newRequest(t, ctx, srv.URL, streamOutMethod, m, bytes.NewReader(m.body(nil))))
			defer resp.Body.Close()
			if flags, _, err := newResponseReader(resp.Body, m).next(); err != nil || flags != 0 {
				t.Fatalf("first message: flags 0x%02x, %v", flags, err)
			}
			cancel() // the client goes away
			select {
			case err := <-errc:
				if err != context.Canceled {
					t.Fatalf("handler's context ended with %v, want context.Canceled", err)
				}
			case <-testContext(t).Done():
				t.Fatal("the handler's context was not canceled")
			}
		})
	}
}

// TestHTTP2DeadlineEndsPendingRecv checks, over HTTP/2, that the grpc-timeout
// deadline ends a RecvMsg waiting for a client that sends nothing more.
func TestHTTP2DeadlineEndsPendingRecv(t *testing.T) {
	errc := make(chan error, 1)
	svc := &testService{
		streamIn: func(stream grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
			for {
				if _, err := stream.Recv(); err != nil {
					errc <- err
					return err
				}
			}
		},
	}
	srv := startH2(t, grpcweb.NewHandler(dispatcher(svc, &testpb.TestService_ServiceDesc)))

	m := modes[0]
	ctx := testContext(t)
	pr, pw := pipe(ctx)
	defer pw.Close()
	req := newRequest(t, ctx, srv.URL, streamInMethod, m, pr)
	req.Header.Set("Grpc-Timeout", "100m")
	go func() { _, _ = pw.Write(m.body(marshal(t, &testpb.StreamingInputCallRequest{}))) }()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("served over HTTP/%d, want 2", resp.ProtoMajor)
	}
	res := readResult(t, resp, m)
	if got := status.Code(<-errc); got != codes.DeadlineExceeded {
		t.Fatalf("RecvMsg ended with %v, want DeadlineExceeded", got)
	}
	if res.code() != codes.DeadlineExceeded {
		t.Fatalf("status %v %q, want DeadlineExceeded", res.code(), res.message())
	}
}

// TestHTTP1DeadlineEndsStalledBody checks, over HTTP/1.1, that the
// grpc-timeout deadline ends a call whose client stalls partway through the
// body, as on HTTP/2, and that the connection then closes rather than read
// the rest of that body as the next request.
func TestHTTP1DeadlineEndsStalledBody(t *testing.T) {
	srv := startServer(t, &testService{})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			body := m.body(marshal(t, &testpb.SimpleRequest{Payload: payload(8)}))
			conn, br := dialHTTP1(t, srv)
			writeHTTP1Request(t, conn, m, "200m", body, 2)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			res := readResult(t, resp, m)
			if res.code() != codes.DeadlineExceeded {
				t.Fatalf("status %v %q, want DeadlineExceeded", res.code(), res.message())
			}
			if !resp.Close {
				t.Error("the connection stays open with the rest of the body unread")
			}
		})
	}
}

// TestHTTP1DeadlineAfterBodyKeepsConnection checks, over HTTP/1.1, that a
// deadline passing after the whole body was read leaves the connection fit
// for the next request.
func TestHTTP1DeadlineAfterBodyKeepsConnection(t *testing.T) {
	srv := startServer(t, &testService{
		unary: func(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			if _, ok := ctx.Deadline(); ok {
				<-ctx.Done()
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
		},
	})
	m := modes[0]
	body := m.body(marshal(t, &testpb.SimpleRequest{Payload: payload(8)}))
	conn, br := dialHTTP1(t, srv)
	for i, timeout := range []string{"50m", ""} {
		writeHTTP1Request(t, conn, m, timeout, body, len(body))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: no response: %v", i+1, err)
		}
		res := readResult(t, resp, m)
		if want := []codes.Code{codes.DeadlineExceeded, codes.OK}[i]; res.code() != want {
			t.Fatalf("request %d: status %v %q, want %v", i+1, res.code(), res.message(), want)
		}
	}
}

// dialHTTP1 connects to srv, for requests written by hand; the test's
// deadline bounds every read and write.
func dialHTTP1(t *testing.T, srv *httptest.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	deadline, _ := testContext(t).Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// writeHTTP1Request writes a unary call announcing body, with the
// grpc-timeout given (if any), but sends only its first n bytes.
func writeHTTP1Request(t *testing.T, conn net.Conn, m mode, timeout string, body []byte, n int) {
	t.Helper()
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Type: %s\r\nContent-Length: %d\r\n", unaryMethod, m.contentType(), len(body))
	if timeout != "" {
		req += "Grpc-Timeout: " + timeout + "\r\n"
	}
	if _, err := conn.Write(append([]byte(req+"\r\n"), body[:n]...)); err != nil {
		t.Fatal(err)
	}
}

func TestMaxMessageSize(t *testing.T) {
	srv := httptest.NewServer(grpcweb.NewHandler(echoHandler, grpcweb.WithCodec(rawCodec{}), grpcweb.WithMaxMessageSize(64)))
	t.Cleanup(srv.Close)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			atLimit := bytes.Repeat([]byte{'x'}, 64)
			res := readResult(t, do(t, newRequest(t, testContext(t), srv.URL, "/a.B/C", m, bytes.NewReader(m.body(atLimit)))), m)
			if res.code() != codes.OK || len(res.messages) != 1 || !bytes.Equal(res.messages[0], atLimit) {
				t.Fatalf("64-byte message: status %v %q with %d messages, want it echoed", res.code(), res.message(), len(res.messages))
			}
			res = readResult(t, do(t, newRequest(t, testContext(t), srv.URL, "/a.B/C", m, bytes.NewReader(m.body(nil, append(atLimit, 'y'))))), m)
			if res.code() != codes.ResourceExhausted || !strings.Contains(res.message(), "65 vs. 64") {
				t.Fatalf("65-byte message: status %v %q, want ResourceExhausted (65 vs. 64)", res.code(), res.message())
			}
		})
	}
	t.Run("default 4 MiB", func(t *testing.T) {
		srv := startServer(t, &testService{})
		big := marshal(t, &testpb.SimpleRequest{Payload: payload(4 << 20)})
		m := modes[0]
		res := readResult(t, do(t, newRequest(t, testContext(t), srv.URL, unaryMethod, m, bytes.NewReader(m.body(big)))), m)
		if res.code() != codes.ResourceExhausted {
			t.Fatalf("status %v %q, want ResourceExhausted", res.code(), res.message())
		}
	})
}

// TestPassThroughCodec runs the handler as the proxy will: a codec that
// moves raw bytes, messages of any size including empty ones.
func TestPassThroughCodec(t *testing.T) {
	srv := httptest.NewServer(grpcweb.NewHandler(echoHandler, grpcweb.WithCodec(rawCodec{})))
	t.Cleanup(srv.Close)
	msgs := [][]byte{[]byte("one"), {}, bytes.Repeat([]byte{0xff}, 70000), []byte("\x00")}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			res := readResult(t, do(t, newRequest(t, testContext(t), srv.URL, "/any.Service/Any", m, bytes.NewReader(m.body(msgs...)))), m)
			if res.code() != codes.OK {
				t.Fatalf("status %v %q", res.code(), res.message())
			}
			if !slices.EqualFunc(res.messages, msgs, bytes.Equal) {
				t.Fatalf("echoed %d messages, want %d equal to those sent", len(res.messages), len(msgs))
			}
		})
	}
}

func TestMalformedRequests(t *testing.T) {
	srv := httptest.NewServer(grpcweb.NewHandler(echoHandler, grpcweb.WithCodec(rawCodec{})))
	t.Cleanup(srv.Close)
	text := modes[1]
	for _, tc := range []struct {
		name    string
		mode    mode
		path    string
		header  http.Header
		body    []byte
		code    codes.Code
		message string
	}{
		{"truncated header", modes[0], "", nil, []byte{0, 0, 0}, codes.Internal, "body ends 3 bytes into a 5-byte frame header"},
		{"truncated message", modes[0], "", nil, frame(0, []byte("0123456789"))[:7], codes.Internal, "body ends 2 bytes into a 10-byte message"},
		{"truncated after a message", modes[0], "", nil, append(frame(0, []byte("ok")), 0), codes.Internal, "body ends 1 bytes into a 5-byte frame header"},
		{"truncated text message", text, "", nil, text.encode(frame(0, []byte("0123456789"))[:8]), codes.Internal, "body ends 3 bytes into a 10-byte message"},
		{"compressed without an encoding", modes[0], "", nil, frame(flagCompressed, []byte("x")), codes.Internal, "names no grpc-encoding"},
		{"compressed text without an encoding", text, "", nil, text.encode(frame(flagCompressed, []byte("x"))), codes.Internal, "names no grpc-encoding"},
		{"compressed in an unknown encoding", modes[0], "", http.Header{"Grpc-Encoding": {"br"}}, frame(flagCompressed, []byte("x")), codes.Unimplemented, `grpc-encoding "br" is not supported`},
		{"compressed, not gzip", modes[0], "", http.Header{"Grpc-Encoding": {"gzip"}}, frame(flagCompressed, []byte("x")), codes.Internal, "decompressing a gzip message"},
		{"trailer frame", modes[0], "", nil, frame(flagTrailer, nil), codes.Internal, "trailer flag"},
		{"unknown flags", modes[0], "", nil, frame(0x02, nil), codes.Internal, "unknown flags 0x02"},
		{"base64 not in quanta", text, "", nil, []byte("AAAAAA"), codes.Internal, "truncated base64"},
		{"not base64", text, "", nil, []byte("AAAAAAAA!!!!"), codes.Internal, "malformed base64 in request body at byte 8"},
		{"padding inside a quantum", text, "", nil, []byte("AA=A"), codes.Internal, "malformed base64"},
		{"malformed method", modes[0], "/NoMethod", nil, nil, codes.Unimplemented, "malformed method name"},
		{"empty method", modes[0], "/a.B/", nil, nil, codes.Unimplemented, "malformed method name"},
		{"bad binary header", modes[0], "", http.Header{"X-Key-Bin": {"!!"}}, nil, codes.Internal, "malformed binary metadata"},
		{"content-encoding", modes[0], "", http.Header{"Content-Encoding": {"gzip"}}, nil, codes.Unimplemented, "Content-Encoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/a.B/C"
			if tc.path != "" {
				path = tc.path
			}
			req := newRequest(t, testContext(t), srv.URL, path, tc.mode, bytes.NewReader(tc.body))
			for k, v := range tc.header {
				req.Header[k] = v
			}
			res := readResult(t, do(t, req), tc.mode)
			if !res.trailersOnly || res.code() != tc.code || !strings.Contains(res.message(), tc.message) {
				t.Fatalf("status %v %q (trailers-only %v), want trailers-only %v containing %q", res.code(), res.message(), res.trailersOnly, tc.code, tc.message)
			}
		})
	}
}

// A message compressed with the request's grpc-encoding (gzip) arrives decompressed, in either mode.
func TestCompressedRequest(t *testing.T) {
	srv := httptest.NewServer(grpcweb.NewHandler(echoHandler, grpcweb.WithCodec(rawCodec{})))
	t.Cleanup(srv.Close)
	msg := bytes.Repeat([]byte("compress me "), 50)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(msg)
	_ = zw.Close()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			body := append(frame(flagCompressed, zipped.Bytes()), frame(0, []byte("plain"))...)
			if m.text {
				body = m.encode(body)
			}
			req := newRequest(t, testContext(t), srv.URL, "/a.B/C", m, bytes.NewReader(body))
			req.Header.Set("Grpc-Encoding", "gzip")
			res := readResult(t, do(t, req), m)
			if res.code() != codes.OK || len(res.messages) != 2 || !bytes.Equal(res.messages[0], msg) || string(res.messages[1]) != "plain" {
				t.Fatalf("status %v %q, %d messages; want the decompressed message and the plain one echoed", res.code(), res.message(), len(res.messages))
			}
		})
	}
}

func TestHTTPLevelErrors(t *testing.T) {
	srv := startServer(t, &testService{})
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodOptions} {
		t.Run(method, func(t *testing.T) {
			req := newRequest(t, testContext(t), srv.URL, unaryMethod, modes[0], nil)
			req.Method = method
			resp := do(t, req)
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
				t.Fatalf("HTTP %d, Allow %q; want 405 with Allow: POST", resp.StatusCode, resp.Header.Get("Allow"))
			}
		})
	}
	t.Run("content type", func(t *testing.T) {
		req := newRequest(t, testContext(t), srv.URL, unaryMethod, modes[0], nil)
		req.Header.Set("Content-Type", "application/grpc")
		resp := do(t, req)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("HTTP %d, want 415", resp.StatusCode)
		}
	})
}

// TestStreamUnusableAfterReturn checks that a goroutine the handler left
// behind gets errors, not a write into a finished response.
func TestStreamUnusableAfterReturn(t *testing.T) {
	leaked := make(chan grpc.ServerStream, 1)
	srv := httptest.NewServer(grpcweb.NewHandler(func(_ any, stream grpc.ServerStream) error {
		leaked <- stream
		return nil
	}, grpcweb.WithCodec(rawCodec{})))
	t.Cleanup(srv.Close)
	m := modes[0]
	res := readResult(t, do(t, newRequest(t, testContext(t), srv.URL, "/a.B/C", m, bytes.NewReader(m.body([]byte("unread"))))), m)
	if res.code() != codes.OK {
		t.Fatalf("status %v", res.code())
	}
	stream := <-leaked
	for name, err := range map[string]error{
		"SendMsg":    stream.SendMsg(&rawFrame{data: []byte("late")}),
		"SendHeader": stream.SendHeader(metadata.Pairs("a", "b")),
		"SetHeader":  stream.SetHeader(metadata.Pairs("a", "b")),
		"RecvMsg":    stream.RecvMsg(new(rawFrame)),
	} {
		if err == nil {
			t.Errorf("%s after the handler returned: nil error", name)
		}
	}
	stream.SetTrailer(metadata.Pairs("a", "b")) // must not panic
}

func TestConcurrentCalls(t *testing.T) {
	srv := startServer(t, &testService{})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		m := modes[i%2]
		wg.Go(func() {
			want := fmt.Sprintf("call %d", i)
			req := newRequest(t, testContext(t), srv.URL, unaryMethod, m, bytes.NewReader(m.body(marshal(t, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(want)}}))))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			rr := newResponseReader(resp.Body, m)
			_, b, err := rr.next()
			var got testpb.SimpleResponse
			if err == nil {
				err = proto.Unmarshal(b, &got)
			}
			if err != nil || string(got.GetPayload().GetBody()) != want {
				errs <- fmt.Errorf("%s: got %q (%v)", want, got.GetPayload().GetBody(), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestProxyCodec runs messages through the gateway proxy's own codec and
// Frame type, whose buffers are reference-counted: a received Frame keeps
// the pooled buffer the handler read into, and sending it hands the buffer
// back. Sizes span unpooled and pooled buffers.
func TestProxyCodec(t *testing.T) {
	echo := func(_ any, stream grpc.ServerStream) error {
		for {
			var f routing.Frame
			if err := stream.RecvMsg(&f); err != nil {
				f.Free()
				if err == io.EOF {
					return nil
				}
				return err
			}
			if err := stream.SendMsg(&f); err != nil {
				return err
			}
		}
	}
	srv := httptest.NewServer(grpcweb.NewHandler(echo, grpcweb.WithCodec(routing.Codec{})))
	t.Cleanup(srv.Close)
	var msgs [][]byte
	for i, n := range []int{0, 10, 2 << 10, 100 << 10, 3} {
		msgs = append(msgs, bytes.Repeat([]byte{byte('a' + i)}, n))
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			res := readResult(t, do(t, newRequest(t, testContext(t), srv.URL, "/any.Service/Any", m, bytes.NewReader(m.body(msgs...)))), m)
			if res.code() != codes.OK || !slices.EqualFunc(res.messages, msgs, bytes.Equal) {
				t.Fatalf("status %v %q with %d messages, want the %d sent, unchanged", res.code(), res.message(), len(res.messages), len(msgs))
			}
		})
	}
}

// startH2 serves h over HTTP/2 (TLS) until the test ends.
func startH2(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// pipe returns a request body the test writes as it goes; it ends with ctx's error when ctx does,
// so that a server still reading it is not left waiting.
func pipe(ctx context.Context) (*io.PipeReader, *io.PipeWriter) {
	pr, pw := io.Pipe()
	context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	return pr, pw
}
