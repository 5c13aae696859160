package routing_test

import (
	"context"
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

// unaryProxy routes every call to a round-robin cluster of addrs, breakers and outlier detection
// off so that a dead endpoint keeps being picked (until its connection is known to fail), with
// retry policy pol and a retry budget large enough for every retry: the budget has tests of its
// own.
func unaryProxy(t *testing.T, addrs []string, pol routing.RetryPolicy) (*routing.Proxy, []*routing.Endpoint) {
	t.Helper()
	p, eps, _ := unaryProxyBudget(t, addrs, pol, routing.RetryBudget{Percent: 100, MinRetries: 100})
	return p, eps
}

// unaryProxyBudget is unaryProxy with the cluster's retry budget b, which also returns the pool.
func unaryProxyBudget(t *testing.T, addrs []string, pol routing.RetryPolicy, b routing.RetryBudget) (*routing.Proxy, []*routing.Endpoint, *routing.Pool) {
	t.Helper()
	pool := routing.NewPool(nil, routing.WithPoolLogger(quietLog()))
	t.Cleanup(func() { pool.Close() })
	var eps []*routing.Endpoint
	for _, a := range addrs {
		e, err := pool.AcquireWith(a, routing.Transport{}, routing.EndpointConfig{
			Breaker: routing.BreakerConfig{Disabled: true}, Outlier: routing.OutlierConfig{Disabled: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, e)
	}
	c := routing.NewCluster("c", eps, routing.WithClusterConfig(routing.ClusterConfig{RetryBudget: b}))
	table, err := routing.NewTable([]routing.Route{{Name: "all", Match: routing.Match{Prefix: "/"}, Retry: pol,
		Clusters: []routing.WeightedCluster{{Cluster: c, Weight: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	return routing.NewProxy(func() routing.State { return staticState{table} }), eps, pool
}

const checkMethod = "/grpc.health.v1.Health/Check"

// CallUnary retries a call whose request never reached a backend on another endpoint, for proto
// messages and for Frames alike (a Frame's bytes are sent again).
func TestCallUnaryRetriesOnAnotherEndpoint(t *testing.T) {
	live, _ := testnet.Health(t)
	p, eps := unaryProxy(t, []string{testnet.Refused(t), live}, routing.RetryPolicy{})
	reqBytes, _ := proto.Marshal(&healthpb.HealthCheckRequest{})
	for i := range 20 {
		var header metadata.MD
		if i%2 == 0 {
			var resp healthpb.HealthCheckResponse
			if err := p.CallUnary(t.Context(), checkMethod, nil, &healthpb.HealthCheckRequest{}, &resp, grpc.Header(&header)); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("call %d: %v", i, resp.GetStatus())
			}
			continue
		}
		var req, resp routing.Frame
		req.SetBytes(append([]byte(nil), reqBytes...))
		err := p.CallUnary(t.Context(), checkMethod, metadata.Pairs("x-test", "1"), &req, &resp)
		req.Free()
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		var got healthpb.HealthCheckResponse
		if err := proto.Unmarshal(resp.Bytes(), &got); err != nil || got.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("call %d: %v, %v", i, got.GetStatus(), err)
		}
		resp.Free()
	}
	if eps[0].Latency() == 0 { // set by every finished unary attempt, failed or not
		t.Error("the dead endpoint was never tried: the test proves nothing")
	}
	for _, e := range eps {
		if n := e.InFlight(); n != 0 {
			t.Errorf("%s: %d calls still counted in flight", e.Addr(), n)
		}
	}
}

// Without retries a call that meets the dead endpoint fails: the first, which round robin sends
// there before its connection is known to fail. From then on the endpoint is passed over, and
// every call succeeds.
func TestCallUnaryWithoutRetries(t *testing.T) {
	live, _ := testnet.Health(t)
	p, eps, pool := unaryProxyBudget(t, []string{testnet.Refused(t), live}, routing.RetryPolicy{Attempts: 1}, routing.RetryBudget{})
	changes, stop := pool.Subscribe()
	defer stop()
	call := func() error {
		return p.CallUnary(t.Context(), checkMethod, nil, &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	}
	if err := call(); status.Code(err) != codes.Unavailable {
		t.Fatalf("first call, to the dead endpoint: %v, want Unavailable", err)
	}
	awaitSignalled(t, changes, "the dead endpoint's connection failing", func() bool {
		return eps[0].Stats().Connection == "TRANSIENT_FAILURE"
	})
	for i := range 10 {
		if err := call(); err != nil {
			t.Fatalf("call %d, the dead endpoint's connection known to fail: %v", i, err)
		}
	}
}

// A retry of a call whose request never reached a backend is not charged to the retry budget: it
// added no load to any backend. Here every call's first attempt meets a backend that accepts
// connections and never answers, and its per-try timeout passes before the connection is ready;
// the default budget (3 retries, or 20% of calls) would refuse the fourth retry.
func TestCallUnaryUnsentRetriesOutsideBudget(t *testing.T) {
	live, _ := testnet.Health(t)
	pol := routing.RetryPolicy{PerTryTimeout: 100 * time.Millisecond, BackoffBase: time.Millisecond}
	p, eps, _ := unaryProxyBudget(t, []string{testnet.Silent(t), live}, pol, routing.RetryBudget{})
	for i := range 8 {
		err := p.CallUnary(t.Context(), checkMethod, nil, &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if eps[0].Latency() == 0 {
		t.Error("the silent endpoint was never tried: the test proves nothing")
	}
}

// An attempt whose per-try timeout passes while its endpoint's connection is still not ready (a
// backend that accepts connections and never answers) sent nothing: the call is retried on another
// endpoint, whatever the method does. When every attempt meets such an endpoint the call fails
// UNAVAILABLE, a connection failure, not DEADLINE_EXCEEDED: the call's own deadline did not pass.
func TestCallUnaryPerTryTimeoutBeforeConnection(t *testing.T) {
	live, _ := testnet.Health(t)
	pol := routing.RetryPolicy{PerTryTimeout: 100 * time.Millisecond}
	p, _ := unaryProxy(t, []string{testnet.Silent(t), live}, pol)
	for i := range 4 {
		var resp healthpb.HealthCheckResponse
		if err := p.CallUnary(t.Context(), checkMethod, nil, &healthpb.HealthCheckRequest{}, &resp); err != nil {
			t.Fatalf("call %d, one endpoint silent: %v", i, err)
		}
	}
	p, _ = unaryProxy(t, []string{testnet.Silent(t), testnet.Silent(t)}, pol)
	err := p.CallUnary(t.Context(), checkMethod, nil, &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "upstream connection failed: timed out" {
		t.Errorf("both endpoints silent: %v, want UNAVAILABLE upstream connection failed: timed out", err)
	}
}

// With one attempt, per_try_timeout still bounds it: a call to a backend that accepts connections
// and never answers ends when it passes, not when the caller's own deadline does.
func TestCallUnaryOneAttemptPerTryTimeout(t *testing.T) {
	p, _ := unaryProxy(t, []string{testnet.Silent(t)}, routing.RetryPolicy{Attempts: 1, PerTryTimeout: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := p.CallUnary(ctx, checkMethod, nil, &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	if status.Code(err) != codes.Unavailable || ctx.Err() != nil {
		t.Errorf("%v (caller's context: %v), want UNAVAILABLE once the per-try timeout passed", err, ctx.Err())
	}
}

// A method nothing routes fails with Unimplemented before any attempt.
func TestCallUnaryUnrouted(t *testing.T) {
	table, err := routing.NewTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := routing.NewProxy(func() routing.State { return staticState{table} })
	err = p.CallUnary(t.Context(), checkMethod, nil, &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("%v, want Unimplemented", err)
	}
}
