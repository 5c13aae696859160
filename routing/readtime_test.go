package routing_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/routing"
)

// kindState routes every call to one cluster as a call of one kind.
type kindState struct {
	table *routing.Table
	kind  routing.CallKind
}

func (s kindState) Routes() *routing.Table     { return s.table }
func (s kindState) Admitter() routing.Admitter { return nil }
func (s kindState) Method(string) (routing.CallKind, bool, bool) {
	return s.kind, false, false
}

// receiving is a server stream that says when the proxy first waits for a request message.
type receiving struct {
	grpc.ServerStream
	waits chan<- struct{}
}

func (r *receiving) RecvMsg(m any) error {
	select {
	case r.waits <- struct{}{}:
	default:
	}
	return r.ServerStream.RecvMsg(m)
}

// stallGateway is a proxy served on loopback as the gateway's h2c server serves it (its tap
// handle makes calls' receives abortable), in front of a health server in a cluster of one
// endpoint that takes one call at a time.
type stallGateway struct {
	conn *grpc.ClientConn // a client of the proxy
	ep   *routing.Endpoint
	// waits is told each time the proxy starts to wait for a call's request message.
	waits <-chan struct{}
}

// newStallGateway serves a stallGateway whose calls are all of kind.
func newStallGateway(t *testing.T, kind routing.CallKind, opts ...routing.ProxyOption) stallGateway {
	t.Helper()
	backend, _ := testnet.Health(t)
	pool := routing.NewPool(nil, routing.WithPoolLogger(quietLog()))
	t.Cleanup(func() { pool.Close() })
	e, err := pool.Acquire(backend)
	if err != nil {
		t.Fatal(err)
	}
	c := routing.NewCluster("c", []*routing.Endpoint{e}, routing.WithClusterConfig(routing.ClusterConfig{MaxRequests: 1}))
	table, err := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"}, Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	p := routing.NewProxy(func() routing.State { return kindState{table, kind} }, opts...)
	waits := make(chan struct{}, 1)
	srv := grpc.NewServer(
		grpc.UnknownServiceHandler(p.Handler),
		grpc.ForceServerCodecV2(routing.Codec{}),
		grpc.InTapHandle(routing.AbortableRecv),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, &receiving{ServerStream: ss, waits: waits})
		}),
	)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return stallGateway{conn: conn, ep: e, waits: waits}
}

// stall starts a call of method on conn that sends its headers and no message, and returns its
// stream.
func stall(ctx context.Context, t *testing.T, conn *grpc.ClientConn, method string) grpc.ClientStream {
	t.Helper()
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// A unary call whose request message does not come holds no place in its cluster's max_requests
// while the proxy waits for it: another call is served meanwhile, at max_requests 1.
func TestStalledRequestHoldsNoClusterSlot(t *testing.T) {
	g := newStallGateway(t, routing.KindUnary)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stalled, stop := context.WithCancel(ctx)
	defer stop()
	stall(stalled, t, g.conn, checkMethod)
	select {
	case <-g.waits:
	case <-ctx.Done():
		t.Fatal("the proxy never waited for the stalled call's request")
	}
	if n := g.ep.InFlight(); n != 0 {
		t.Errorf("%d calls in flight on the endpoint while the request is awaited, want 0", n)
	}
	if _, err := healthpb.NewHealthClient(g.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("a call while another's request is awaited: %v", err)
	}
}

// A call whose request does not arrive in the time allowed ends with DeadlineExceeded; so does a
// stream whose first message does not (its upstream had opened at once). Either then holds
// nothing: the next call is served, at max_requests 1.
func TestLateRequestEnds(t *testing.T) {
	for _, kind := range []routing.CallKind{routing.KindUnary, routing.KindServerStream, routing.KindBidiStream} {
		t.Run(kind.String(), func(t *testing.T) {
			g := newStallGateway(t, kind, routing.WithRequestReadTime(routing.ReadTime{Base: 50 * time.Millisecond, PerSecond: 1 << 40}))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			method := checkMethod
			if kind != routing.KindUnary {
				method = "/grpc.health.v1.Health/Watch" // server-streaming: the backend waits for the request
			}
			cs := stall(ctx, t, g.conn, method)
			var resp healthpb.HealthCheckResponse
			err := cs.RecvMsg(&resp)
			if ctx.Err() != nil {
				t.Fatal("the stalled call was not ended within 10s")
			}
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("stalled call: %v, want DeadlineExceeded", err)
			}
			// (grpc-go answers a receive that failed at once, a moment before the proxy lets go
			// of a stream's endpoint.)
			waitUntil(t, "the late call's endpoint released", func() bool { return g.ep.InFlight() == 0 })
			if _, err := healthpb.NewHealthClient(g.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatalf("the next call: %v", err)
			}
		})
	}
}
