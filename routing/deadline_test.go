package routing_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/routing"
)

// clientContext is the context of a call's server stream, whose deadline the test moves: grpc-go
// ends a stream at its deadline by cancelling its context, which then ends with Canceled, not
// DeadlineExceeded, when that cancellation runs before the deadline's own timer.
type clientContext struct {
	context.Context
	deadline atomic.Int64 // UnixNano; 0 for none
}

func (c *clientContext) Deadline() (time.Time, bool) {
	if d := c.deadline.Load(); d != 0 {
		return time.Unix(0, d), true
	}
	return time.Time{}, false
}

// endingStream is the server stream of a unary call through Proxy.Handler whose client's side
// ends when the proxy is about to answer, as grpc-go's stream does when the client resets it or its
// deadline passes: its context is cancelled (at the deadline, if expire is set) and the header is
// refused as grpc-go refuses it on an ended stream.
type endingStream struct {
	ctx    *clientContext
	cancel context.CancelFunc
	expire bool
	req    []byte
	read   bool
}

func newEndingStream(t *testing.T, method string, req proto.Message, expire bool) *endingStream {
	t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	s := &endingStream{expire: expire, req: b}
	ctx, cancel := context.WithCancel(t.Context())
	s.ctx = &clientContext{Context: grpc.NewContextWithServerTransportStream(ctx, methodStream(method))}
	if expire {
		s.ctx.deadline.Store(time.Now().Add(time.Hour).UnixNano())
	}
	s.cancel = cancel
	return s
}

func (s *endingStream) Context() context.Context { return s.ctx }

func (s *endingStream) RecvMsg(m any) error {
	if s.read {
		return io.EOF
	}
	s.read = true
	m.(*routing.Frame).SetBytes(s.req)
	return nil
}

func (s *endingStream) SetHeader(metadata.MD) error {
	if s.expire {
		s.ctx.deadline.Store(time.Now().Add(-time.Millisecond).UnixNano())
	}
	s.cancel()
	return status.Error(codes.Internal, "transport: SendHeader called multiple times")
}

func (s *endingStream) SendHeader(metadata.MD) error { return s.SetHeader(nil) }
func (s *endingStream) SetTrailer(metadata.MD)       {}
func (s *endingStream) SendMsg(any) error            { return status.FromContextError(s.ctx.Err()).Err() }

// methodStream is the grpc.ServerTransportStream that names the call's method.
type methodStream string

func (m methodStream) Method() string             { return string(m) }
func (methodStream) SetHeader(metadata.MD) error  { return nil }
func (methodStream) SendHeader(metadata.MD) error { return nil }
func (methodStream) SetTrailer(metadata.MD) error { return nil }

// A unary call whose client's side ends just as the upstream's answer arrives fails with what
// ended it: Canceled when the client cancelled, DeadlineExceeded when its deadline passed. grpc-go's
// refusal of the answer's header on the ended stream, Internal "transport: SendHeader called
// multiple times", is neither the call's status nor an upstream connection failure.
func TestProxyAnswerAfterClientEnded(t *testing.T) {
	live, _ := testnet.Health(t)
	p, _ := unaryProxy(t, []string{live}, routing.RetryPolicy{Attempts: 1})
	for _, tc := range []struct {
		name   string
		expire bool
		want   codes.Code
	}{
		{"cancelled", false, codes.Canceled},
		{"deadline", true, codes.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := newEndingStream(t, checkMethod, &healthpb.HealthCheckRequest{}, tc.expire)
			if err := p.Handler(nil, ss); status.Code(err) != tc.want {
				t.Errorf("Handler: %v, want %v", err, tc.want)
			}
		})
	}
}

// A call whose stream grpc-go ended at its deadline by cancelling the stream's context, before the
// deadline's own timer ran, fails DeadlineExceeded, not Canceled: its context says Canceled, its
// deadline has passed.
func TestProxyDeadlineThatCancelled(t *testing.T) {
	live, _ := testnet.Health(t)
	p, _ := unaryProxy(t, []string{live}, routing.RetryPolicy{Attempts: 1})
	ss := newEndingStream(t, checkMethod, &healthpb.HealthCheckRequest{}, true)
	ss.ctx.deadline.Store(time.Now().Add(-time.Millisecond).UnixNano())
	ss.cancel()
	if err := p.Handler(nil, ss); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Handler: %v, want DeadlineExceeded", err)
	}
}

// A call that fails DeadlineExceeded once its caller's deadline has passed, before the timer of
// the caller's context has ended it (a backend's own timer reset the stream at the same deadline,
// which grpc-go reports as DeadlineExceeded; the gateway's timer runs a moment later, on a busy
// process later still), is the caller's deadline: it counts nothing against the endpoint, as
// after the timer has run.
func TestBreakerExcusesDeadlineBeforeItsTimer(t *testing.T) {
	p, eps := resilientSetup(t, 1, routing.EndpointConfig{
		Breaker: routing.BreakerConfig{ConsecutiveFailures: 1}, Outlier: routing.OutlierConfig{Disabled: true},
	}, routing.ClusterConfig{})
	for range 3 {
		ctx := &clientContext{Context: t.Context()}
		ctx.deadline.Store(time.Now().Add(-time.Millisecond).UnixNano())
		up, err := p.Route(ctx, method, nil)
		if err != nil {
			t.Fatal(err)
		}
		up.DoneWith(status.Error(codes.DeadlineExceeded, "stream terminated by RST_STREAM with error code: CANCEL"))
	}
	if s := eps[0].Stats(); s.Breaker != "closed" || s.ConsecutiveFailures != 0 {
		t.Errorf("after calls whose caller's deadline had passed: %+v, want a closed breaker and no failures", s)
	}
}
