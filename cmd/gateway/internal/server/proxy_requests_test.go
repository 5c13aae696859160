package server_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

// endsReported is a grpc.testing.TestService whose request-streaming methods read requests until
// the stream ends and then report how it ended: OK for the client's half-close, the stream's status
// otherwise (CANCELLED when the gateway cancelled it).
type endsReported struct {
	testgrpc.UnimplementedTestServiceServer
	ended chan codes.Code
}

func (s *endsReported) StreamingInputCall(stream testgrpc.TestService_StreamingInputCallServer) error {
	for {
		if _, err := stream.Recv(); err != nil {
			return s.report(err)
		}
	}
}

func (s *endsReported) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	for {
		if _, err := stream.Recv(); err != nil {
			return s.report(err)
		}
	}
}

// wantCancelled fails t unless the backend's stream ended CANCELLED before ctx did.
func (s *endsReported) wantCancelled(ctx context.Context, t *testing.T) {
	t.Helper()
	select {
	case code := <-s.ended:
		if code != codes.Canceled {
			t.Fatalf("the backend's stream ended with %v, want CANCELLED", code)
		}
	case <-ctx.Done():
		t.Fatal("the backend's stream is still open")
	}
}

func (s *endsReported) report(err error) error {
	if err == io.EOF {
		err = nil
	}
	s.ended <- status.Code(err)
	return err
}

// testServiceGateway serves svc on loopback as the only backend of a gateway, and returns the
// gateway and the backend's address.
func testServiceGateway(t *testing.T, svc testgrpc.TestServiceServer) (*gateway, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(backend, svc)
	go func() { _ = backend.Serve(ln) }()
	t.Cleanup(backend.Stop)
	files, err := registry.FilesOf(testgrpc.File_grpc_testing_test_proto)
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, harnessOptions{
		empty: true,
		spec: func(s *registry.Spec, _ *shop.Shop) {
			s.Registrations = []*registry.Registration{{Name: "test", Endpoints: []string{ln.Addr().String()},
				Files: files, Services: []string{"grpc.testing.TestService"}}}
		},
	})
	return g, ln.Addr().String()
}

// TestGRPCWebBadRequestBodyEndsStream: a request body that is not valid gRPC-Web ends a client- or
// bidi-streaming call at once with the error, as it does a unary one, and the gateway cancels the
// upstream stream, which would otherwise wait for more requests.
func TestGRPCWebBadRequestBodyEndsStream(t *testing.T) {
	svc := &endsReported{ended: make(chan codes.Code, 1)}
	g, _ := testServiceGateway(t, svc)
	frame := func(flags byte, length uint32, payload string) string {
		return string(binary.BigEndian.AppendUint32([]byte{flags}, length)) + payload
	}
	cases := []struct {
		name string
		text bool
		body string
		code codes.Code
		says string
	}{
		{"unknown flags", false, frame(0x40, 0, ""), codes.Internal, "grpc-web: request frame has unknown flags 0x40"},
		{"unknown flags after a message", false, frame(0, 0, "") + frame(0x40, 0, ""), codes.Internal, "unknown flags 0x40"},
		{"truncated frame", false, frame(0, 10, "ab"), codes.Internal, "body ends 2 bytes into a 10-byte message"},
		{"compressed without grpc-encoding", false, frame(0x01, 1, "x"), codes.Internal, "names no grpc-encoding"},
		{"over the message limit", false, frame(0, uint32(config.DefaultMaxMessageBytes)+1, ""), codes.ResourceExhausted, "larger than max (4194305 vs. 4194304)"},
		{"text not base64", true, "AAAAAAAA!!!!", codes.Internal, "malformed base64"},
	}
	h2c := h2cTransport()
	t.Cleanup(h2c.CloseIdleConnections)
	transports := []struct {
		name   string
		client *http.Client
	}{
		{"http1", http.DefaultClient},
		{"h2c", &http.Client{Transport: h2c}},
	}
	for _, tr := range transports {
		for _, method := range []string{testgrpc.TestService_StreamingInputCall_FullMethodName, testgrpc.TestService_FullDuplexCall_FullMethodName} {
			for _, tc := range cases {
				t.Run(tr.name+"/"+path.Base(method)+"/"+tc.name, func(t *testing.T) {
					// A deadline well past the answer's: a call that hangs fails here, not the test binary.
					ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
					defer cancel()
					req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+g.addr+method, strings.NewReader(tc.body))
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Content-Type", "application/grpc-web+proto")
					if tc.text {
						req.Header.Set("Content-Type", "application/grpc-web-text")
					}
					req.Header.Set("X-Grpc-Web", "1")
					resp, body := doRequest(t, tr.client, req)
					msg, _ := url.PathUnescape(resp.Header.Get("Grpc-Message"))
					if code := resp.Header.Get("Grpc-Status"); code != strconv.Itoa(int(tc.code)) || !strings.Contains(msg, tc.says) || body != "" {
						t.Fatalf("grpc-status %q %q, body %q; want a trailers-only %d saying %q", code, msg, body, tc.code, tc.says)
					}
					svc.wantCancelled(ctx, t)
				})
			}
		}
	}
}

// TestGRPCWebBadFrameAnsweredWhileUploading: over HTTP/1.1, a client still sending its stream gets
// the error of a bad frame at once, not once it has finished sending: the response closes the
// connection rather than read the rest of the body first.
func TestGRPCWebBadFrameAnsweredWhileUploading(t *testing.T) {
	svc := &endsReported{ended: make(chan codes.Code, 1)}
	g, _ := testServiceGateway(t, svc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	body, upload := io.Pipe()
	defer upload.Close()
	var ended atomic.Bool // the body ended, at the test's deadline: a late answer is not a hang
	context.AfterFunc(ctx, func() {
		ended.Store(true)
		upload.Close()
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+g.addr+testgrpc.TestService_FullDuplexCall_FullMethodName, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	req.Header.Set("X-Grpc-Web", "1")
	go func() { _, _ = upload.Write([]byte{0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0}) }() // a message, then a bad frame; the body stays open
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("no answer while the body is open: %v", err)
	}
	resp.Body.Close()
	if ended.Load() {
		t.Fatal("answered only once the request body ended")
	}
	if code := resp.Header.Get("Grpc-Status"); code != strconv.Itoa(int(codes.Internal)) {
		t.Errorf("grpc-status %q (%s), want 13", code, resp.Header.Get("Grpc-Message"))
	}
	if !resp.Close {
		t.Error("the response keeps a connection whose request body was left unread")
	}
}

// TestGRPCBadRequestEndsStream: over native gRPC too, a request the gateway cannot take (a message
// over grpc.max_message_bytes) ends a client- or bidi-streaming call with its error and cancels the
// upstream stream.
func TestGRPCBadRequestEndsStream(t *testing.T) {
	svc := &endsReported{ended: make(chan codes.Code, 1)}
	g, _ := testServiceGateway(t, svc)
	for _, method := range []string{testgrpc.TestService_StreamingInputCall_FullMethodName, testgrpc.TestService_FullDuplexCall_FullMethodName} {
		t.Run(path.Base(method), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			stream, err := g.conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method,
				grpc.ForceCodecV2(routing.Codec{}))
			if err != nil {
				t.Fatal(err)
			}
			var ok, big routing.Frame
			big.SetBytes(make([]byte, config.DefaultMaxMessageBytes+1))
			for _, f := range []*routing.Frame{&ok, &big} {
				if err := stream.SendMsg(f); err != nil && err != io.EOF {
					t.Fatal(err)
				}
			}
			err = stream.RecvMsg(new(routing.Frame))
			if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "larger than max") {
				t.Fatalf("%v, want RESOURCE_EXHAUSTED saying the message is larger than max", err)
			}
			svc.wantCancelled(ctx, t)
		})
	}
}

// TestProxiedCallCardinality: a unary or server-streaming call whose client sends no request
// message, or more than one, gets from the proxy what grpc-go's server answers (the backend's own
// answer): INTERNAL "cardinality violation", over native gRPC and over gRPC-Web.
func TestProxiedCallCardinality(t *testing.T) {
	g, backendAddr := testServiceGateway(t, &endsReported{})
	backend, err := grpc.NewClient(backendAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	// call calls method on conn with n empty request messages.
	call := func(conn grpc.ClientConnInterface, method string, n int) *status.Status {
		stream, err := conn.NewStream(testContext(t), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method,
			grpc.ForceCodecV2(routing.Codec{}))
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := stream.SendMsg(new(routing.Frame)); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		return status.Convert(stream.RecvMsg(new(routing.Frame)))
	}
	for _, method := range []string{testgrpc.TestService_UnaryCall_FullMethodName, testgrpc.TestService_StreamingOutputCall_FullMethodName} {
		for _, n := range []int{0, 2} {
			t.Run(path.Base(method)+"/"+strconv.Itoa(n), func(t *testing.T) {
				want := call(backend, method, n)
				if want.Code() != codes.Internal || !strings.HasPrefix(want.Message(), "cardinality violation: ") {
					t.Fatalf("the backend answers %v; the test expects grpc-go's cardinality violation", want.Proto())
				}
				if got := call(g.conn, method, n); got.Code() != want.Code() || got.Message() != want.Message() {
					t.Errorf("native gRPC through the gateway: %v, the backend %v", got.Proto(), want.Proto())
				}
				msgs := make([]proto.Message, n)
				for i := range msgs {
					msgs[i] = &emptypb.Empty{}
				}
				for _, text := range []bool{false, true} {
					if got := grpcWebInvoke(t, g.addr, method, msgs, text, nil).status; got.Code() != want.Code() || got.Message() != want.Message() {
						t.Errorf("gRPC-Web (text %v) through the gateway: %v, the backend %v", text, got.Proto(), want.Proto())
					}
				}
			})
		}
	}
}
