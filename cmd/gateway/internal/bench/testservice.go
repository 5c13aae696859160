package bench

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// maxPayload bounds the response payloads the test service builds, so a bad request cannot make the
// backend allocate without limit.
const maxPayload = 4 << 20

// testService is the streaming half of the backend: grpc.testing.TestService's two streaming calls
// the benchmark drives, plus EmptyCall and UnaryCall for completeness. Payloads are zeros.
type testService struct {
	testgrpc.UnimplementedTestServiceServer
	zeros []byte // shared, never written
}

func newTestService() *testService { return &testService{zeros: make([]byte, maxPayload)} }

func (s *testService) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return new(testgrpc.Empty), nil
}

func (s *testService) UnaryCall(_ context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	body, err := s.payload(req.GetResponseSize())
	if err != nil {
		return nil, err
	}
	return &testgrpc.SimpleResponse{Payload: &testgrpc.Payload{Body: body}}, nil
}

// StreamingOutputCall sends one response per ResponseParameters entry, each with a payload of the size
// it asks for.
func (s *testService) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	resp := &testgrpc.StreamingOutputCallResponse{Payload: new(testgrpc.Payload)}
	for _, p := range req.GetResponseParameters() {
		body, err := s.payload(p.GetSize())
		if err != nil {
			return err
		}
		resp.Payload.Body = body
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	return nil
}

// StreamingInputCall receives until the client half-closes and answers with the payload bytes seen.
func (s *testService) StreamingInputCall(stream grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse]) error {
	var total int64
	req := new(testgrpc.StreamingInputCallRequest)
	for {
		if err := stream.RecvMsg(req); err != nil {
			if errors.Is(err, io.EOF) {
				return stream.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: int32(min(total, 1<<31-1))})
			}
			return err
		}
		total += int64(len(req.GetPayload().GetBody()))
	}
}

func (s *testService) payload(size int32) ([]byte, error) {
	if size < 0 || size > maxPayload {
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("payload size %d is outside [0, %d]", size, maxPayload))
	}
	return s.zeros[:size], nil
}
