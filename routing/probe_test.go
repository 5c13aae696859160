package routing_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/protogate/gateway/routing"
)

// The methods of probeBackend.
const (
	probeGet    = "/test.v1.Probe/Get"    // unary: an echo
	probeWatch  = "/test.v1.Probe/Watch"  // server streaming: one message at once, then open
	probeUpload = "/test.v1.Probe/Upload" // client streaming: its header at once, then open
	probeChat   = "/test.v1.Probe/Chat"   // bidi streaming: its header at once, then open
	probeHang   = "/test.v1.Probe/Hang"   // server streaming: never answers
)

// probeState serves probeBackend's methods, of their kinds, from one table.
type probeState struct{ table *routing.Table }

func (s probeState) Routes() *routing.Table     { return s.table }
func (s probeState) Admitter() routing.Admitter { return nil }
func (s probeState) Method(m string) (routing.CallKind, bool, bool) {
	switch m {
	case probeGet:
		return routing.KindUnary, true, true
	case probeWatch, probeHang:
		return routing.KindServerStream, true, true
	case probeUpload:
		return routing.KindClientStream, true, true
	case probeChat:
		return routing.KindBidiStream, true, true
	}
	return routing.KindUnknown, true, false
}

// probeBackend is a gRPC backend that fails every call with Unavailable while sick. Its streams
// answer at once and stay open until their client ends them, as a watch does, except Hang's.
type probeBackend struct {
	sick atomic.Bool
	hung chan struct{} // a call of Hang has arrived
}

func (b *probeBackend) handle(_ any, ss grpc.ServerStream) error {
	if b.sick.Load() {
		return status.Error(codes.Unavailable, "backend sick")
	}
	method, _ := grpc.MethodFromServerStream(ss)
	var f routing.Frame
	defer f.Free()
	switch method {
	case probeGet:
		if err := ss.RecvMsg(&f); err != nil {
			return err
		}
		return ss.SendMsg(&f)
	case probeWatch:
		f.SetBytes([]byte{})
		if err := ss.SendMsg(&f); err != nil {
			return err
		}
	case probeHang:
		b.hung <- struct{}{}
	default:
		if err := ss.SendHeader(metadata.MD{}); err != nil {
			return err
		}
	}
	<-ss.Context().Done()
	return status.FromContextError(ss.Context().Err()).Err()
}

// probeGateway serves, through a Proxy on loopback, a backend of probeBackend's methods alone in its
// cluster, its breaker tripped by one failure and half-open after openTimeout. It returns the
// backend, a client of the gateway, the proxy and the backend's endpoint.
func probeGateway(t *testing.T, openTimeout time.Duration) (*probeBackend, *grpc.ClientConn, *routing.Proxy, *routing.Endpoint) {
	t.Helper()
	serve := func(h grpc.StreamHandler) string {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(grpc.UnknownServiceHandler(h), grpc.ForceServerCodecV2(routing.Codec{}))
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(lis) }()
		t.Cleanup(func() { srv.Stop(); <-done })
		return lis.Addr().String()
	}
	b := &probeBackend{hung: make(chan struct{}, 1)}
	addr := serve(b.handle)
	pool := routing.NewPool(nil, routing.WithPoolLogger(quietLog()))
	t.Cleanup(func() { pool.Close() })
	e, err := pool.AcquireWith(addr, routing.Transport{}, routing.EndpointConfig{
		Breaker: routing.BreakerConfig{ConsecutiveFailures: 1, OpenTimeout: openTimeout},
		Outlier: routing.OutlierConfig{Disabled: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := routing.NewCluster("c", []*routing.Endpoint{e})
	table, err := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"},
		Retry: routing.RetryPolicy{Attempts: 1}, Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	p := routing.NewProxy(func() routing.State { return probeState{table} })
	conn, err := grpc.NewClient(serve(p.Handler), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return b, conn, p, e
}

// halfOpen trips e's breaker with a failed call of b and waits for the circuit to half-open; b is
// sick afterwards as sick says.
func halfOpen(t *testing.T, b *probeBackend, conn *grpc.ClientConn, e *routing.Endpoint, sick bool) {
	t.Helper()
	b.sick.Store(true)
	if err := conn.Invoke(t.Context(), probeGet, wrapperspb.String("x"), new(wrapperspb.StringValue)); status.Code(err) != codes.Unavailable {
		t.Fatalf("call of the sick backend: %v, want Unavailable", err)
	}
	b.sick.Store(sick)
	waitUntil(t, "the circuit tripped", func() bool { return e.Stats().Breaker != "closed" })
	waitUntil(t, "the circuit half-open", func() bool { return e.Stats().Breaker == "half-open" })
}

// A stream that is a half-open circuit's probe settles it once established (its header or first
// message arrives), not when it ends: with a stream of each kind open on the endpoint, a unary call
// to it succeeds, the circuit closed by the stream, rather than being refused "circuit breaker
// open" for the stream's life. The stream's end then counts as any stream's does.
func TestStreamProbeSettledWhenEstablished(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		desc   grpc.StreamDesc
	}{
		{"server stream", probeWatch, grpc.StreamDesc{ServerStreams: true}},
		{"client stream", probeUpload, grpc.StreamDesc{ClientStreams: true}},
		{"bidi stream", probeChat, grpc.StreamDesc{ClientStreams: true, ServerStreams: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, conn, _, e := probeGateway(t, 50*time.Millisecond)
			halfOpen(t, b, conn, e, false)
			ctx, cancel := context.WithCancel(t.Context())
			cs, err := conn.NewStream(ctx, &tc.desc, tc.method)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.desc.ClientStreams {
				if err := cs.SendMsg(wrapperspb.String("x")); err != nil {
					t.Fatal(err)
				}
				if err := cs.CloseSend(); err != nil {
					t.Fatal(err)
				}
			}
			// The gateway sends the client the header once it has the upstream's.
			if _, err := cs.Header(); err != nil {
				t.Fatalf("stream header: %v", err)
			}
			if s := e.Stats(); s.Breaker != "closed" || s.InFlight != 1 {
				t.Errorf("with the probe stream established: %+v, want the circuit closed, the stream in flight", s)
			}
			if err := conn.Invoke(t.Context(), probeGet, wrapperspb.String("x"), new(wrapperspb.StringValue)); err != nil {
				t.Errorf("unary call with the probe stream open: %v", err)
			}
			cancel()
			waitUntil(t, "the stream ended", func() bool { return e.Stats().InFlight == 0 })
			if s := e.Stats().Breaker; s != "closed" {
				t.Errorf("after the stream ended: breaker %s, want closed", s)
			}
		})
	}

	// The REST and GraphQL fronts open their streams themselves, on the routed Upstream's Conn; the
	// GraphQL front reports the end with Done.
	t.Run("a front's own stream", func(t *testing.T) {
		b, conn, p, e := probeGateway(t, 50*time.Millisecond)
		halfOpen(t, b, conn, e, false)
		up, err := p.Route(t.Context(), probeWatch, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer up.Done()
		cs := watch(t, up.Ctx, up.Conn, probeWatch, p.CallOptions()...)
		var f routing.Frame
		defer f.Free()
		if err := cs.RecvMsg(&f); err != nil {
			t.Fatalf("first message: %v", err)
		}
		unary, err := p.Route(t.Context(), probeGet, nil)
		if err != nil {
			t.Fatalf("unary call routed with the probe stream open: %v", err)
		}
		unary.DoneWith(nil)
		if s := e.Stats().Breaker; s != "closed" {
			t.Errorf("with the probe stream established: breaker %s, want closed", s)
		}
	})
}

// A probe stream that fails before it is established is a failed probe, as a unary probe's failure
// is: the circuit opens again. One whose client goes away first gives no verdict: the circuit stays
// half-open, and the next call probes.
func TestStreamProbeFailsOrGivesNoVerdict(t *testing.T) {
	t.Run("failed", func(t *testing.T) {
		// Long enough for the circuit to be seen open again, not half-open already, afterwards.
		b, conn, _, e := probeGateway(t, 500*time.Millisecond)
		halfOpen(t, b, conn, e, true)
		cs := watch(t, t.Context(), conn, probeWatch)
		if err := cs.RecvMsg(new(wrapperspb.StringValue)); status.Code(err) != codes.Unavailable {
			t.Fatalf("probe stream of the sick backend: %v, want Unavailable", err)
		}
		if s := e.Stats().Breaker; s != "open" {
			t.Errorf("after the probe stream failed: breaker %s, want open", s)
		}
	})
	t.Run("client gone", func(t *testing.T) {
		b, conn, _, e := probeGateway(t, 50*time.Millisecond)
		halfOpen(t, b, conn, e, false)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		_ = watch(t, ctx, conn, probeHang)
		<-b.hung
		cancel()
		waitUntil(t, "the stream ended", func() bool { return e.Stats().InFlight == 0 })
		if s := e.Stats().Breaker; s != "half-open" {
			t.Errorf("after the probe stream's client went away: breaker %s, want half-open", s)
		}
		err := conn.Invoke(t.Context(), probeGet, wrapperspb.String("x"), new(wrapperspb.StringValue))
		if err != nil && strings.Contains(err.Error(), "circuit breaker open") {
			t.Fatalf("the next call was refused: %v; the gone client's probe kept its slot", err)
		} else if err != nil {
			t.Fatal(err)
		}
		if s := e.Stats().Breaker; s != "closed" {
			t.Errorf("after the next call's success: breaker %s, want closed", s)
		}
	})
}

// watch opens a server stream of method on conn and sends its one request.
func watch(t *testing.T, ctx context.Context, conn grpc.ClientConnInterface, method string, opts ...grpc.CallOption) grpc.ClientStream {
	t.Helper()
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(wrapperspb.String("x")); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	return cs
}
