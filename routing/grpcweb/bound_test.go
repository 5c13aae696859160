package grpcweb_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/routing/grpcweb"
)

// boundedUnary is a grpc.StreamHandler that receives a unary call's request within t, as the
// gateway's proxy does (routing.RecvBounder), then echoes its payload once wait has ended. It
// reports the bound's end on ended.
func boundedUnary(rt routing.ReadTime, wait func(context.Context), ended chan<- error) grpc.StreamHandler {
	return func(_ any, ss grpc.ServerStream) error {
		end := ss.(routing.RecvBounder).BoundRecv(rt)
		var req testpb.SimpleRequest
		err := ss.RecvMsg(&req)
		if err == nil {
			if err = ss.RecvMsg(new(testpb.SimpleRequest)); err == io.EOF {
				err = nil
			}
		}
		late := end()
		ended <- late
		if late != nil {
			return late
		}
		if err != nil {
			return err
		}
		wait(ss.Context())
		return ss.SendMsg(&testpb.SimpleResponse{Payload: req.GetPayload()})
	}
}

func noWait(context.Context) {}

// Over HTTP/2, a request body that stalls ends the call once the time bound by BoundRecv is up:
// DeadlineExceeded, naming the time, for the client and for the bound's end.
func TestBoundRecvEndsStalledBodyHTTP2(t *testing.T) {
	ended := make(chan error, 1)
	srv := startH2(t, grpcweb.NewHandler(boundedUnary(routing.ReadTime{Base: 50 * time.Millisecond, PerSecond: 1}, noWait, ended)))
	m := modes[0]
	ctx := testContext(t)
	pr, pw := pipe(ctx)
	defer pw.Close()
	body := m.body(marshal(t, &testpb.SimpleRequest{Payload: payload(8)}))
	go func() { _, _ = pw.Write(body[:3]) }() // within the frame's header: nothing announced
	resp, err := srv.Client().Do(newRequest(t, ctx, srv.URL, unaryMethod, m, pr))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("served over HTTP/%d, want 2", resp.ProtoMajor)
	}
	res := readResult(t, resp, m)
	if late := <-ended; status.Code(late) != codes.DeadlineExceeded {
		t.Errorf("the bound ended with %v, want DeadlineExceeded", late)
	}
	if res.code() != codes.DeadlineExceeded || !strings.Contains(res.message(), "did not arrive within 50ms") {
		t.Errorf("status %v %q, want DeadlineExceeded naming 50ms", res.code(), res.message())
	}
}

// A stream's bound, lifted once its first message came, leaves the stream free to idle: over
// HTTP/2, a message sent after the bound's time has passed is received.
func TestBoundRecvLiftedLetsStreamIdle(t *testing.T) {
	const base = 50 * time.Millisecond
	first := make(chan struct{})
	handler := func(_ any, ss grpc.ServerStream) error {
		end := ss.(routing.RecvBounder).BoundRecv(routing.ReadTime{Base: base, PerSecond: 1 << 40})
		err := ss.RecvMsg(new(testpb.StreamingInputCallRequest))
		if late := end(); late != nil {
			return late
		}
		if err != nil {
			return err
		}
		close(first)
		n := int32(1)
		for {
			if err := ss.RecvMsg(new(testpb.StreamingInputCallRequest)); err == io.EOF {
				return ss.SendMsg(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: n})
			} else if err != nil {
				return err
			}
			n++
		}
	}
	srv := startH2(t, grpcweb.NewHandler(handler))
	m := modes[0]
	ctx := testContext(t)
	pr, pw := pipe(ctx)
	defer pw.Close()
	msg := m.body(marshal(t, &testpb.StreamingInputCallRequest{}))
	go func() {
		if _, err := pw.Write(msg); err != nil {
			return
		}
		select {
		case <-first:
		case <-ctx.Done():
			return
		}
		idle, cancel := context.WithTimeout(ctx, 2*base) // the stream idles past the bound's time
		defer cancel()
		<-idle.Done()
		if _, err := pw.Write(msg); err == nil {
			pw.Close()
		}
	}()
	resp, err := srv.Client().Do(newRequest(t, ctx, srv.URL, streamInMethod, m, pr))
	if err != nil {
		t.Fatal(err)
	}
	res := readResult(t, resp, m)
	if res.code() != codes.OK {
		t.Fatalf("status %v %q, want OK", res.code(), res.message())
	}
}
