package grpcweb_test

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/routing/grpcweb"
)

// testService is a plain implementation of grpc.testing.TestService. A test
// overrides a method by setting the matching field.
type testService struct {
	testpb.UnimplementedTestServiceServer

	unary     func(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error)
	streamOut func(*testpb.StreamingOutputCallRequest, grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error
	streamIn  func(grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error
}

// UnaryCall echoes the payload, or fails with the requested status.
func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if s.unary != nil {
		return s.unary(ctx, req)
	}
	if st := req.GetResponseStatus(); st.GetCode() != 0 {
		return nil, status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

// StreamingOutputCall sends one payload per response parameter.
func (s *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	if s.streamOut != nil {
		return s.streamOut(req, stream)
	}
	for _, p := range req.GetResponseParameters() {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: payload(int(p.GetSize()))}); err != nil {
			return err
		}
	}
	return nil
}

// StreamingInputCall sums the payload sizes it receives.
func (s *testService) StreamingInputCall(stream grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	if s.streamIn != nil {
		return s.streamIn(stream)
	}
	var total int32
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: total})
		}
		if err != nil {
			return err
		}
		total += int32(len(req.GetPayload().GetBody()))
	}
}

// FullDuplexCall answers each request as soon as it arrives.
func (s *testService) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		for _, p := range req.GetResponseParameters() {
			if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: payload(int(p.GetSize()))}); err != nil {
				return err
			}
		}
	}
}

func payload(n int) *testpb.Payload {
	return &testpb.Payload{Body: bytes.Repeat([]byte{'a'}, n)}
}

// dispatcher returns a grpc.StreamHandler serving srv through its
// ServiceDesc, the way the gateway's proxy core is called: one handler for
// every method, finding the method from the stream.
func dispatcher(srv any, desc *grpc.ServiceDesc) grpc.StreamHandler {
	unary := make(map[string]grpc.MethodHandler)
	streams := make(map[string]grpc.StreamHandler)
	for _, m := range desc.Methods {
		unary["/"+desc.ServiceName+"/"+m.MethodName] = m.Handler
	}
	for _, s := range desc.Streams {
		streams["/"+desc.ServiceName+"/"+s.StreamName] = s.Handler
	}
	return func(_ any, stream grpc.ServerStream) error {
		method, ok := grpc.MethodFromServerStream(stream)
		if !ok {
			return status.Error(codes.Internal, "no method in the stream's context")
		}
		if h, ok := unary[method]; ok {
			resp, err := h(srv, stream.Context(), stream.RecvMsg, nil)
			if err != nil {
				return err
			}
			return stream.SendMsg(resp)
		}
		if h, ok := streams[method]; ok {
			return h(srv, stream)
		}
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
}

// startServer serves svc through a gRPC-Web Handler on a loopback HTTP/1.1
// server.
func startServer(t *testing.T, svc *testService, opts ...grpcweb.Option) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(grpcweb.NewHandler(dispatcher(svc, &testpb.TestService_ServiceDesc), opts...))
	t.Cleanup(srv.Close)
	return srv
}

// rawFrame is a message type like the proxy's: the payload bytes as they are.
type rawFrame struct{ data []byte }

// rawCodec moves bytes in and out of *rawFrame without decoding them.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.(*rawFrame).data)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	v.(*rawFrame).data = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// echoHandler reads every request message, then sends them all back; a
// receive error ends the call with that error.
func echoHandler(_ any, stream grpc.ServerStream) error {
	var msgs []*rawFrame
	for {
		m := new(rawFrame)
		err := stream.RecvMsg(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		if err := stream.SendMsg(m); err != nil {
			return err
		}
	}
	return nil
}
